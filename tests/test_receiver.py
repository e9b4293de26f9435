"""The receiver and its SQLite journal: dedupe, write-before-ack, dispatch states, hooks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage, _plugins, hookimpl
from smsgate.receiver import (
    EventState,
    Journal,
    JournalError,
    Receiver,
    SQLiteJournal,
    event_key,
)
from smsgate.testing import InMemoryProvider

WHEN = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def push_body(*mobiles: str, task_id: str = "T1", inbound: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A push in InMemoryProvider's JSON format: a delivered report per mobile, then inbound."""
    return json.dumps(
        {
            "reports": [
                {"mobile": m, "task_id": task_id, "status": "delivered", "vendor_code": "DELIVRD"}
                for m in mobiles
            ],
            "inbound": [{"mobile": m, "text": t} for m, t in inbound],
        }
    ).encode()


OK = b"ok"
RETRY = b"retry"


def JsonPushProvider() -> InMemoryProvider:
    """The provider whose pushes these tests post: the shipped in-memory one."""
    return InMemoryProvider("jsonpush")


def report(mobile: str = "13800138000", task_id: str = "T1", code: str = "DELIVRD") -> DeliveryReport:
    return DeliveryReport(
        provider="jsonpush",
        mobile=mobile,
        task_id=task_id,
        status=DeliveryStatus.DELIVERED,
        received_at=WHEN,
        vendor_code=code,
    )


class Seen:
    """A handler that records what it was given and can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[DeliveryReport | InboundMessage] = []
        self.fail = fail

    def __call__(self, event: DeliveryReport | InboundMessage) -> None:
        if self.fail:
            raise RuntimeError("handler is down")
        self.events.append(event)


# --- journal (the contract both journals meet: tests/test_scale_journal_contract.py) ----------


def test_journal_is_a_wal_sqlite_file_that_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as j:
        assert j.record([report()]) == [report()]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteJournal(path) as again:
        assert again.record([report()]) == [], "the event stored before reopening is a duplicate"
        assert again.pending() == [report()]


def test_event_key_differs_on_each_identifying_field() -> None:
    base = event_key(report())
    assert event_key(report()) == base
    assert event_key(report(mobile="13900139000")) != base
    assert event_key(report(task_id="T2")) != base
    assert event_key(report(code="MY:0001")) != base
    inbound = InboundMessage(provider="jsonpush", mobile="13800138000", text="hi", received_at=WHEN)
    other_text = InboundMessage(provider="jsonpush", mobile="13800138000", text="ho", received_at=WHEN)
    assert event_key(inbound) != event_key(other_text)


def test_closed_journal_raises_journal_error_with_sqlite_cause(tmp_path: Path) -> None:
    j = SQLiteJournal(tmp_path / "j.sqlite3")
    j.close()
    with pytest.raises(JournalError):
        j.record([report()])
    assert isinstance(j, Journal)


def test_unopenable_journal_path_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError) as info:
        SQLiteJournal(tmp_path / "missing-dir" / "j.sqlite3")
    assert isinstance(info.value.__cause__, sqlite3.Error)


# --- receiver ---------------------------------------------------------------------------------


def test_second_delivery_of_same_push_is_acked_but_not_dispatched_again(tmp_path: Path) -> None:
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        body = push_body("13800138000", "13900139000", inbound=(("13700137000", "hello"),))
        first = receiver.handle(body, "application/json")
        second = receiver.handle(body, "application/json")
    assert first.body == OK
    assert second.body == OK
    assert [e.mobile for e in seen.events] == ["13800138000", "13900139000", "13700137000"]


def test_journal_failure_gives_retry_reply_and_handler_is_not_called(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    seen = Seen()
    receiver = Receiver(JsonPushProvider(), seen, journal=journal)
    journal.close()  # a journal that can no longer write
    with caplog.at_level(logging.INFO, logger="smsgate"):
        reply = receiver.handle(push_body("13800138000"))
    assert reply.body == RETRY
    assert seen.events == []
    assert "13800138000" not in caplog.text


class ExplodingJournal(SQLiteJournal):
    """A journal whose writes fail the way a full disk does."""

    def record(self, events):  # type: ignore[no-untyped-def]
        raise JournalError("journal write failed (OperationalError: database or disk is full)")


def test_failed_write_is_not_half_applied_so_redelivery_dispatches(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    seen = Seen()
    broken = Receiver(JsonPushProvider(), seen, journal=ExplodingJournal(path))
    assert broken.handle(push_body("13800138000")).body == RETRY
    broken.journal.close()
    with Receiver(JsonPushProvider(), seen, journal=path) as healthy:
        assert healthy.handle(push_body("13800138000")).body == OK
    assert [e.mobile for e in seen.events] == ["13800138000"]


def test_unparsable_body_is_refused_with_warning_that_omits_the_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            reply = receiver.handle(b"not json 13800138000 secret-text")
    assert reply.body == RETRY
    assert seen.events == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "13800138000" not in caplog.text
    assert "secret-text" not in caplog.text


def test_handler_failure_still_acks_and_event_is_redispatchable(tmp_path: Path) -> None:
    seen = Seen(fail=True)
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver.handle(push_body("13800138000")).body == OK
        assert isinstance(receiver.journal, SQLiteJournal)
        [entry] = receiver.journal.entries()
        assert entry.state is EventState.FAILED
        assert entry.error == "RuntimeError: handler is down"
        seen.fail = False
        assert receiver.redispatch() == 1
        assert [e.mobile for e in seen.events] == ["13800138000"]
        assert receiver.journal.pending() == []
        assert receiver.redispatch() == 0


def test_events_stored_before_a_crash_are_dispatched_at_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Receiver(JsonPushProvider(), None, journal=path) as storing_only:
        assert storing_only.handle(push_body("13800138000")).body == OK
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=path) as restarted:
        assert restarted.redispatch() == 1
    assert [e.mobile for e in seen.events] == ["13800138000"]


def test_dispatch_first_mode_asks_for_retry_and_redelivery_redispatches(tmp_path: Path) -> None:
    seen = Seen(fail=True)
    with Receiver(
        JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3", ack_before_dispatch=False
    ) as receiver:
        body = push_body("13800138000")
        assert receiver.handle(body).body == RETRY
        seen.fail = False
        assert receiver.handle(body).body == OK
        assert receiver.handle(body).body == OK
    assert [e.mobile for e in seen.events] == ["13800138000"], "done events are not dispatched again"


class Blocking:
    """A handler that records each call, then blocks until released."""

    def __init__(self) -> None:
        self.calls: list[DeliveryReport | InboundMessage] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, event: DeliveryReport | InboundMessage) -> None:
        self.calls.append(event)
        self.entered.set()
        assert self.release.wait(5), "test never released the handler"


def test_dispatch_first_redelivery_while_the_handler_still_runs_is_not_dispatched_twice(
    tmp_path: Path,
) -> None:
    """A slow handler makes the provider time out and re-deliver: that concurrent delivery
    must not run the handler a second time; it asks for a retry (nothing is done yet)."""
    handler = Blocking()
    body = push_body("13800138000")
    with Receiver(
        JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3", ack_before_dispatch=False
    ) as receiver:
        replies: list[bytes] = []
        first = threading.Thread(target=lambda: replies.append(receiver.handle(body).body))
        first.start()
        try:
            assert handler.entered.wait(5)
            assert receiver.handle(body).body == RETRY
        finally:
            handler.release.set()
            first.join(5)
        assert replies == [OK]
        assert receiver.handle(body).body == OK
    assert len(handler.calls) == 1


def test_redispatch_skips_events_whose_dispatch_is_in_progress(tmp_path: Path) -> None:
    handler = Blocking()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        first = threading.Thread(target=receiver.handle, args=(push_body("13800138000"),))
        first.start()
        try:
            assert handler.entered.wait(5)
            assert receiver.redispatch() == 0
        finally:
            handler.release.set()
            first.join(5)
    assert len(handler.calls) == 1


class Observer:
    def __init__(self) -> None:
        self.reports: list[DeliveryReport] = []
        self.inbound: list[InboundMessage] = []

    @hookimpl
    def report_received(self, report: DeliveryReport) -> None:
        self.reports.append(report)

    @hookimpl
    def inbound_received(self, message: InboundMessage) -> None:
        self.inbound.append(message)


@pytest.fixture
def observer() -> Iterator[Observer]:
    obs = Observer()
    manager = _plugins.get_plugin_manager()
    manager.register(obs, name="test-receiver-observer")
    try:
        yield obs
    finally:
        manager.unregister(name="test-receiver-observer")


def test_hooks_fire_once_per_new_event(tmp_path: Path, observer: Observer) -> None:
    with Receiver(JsonPushProvider(), journal=tmp_path / "j.sqlite3") as receiver:
        body = push_body("13800138000", inbound=(("13700137000", "hi"),))
        receiver.handle(body)
        receiver.handle(body)
    assert [r.mobile for r in observer.reports] == ["13800138000"]
    assert [m.text for m in observer.inbound] == ["hi"]


async def test_ahandle_runs_async_handler_and_dedupes(tmp_path: Path, observer: Observer) -> None:
    got: list[str] = []

    async def handler(event: DeliveryReport | InboundMessage) -> None:
        got.append(event.mobile)

    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        body = push_body("13800138000", "13900139000")
        assert (await receiver.ahandle(body)).body == OK
        assert (await receiver.ahandle(body)).body == OK
    assert got == ["13800138000", "13900139000"]
    assert len(observer.reports) == 2


async def test_ahandle_with_sync_handler_failure_stores_failed(tmp_path: Path) -> None:
    seen = Seen(fail=True)
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        assert (await receiver.ahandle(push_body("13800138000"))).body == OK
        assert isinstance(receiver.journal, SQLiteJournal)
        assert [e.state for e in receiver.journal.entries()] == [EventState.FAILED]
        seen.fail = False
        assert await receiver.aredispatch() == 1


async def test_ahandle_journal_failure_gives_retry(tmp_path: Path) -> None:
    seen = Seen()
    receiver = Receiver(JsonPushProvider(), seen, journal=ExplodingJournal(tmp_path / "j.sqlite3"))
    assert (await receiver.ahandle(push_body("13800138000"))).body == RETRY
    assert seen.events == []
    receiver.journal.close()


def test_sync_dispatch_runs_a_coroutine_handler(tmp_path: Path) -> None:
    got: list[str] = []

    async def handler(event: DeliveryReport | InboundMessage) -> None:
        got.append(event.mobile)

    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver.handle(push_body("13800138000")).body == OK
    assert got == ["13800138000"]


def test_default_journal_is_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Receiver(JsonPushProvider()) as receiver:
        receiver.handle(push_body("13800138000"))
    assert (tmp_path / "smsgate-journal.sqlite3").is_file()


class ForgetfulJournal(SQLiteJournal):
    """Stores events but cannot record their dispatch (e.g. the disk filled up meanwhile)."""

    def mark_done(self, event):  # type: ignore[no-untyped-def]
        raise JournalError("journal update failed (OperationalError: disk I/O error)")


def test_outcome_that_cannot_be_recorded_leaves_event_pending_not_lost(tmp_path: Path) -> None:
    seen = Seen()
    journal = ForgetfulJournal(tmp_path / "j.sqlite3")
    with Receiver(JsonPushProvider(), seen, journal=journal) as receiver:
        assert receiver.handle(push_body("13800138000")).body == OK
        assert [e.mobile for e in journal.pending()] == ["13800138000"]
        assert receiver.redispatch() == 1, "dispatched again: at least once"
    assert [e.mobile for e in seen.events] == ["13800138000", "13800138000"]
    journal.close()


# --- handle_push: the one method the web adapters use --------------------------------------


def test_handle_push_ack_first_leaves_the_dispatch_for_after_the_reply(tmp_path: Path) -> None:
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        result = receiver.handle_push(push_body("13800138000", "13900139000"))
        assert result.reply.body == OK
        assert seen.events == [], "nothing is dispatched before the reply is written"
        assert result.after_reply is not None
        assert result.after_reply() == 2
        assert [e.mobile for e in seen.events] == ["13800138000", "13900139000"]
        again = receiver.handle_push(push_body("13800138000", "13900139000"))
    assert (again.reply.body, again.after_reply) == (OK, None), "a re-delivery has nothing new"


def test_handle_push_dispatch_first_runs_the_handler_before_replying(tmp_path: Path) -> None:
    seen = Seen(fail=True)
    with Receiver(
        JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3", ack_before_dispatch=False
    ) as receiver:
        failed = receiver.handle_push(push_body("13800138000"))
        assert (failed.reply.body, failed.after_reply) == (RETRY, None)
        seen.fail = False
        done = receiver.handle_push(push_body("13800138000"))
    assert (done.reply.body, done.after_reply) == (OK, None)
    assert [e.mobile for e in seen.events] == ["13800138000"]


def test_handle_push_without_defer_dispatches_now_even_ack_first(tmp_path: Path) -> None:
    seen = Seen(fail=True)
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        result = receiver.handle_push(push_body("13800138000"), defer=False)
        assert (result.reply.body, result.after_reply) == (OK, None), "ack-first acks a failure"
        assert isinstance(receiver.journal, SQLiteJournal)
        assert [e.state for e in receiver.journal.entries()] == [EventState.FAILED]


def test_handle_push_refuses_garbage_with_nothing_to_run_after(tmp_path: Path) -> None:
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        result = receiver.handle_push(b"<<garbage>>")
    assert (result.reply.body, result.after_reply) == (RETRY, None)


async def test_ahandle_push_leaves_a_coroutine_function_for_after_the_reply(tmp_path: Path) -> None:
    got: list[str] = []

    async def handler(event: DeliveryReport | InboundMessage) -> None:
        got.append(event.mobile)

    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        result = await receiver.ahandle_push(push_body("13800138000"))
        assert result.reply.body == OK
        assert got == []
        assert result.after_reply is not None
        assert await result.after_reply() == 1
    assert got == ["13800138000"]
