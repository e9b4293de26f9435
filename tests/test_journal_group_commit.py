"""SQLiteJournal group commit (issue 11): concurrent writes share one transaction (one fsync),
each returns only once it is committed, and one write's failure undoes it alone."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from smsgate import DeliveryReport, DeliveryStatus
from smsgate.receiver import EventState, JournalError, SQLiteJournal


def report(n: int, raw: object = None) -> DeliveryReport:
    return DeliveryReport(
        provider="p",
        mobile=f"138{n:08d}",
        task_id=f"T{n}",
        status=DeliveryStatus.DELIVERED,
        raw=raw if raw is not None else {"n": n},
    )


def _commits(journal: SQLiteJournal) -> list[str]:
    statements: list[str] = []
    assert journal._conn is not None
    journal._conn.set_trace_callback(statements.append)
    return statements


def _wait_for_queue(journal: SQLiteJournal, size: int) -> None:
    deadline = time.monotonic() + 10
    while len(journal._queue) < size:
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.005)


def test_writes_waiting_for_a_commit_share_the_next_one(tmp_path: Path) -> None:
    """16 pushes arriving while a commit is on disk: one transaction for all (was 16)."""
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    statements = _commits(journal)
    results: dict[int, list[object]] = {}
    with journal._lock:  # a commit in progress: every writer queues behind it
        threads = [
            threading.Thread(target=lambda n=n: results.__setitem__(n, journal.record([report(n)])))
            for n in range(16)
        ]
        for thread in threads:
            thread.start()
        _wait_for_queue(journal, 16)
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(16))
    assert all(len(new) == 1 for new in results.values())
    assert statements.count("COMMIT") == 1
    # Inserts only: the group's 16 rows go in with one multi-row statement, no savepoints.
    assert len([s for s in statements if s.startswith("INSERT")]) == 1
    assert not [s for s in statements if s.startswith("SAVEPOINT")]
    journal.close()


def test_a_write_returns_only_once_committed_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = SQLiteJournal(path)
    assert journal._conn is not None
    assert journal._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    journal.record([report(1)])
    journal.mark_done(report(1))
    # Another connection sees both at once: they were committed before the calls returned.
    with sqlite3.connect(path) as other:
        rows = other.execute("SELECT state FROM smsgate_events").fetchall()
    assert rows == [("done",)]
    journal.close()


def test_one_failing_write_of_a_group_is_undone_alone(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    outcomes: dict[str, object] = {}

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO smsgate_events (key) VALUES ('half')")  # NOT NULL columns

    def good() -> None:
        outcomes["good"] = journal.record([report(2)])

    def bad() -> None:
        try:
            journal._write(failing)
        except JournalError as exc:
            outcomes["bad"] = exc

    with journal._lock:
        threads = [threading.Thread(target=bad), threading.Thread(target=good)]
        for thread in threads:
            thread.start()
        _wait_for_queue(journal, 2)
    for thread in threads:
        thread.join()
    assert isinstance(outcomes["bad"], JournalError)
    assert outcomes["good"] == [report(2)]
    assert journal.state(report(2)) is EventState.PENDING
    assert len(journal.entries()) == 1
    journal.close()


def test_an_event_that_cannot_be_serialised_fails_its_own_write_only(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    circular: dict[str, object] = {}
    circular["self"] = circular
    with pytest.raises(JournalError):
        journal.record([report(3), report(4, raw=circular)])
    assert journal.record([report(5)]) == [report(5)]
    assert journal.state(report(3)) is None
    journal.close()


def test_writes_queued_when_the_journal_closes_fail_cleanly(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            journal.record([report(6)])
        except JournalError as exc:
            errors.append(exc)

    with journal._lock:
        thread = threading.Thread(target=write)
        thread.start()
        _wait_for_queue(journal, 1)
        assert journal._conn is not None
        journal._conn.close()
        journal._conn = None
    thread.join()
    assert [str(e) for e in errors] == ["the journal is closed"]


def test_another_connection_reads_and_writes_the_file_while_a_journal_has_it_open(tmp_path: Path) -> None:
    """What the docs promise a running receiver's file (an operator reading it, ``smsgate reports
    --journal`` storing a pull): the journal holds SQLite's write lock only while it commits, so
    it never opens the file in exclusive locking mode."""
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as serving, SQLiteJournal(path, timeout=0) as other:
        assert serving.record_each([[report(1)], [report(2)]]) == [[report(1)], [report(2)]]
        assert [entry.event for entry in other.entries()] == [report(1), report(2)]
        assert other.record([report(2), report(3)]) == [report(3)]  # the pull: a write of its own
        assert serving.record([report(3)]) == []  # seen as stored by the other connection
        serving.mark_done(report(1))
        assert other.state(report(1)) is EventState.DONE
