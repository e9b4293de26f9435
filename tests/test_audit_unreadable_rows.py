"""Audit of the unreadable pushes (dead letters): a row of ``smsgate_unreadable`` edited by hand,
or a column whose type was changed, is a typed :class:`JournalError` naming the row's key
(never a bare TypeError / ValueError, never the row's values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsgate.exceptions import JournalError
from smsgate.receiver import PostgresJournal, SQLiteJournal
from tests.test_audit_unreadable import GARBAGE, _edit

# --- hostile rows -------------------------------------------------------------------------------


def test_a_sqlite_row_whose_body_is_text_is_a_journal_error_naming_its_key(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    key = journal.record_unreadable("jsonpush", GARBAGE, None, "ValueError")
    assert key is not None
    _edit(journal, "UPDATE smsgate_unreadable SET body = 'a text, not a blob'")
    with pytest.raises(JournalError) as info:
        journal.unreadable()
    assert key in str(info.value)
    assert "a text, not a blob" not in str(info.value)
    assert journal.discard_unreadable(key), "the damaged row can still be discarded"
    assert journal.unreadable() == []
    journal.close()


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE smsgate_unreadable SET first_seen = 'yesterday'",
        "UPDATE smsgate_unreadable SET last_seen = 12",
        "UPDATE smsgate_unreadable SET deliveries = 'many'",
        "UPDATE smsgate_unreadable SET provider = x'00ff'",
    ],
)
def test_a_sqlite_row_edited_by_hand_is_a_journal_error(tmp_path: Path, edit: str) -> None:
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    journal.record_unreadable("jsonpush", GARBAGE, None, "ValueError")
    _edit(journal, edit)
    with pytest.raises(JournalError):
        journal.unreadable()
    journal.close()


def test_a_postgres_body_column_made_text_is_a_journal_error(postgres_url: str) -> None:
    with PostgresJournal(postgres_url) as journal:
        journal.record_unreadable("jsonpush", GARBAGE, None, "ValueError")
        _edit(journal, "ALTER TABLE smsgate_unreadable ALTER COLUMN body TYPE text USING 'garbled'")
        with pytest.raises(JournalError):
            journal.unreadable()
