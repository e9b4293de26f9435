"""A handled event's outcome (done / failed) is never lost to a failed group commit.

Under asyncio the receiver queues a dispatch outcome for the next group commit instead of
waiting for a commit of its own. When that commit fails (another connection holds the
journal's write lock, say) the outcome is queued again and lands with the next commit that
succeeds: the handler sees each event once, with no crash in between (it used to be dropped,
leaving the event pending, so redispatch() ran the handler on it again)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import smsgate
from smsgate import InboundMessage
from smsgate.receiver import (
    Event,
    EventState,
    JournalError,
    Receiver,
    ServerThread,
    SQLiteJournal,
    event_key,
)
from tests.test_journal_group_commit import report


@contextmanager
def _write_locked(path: Path) -> Iterator[None]:
    """Another connection holds the journal's write lock while the block runs."""
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def _push(text: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8" ?><returnsms><callbox><mobile>13800138000</mobile>'
        f"<taskid></taskid><content>{text}</content><receivetime>2026-12-01 10:00:00</receivetime>"
        "<extno></extno></callbox></returnsms>"
    ).encode()


def _states(journal: SQLiteJournal) -> dict[str, str]:
    return {_text(e.event): str(e.state) for e in journal.entries()}


def _text(event: Event) -> str:
    assert isinstance(event, InboundMessage)
    return event.text


def test_a_done_mark_queued_for_a_failed_commit_lands_with_the_next(tmp_path: Path) -> None:
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    path = tmp_path / "j.sqlite3"
    seen: list[str] = []
    locked = threading.Event()

    def handler(event: Event) -> None:
        seen.append(_text(event))
        if seen[-1] == "before":
            locked.wait(10)  # its done mark is queued once the journal is locked

    journal = SQLiteJournal(path, timeout=0.3)
    with (
        Receiver(provider, handler, journal=journal) as receiver,
        ServerThread(receiver.asgi_app()) as server,
    ):
        url = server.url
        assert httpx.post(url, content=_push("before")).content == b"1"
        with _write_locked(path):
            locked.set()
            # Its commit fails (the lock outlasts the journal's timeout): "retry", not stored;
            # the done mark of "before" was queued for that commit (or the idle flush's).
            assert httpx.post(url, content=_push("locked"), timeout=30).content == b"error"
            time.sleep(0.5)  # the idle flushes meanwhile fail too
        assert httpx.post(url, content=_push("after")).content == b"1"
        deadline = time.monotonic() + 10
        while seen.count("after") < 1 or _states(journal) != {"before": "done", "after": "done"}:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert _states(journal) == {"before": "done", "after": "done"}
        assert receiver.redispatch() == 0
        assert seen == ["before", "after"]  # each once: no handler run twice
    # And on disk, read by another connection once the receiver closed.
    with sqlite3.connect(path) as other:
        rows = dict(other.execute("SELECT payload, state FROM smsgate_events").fetchall())
    assert sorted(rows.values()) == ["done", "done"]
    reopened = SQLiteJournal(path)
    assert [e.state for e in reopened.entries()] == [EventState.DONE, EventState.DONE]
    assert [e.attempts for e in reopened.entries()] == [1, 1]  # each outcome applied once
    reopened.close()


def test_the_journal_queues_a_failed_outcome_again_ahead_of_newer_ones(tmp_path: Path) -> None:
    """The journal half: an unwaited outcome whose commit failed stays queued (first), is
    written by the next commit that succeeds, and is applied once; waited writes still fail."""
    path = tmp_path / "j.sqlite3"
    journal = SQLiteJournal(path, timeout=0.1)
    journal.record([report(1), report(2)])
    journal._set_soon(report(1), EventState.DONE, None)
    with _write_locked(path):
        journal._flush()  # fails: locked
        journal._set_soon(report(1), EventState.FAILED, "later")
        with pytest.raises(JournalError, match="locked"):
            journal.mark_done(report(2))  # a waited write gets the error
        assert [u[0] for w in journal._queue for u in w.updates or ()] == ["done", "failed"]
    journal._flush()
    assert not journal._queue
    entries = {e.key: e for e in journal.entries()}
    first = entries[event_key(report(1))]
    assert (first.state, first.error, first.attempts) == (
        EventState.FAILED,
        "later",
        2,
    )  # in order, once each
    assert entries[event_key(report(2))].state is EventState.PENDING
    journal.close()


def test_close_keeps_outcomes_it_could_not_commit_for_a_later_close(tmp_path: Path) -> None:
    """The journal half: close() whose commit of queued outcomes fails raises, stays open with
    them queued, and a later close() records them (they used to be dropped with the connection,
    leaving the event pending, so the next start ran its handler again)."""
    path = tmp_path / "j.sqlite3"
    journal = SQLiteJournal(path, timeout=0.1)
    journal.record([report(1), report(2)])
    journal._set_soon(report(1), EventState.DONE, None)
    with _write_locked(path):
        with pytest.raises(JournalError, match=r"not closed: 1 dispatch outcome\(s\).*locked"):
            journal.close()
        assert journal.state(report(2)) is EventState.PENDING  # still open and readable
    journal.close()
    journal.close()  # idempotent once closed
    with pytest.raises(JournalError, match="closed"):
        journal.pending()
    reopened = SQLiteJournal(path)
    states = {e.key: (e.state, e.attempts) for e in reopened.entries()}
    assert states == {
        event_key(report(1)): (EventState.DONE, 1),
        event_key(report(2)): (EventState.PENDING, 0),
    }
    reopened.close()


def test_a_done_mark_the_closing_journal_cannot_commit_is_not_lost(tmp_path: Path) -> None:
    """Over uvicorn: a push is handled, its done mark queued while another connection holds
    the journal's write lock; the journal's close() then fails loudly and keeps the mark, and
    the close() after the lock is gone records it: the next start dispatches nothing again."""
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    path = tmp_path / "j.sqlite3"
    seen: list[str] = []
    locked = threading.Event()

    def handler(event: Event) -> None:
        seen.append(_text(event))
        locked.wait(10)  # its done mark is queued once the journal is locked

    journal = SQLiteJournal(path, timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        with (
            Receiver(provider, handler, journal=journal) as receiver,
            ServerThread(receiver.asgi_app()) as server,
        ):
            assert httpx.post(server.url, content=_push("handled")).content == b"1"
            blocker.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
            locked.set()
            deadline = time.monotonic() + 10
            while not any(write.unwaited for write in journal._queue) and time.monotonic() < deadline:
                time.sleep(0.01)  # the done mark is queued (the idle flushes fail meanwhile)
        assert seen == ["handled"]
        with pytest.raises(JournalError, match=r"1 dispatch outcome\(s\) could not be recorded"):
            journal.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    journal.close()
    again = SQLiteJournal(path)
    assert [(e.state, e.attempts) for e in again.entries()] == [(EventState.DONE, 1)]
    with Receiver(provider, handler, journal=again) as restarted:
        assert restarted.redispatch() == 0
    assert seen == ["handled"]  # the handler ran once
    again.close()
