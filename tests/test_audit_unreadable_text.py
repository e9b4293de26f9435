"""Audit of the unreadable pushes' text arguments: a key, a provider's name or a content type
with a lone surrogate (what a command line's undecodable bytes become) or a NUL is taken as
the database takes it, never a bare UnicodeEncodeError (nor a traceback from the command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smsgate.cli import cli
from smsgate.receiver import Receiver, SQLiteJournal
from tests.test_receiver import JsonPushProvider
from tests.test_receiver_unreadable import (  # open_journal: the fixture, both journals
    Opener,
    open_journal,  # noqa: F401 - a fixture
)

ODD = ["\ud800", "a\udcff", "k\x00ey"]


@pytest.mark.parametrize("key", ODD)
def test_a_key_no_database_can_hold_matches_no_kept_push(
    open_journal: Opener,  # noqa: F811 - the imported fixture
    key: str,
) -> None:
    journal = open_journal()
    journal.record_unreadable("jsonpush", b"garbage", None, "ValueError")
    assert journal.discard_unreadable(key) is False
    assert journal.update_unreadable(key, "ValueError: again") is False
    assert Receiver(JsonPushProvider(), journal=journal).discard_unreadable(key) is False
    assert len(journal.unreadable()) == 1


@pytest.mark.parametrize("provider", ODD)
def test_a_provider_name_no_database_can_hold_is_kept_escaped(
    open_journal: Opener,  # noqa: F811 - the imported fixture
    provider: str,
) -> None:
    journal = open_journal()
    key = journal.record_unreadable(provider, b"garbage", "text/\udcff", "ValueError")
    assert key is not None
    (push,) = journal.unreadable()
    assert push.key == key
    assert push.provider.encode("utf-8")  # stored as text every database takes
    assert journal.discard_unreadable(key)


def test_the_command_discarding_an_undecodable_key_exits_2_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteJournal(tmp_path / "j.sqlite3") as journal:
        journal.record_unreadable("jsonpush", b"garbage", None, "ValueError")
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "j.sqlite3", "--discard", "\udcff\udcfe"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "no kept push has the key" in result.output
    result = CliRunner().invoke(
        cli, ["--json", "unreadable", "--journal", "j.sqlite3", "--discard", "\udcff" * 12]
    )
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"] == "ValidationError"
