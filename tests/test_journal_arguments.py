"""Wrong arguments to the journals' constructors and methods (SQLiteJournal, PostgresJournal):
each is refused with a ConfigurationError naming it before any file or connection is made,
never a bare TypeError / ValueError / AttributeError or a value accepted that misbehaves later;
a password in a PostgreSQL URL appears in no error, log record or repr."""

from __future__ import annotations

import math
import os
import pathlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from smsgate.exceptions import ConfigurationError, JournalError
from smsgate.receiver import SQLiteJournal

PASSWORD = "Jrnl-Secret-9d3e"


class BytesPath(os.PathLike[bytes]):
    def __fspath__(self) -> bytes:
        return b"journal.sqlite3"


@pytest.mark.parametrize(
    "path",
    [b"journal.sqlite3", bytearray(b"j"), 5, None, 1.5, ["j.sqlite3"], BytesPath(), "", "a\0b"],
)
def test_a_path_that_is_no_text_path_is_refused(
    path: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="SQLiteJournal's path"):
        SQLiteJournal(path)
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{PASSWORD}@127.0.0.1:5432/db",
        f"postgres://app:{PASSWORD}@127.0.0.1/db",
        Path(f"postgresql://app:{PASSWORD}@127.0.0.1/db"),  # a Path makes its // one /
    ],
)
def test_a_postgres_url_is_refused_without_its_password(
    url: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="PostgresJournal") as caught:
        SQLiteJournal(url)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value)
    assert list(tmp_path.rglob("*")) == []  # no SQLite file named after the URL


@pytest.mark.parametrize("timeout", ["x", None, True, -1, -0.5, math.nan, math.inf, 10**400, 1j])
def test_a_timeout_that_is_no_non_negative_finite_number_is_refused(timeout: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SQLiteJournal's timeout"):
        SQLiteJournal(tmp_path / "j.sqlite3", timeout=timeout)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("timeout", [0, 0.1, 5, Fraction(1, 2)])
def test_good_timeouts_are_accepted(timeout: Any, tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.sqlite3", timeout=timeout) as journal:
        assert journal.pending() == []


@pytest.mark.parametrize("path", ["j.sqlite3", pathlib.PurePosixPath("j.sqlite3"), ":memory:"])
def test_good_paths_are_accepted(path: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteJournal(path) as journal:
        assert journal.pending() == []
        assert journal.path is None if path == ":memory:" else journal.path == Path("j.sqlite3")


def test_a_file_that_cannot_be_opened_is_still_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot open the journal"):
        SQLiteJournal(tmp_path / "missing-dir" / "j.sqlite3")
