"""What the SQLite journal's group commit says to SQLite (issue 11, receiver cost per push).

A group of new pushes is stored with one multi-row INSERT and no read of existing keys (it is
made only when a row turns out to exist: a re-delivery); the dispatch outcomes of a group go
in one ``UPDATE … FROM`` statement; every result is what the one-by-one statements gave."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from smsgate.receiver import Event, EventState, JournalError, Receiver, SQLiteJournal, _journal, event_key
from tests.test_journal_group_commit import report
from tests.test_receiver import JsonPushProvider


def _trace(journal: SQLiteJournal) -> list[str]:
    statements: list[str] = []
    assert journal._conn is not None
    journal._conn.set_trace_callback(statements.append)
    return statements


def test_a_group_of_new_pushes_is_stored_without_reading_existing_keys(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    statements = _trace(journal)
    assert journal.record_each([[report(1), report(2)], [report(3)]]) == [[report(1), report(2)], [report(3)]]
    assert not [s for s in statements if s.startswith("SELECT")]
    assert len([s for s in statements if s.startswith("INSERT")]) == 1
    assert statements.count("COMMIT") == 1
    journal.close()


def test_a_group_holding_a_known_event_is_stored_again_reading_the_keys_first(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    journal.record([report(1)])
    journal.mark_done(report(1))
    statements = _trace(journal)
    # A re-delivery of 1, a new 2, and 3 twice in one push: each stored once, 1 not new.
    assert journal.record_each([[report(1), report(2)], [report(3), report(3)]]) == [[report(2)], [report(3)]]
    assert statements.count("ROLLBACK") == 1  # the optimistic insert, undone
    assert len([s for s in statements if s.startswith("SELECT key")]) == 1
    assert statements.count("COMMIT") == 1
    entries = journal.entries()
    assert [e.key for e in entries] == [event_key(report(n)) for n in (1, 2, 3)]
    assert [(e.state, e.attempts) for e in entries] == [
        (EventState.DONE, 1),
        (EventState.PENDING, 0),
        (EventState.PENDING, 0),
    ]
    journal.close()


def test_the_outcomes_of_a_group_go_in_one_statement_each_applied_once(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    journal.record([report(n) for n in range(1, 5)])
    statements = _trace(journal)
    journal._set_soon(report(1), EventState.DONE, None)
    journal._set_soon(report(2), EventState.FAILED, "ValueError: no")
    journal._set_soon(report(3), EventState.DONE, None)
    journal._flush()
    assert len([s for s in statements if s.startswith("UPDATE")]) == 1
    # Two outcomes for one event in a group: one statement each, in order.
    statements.clear()
    journal._set_soon(report(4), EventState.FAILED, "first")
    journal._set_soon(report(4), EventState.DONE, None)
    journal._flush()
    assert len([s for s in statements if s.startswith("UPDATE")]) == 2
    got = {e.key: (e.state, e.error, e.attempts) for e in journal.entries()}
    assert got == {
        event_key(report(1)): (EventState.DONE, None, 1),
        event_key(report(2)): (EventState.FAILED, "ValueError: no", 1),
        event_key(report(3)): (EventState.DONE, None, 1),
        event_key(report(4)): (EventState.DONE, None, 2),
    }
    journal.close()


def test_outcomes_of_one_kind_go_in_one_key_list_with_the_latest_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's "done" marks (the same state and error) are one ``UPDATE … WHERE key IN``,
    stamped with the latest of their times; mixed ones still go in one ``UPDATE … FROM``."""
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    journal.record([report(n) for n in range(1, 6)])
    statements = _trace(journal)
    stamps = iter(["2026-12-02T07:00:01.5+00:00", "2026-12-02T07:00:02+00:00", "2026-12-02T07:00:01+00:00"])
    monkeypatch.setattr(_journal, "now_iso", lambda: next(stamps))
    for n in (1, 2, 3):
        journal._set_soon(report(n), EventState.DONE, None)
    journal._flush()
    updates = [s for s in statements if s.startswith("UPDATE")]
    assert len(updates) == 1
    assert "WHERE key IN" in updates[0]
    assert journal._conn is not None
    rows = journal._conn.execute(
        "SELECT key, state, error, attempts, updated_at FROM smsgate_events"
    ).fetchall()
    assert {key: rest for key, *rest in rows} == {
        **{event_key(report(n)): ["done", None, 1, "2026-12-02T07:00:02+00:00"] for n in (1, 2, 3)},
        **{event_key(report(n)): ["pending", None, 0, rows[n - 1][4]] for n in (4, 5)},
    }
    journal.close()


@pytest.mark.parametrize(
    "ns", [1_764_652_223_123_456_789, 1_764_652_223_000_000_999, 1_764_652_224_000_001_000]
)
def test_now_iso_spells_the_time_as_datetime_isoformat_does(monkeypatch: pytest.MonkeyPatch, ns: int) -> None:
    monkeypatch.setattr(time, "time_ns", lambda: ns)
    expected = dt.datetime.fromtimestamp(ns // 1000 / 1_000_000, dt.UTC).isoformat()
    assert _journal.now_iso() == expected
    assert dt.datetime.fromisoformat(_journal.now_iso()).tzinfo is not None


def test_the_batch_dispatch_skips_an_event_in_flight_and_releases_what_it_did_not_reach(
    tmp_path: Path,
) -> None:
    seen: list[str] = []
    started, go_on = threading.Event(), threading.Event()

    def handler(event: Event) -> None:
        seen.append(event_key(event))
        if len(seen) == 2:  # the receiver closes while the second event is handled
            started.set()
            go_on.wait(10)

    events = [report(n) for n in range(1, 5)]
    keys = [event_key(event) for event in events]
    loop = asyncio.new_event_loop()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        receiver.journal.record(events)
        receiver._in_flight.add(keys[0])  # another dispatch has the first one
        worker = threading.Thread(target=receiver._dispatch_soon, args=(events, loop, keys))
        worker.start()
        assert started.wait(10)
        receiver._closing.set()
        go_on.set()
        worker.join(10)
        assert receiver._in_flight == {keys[0]}  # the 4th, never reached, is released too
        states = {e.key: e.state for e in receiver.journal.entries()}  # type: ignore[attr-defined]
    loop.close()
    assert seen == keys[1:3]  # events 2 and 3: the first was in flight elsewhere, the 4th unreached
    assert states == {
        keys[0]: EventState.PENDING,
        keys[1]: EventState.DONE,
        keys[2]: EventState.DONE,
        keys[3]: EventState.PENDING,
    }


def test_a_batch_dispatch_queues_its_done_marks_as_one_write_applied_once_each(tmp_path: Path) -> None:
    """The batch dispatch of three events queues one write for their three done marks (one per
    event before), the failed event's mark its own; one ``UPDATE`` commits the three, each
    applied once."""

    def handler(event: Event) -> None:
        if event.mobile.endswith("2"):
            raise ValueError("no")

    events = [report(n) for n in (1, 2, 3)]
    keys = [event_key(event) for event in events]
    loop = asyncio.new_event_loop()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        journal = receiver.journal
        assert isinstance(journal, SQLiteJournal)
        journal.record(events)
        receiver._intake_batches._thread = threading.current_thread()  # as if it ran: no flush
        receiver._dispatch_soon(events, loop, keys)
        queued = [[update[0] for update in write.updates or ()] for write in journal._queue]
        assert sorted(queued) == [["done", "done"], ["failed"]]
        assert receiver._in_flight == set()
        statements = _trace(journal)
        receiver._intake_batches._thread = None
        journal._flush()
        assert len([s for s in statements if s.startswith("UPDATE")]) == 1
        states = {e.key: (e.state, e.error, e.attempts) for e in journal.entries()}
    loop.close()
    assert states == {
        keys[0]: (EventState.DONE, None, 1),
        keys[1]: (EventState.FAILED, "ValueError: no", 1),
        keys[2]: (EventState.DONE, None, 1),
    }


def test_close_counts_each_done_mark_it_could_not_commit(tmp_path: Path) -> None:
    """close() says how many outcomes it keeps, a batch's done marks one each."""
    path = tmp_path / "j.sqlite3"
    journal = SQLiteJournal(path, timeout=0.1)
    journal.record([report(1), report(2)])
    journal._set_done_soon([event_key(report(1)), event_key(report(2))])
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(JournalError, match=r"not closed: 2 dispatch outcome\(s\)"):
            journal.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    journal.close()
    reopened = SQLiteJournal(path)
    assert [(e.state, e.attempts) for e in reopened.entries()] == [(EventState.DONE, 1)] * 2
    reopened.close()
