"""Wrong arguments to the journals' constructors and methods (SQLiteJournal, PostgresJournal):
each is refused with a ConfigurationError naming it before any file or connection is made,
never a bare TypeError / ValueError / AttributeError or a value accepted that misbehaves later;
a password in a PostgreSQL URL appears in no error, log record or repr."""

from __future__ import annotations

import logging
import math
import os
import pathlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from smsgate.exceptions import ConfigurationError, JournalError
from smsgate.receiver import EventState, SQLiteJournal
from tests.test_receiver import report

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


@pytest.mark.parametrize("state", ["bogus", "DONE", 5, ["done"]])
def test_entries_of_an_unknown_state_is_a_configuration_error(state: Any) -> None:
    with SQLiteJournal(":memory:") as journal, pytest.raises(ConfigurationError, match="entries' state"):
        journal.entries(state)


@pytest.mark.parametrize("state", [None, "done", EventState.FAILED])
def test_entries_of_a_known_state(state: Any) -> None:
    with SQLiteJournal(":memory:") as journal:
        assert journal.entries(state) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda journal: journal.record([5]),
        lambda journal: journal.record("text"),
        lambda journal: journal.record([report(), None]),
        lambda journal: journal.mark_done("x"),
        lambda journal: journal.mark_failed(None, "boom"),
        lambda journal: journal.state(13800138000),
    ],
)
def test_something_that_is_no_event_is_a_journal_error_naming_its_type(call: Any) -> None:
    with SQLiteJournal(":memory:") as journal:
        with pytest.raises(JournalError, match=r"not (int|str|NoneType)$"):
            call(journal)
        assert journal.entries() == []  # nothing stored, not even the good event


@pytest.mark.parametrize("error", [5, None, b"boom", ValueError("boom")])
def test_a_failure_whose_error_is_no_text_is_refused(error: Any) -> None:
    with SQLiteJournal(":memory:") as journal:
        journal.record([report()])
        with pytest.raises(ConfigurationError, match="mark_failed's error must be a str"):
            journal.mark_failed(report(), error)
        (entry,) = journal.entries()
        assert (entry.state, entry.error, entry.attempts) == (EventState.PENDING, None, 0)


def test_record_each_fails_only_the_push_holding_something_that_is_no_event() -> None:
    with SQLiteJournal(":memory:") as journal:
        bad, good = journal.record_each([[report(), "x"], [report()]])
        assert isinstance(bad, JournalError)
        assert good == [report()]
        assert len(journal.entries()) == 1


# --- PostgresJournal ---------------------------------------------------------------------------

psycopg = pytest.importorskip("psycopg")

from smsgate.receiver import PostgresJournal  # noqa: E402 - after the skip
from smsgate.receiver._postgres import safe_url  # noqa: E402
from smsgate.testing import frames_with_secrets  # noqa: E402

#: Nothing listens on port 1 of the loopback address: a connection is refused at once.
NOWHERE = f"postgresql://app:{PASSWORD}@127.0.0.1:1/db"


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if a journal tries to connect: arguments are checked before."""

    def connect(*args: object, **kwargs: object) -> None:
        pytest.fail("connected before refusing the arguments")

    monkeypatch.setattr(psycopg, "connect", connect)


def shows_password(error: BaseException) -> list[str]:
    """Where ``error`` shows PASSWORD: its text, repr, frame locals, rendered traceback."""
    import traceback

    found = [f"frame {where}" for where in frames_with_secrets(error, [PASSWORD])]
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    found += ["traceback"] if PASSWORD in rendered else []
    found += [what for what, text in (("str", str(error)), ("repr", repr(error))) if PASSWORD in text]
    return found


@pytest.mark.usefixtures("no_connection")
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"lease": 0}, "lease"),
        ({"lease": -1}, "lease"),
        ({"lease": "x"}, "lease"),
        ({"lease": None}, "lease"),
        ({"lease": True}, "lease"),
        ({"lease": math.nan}, "lease"),
        ({"lease": math.inf}, "lease"),
        ({"lease": 2.0**40}, "lease"),
        ({"connect_timeout": "x"}, "connect_timeout"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"connect_timeout": -3}, "connect_timeout"),
        ({"connect_timeout": math.nan}, "connect_timeout"),
        ({"connect_timeout": 10**400}, "connect_timeout"),
    ],
)
def test_a_wrong_lease_or_connect_timeout_is_refused_before_connecting(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"PostgresJournal's {named}") as caught:
        PostgresJournal(NOWHERE, **kwargs)
    assert shows_password(caught.value) == []


#: Wrong URLs, by name: a test's frame holds the name, never the URL (frames are searched).
BAD_URLS: dict[str, object] = {
    "int": 5,
    "none": None,
    "bytes": NOWHERE.encode(),
    "path": Path("db.sqlite3"),
    "file name": "db.sqlite3",
    "empty": "",
    "key=value string": f"host=127.0.0.1 port=1 password={PASSWORD}",
    "broken key=value string": f"host=127.0.0.1 {PASSWORD}",
    "unreadable": f"postgresql://app:{PASSWORD}@127.0.0.1:1/db?{PASSWORD}=1",
    "port": f"postgresql://app:{PASSWORD}@127.0.0.1:port/db",
    "unencoded /": f"postgresql://app:{PASSWORD[:4]}/{PASSWORD[4:]}@127.0.0.1:1/db",
}

#: URLs of a server that cannot be reached, with the password in each place it may be.
UNREACHABLE = {
    "user part": NOWHERE,
    "postgres scheme": f"postgres://app:{PASSWORD}@127.0.0.1:1/db",
    "query": f"postgresql://app@127.0.0.1:1/db?password={PASSWORD}&sslmode=disable",
    "encoded query key": f"postgresql://127.0.0.1:1/db?pass%77ord={PASSWORD}",
    "encoded password": f"postgresql://app:{PASSWORD.replace('-', '%2D')}@127.0.0.1:1/db",
}


def error_of(make: Callable[[], object]) -> BaseException:
    try:
        make()
    except Exception as error:
        return error
    pytest.fail("no error")


@pytest.mark.usefixtures("no_connection")
@pytest.mark.parametrize("name", list(BAD_URLS))
def test_a_url_that_is_no_postgres_url_is_refused_before_connecting_without_its_password(name: str) -> None:
    error = error_of(lambda: PostgresJournal(BAD_URLS[name]))  # type: ignore[arg-type]
    assert isinstance(error, ConfigurationError)
    assert "PostgresJournal's url" in str(error)
    assert shows_password(error) == []
    assert PASSWORD[4:] not in str(error)


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_a_server_that_cannot_be_reached_is_a_journal_error_that_shows_no_password(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = error_of(lambda: PostgresJournal(UNREACHABLE[name], connect_timeout=2))
    assert isinstance(error, JournalError)
    assert "journal open failed" in str(error)
    assert shows_password(error) == []
    assert "***" in str(error)
    assert [r for r in caplog.records if PASSWORD in r.getMessage()] == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        ("postgresql://h/db?password=p@ss&sslmode=require", "postgresql://h/db?password=***&sslmode=require"),
        ("postgresql://h/db?Pass%77ord=pw", "postgresql://h/db?Pass%77ord=***"),
        ("postgresql://u:pa?s/s@h/db?x=1", "postgresql://u:***@h/db?x=1"),
        ("host=h password=pw user=u", "host=h password=*** user=u"),
        ("postgresql://u:pw@h:port/db", "postgresql://u:***@h:port/db"),  # was a bare ValueError
    ],
)
def test_safe_url_masks_every_password(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_a_live_journal_shows_no_password_in_its_repr_or_errors(postgres_url: str) -> None:
    # Trust authentication: the passwords are not checked, only carried.
    url = postgres_url.replace("postgres@", f"postgres:{PASSWORD}@") + f"?password={PASSWORD}"
    journal = PostgresJournal(url, lease=1.5, connect_timeout=5)
    try:
        assert PASSWORD not in repr(journal)
        assert journal.pending() == []
    finally:
        journal.close()
    error = error_of(journal.pending)
    assert isinstance(error, JournalError)
    assert shows_password(error) == []
