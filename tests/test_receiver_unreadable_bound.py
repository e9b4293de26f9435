"""The bound on the unreadable pushes kept (dead letters): without a PushGuard anyone who can
post could otherwise fill the disk with distinct garbage bodies (up to ``max_body`` each).

A new unreadable push beyond ``max_unreadable`` pushes or ``max_unreadable_bytes`` bytes of
bodies is not kept (a re-delivery of a kept one still counts), is answered "retry" as before,
and an ERROR says so once per period at the bound. The journals keep running totals (one row,
kept by triggers): the check is no scan. Both journals (SQLite, and a real PostgreSQL through
``tests/pg_support.py``), the sync receiver and the async batched intake.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.receiver import PostgresJournal, Receiver, SQLiteJournal
from smsgate.receiver import _journal as journal_module
from smsgate.receiver._unreadable import DEFAULT_MAX_UNREADABLE, DEFAULT_MAX_UNREADABLE_BYTES
from tests.test_receiver import OK, RETRY, JsonPushProvider, push_body
from tests.test_receiver_unreadable import (  # open_journal: the fixture, both journals
    SECRET_MOBILE,
    Opener,
    OwnJournal,
    Seen,
    logged,
    no_secret_in,
    open_journal,  # noqa: F401
)


def garbage(n: int, size: int = 10) -> bytes:
    """A distinct body no parser reads, ``size`` bytes long (at least its number's)."""
    head = f"not json {n} {SECRET_MOBILE} ".encode()
    return head + b"x" * max(0, size - len(head))


# --- the journals -------------------------------------------------------------------------------


def test_a_new_push_beyond_max_pushes_is_not_kept_but_a_kept_one_still_counts(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    journal = open_journal()
    first = journal.record_unreadable("p", garbage(1), None, "E: x", max_pushes=2, max_bytes=None)
    second = journal.record_unreadable("p", garbage(2), None, "E: x", max_pushes=2, max_bytes=None)
    assert first is not None
    assert second is not None
    assert journal.record_unreadable("p", garbage(3), None, "E: x", max_pushes=2, max_bytes=None) is None
    assert journal.record_unreadable("p", garbage(1), None, "E: y", max_pushes=2, max_bytes=None) == first
    assert [(p.key, p.deliveries) for p in journal.unreadable()] == [(first, 2), (second, 1)]
    assert journal.unreadable_usage() == (2, 2 * len(garbage(1)))
    assert journal.discard_unreadable(second) is True
    assert journal.unreadable_usage() == (1, len(garbage(1)))
    assert journal.record_unreadable("p", garbage(3), None, "E: x", max_pushes=2, max_bytes=None) is not None
    assert journal.unreadable_usage() == (2, 2 * len(garbage(1)))


def test_a_new_push_beyond_max_bytes_is_not_kept(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    journal = open_journal()
    assert journal.record_unreadable("p", garbage(1, 600), None, "E", max_bytes=1000) is not None
    assert journal.record_unreadable("p", garbage(2, 401), None, "E", max_bytes=1000) is None
    assert journal.record_unreadable("p", garbage(3, 400), None, "E", max_bytes=1000) is not None  # 1000
    assert journal.record_unreadable("p", garbage(4, 50), None, "E", max_bytes=1000) is None
    assert journal.unreadable_usage() == (2, 1000)
    assert journal.record_unreadable("p", garbage(5), None, "E", max_pushes=0) is None  # 0: keep none
    assert journal.record_unreadable("p", garbage(5), None, "E") is not None  # no bound
    assert journal.unreadable_usage()[0] == 3


def test_the_totals_are_shared_by_every_connection_and_survive_reopening(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    one, two = open_journal(), open_journal()
    assert one.record_unreadable("p", garbage(1), None, "E", max_pushes=2) is not None
    assert two.record_unreadable("p", garbage(2), None, "E", max_pushes=2) is not None
    assert one.record_unreadable("p", garbage(3), None, "E", max_pushes=2) is None
    two.close()
    assert open_journal().unreadable_usage() == (2, 2 * len(garbage(1)))


@pytest.mark.parametrize("name", ["max_pushes", "max_bytes"])
@pytest.mark.parametrize("value", [-1, 1.5, True, "10", float("nan")])
def test_a_wrong_bound_is_a_validation_error_naming_it(
    open_journal: Opener,  # noqa: F811 - the imported fixture
    name: str,
    value: object,
) -> None:
    journal = open_journal()
    with pytest.raises(ValidationError) as caught:
        journal.record_unreadable("p", garbage(1), None, "E", **{name: value})
    assert caught.value.field == name
    assert journal.unreadable() == []


def test_a_sqlite_journal_with_dead_letters_but_no_totals_counts_them_when_opened(tmp_path: Path) -> None:
    """A file made by the first version of dead letters (the table, no totals) is counted once."""
    path = tmp_path / "j.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(journal_module._UNREADABLE_SCHEMA)
    for n in (1, 2, 3):
        conn.execute(
            "INSERT INTO smsgate_unreadable (key, provider, body, error, first_seen, last_seen) "
            "VALUES (?, 'p', ?, 'E', '2026-12-01T00:00:00+00:00', '2026-12-01T00:00:00+00:00')",
            (f"k{n}", garbage(n)),
        )
    conn.close()
    with SQLiteJournal(path) as journal:
        assert journal.unreadable_usage() == (3, 3 * len(garbage(1)))
        assert journal.record_unreadable("p", garbage(4), None, "E", max_pushes=3) is None
    with SQLiteJournal(path) as journal:  # counted once, not again
        assert journal.unreadable_usage() == (3, 3 * len(garbage(1)))


def test_a_postgres_journal_with_dead_letters_but_no_totals_counts_them_when_opened(
    postgres_url: str,
) -> None:
    import psycopg

    journal = PostgresJournal(postgres_url)
    journal.record_unreadable("p", garbage(1), None, "E")
    journal.record_unreadable("p", garbage(2), None, "E")
    journal.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE smsgate_unreadable_totals")
        conn.execute("DROP TRIGGER smsgate_unreadable_count ON smsgate_unreadable")
    journal = PostgresJournal(postgres_url)
    try:
        assert journal.unreadable_usage() == (2, 2 * len(garbage(1)))
        assert journal.record_unreadable("p", garbage(3), None, "E", max_pushes=2) is None
    finally:
        journal.close()
    journal = PostgresJournal(postgres_url)  # counted once, not again
    try:
        assert journal.unreadable_usage() == (2, 2 * len(garbage(1)))
    finally:
        journal.close()


def test_the_sqlite_check_reads_the_totals_and_the_key_index_never_scans(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.sqlite3") as journal:
        assert journal._conn is not None
        params = ("k", "p", None, b"x", "E", "now", 10, 100, 1)
        plan = journal._conn.execute(
            "EXPLAIN QUERY PLAN " + journal_module._KEEP_UNREADABLE, params
        ).fetchall()
    steps = " | ".join(row[-1] for row in plan)
    assert "SCAN smsgate_unreadable" not in steps.replace("SCAN smsgate_unreadable_totals", "")
    assert "SEARCH smsgate_unreadable USING COVERING INDEX" in steps


# --- the receiver -------------------------------------------------------------------------------


def test_the_receivers_defaults_are_ten_thousand_pushes_and_64_mib(tmp_path: Path) -> None:
    assert (DEFAULT_MAX_UNREADABLE, DEFAULT_MAX_UNREADABLE_BYTES) == (10_000, 64 * 1024 * 1024)
    with Receiver(JsonPushProvider(), journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver._unreadable_bound == (10_000, 64 * 1024 * 1024)


@pytest.mark.parametrize("name", ["max_unreadable", "max_unreadable_bytes"])
@pytest.mark.parametrize("value", [-1, 2.0, False, "64MiB"])
def test_a_wrong_bound_is_a_configuration_error_naming_it_before_any_file(
    tmp_path: Path, name: str, value: object
) -> None:
    path = tmp_path / "j.sqlite3"
    given: dict[str, Any] = {name: value}
    with pytest.raises(ConfigurationError, match=f"Receiver's {name} "):
        Receiver(JsonPushProvider(), journal=path, **given)
    assert not path.exists()


def _errors_and_warnings(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.levelno >= logging.WARNING and "kept as unreadable push" not in r.getMessage()
    ]


def test_at_the_bound_a_new_push_is_answered_retry_unkept_with_one_error_per_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver(JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3", max_unreadable=2) as receiver:
        with caplog.at_level(logging.WARNING, logger="smsgate"):
            for n in (1, 2):
                assert receiver.handle(garbage(n)).body == RETRY
            assert _errors_and_warnings(caplog) == []
            for n in (3, 4):  # at the bound: answered retry as before, not kept
                assert receiver.handle(garbage(n)).body == RETRY
            assert receiver.handle(garbage(1)).body == RETRY  # a kept one: counted, still full
            assert receiver.handle(garbage(5)).body == RETRY
            assert [(p.body, p.deliveries) for p in receiver.unreadable()] == [
                (garbage(1), 2),
                (garbage(2), 1),
            ]
            first_period = _errors_and_warnings(caplog)
            assert [level for level, _ in first_period] == [logging.ERROR, logging.WARNING, logging.WARNING]
            assert "no longer kept" in first_period[0][1]
            assert "max_unreadable=2" in first_period[0][1]
            assert all(
                "not kept (the unreadable pushes kept are at their bound)" in m for _, m in first_period[1:]
            )
            caplog.clear()

            receiver.discard_unreadable(receiver.unreadable()[1].key)  # room for one
            assert receiver.handle(garbage(6)).body == RETRY  # kept, and at the bound again
            assert receiver.handle(garbage(7)).body == RETRY  # not kept: the same period
            assert _errors_and_warnings(caplog)[0][0] == logging.WARNING
            caplog.clear()

            for push in receiver.unreadable():  # read (or dealt with) by hand
                receiver.discard_unreadable(push.key)
            assert receiver.handle(garbage(8)).body == RETRY  # kept, leaving room: the period ends
            assert receiver.handle(garbage(9)).body == RETRY  # kept
            assert receiver.handle(garbage(10)).body == RETRY  # not kept: a new period
        messages = _errors_and_warnings(caplog)
        assert [level for level, _ in messages] == [logging.WARNING, logging.ERROR]
        assert "kept again (4 not kept while at the bound)" in messages[0][1]
        assert [p.body for p in receiver.unreadable()] == [garbage(8), garbage(9)]
    assert no_secret_in(logged(caplog))


def test_a_readable_push_is_stored_whatever_the_bound(tmp_path: Path) -> None:
    with Receiver(JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3", max_unreadable=0) as receiver:
        assert receiver.handle(garbage(1)).body == RETRY
        assert receiver.unreadable() == []
        assert receiver.handle(push_body("13800000001")).body == OK


async def test_the_batched_intake_keeps_within_the_bound_in_the_batchs_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver(
        JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3", max_unreadable_bytes=2 * len(garbage(1))
    ) as receiver:
        bodies = [garbage(1), push_body("13800000001"), garbage(2), garbage(3), garbage(4)]
        with caplog.at_level(logging.WARNING, logger="smsgate"):
            results = await asyncio.gather(*(receiver._aserve_push(body, None) for body in bodies))
        assert [r.reply.body for r in results] == [RETRY, OK, RETRY, RETRY, RETRY]
        assert [p.body for p in receiver.unreadable()] == [garbage(1), garbage(2)]
    levels = [level for level, _ in _errors_and_warnings(caplog)]
    assert levels == [logging.ERROR, logging.WARNING]
    assert no_secret_in(logged(caplog))


def test_the_bound_holds_for_receivers_sharing_a_postgres_journal(postgres_url: str) -> None:
    journal = PostgresJournal(postgres_url)
    try:
        one = Receiver(JsonPushProvider(), Seen(), journal=journal, max_unreadable=3)
        two = Receiver(JsonPushProvider(), Seen(), journal=journal, max_unreadable=3)
        for n in range(6):
            (one if n % 2 else two).handle(garbage(n))
        assert len(journal.unreadable()) == 3
        one.close()
        two.close()
    finally:
        journal.close()


class OldStore(OwnJournal):
    """A store of an application's own written before the bound: no max_pushes / max_bytes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[tuple[Any, ...]] = []

    def record_unreadable(self, provider: str, body: bytes, content_type: str | None, error: str) -> str:
        self.calls.append((provider, body))
        return "k" * 64

    def unreadable(self) -> list[Any]:
        return []

    def discard_unreadable(self, key: str) -> bool:
        return False


def test_a_store_that_takes_no_bound_is_called_as_before_and_a_warning_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = OldStore(tmp_path / "j.sqlite3")
    with caplog.at_level(logging.WARNING, logger="smsgate"):
        receiver = Receiver(JsonPushProvider(), Seen(), journal=store)
    assert any("without a bound" in r.getMessage() for r in caplog.records)
    assert receiver.handle(garbage(1)).body == RETRY
    assert store.calls == [("jsonpush", garbage(1))]
    receiver.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smsgate"):
        Receiver(JsonPushProvider(), journal=store, max_unreadable=None, max_unreadable_bytes=None).close()
    assert caplog.records == []
    store.close()


def _statements(journal: SQLiteJournal) -> Sequence[str]:
    assert journal._conn is not None
    statements: list[str] = []
    journal._conn.set_trace_callback(statements.append)
    return statements


def test_a_readable_push_touches_no_unreadable_table(tmp_path: Path) -> None:
    """The success path is what it was: nothing new runs per stored push."""
    with Receiver(JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        assert isinstance(receiver.journal, SQLiteJournal)
        statements = _statements(receiver.journal)
        assert receiver.handle(push_body("13800000001")).body == OK
        asyncio.run(receiver._aserve_push(push_body("13800000002"), None))
        receiver.journal._conn.set_trace_callback(None)  # type: ignore[union-attr]
    assert statements
    assert not [s for s in statements if "unreadable" in s]


def test_opening_a_sqlite_journal_counts_the_kept_pushes_only_when_no_totals_are_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan counting them runs once per file, not at every opening (a journal keeps up to
    64 MiB of them)."""
    ran: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)
        conn.set_trace_callback(ran.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    path = tmp_path / "j.sqlite3"
    SQLiteJournal(path).close()
    assert sum("count(*)" in statement for statement in ran) == 1
    ran.clear()
    SQLiteJournal(path).close()
    assert not [statement for statement in ran if "count(*)" in statement]
