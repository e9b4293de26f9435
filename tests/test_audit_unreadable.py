"""Audit of the unreadable pushes (dead letters): hostile journal contents, a totals row gone,
a reparse the journal fails half-way. Each test failed before its fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from smsgate.receiver import Receiver, SQLiteJournal
from tests.test_receiver import JsonPushProvider
from tests.test_receiver_unreadable import (  # open_journal: the fixture, both journals
    Opener,
    open_journal,  # noqa: F401 - a fixture
)

GARBAGE = b"not json at all"


def _edit(journal: Any, sql: str) -> None:
    """Run ``sql`` on ``journal``'s store behind its back, as a hand editing the database."""
    if isinstance(journal, SQLiteJournal):
        conn = sqlite3.connect(str(journal.path), isolation_level=None)
        try:
            conn.execute(sql)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(journal._url.value, autocommit=True) as conn:
        conn.execute(sql)


# --- a totals row gone --------------------------------------------------------------------------


def test_with_the_totals_row_gone_a_new_push_is_still_kept_and_the_bound_still_holds(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    journal = open_journal()
    assert journal.record_unreadable("jsonpush", b"first", None, "ValueError") is not None
    _edit(journal, "DELETE FROM smsgate_unreadable_totals")
    # No bound: kept (before the fix, nothing new was ever kept again: no row, no room).
    assert journal.record_unreadable("jsonpush", b"second", None, "ValueError") is not None
    # A bound is still checked, against the rows themselves.
    assert journal.record_unreadable("jsonpush", b"third", None, "ValueError", max_pushes=2) is None
    assert journal.record_unreadable("jsonpush", b"third", None, "ValueError", max_bytes=15) is None
    assert journal.record_unreadable("jsonpush", b"third", None, "ValueError", max_pushes=3) is not None
    assert len(journal.unreadable()) == 3


def test_a_receiver_whose_journal_lost_its_totals_row_keeps_an_unreadable_push(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    journal = open_journal()
    _edit(journal, "DELETE FROM smsgate_unreadable_totals")
    receiver = Receiver(JsonPushProvider(), journal=journal)
    receiver.handle(GARBAGE)
    assert [push.body for push in receiver.unreadable()] == [GARBAGE]


def test_a_push_refused_at_the_bound_costs_no_count_of_the_kept_ones(tmp_path: Path) -> None:
    """The totals row is there: a refused push reads it, and never counts the bodies again (a
    scan of up to 64 MiB per garbage push posted at the bound)."""
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    assert journal.record_unreadable("jsonpush", b"first", None, "ValueError") is not None
    assert journal._conn is not None
    statements: list[str] = []
    journal._conn.set_trace_callback(statements.append)
    assert journal.record_unreadable("jsonpush", b"second", None, "ValueError", max_pushes=1) is None
    journal._conn.set_trace_callback(None)
    assert not [statement for statement in statements if "count(*)" in statement]
    journal.close()


# --- a bound larger than any total ------------------------------------------------------------


@pytest.mark.parametrize("bound", [{"max_pushes": 10**23}, {"max_bytes": 2**63}, {"max_bytes": 2**63 - 1}])
def test_a_bound_larger_than_a_64_bit_total_is_no_bound_not_an_overflow(
    open_journal: Opener,  # noqa: F811 - the imported fixture
    bound: dict[str, int],
) -> None:
    journal = open_journal()
    assert journal.record_unreadable("jsonpush", b"first", None, "ValueError", **bound) is not None
    assert journal.record_unreadable("jsonpush", b"second", None, "ValueError", **bound) is not None


def test_a_receiver_with_a_huge_max_unreadable_keeps_an_unreadable_push(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    receiver = Receiver(JsonPushProvider(), journal=open_journal(), max_unreadable=10**23)
    receiver.handle(GARBAGE)
    assert [push.body for push in receiver.unreadable()] == [GARBAGE]
