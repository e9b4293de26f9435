"""The command line and the unreadable pushes (dead letters) a receiver keeps: ``smsgate
receive`` passes its bound on them to the receiver, and ``smsgate unreadable`` lists them
(never a body), reads them again with the configured provider (their events stored in the
same journal, pending for the receiver's redispatch) or discards one."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import smsgate
import smsgate.receiver
from smsgate import _plugins
from smsgate.cli import cli
from smsgate.receiver import EventState, PostgresJournal, Receiver, SQLiteJournal
from tests.test_receiver import push_body


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with one configured provider (the in-memory one, named mem)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n', encoding="utf-8")
    return tmp_path


def _built_receivers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every Receiver ``receive`` builds; its server then cannot
    listen (exit 5), so nothing is served."""
    built: list[dict[str, Any]] = []
    original = smsgate.receiver.Receiver.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs)
        original(self, *args, **kwargs)

    def start(self: Any) -> None:
        raise RuntimeError("address already in use")

    monkeypatch.setattr(smsgate.receiver.Receiver, "__init__", init)
    monkeypatch.setattr(smsgate.receiver.ServerThread, "start", start)
    return built


def test_receive_keeps_ten_thousand_unreadable_pushes_and_64_mib_by_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _built_receivers(monkeypatch)
    result = CliRunner().invoke(cli, ["receive", "--port", "0", "--journal", "j.sqlite3"])
    assert result.exit_code == 5, result.output
    [kwargs] = built
    assert (kwargs["max_unreadable"], kwargs["max_unreadable_bytes"]) == (10_000, 64 * 1024 * 1024)


def test_receive_passes_its_bound_on_unreadable_pushes_to_the_receiver(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _built_receivers(monkeypatch)
    args = ["receive", "--port", "0", "--journal", "j.sqlite3"]
    args += ["--max-unreadable", "0", "--max-unreadable-bytes", "4096"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 5, result.output
    [kwargs] = built
    assert (kwargs["max_unreadable"], kwargs["max_unreadable_bytes"]) == (0, 4096)


@pytest.mark.parametrize("option", ["--max-unreadable", "--max-unreadable-bytes"])
@pytest.mark.parametrize("value", ["-1", "1.5", "lots"])
def test_a_wrong_bound_is_a_usage_error_before_any_file(workdir: Path, option: str, value: str) -> None:
    result = CliRunner().invoke(cli, ["receive", "--port", "0", "--journal", "j.sqlite3", option, value])
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert not (workdir / "j.sqlite3").exists()


# --- smsgate unreadable -------------------------------------------------------------------------

#: What must never show: a phone number of the body (also quoted by the parser's error).
SECRET_MOBILE = "13912345678"
#: A body the in-memory provider cannot read, holding the secret.
GARBLED = b'{"reports": [{"mobile": "' + SECRET_MOBILE.encode() + b'"'
#: The parser's error as the receiver kept it: its message quotes a field of the body.
QUOTING_ERROR = f"ValidationError: {SECRET_MOBILE!r} is not a number"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _kept(path: Path, *bodies: bytes, provider: str = "mem") -> list[str]:
    """Keep ``bodies`` as unreadable pushes of ``provider`` in the journal at ``path``."""
    with SQLiteJournal(path) as journal:
        keys = [
            journal.record_unreadable(provider, body, "application/json", QUOTING_ERROR) for body in bodies
        ]
    return [key for key in keys if key is not None]


def _no_secret(text: str) -> bool:
    return SECRET_MOBILE not in text and "is not a number" not in text


def test_unreadable_lists_the_kept_pushes_without_bodies_or_error_messages(workdir: Path) -> None:
    [key] = _kept(workdir / "smsgate-journal.sqlite3", GARBLED)
    _kept(workdir / "smsgate-journal.sqlite3", GARBLED)  # a second delivery
    result = run("unreadable")  # the receiver's default journal
    assert result.exit_code == 0, result.output
    assert key in result.output
    assert f"unreadable pushes (1, {len(GARBLED)} bytes)" in result.output
    row = next(line for line in result.output.splitlines() if key in line)
    assert "mem" in row
    assert f" {len(GARBLED)} " in row
    assert " 2 " in row  # deliveries
    assert "ValidationError" in row
    assert _no_secret(result.output)


def test_unreadable_lists_them_as_json(workdir: Path) -> None:
    [key] = _kept(workdir / "j.sqlite3", GARBLED)
    result = run("--json", "unreadable", "--journal", "j.sqlite3")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["key"] == key
    assert (row["provider"], row["content_type"], row["size"], row["deliveries"]) == (
        "mem",
        "application/json",
        len(GARBLED),
        1,
    )
    assert row["error"] == "ValidationError"
    assert dt.datetime.fromisoformat(row["first_seen"]) <= dt.datetime.fromisoformat(row["last_seen"])
    assert _no_secret(result.output)


def test_an_empty_journal_lists_none(workdir: Path) -> None:
    SQLiteJournal(workdir / "j.sqlite3").close()
    result = run("--json", "unreadable", "--journal", "j.sqlite3")
    assert (result.exit_code, json.loads(result.output)) == (0, [])
    assert "unreadable pushes (0, 0 bytes)" in run("unreadable", "--journal", "j.sqlite3").output


def test_reparse_stores_the_events_pending_for_the_receivers_redispatch_and_dispatches_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workdir / "j.sqlite3"
    readable = push_body("13800000001", "13800000002")  # read by today's parser
    _kept(path, readable, GARBLED)
    [theirs] = _kept(path, push_body("13800000009"), provider="someone-else")
    observed: list[object] = []
    monkeypatch.setattr(_plugins, "notify_event", observed.append)
    result = run("unreadable", "--journal", "j.sqlite3", "--reparse")
    assert result.exit_code == 0, result.output
    assert "1 kept push(es) of mem read again" in result.output
    assert "pending until the receiver re-dispatches them; 1 still unreadable" in result.output
    assert _no_secret(result.output)
    assert observed == []  # no hook ran here: the receiver's redispatch runs them
    with SQLiteJournal(path) as journal:
        assert [(e.event.mobile, e.state) for e in journal.entries()] == [
            ("13800000001", EventState.PENDING),
            ("13800000002", EventState.PENDING),
        ]
        assert [(p.provider, p.body) for p in journal.unreadable()] == [
            ("mem", GARBLED),
            ("someone-else", push_body("13800000009")),
        ]
        assert theirs in {p.key for p in journal.unreadable()}
    monkeypatch.undo()
    seen: list[str] = []
    with Receiver(
        smsgate.get_provider("memory", name="mem"), lambda e: seen.append(e.mobile), journal=path
    ) as rec:
        assert rec.redispatch() == 2
    assert seen == ["13800000001", "13800000002"]


def test_reparse_as_json_names_what_is_still_unreadable(workdir: Path) -> None:
    [key] = _kept(workdir / "j.sqlite3", GARBLED)
    result = run("--json", "unreadable", "--journal", "j.sqlite3", "--reparse", "--provider", "mem")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["provider"], answer["read"]) == ("mem", 0)
    assert [row["key"] for row in answer["still_unreadable"]] == [key]
    assert _no_secret(result.output)


def test_discard_forgets_a_push_by_its_key_or_the_start_logs_show(workdir: Path) -> None:
    first, second = _kept(workdir / "j.sqlite3", GARBLED, b"<also not json")
    result = run("unreadable", "--journal", "j.sqlite3", "--discard", first)
    assert (result.exit_code, result.output) == (0, f"discarded unreadable push {first}\n")
    result = run("--json", "unreadable", "--journal", "j.sqlite3", "--discard", second[:12])
    assert (result.exit_code, json.loads(result.output)) == (0, {"discarded": second})
    with SQLiteJournal(workdir / "j.sqlite3") as journal:
        assert journal.unreadable() == []


@pytest.mark.parametrize("key", ["0" * 64, "abc"])
def test_discarding_a_key_none_has_exits_2_naming_it(workdir: Path, key: str) -> None:
    _kept(workdir / "j.sqlite3", GARBLED)
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "j.sqlite3", "--discard", key])
    assert result.exit_code == 2, result.output
    assert f"no kept push has the key {key!r}" in result.output
    result = CliRunner().invoke(cli, ["--json", "unreadable", "--journal", "j.sqlite3", "--discard", key])
    assert json.loads(result.stderr)["error"] == "ValidationError"
    with SQLiteJournal(workdir / "j.sqlite3") as journal:
        assert len(journal.unreadable()) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--reparse", "--discard", "k"], "--reparse and --discard do not go together"),
        (["--provider", "mem"], "--provider goes with --reparse"),
        (["--discard"], "--discard"),
    ],
)
def test_wrong_option_combinations_are_usage_errors(workdir: Path, args: list[str], says: str) -> None:
    SQLiteJournal(workdir / "j.sqlite3").close()
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "j.sqlite3", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_a_missing_journal_file_is_a_usage_error_and_is_not_created(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "nowhere.sqlite3"])
    assert result.exit_code == 2, result.output
    assert "no journal file 'nowhere.sqlite3'" in result.output
    assert not (workdir / "nowhere.sqlite3").exists()


def test_a_file_that_is_no_journal_exits_1_with_a_journal_error(workdir: Path) -> None:
    (workdir / "j.sqlite3").write_bytes(b"not a database at all, just text " * 100)
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "j.sqlite3"])
    assert result.exit_code == 1, result.output
    assert "JournalError" in result.output


def test_reparse_without_a_configured_provider_exits_1_before_opening_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["unreadable", "--journal", "j.sqlite3", "--reparse"])
    assert result.exit_code == 1, result.output
    assert "ConfigurationError" in result.output


def test_unreadable_works_on_a_postgres_journal(workdir: Path, postgres_url: str) -> None:
    journal = PostgresJournal(postgres_url)
    try:
        key = journal.record_unreadable("mem", push_body("13800000001"), None, QUOTING_ERROR)
    finally:
        journal.close()
    listed = run("--json", "unreadable", "--journal", postgres_url)
    assert [row["key"] for row in json.loads(listed.output)] == [key]
    result = run("unreadable", "--journal", postgres_url, "--reparse")
    assert result.exit_code == 0, result.output
    assert "1 kept push(es) of mem read again" in result.output
    journal = PostgresJournal(postgres_url)
    try:
        assert journal.unreadable() == []
        assert [e.mobile for e in journal.pending()] == ["13800000001"]
    finally:
        journal.close()


def test_the_cli_pages_unreadable_sample_runs_as_written(workdir: Path) -> None:
    """docs/cli.md's commands, on a journal holding one readable and one unreadable push (its
    ``--discard`` key replaced by the start of the real one)."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```console\n(.*?)```", page, flags=re.S) if "smsgate unreadable" in b]
    commands = [line.removeprefix("$ smsgate ").split() for line in block.strip().splitlines()]
    assert [args[0] for args in commands] == ["unreadable"] * 3
    _, garbled = _kept(workdir / "pushes.sqlite3", push_body("13800000001"), GARBLED)
    listed, reparsed, discarded = (
        run(*[garbled[:12] if arg == "3f9c2a7b1d04" else arg for arg in args]) for args in commands
    )
    assert listed.exit_code == 0, listed.output
    assert "unreadable pushes (2," in listed.output
    assert reparsed.exit_code == 0, reparsed.output
    assert "1 kept push(es) of mem read again" in reparsed.output
    assert (discarded.exit_code, discarded.output) == (0, f"discarded unreadable push {garbled}\n")
    with SQLiteJournal(workdir / "pushes.sqlite3") as journal:
        assert journal.unreadable() == []
        assert [e.mobile for e in journal.pending()] == ["13800000001"]
