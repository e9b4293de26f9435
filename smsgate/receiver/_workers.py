"""The worker threads of one receiver: one pool for the journal, one for sync handlers, and
one thread that stores pushes in batches.

The async receiver runs blocking work (the journal's durable writes, a sync handler) in
threads so the event loop never waits on a disk or an application. Under asyncio it hands the
work to a plain :class:`concurrent.futures.ThreadPoolExecutor` with
:meth:`asyncio.loop.run_in_executor`: one queue put and one wake-up of the loop per call,
about a third of the cost of :func:`anyio.to_thread.run_sync` (its capacity limiter, cancel
scope and context bookkeeping), which stays the way in under any other event loop.

The journal has a pool of its own, so a slow handler can never hold up the writes that
acknowledge pushes; concurrent writes still reach the journal from several threads at once,
which is what lets :class:`~smsgate.receiver.SQLiteJournal` commit them together.

:class:`Batches` goes further for a journal that can store several pushes in one transaction:
each event loop hands the pushes of one loop iteration to one intake thread at once, and that
thread parses every push handed over while its last commit was on disk, stores them together
and wakes the loop once for all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio.to_thread

__all__ = ["Batches", "Workers", "running_loop"]

T = TypeVar("T")
In = TypeVar("In")
R = TypeVar("R")

#: The most items one batch takes (a loop iteration's hand-over is never split): a bound on
#: how long the first of them waits for the rest.
BATCH_LIMIT = 64
#: Seconds without an item after which a batch thread runs its ``idle`` callback.
IDLE_SECONDS = 0.1
#: Idle rounds after which the thread ends (a receiver left unclosed keeps no thread).
IDLE_ROUNDS = 50

#: Threads writing to the journal at once: enough for group commit to gather a push's
#: neighbours into one transaction, few enough not to thrash the GIL.
JOURNAL_THREADS = 8
#: Threads running sync handlers at once (anyio's default limit is 40 for a whole app).
HANDLER_THREADS = 32


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop, or ``None`` under another event loop (trio through anyio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Workers:
    """Two lazily started thread pools; :meth:`close` stops them (a later call starts new ones)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}

    def _pool(self, lane: str, size: int) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pools.get(lane)
        if pool is None:
            with self._lock:
                pool = self._pools.get(lane)
                if pool is None:
                    pool = concurrent.futures.ThreadPoolExecutor(size, f"smsgate-{self._name}-{lane}")
                    self._pools[lane] = pool
        return pool

    async def journal(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a journal thread."""
        return await self._run("journal", JOURNAL_THREADS, fn, args)

    async def handler(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a handler thread."""
        return await self._run("handler", HANDLER_THREADS, fn, args)

    async def _run(self, lane: str, size: int, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = running_loop()
        if loop is None:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args))
        return await loop.run_in_executor(self._pool(lane, size), fn, *args)

    def detach(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start ``fn(*args)`` in a handler thread without waiting for it (nothing is reported
        back: ``fn`` handles its own errors)."""
        self._pool("handler", HANDLER_THREADS).submit(fn, *args)

    def close(self) -> None:
        """Stop the pools once their queued work is done (without waiting for it here)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False)


_Job = tuple[Any, "asyncio.Future[R]"]


class Batches(Generic[In, R]):
    """Items handed from event loops to one thread, which takes every item handed over
    meanwhile and runs ``work`` on them together.

    Each event loop hands its items over once per loop iteration: the items submitted while
    the loop runs its ready callbacks go to the thread as one list, with one queue put (and
    at most one wake-up of the thread) for all of them. The thread takes every list queued
    while it worked, up to :data:`BATCH_LIMIT` items (a list is never split), so a batch grows
    with the time ``work`` takes (a disk write, say).

    ``work`` returns one result per item, in order; when it raises, every item of the batch
    gets that exception. Each loop is woken once per batch. ``idle`` (optional) is called
    whenever :data:`IDLE_SECONDS` pass without an item. The thread starts on the first item
    and ends at :meth:`close` or after :data:`IDLE_ROUNDS` idle rounds (a later item starts
    a new one); it is a daemon thread, so a process exiting mid-batch ends it (the items'
    callers were never answered).
    """

    def __init__(
        self,
        name: str,
        work: Callable[[list[Any]], Sequence[R]],
        *,
        idle: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._work = work
        self._idle = idle
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[list[_Job[R]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # The items each loop submitted in its current iteration, not yet handed over.
        self._held: dict[asyncio.AbstractEventLoop, list[_Job[R]]] = {}

    async def submit(self, item: In, loop: asyncio.AbstractEventLoop | None = None) -> R:
        """``work``'s result for ``item``, once its batch is done; ``loop``: the running loop,
        when the caller has it (asking asyncio costs a system call under Python 3.11)."""
        loop = loop or asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        held = self._held.get(loop)
        if held is None:  # the first item of this iteration: hand them over after it
            held = self._held[loop] = []
            loop.call_soon(self._hand_over, loop, held)
        held.append((item, future))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop, held: list[_Job[R]]) -> None:
        """Queue the items ``loop`` submitted in one iteration for the thread (in that loop)."""
        if self._held.get(loop) is held:
            del self._held[loop]
        with self._lock:  # never behind the end mark close() puts
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, args=(self._queue,), name=self._name, daemon=True
                )
                self._thread.start()
            self._queue.put(held)

    def close(self) -> None:
        """Let the thread finish the items queued so far, then end."""
        with self._lock:
            if self._thread is None:
                return
            old, self._queue, self._thread = self._queue, queue.SimpleQueue(), None
        old.put(None)

    def _serve(self, jobs: queue.SimpleQueue[list[_Job[R]] | None]) -> None:
        """Serve ``jobs`` until :meth:`close` or long enough idle."""
        idle_rounds = 0
        while True:
            try:
                first = jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                if self._idle is not None:
                    self._idle()
                idle_rounds += 1
                if idle_rounds >= IDLE_ROUNDS and self._retire(jobs):
                    if self._idle is not None:  # for what came while the thread retired
                        self._idle()
                    return
                continue
            if first is None:
                return
            idle_rounds = 0
            batch = list(first)
            while len(batch) < BATCH_LIMIT:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    jobs.put(None)  # after this batch
                    break
                batch += more
            self._run(batch)

    @property
    def running(self) -> bool:
        """True while a thread serves the items (it then calls ``idle`` again later)."""
        return self._thread is not None

    def _retire(self, jobs: queue.SimpleQueue[list[_Job[R]] | None]) -> bool:
        """End this idle thread (the next item starts another): True unless an item came."""
        with self._lock:  # _hand_over() puts items under it: none can arrive unseen
            if not jobs.empty():
                return False
            if self._queue is jobs:
                self._thread = None
            return True

    def _run(self, batch: list[_Job[R]]) -> None:
        try:
            results: Sequence[R | BaseException] = self._work([item for item, _ in batch])
        except BaseException as exc:  # every caller gets it
            results = [exc] * len(batch)
        _settle_all([(future, result) for (_, future), result in zip(batch, results, strict=True)])


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """Give each future its result (or exception), waking each loop once for all of its own."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for future, result in outcomes:
        by_loop.setdefault(future.get_loop(), []).append((future, result))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        if future.done():  # the caller was cancelled
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
