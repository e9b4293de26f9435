"""Delivery reports and inbound messages pulled by one scheduled task (Celery beat), journaled first.

Pulls are destructive at most vendors (ipyy hands each queued report and inbound message out
once), so a pull must be run by one task at a time and what it returns must be stored before
anything else sees it. One run of :func:`pull_once`:

1. takes a Redis lock (``SET NX`` with a TTL, renewed while the run lasts): a second beat, or
   a tick that arrives while a slow pull still runs, finds it taken and skips;
2. stores the events an earlier run could not journal (kept in a Redis list, below), then
   re-dispatches the journal's pending events — both also prove the journal works *before*
   anything is pulled: a journal that is down fails the run and the vendor keeps the events;
3. pulls reports, then inbound messages, from every provider that can
   (``fetch_reports(observe=False)``: no hook sees them yet), and stores each pull in the
   receiver journal (:meth:`smsgate.receiver.Receiver.store_pulled`), de-duplicated by key;
4. dispatches the new events through the receiver: the ``report_received`` /
   ``inbound_received`` hooks, then the optional handler, at least once, each marked done.

If the journal fails after a pull (the only window left), the write is tried again, then the
events go to a Redis list (:data:`SPILL_KEY`) that the next run stores first; if Redis fails
too, the run raises :class:`PullError` carrying the events (``error.events``) and logs an
ERROR with their count: they are then in this worker's memory only. Nothing is dropped
without an error.

The Celery side: :func:`register_pull_task` (``smsgate.celery.register_pull_task``) adds the
task to an app and, with ``every=``, to ``app.conf.beat_schedule`` (:func:`schedule_pulls`).
Run beat once (``celery -A app beat``, or one worker with ``-B``); the lock makes a second
beat harmless, not useful.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs

from smsgate._args import is_seconds, is_whole, must, to_float, to_int
from smsgate._models import DeliveryReport, InboundMessage
from smsgate.exceptions import ConfigurationError, JournalError, SmsGateError, ValidationError
from smsgate.receiver import Journal, PostgresJournal, Receiver, SQLiteJournal
from smsgate.receiver._journal import Event, encode, entry
from smsgate.receiver._postgres import is_postgres_url

if TYPE_CHECKING:
    import redis
    from celery import Celery, Task

    from smsgate._gateway import Gateway

__all__ = [
    "JOURNAL_KEY",
    "LOCK_KEY",
    "PULL_TASK",
    "SPILL_KEY",
    "PullError",
    "PullResult",
    "open_journal",
    "pull_once",
    "register_pull_task",
    "schedule_pulls",
]

log = logging.getLogger("smsgate.celery.pulls")

#: The Celery name of the pull task.
PULL_TASK = "smsgate.pull"
#: The Redis key of the lock one pull holds while it runs.
LOCK_KEY = "smsgate:pull:lock"
#: The Redis list of events pulled but not yet journaled (the journal failed); JSON items.
SPILL_KEY = "smsgate:pull:unjournaled"

#: Waits between the tries to journal what was just pulled, before spilling it to Redis.
_JOURNAL_RETRIES = (0.2, 1.0, 3.0)


class PullError(SmsGateError):
    """A pull run failed in part or in whole; the message says what, never the events' content.

    :ivar result: the :class:`PullResult` of what the run did do (None when it stopped before
        pulling: the lock's Redis or the journal was unreachable; the vendor keeps its events).
    :ivar events: pulled events stored neither in the journal nor in Redis: the only copy.
    """

    result: PullResult | None = None
    events: tuple[Event, ...] = ()


@attrs.frozen(kw_only=True)
class PullResult:
    """What one pull run did.

    :ivar skipped: another run held the lock; nothing was pulled.
    :ivar pulled: events the vendors handed over (reports and inbound messages).
    :ivar new: of those, events the journal had not seen.
    :ivar replayed: events an earlier run had left in Redis, now journaled.
    :ivar dispatched: events the handler completed (pending ones of earlier runs included).
    :ivar spilled: events kept in Redis because the journal failed (stored by the next run).
    :ivar errors: what failed (pull or journal), one line each.
    """

    skipped: bool = False
    pulled: int = 0
    new: int = 0
    replayed: int = 0
    dispatched: int = 0
    spilled: int = 0
    errors: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The counts as a JSON-safe dict (the Celery task's result)."""
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v)


def open_journal(where: str | Path, *, lease: float = 30.0) -> Journal:
    """The journal at ``where``: a ``postgresql://`` URL (shared, needs ``smsgate[postgres]``)
    or the path of a SQLite file (one machine)."""
    if isinstance(where, str) and is_postgres_url(where):
        return PostgresJournal(where, lease=lease)
    return SQLiteJournal(where)


def _observed_only(event: Event) -> None:
    """The default handler: the hooks have seen the event, so it is done."""


# --- the lock ------------------------------------------------------------------------------


class _Held:
    """A Redis lock held for one run, its TTL renewed every third of it until released."""

    def __init__(self, client: redis.Redis, key: str, ttl: float) -> None:
        # thread_local=False: the renewing thread must see the token the run's thread took.
        self.lock = client.lock(key, timeout=ttl, blocking=False, thread_local=False)
        self.ttl = ttl
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="smsgate-pull-lock", daemon=True)

    def acquire(self) -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.lock.reacquire()
            except Exception as exc:  # expired (a stall longer than the TTL) or Redis is gone
                log.error(
                    "pull lock %s lost (%s): another pull may start", self.lock.name, type(exc).__name__
                )
                return

    def release(self) -> None:
        self._stop.set()
        if self._renewer.is_alive():
            self._renewer.join()
        try:
            self.lock.release()
        except Exception as exc:  # expired meanwhile: it is gone either way
            log.warning("pull lock %s not released (%s)", self.lock.name, type(exc).__name__)


# --- one run --------------------------------------------------------------------------------


def pull_once(
    gateway: Gateway,
    receiver: Receiver,
    client: redis.Redis,
    *,
    limit: int | None = None,
    lock_key: str = LOCK_KEY,
    lock_ttl: float = 300.0,
    spill_key: str = SPILL_KEY,
    sleep: Callable[[float], None] = time.sleep,
) -> PullResult:
    """Run one pull if no other run holds the lock (see the module's docstring for the steps).

    :param gateway: the providers to pull from (every one able to).
    :param receiver: its journal stores the events; its dispatch hands them to the hooks and
        its handler.
    :param client: the Redis of the lock and of the events the journal could not take.
    :param limit: at most this many reports per run (None: what the vendor gives).
    :param lock_ttl: seconds the lock lives unless renewed (renewed every third of it), so a
        killed worker's lock frees itself.
    :returns: what was done; ``skipped`` when another run holds the lock.
    :raises PullError: a pull or a journal write failed (what was done is in ``.result``);
        also before any pull, when the journal or Redis cannot be reached.
    """
    held = _Held(client, lock_key, lock_ttl)
    try:
        taken = held.acquire()
    except Exception as exc:
        raise _failed(f"pull lock unavailable ({type(exc).__name__}); nothing pulled") from exc
    if not taken:
        log.info("a pull is running elsewhere (lock %s held); skipped", lock_key)
        return PullResult(skipped=True)
    try:
        return _Run(gateway, receiver, client, spill_key, sleep).run(limit)
    finally:
        held.release()


def _failed(message: str, result: PullResult | None = None, events: Sequence[Event] = ()) -> PullError:
    error = PullError(message)
    error.result = result
    error.events = tuple(events)
    return error


@attrs.define
class _Counts:
    pulled: int = 0
    new: int = 0
    replayed: int = 0
    dispatched: int = 0
    spilled: int = 0


class _Run:
    """The steps of one locked run, and what they counted."""

    def __init__(
        self,
        gateway: Gateway,
        receiver: Receiver,
        client: redis.Redis,
        spill_key: str,
        sleep: Callable[[float], None],
    ) -> None:
        self.gateway = gateway
        self.receiver = receiver
        self.client = client
        self.spill_key = spill_key
        self.sleep = sleep
        self.counts = _Counts()
        self.errors: list[str] = []
        self.lost: list[Event] = []

    def run(self, limit: int | None) -> PullResult:
        try:
            self.counts.replayed = self._replay()
            self.counts.dispatched += self.receiver.redispatch()
        except Exception as exc:  # the journal (or Redis) is down: pull nothing, the vendor keeps it
            raise _failed(f"journal not ready ({type(exc).__name__}: {exc}); nothing pulled") from exc
        new: list[Event] = []
        new += self._pull("reports", lambda: self.gateway.fetch_reports(limit=limit, observe=False))
        new += self._pull("inbound", lambda: self.gateway.fetch_inbound(observe=False))
        self.counts.dispatched += self.receiver.dispatch(new)
        result = PullResult(errors=tuple(self.errors), **attrs.asdict(self.counts))
        if self.errors:
            raise _failed("; ".join(self.errors), result, self.lost)
        return result

    def _replay(self) -> int:
        """Journal what an earlier run left in Redis; its new events are dispatched now."""
        raw = cast("list[bytes]", self.client.lrange(self.spill_key, 0, -1))
        if not raw:
            return 0
        events = [_decode(item) for item in raw]
        new = self.receiver.store_pulled(events)  # raises: the list stays for the next run
        self.client.ltrim(self.spill_key, len(raw), -1)  # only what was read; a newer spill stays
        log.warning("stored %d event(s) an earlier pull could not journal", len(events))
        self.counts.dispatched += self.receiver.dispatch(new)
        return len(events)

    def _pull(
        self, what: str, fetch: Callable[[], Sequence[DeliveryReport] | Sequence[InboundMessage]]
    ) -> list[Event]:
        try:
            events: list[Event] = list(fetch())
        except SmsGateError as exc:  # every provider failed: they keep their events
            self.errors.append(f"{what} pull failed ({type(exc).__name__})")
            log.error("%s pull failed: %s", what, type(exc).__name__)
            return []
        self.counts.pulled += len(events)
        if not events:
            return []
        new = self._store(what, events)
        self.counts.new += len(new)
        return new

    def _store(self, what: str, events: list[Event]) -> list[Event]:
        """Journal ``events``, trying again; then keep them in Redis; then raise with them."""
        error: Exception | None = None
        for wait in (0.0, *_JOURNAL_RETRIES):
            if wait:
                self.sleep(wait)
            try:
                return self.receiver.store_pulled(events)
            except Exception as exc:
                error = exc
        self.errors.append(f"{len(events)} pulled {what} not journaled ({type(error).__name__})")
        try:
            self.client.rpush(self.spill_key, *[_encode(e) for e in events])
        except Exception as exc:
            log.error(
                "%d pulled %s stored neither in the journal (%s) nor in Redis (%s): "
                "they are in this process's memory only",
                len(events),
                what,
                type(error).__name__,
                type(exc).__name__,
            )
            self.errors.append(f"{len(events)} pulled {what} not kept in Redis ({type(exc).__name__})")
            self.lost += events
            return []
        self.counts.spilled += len(events)
        log.error(
            "%d pulled %s not journaled (%s); kept in Redis list %s for the next pull",
            len(events),
            what,
            type(error).__name__,
            self.spill_key,
        )
        return []


def _encode(event: Event) -> str:
    ((key, kind, payload),) = encode([event])
    return json.dumps([key, kind, payload], ensure_ascii=False)


def _decode(item: bytes | str) -> Event:
    try:
        _key, kind, payload = json.loads(item)
        return entry((_key, kind, payload, "pending", None, 0, "1970-01-01T00:00:00+00:00")).event
    except (ValueError, TypeError, KeyError) as exc:
        raise JournalError(f"an event kept in Redis cannot be read ({type(exc).__name__})") from exc


# --- Celery ---------------------------------------------------------------------------------


#: Celery configuration key: where pulled events are journaled (a SQLite path or a
#: ``postgresql://`` URL), when :func:`register_pull_task` is not given ``journal=``.
JOURNAL_KEY = "smsgate_pull_journal"


_POSITIVE_SECONDS = must(is_seconds, "must be a positive number of seconds")


@attrs.frozen(kw_only=True)
class _PullSettings:
    journal: str | Path | Callable[[], Journal] | None
    redis_url: str | None
    handler: Callable[[Event], Any] | None
    limit: int | None = attrs.field(
        converter=to_int,
        validator=must(
            lambda value: is_whole(value, least=1), "must be a whole number, at least 1, or None", none=True
        ),
    )
    lock_ttl: float = attrs.field(converter=to_float, validator=_POSITIVE_SECONDS)
    lease: float = attrs.field(converter=to_float, validator=_POSITIVE_SECONDS)


class _Resources:
    """The journal's receiver and the Redis client of one worker process, for one app."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.by_app: dict[int, tuple[Any, Receiver, redis.Redis]] = {}

    def get(self, app: Celery, settings: _PullSettings) -> tuple[Receiver, redis.Redis]:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's connections are not ours
                self.pid, self.by_app = os.getpid(), {}
            held = self.by_app.get(id(app))
            if held is not None and held[0] is app:
                return held[1], held[2]
            receiver, client = _open(app, settings)
            self.by_app[id(app)] = (app, receiver, client)
            return receiver, client

    def close(self) -> None:
        with self.lock:
            held, self.by_app = (self.by_app if self.pid == os.getpid() else {}), {}
        for _app, receiver, client in held.values():
            receiver.journal.close()
            client.close()


_resources = _Resources()


def _open(app: Celery, settings: _PullSettings) -> tuple[Receiver, redis.Redis]:
    import redis  # noqa: PLC0415 - the celery extra brings it; imported where used

    from smsgate.celery._worker import REDIS_URL_KEY, settings_of, worker_gateway  # noqa: PLC0415

    where = settings.journal if settings.journal is not None else app.conf.get(JOURNAL_KEY)
    # The lock lives in the idempotency store's Redis unless told otherwise.
    idempotency = settings_of(app).idempotency
    url = (
        settings.redis_url
        or app.conf.get(REDIS_URL_KEY)
        or (idempotency if isinstance(idempotency, str) else None)
    )
    if not where or not url:
        raise ConfigurationError(
            f"the smsgate pull task needs a journal (journal= or the Celery setting {JOURNAL_KEY}) "
            f"and a Redis URL for its lock (redis_url= or the Celery setting {REDIS_URL_KEY})"
        )
    provider = worker_gateway(app).providers[0]  # names the receiver in logs; pulls use them all
    journal = where() if callable(where) else open_journal(where, lease=settings.lease)
    receiver = Receiver(provider, settings.handler or _observed_only, journal=journal)
    return receiver, redis.Redis.from_url(url)


def register_pull_task(
    app: Celery,
    *,
    journal: str | Path | Callable[[], Journal] | None = None,
    redis_url: str | None = None,
    handler: Callable[[Event], Any] | None = None,
    limit: int | None = None,
    lock_ttl: float = 300.0,
    lease: float = 30.0,
    every: float | None = None,
) -> Task[[], dict[str, Any]]:
    """Register the pull task (:data:`PULL_TASK`) on ``app`` and return it.

    Call it where the app is defined, after :func:`smsgate.celery.install` (the task pulls
    through the worker's gateway), so workers register it too; schedule it with
    :func:`schedule_pulls`.

    :param journal: a SQLite path or a ``postgresql://`` URL, or a factory returning a
        :class:`~smsgate.receiver.Journal` (called once per worker process; your own table,
        say); default the Celery setting ``smsgate_pull_journal``. Share it with
        ``smsgate receive --journal`` to keep pushed and pulled events in one place (then
        give both the same handler).
    :param redis_url: the Redis of the lock and of events the journal could not take; default
        the Celery setting ``smsgate_redis_url``, else the idempotency store's URL given to
        :func:`smsgate.celery.install`.
    :param handler: called once per new event after the hooks (at least once: a failure
        leaves it for the next run); default none, the hooks are the destination.
    :param limit: at most this many reports per run.
    :param lock_ttl: seconds the run's lock lives unless renewed (a killed worker's lock
        frees itself after it).
    :param lease: the PostgreSQL journal's claim lease (see ``docs/receiver.md``).
    :param every: also schedule it every ``every`` seconds (:func:`schedule_pulls`); None:
        schedule it yourself.
    """
    settings = _PullSettings(
        journal=journal, redis_url=redis_url, handler=handler, limit=limit, lock_ttl=lock_ttl, lease=lease
    )

    # acks_late off: a pull redelivered after a worker died would be an extra run, and the
    # next tick runs anyway.
    # shared=False: the task belongs to this app only, not to every app created later.
    @app.task(name=PULL_TASK, acks_late=False, ignore_result=False, shared=False)  # type: ignore[untyped-decorator]
    def pull() -> dict[str, Any]:
        from smsgate.celery._worker import worker_gateway  # noqa: PLC0415

        receiver, client = _resources.get(app, settings)
        result = pull_once(
            worker_gateway(app), receiver, client, limit=settings.limit, lock_ttl=settings.lock_ttl
        )
        return result.as_dict()

    task: Task[[], dict[str, Any]] = pull
    if every is not None:
        schedule_pulls(app, every)
    return task


def _on_shutdown(**_: Any) -> None:
    _resources.close()


def schedule_pulls(app: Celery, every: float = 60.0, *, entry_name: str = "smsgate-pull") -> None:
    """Add the pull task to ``app.conf.beat_schedule``, every ``every`` seconds.

    Each tick expires after ``every`` seconds: ticks queued while no worker ran are dropped
    instead of pulling back to back when workers return.
    """
    if not is_seconds(every):
        # A ValueError, as it always was, and an smsgate error.
        raise ValidationError(f"every must be a positive number of seconds, not {every!r}", field="every")
    seconds = float(every)  # Celery's schedule takes no Fraction (timedelta refuses it)
    schedule = dict(app.conf.beat_schedule or {})
    schedule[entry_name] = {"task": PULL_TASK, "schedule": seconds, "options": {"expires": seconds}}
    app.conf.beat_schedule = schedule


def _connect_shutdown() -> None:
    from celery import signals  # noqa: PLC0415

    signals.worker_process_shutdown.connect(_on_shutdown, weak=False)
    signals.worker_shutdown.connect(_on_shutdown, weak=False)


_connect_shutdown()
