"""The async receiver's fast path (issue 11): pushes stored in batches by one intake thread,
the SQLite journal's multi-push transaction, dispatch outcomes queued for the next commit.

Every guarantee of the one-by-one path holds: a push is acknowledged only once it is durable,
each push is stored (or refused) on its own, every event is dispatched, and its outcome
reaches the disk."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from smsgate import DeliveryReport, InboundMessage
from smsgate._provider import CallbackReply
from smsgate.receiver import (
    EventState,
    JournalError,
    Receiver,
    ServerThread,
    SQLiteJournal,
    _journal,
    _receiver,
    _workers,
    event_key,
)
from smsgate.receiver._workers import Batches
from smsgate.testing import InMemoryProvider
from tests.test_journal_group_commit import report
from tests.test_receiver import OK, JsonPushProvider, push_body
from tests.test_receiver_apps import Collect, wait_for


def _states_on_disk(path: Path) -> dict[str, str]:
    """What another connection reads: only what was committed."""
    with sqlite3.connect(path) as other:
        return dict(other.execute("SELECT key, state FROM smsgate_events").fetchall())


def test_record_each_stores_each_push_on_its_own_in_one_transaction(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    assert journal._conn is not None
    statements: list[str] = []
    journal._conn.set_trace_callback(statements.append)
    circular: dict[str, object] = {}
    circular["self"] = circular
    pushes = [[report(1), report(2)], [report(2), report(3)], [report(4, raw=circular)]]
    outcomes = journal.record_each(pushes)
    assert outcomes[:2] == [[report(1), report(2)], [report(3)]]  # the repeat counts once
    assert isinstance(outcomes[2], JournalError)  # that push alone is refused
    assert statements.count("COMMIT") == 1
    assert journal.state(report(3)) is EventState.PENDING
    assert journal.state(report(4)) is None
    assert journal.record_each([[report(1)], [report(5)]]) == [[], [report(5)]]
    journal.close()


def test_a_failing_bulk_statement_falls_back_to_one_savepoint_per_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sqlite3.Connection, group: object) -> list[object]:
        raise sqlite3.OperationalError("bulk statement failed")

    monkeypatch.setattr(_journal, "_bulk", broken)
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    assert journal._conn is not None
    statements: list[str] = []
    journal._conn.set_trace_callback(statements.append)
    assert journal.record_each([[report(1)], [report(1), report(2)]]) == [[report(1)], [report(2)]]
    assert [s for s in statements if s.startswith("SAVEPOINT")] == ["SAVEPOINT one_write"] * 2
    assert [e.mobile for e in journal.pending()] == [report(1).mobile, report(2).mobile]
    journal.close()


def test_a_queued_outcome_is_read_at_once_and_on_disk_after_a_flush_or_close(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SQLiteJournal(path)
    journal.record([report(1), report(2)])
    journal._set_soon(report(1), EventState.DONE, None)
    assert _states_on_disk(path)[event_key(report(1))] == "pending"  # queued, not committed
    assert journal.state(report(1)) is EventState.DONE  # a read commits what is queued first
    assert _states_on_disk(path)[event_key(report(1))] == "done"
    journal._set_soon(report(2), EventState.FAILED, "RuntimeError: down")
    journal._flush()
    assert _states_on_disk(path)[event_key(report(2))] == "failed"
    journal.record([report(3)])
    journal._set_soon(report(3), EventState.DONE, None)
    journal.close()
    assert _states_on_disk(path)[event_key(report(3))] == "done"


def test_every_push_is_durable_before_its_ack_under_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    handler = Collect()
    mobiles = [f"138{n:08d}" for n in range(48)]
    with Receiver(JsonPushProvider(), handler, journal=path) as receiver:
        with ServerThread(receiver.asgi_app()) as server, httpx.Client() as client:

            def push(mobile: str) -> bool:
                reply = client.post(server.url, content=push_body(mobile))
                # Acknowledged: another connection must find the event on disk already.
                key = event_key(receiver.provider.parse_callback(push_body(mobile), None)[0])
                return reply.content == OK and key in _states_on_disk(path)

            with ThreadPoolExecutor(12) as pool:
                assert all(pool.map(push, mobiles))
            wait_for(lambda: sorted(handler.mobiles) == mobiles)
        # Without another push or read, the queued outcomes reach the disk (intake idle).
        wait_for(lambda: set(_states_on_disk(path).values()) == {"done"})
    assert sorted(handler.mobiles) == mobiles  # each dispatched once


def test_an_awaitable_from_a_sync_handler_runs_on_the_servers_loop(tmp_path: Path) -> None:
    ran_in: list[str] = []

    async def note() -> None:
        ran_in.append(threading.current_thread().name)

    def handler(event: DeliveryReport | InboundMessage) -> Awaitable[None]:
        return note()  # a plain function handing back a coroutine

    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        with ServerThread(receiver.asgi_app(), name="the-server") as server:
            assert httpx.post(server.url, content=push_body("13800138000")).content == OK
            wait_for(lambda: bool(ran_in))
        wait_for(lambda: [e.state for e in receiver.journal.entries()] == [EventState.DONE])  # type: ignore[attr-defined]
    assert ran_in == ["the-server"]


class ForgetfulJournal(SQLiteJournal):
    """Stores events but cannot record their dispatch (e.g. the disk filled up meanwhile)."""

    def mark_done(self, event):  # type: ignore[no-untyped-def]
        raise JournalError("journal update failed (OperationalError: disk I/O error)")


def test_a_journal_that_changes_how_outcomes_are_written_is_asked_for_each(tmp_path: Path) -> None:
    journal = ForgetfulJournal(tmp_path / "j.sqlite3")
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=journal) as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            assert httpx.post(server.url, content=push_body("13800138000")).content == OK
            wait_for(lambda: handler.mobiles == ["13800138000"])
    # Its mark_done failed, so the event stays pending: dispatched again at the next start.
    assert [e.mobile for e in journal.pending()] == ["13800138000"]
    journal.close()


async def test_batches_give_every_caller_of_a_failed_batch_its_error_and_restart_after_close() -> None:
    calls: list[list[int]] = []

    def work(items: list[int]) -> list[int]:
        calls.append(items)
        if 13 in items:
            raise ValueError("unlucky")
        return [item * 2 for item in items]

    batches: Batches[int, int] = Batches("test-batches", work)
    assert await asyncio.gather(*(batches.submit(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert sum(len(items) for items in calls) == 5
    with pytest.raises(ValueError, match="unlucky"):
        await batches.submit(13)
    batches.close()
    assert await batches.submit(21) == 42  # a new thread after close
    batches.close()


async def test_an_idle_intake_thread_ends_and_outcomes_still_reach_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_workers, "IDLE_SECONDS", 0.01)
    monkeypatch.setattr(_workers, "IDLE_ROUNDS", 2)
    path = tmp_path / "j.sqlite3"
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=path) as receiver:
        result = await receiver.ahandle_push(push_body("13800138000"))
        assert result.reply.body == OK
        wait_for(lambda: not receiver._intake_batches.running)  # no thread kept while idle
        assert result.after_reply is not None
        assert await result.after_reply() == 1
        # No intake thread to commit the queued outcome: the dispatch committed it itself.
        assert set(_states_on_disk(path).values()) == {"done"}
        assert (await receiver.ahandle_push(push_body("13900139000"))).reply.body == OK  # restarts
    assert handler.mobiles == ["13800138000"]


async def test_batches_take_each_loop_iterations_items_in_one_hand_over_to_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The items a loop submits in one iteration reach the thread as one list (one queue put,
    one wake-up); one thread runs ``work`` and ``idle``, and ends when idle."""
    monkeypatch.setattr(_workers, "IDLE_SECONDS", 0.01)
    monkeypatch.setattr(_workers, "IDLE_ROUNDS", 2)
    worked: list[list[int]] = []
    worked_in: set[str] = set()
    idle_in: set[str] = set()

    def work(items: list[int]) -> list[int]:
        worked.append(items)
        worked_in.add(threading.current_thread().name)
        return [item * 2 for item in items]

    batches: Batches[int, int] = Batches(
        "test-one", work, idle=lambda: idle_in.add(threading.current_thread().name)
    )
    puts: list[int] = []
    monkeypatch.setattr(batches, "_queue", _CountingQueue(puts))
    assert await asyncio.gather(*(batches.submit(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert worked == [[0, 1, 2, 3, 4]]  # submitted in one iteration: one batch
    assert puts == [5]
    assert worked_in == {"test-one"}
    assert [t.name for t in threading.enumerate()].count("test-one") == 1
    wait_for(lambda: not batches.running)
    wait_for(lambda: not any(t.name == "test-one" for t in threading.enumerate()))
    assert idle_in == {"test-one"}
    assert await batches.submit(21) == 42  # a new thread
    batches.close()


class _CountingQueue(queue.SimpleQueue):  # type: ignore[type-arg]
    """A SimpleQueue that records the length of each list put in it."""

    puts: list[int]

    def __new__(cls, puts: list[int]) -> _CountingQueue:
        self = super().__new__(cls)
        self.puts = puts
        return self

    def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
        if isinstance(item, list):
            self.puts.append(len(item))
        super().put(item, block, timeout)


async def test_pushes_arriving_while_a_commit_is_on_disk_are_parsed_and_committed_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake thread takes every push handed over while its last commit was on disk, and
    parses and commits them together: one fsync for them, in the same thread. No push is
    answered before its own commit returned."""
    release = threading.Event()
    committing = threading.Event()
    commits: list[int] = []
    transaction = SQLiteJournal._transaction

    def slow_disk(conn: sqlite3.Connection, group: list[_journal._Write]) -> None:
        commits.append(sum(1 for write in group if write.rows is not None))
        committing.set()
        release.wait(10)  # the first commit "on disk" until released
        transaction(conn, group)

    monkeypatch.setattr(SQLiteJournal, "_transaction", staticmethod(slow_disk))
    provider = JsonPushProvider()
    parsed: list[bytes] = []
    parsed_in: set[str] = set()
    parse = provider.parse_callback

    def counting_parse(body: bytes, content_type: str | None) -> list[DeliveryReport | InboundMessage]:
        events = list(parse(body, content_type))
        parsed.append(body)
        parsed_in.add(threading.current_thread().name)
        return events

    monkeypatch.setattr(provider, "parse_callback", counting_parse)
    with Receiver(provider, Collect(), journal=tmp_path / "j.sqlite3") as receiver:
        first = asyncio.ensure_future(receiver._aserve_push(push_body("13800000001"), None))
        await asyncio.to_thread(committing.wait, 10)
        later = [
            asyncio.ensure_future(receiver._aserve_push(push_body(mobile), None))
            for mobile in ("13800000002", "13800000003")
        ]
        await asyncio.sleep(0.05)
        assert len(parsed) == 1  # the others wait for the thread, which waits for the disk
        assert not first.done()  # none acked yet
        assert not any(push.done() for push in later)
        release.set()
        replies = await asyncio.gather(first, *later)
    assert [result.reply.body for result in replies] == [OK] * 3
    assert commits[:2] == [1, 2]  # the two that came meanwhile: one commit
    assert parsed_in == {f"smsgate-{provider.name}-intake"}
    assert not any(t.name.endswith("-commit") for t in threading.enumerate())


def test_the_dispatch_claims_each_event_under_the_key_it_was_stored_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed: list[str] = []
    set_done_soon = SQLiteJournal._set_done_soon

    def spy(self: SQLiteJournal, keys: Sequence[str]) -> None:
        claimed.extend(keys)  # the keys the dispatch claimed the events and queues their outcomes under
        set_done_soon(self, keys)

    monkeypatch.setattr(SQLiteJournal, "_set_done_soon", spy)
    hashed: list[object] = []

    def counted_key(event: DeliveryReport | InboundMessage) -> str:
        hashed.append(event)
        return event_key(event)

    monkeypatch.setattr(_receiver, "event_key", counted_key)
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            assert httpx.post(server.url, content=push_body("13800000001", "13800000002")).content == OK
            wait_for(lambda: len(handler.mobiles) == 2)
            wait_for(lambda: len(claimed) == 2)  # queued just after the handler returned
    events = JsonPushProvider().parse_callback(push_body("13800000001", "13800000002"), None)
    assert claimed == [event_key(event) for event in events]
    assert hashed == []  # the keys came with the stored events


def test_the_stored_pushes_of_a_commit_share_one_stored_reply(tmp_path: Path) -> None:
    """The provider words its "stored" reply once per commit of several pushes (once per push
    before); an unreadable push of the batch gets its "retry" reply."""
    asked: list[bool] = []

    class Counting(InMemoryProvider):
        def callback_reply(self, ok: bool) -> CallbackReply:
            asked.append(ok)
            return super().callback_reply(ok)

    with Receiver(Counting("jsonpush"), journal=tmp_path / "j.sqlite3") as receiver:
        bodies = [push_body("13800000001"), b"not json", push_body("13800000002"), push_body("13800000003")]
        intakes = receiver._commit_each(receiver._parse_each([(body, None, None) for body in bodies]))
        assert [intake.reply.body for intake in intakes] == [OK, b"retry", OK, OK]
        assert [intake.stored for intake in intakes] == [True, False, True, True]
        assert len(receiver.journal.pending()) == 3
    assert sorted(asked) == [False, True]


def test_each_stored_push_of_a_commit_is_logged_with_its_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch asks once whether INFO is on; each stored push still gets its own line (a
    re-delivery with 0 new), an unreadable one its warning, and nothing at INFO when off."""
    with Receiver(JsonPushProvider(), journal=tmp_path / "j.sqlite3") as receiver:
        bodies = [push_body("13800000001", "13800000002"), b"not json", push_body("13800000001")]
        with caplog.at_level("INFO", logger="smsgate.receiver"):
            receiver._commit_each(receiver._parse_each([(body, None, None) for body in bodies]))
        stored = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
        assert stored == [
            "push to jsonpush stored: 2 event(s), 2 new",
            "push to jsonpush stored: 1 event(s), 0 new",
        ]
        caplog.clear()
        with caplog.at_level("WARNING", logger="smsgate.receiver"):
            receiver._commit_each(receiver._parse_each([(push_body("13800000003"), None, None)]))
        assert not caplog.records


async def test_the_pushes_of_one_commit_share_one_result_and_an_unreadable_one_gets_its_own(
    tmp_path: Path,
) -> None:
    """The ASGI path's results are frozen and the stored pushes of a commit share their reply,
    so they share one result too; a push the provider could not read gets its "retry"."""
    with Receiver(JsonPushProvider(), Collect(), journal=tmp_path / "j.sqlite3") as receiver:
        bodies = [push_body("13800000001"), push_body("13800000002"), b"not json", push_body("13800000003")]
        results = await asyncio.gather(*(receiver._aserve_push(body, None) for body in bodies))
        assert [result.reply.body for result in results] == [OK, OK, b"retry", OK]
        assert all(result.after_reply is None for result in results)
        assert results[0] is results[1]  # one loop iteration's hand-over: one commit
        again = await receiver._aserve_push(push_body("13800000004"), None)
        assert again.reply.body == OK
        assert again is not results[0]  # the next commit's reply, its own result
