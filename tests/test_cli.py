"""The ``smsgate`` command line over the built-in ``memory`` provider, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import smsgate
from smsgate import _config, _plugins, hookimpl
from smsgate.cli import EXIT_REFUSED, EXIT_UNCERTAIN, EXIT_VALIDATION, SmsGateGroup, cli, exit_code
from smsgate.exceptions import (
    AllProvidersFailedError,
    AuthenticationError,
    ConfigurationError,
    InsufficientBalanceError,
    NotSentError,
    PartialBatchError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate.testing import InMemoryProvider

SECRET = "s3cr3t-Pa55"

MEMORY_CONFIG = """
[gateway]
strategy = "failover"

[providers.primary]
type = "memory"
account = "acme"

[providers.backup]
type = "memory"
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no config in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def test_providers_lists_registered_names_including_memory(workdir: Path) -> None:
    result = run("--json", "providers")
    assert result.exit_code == 0
    names = json.loads(result.output)
    assert "memory" in names
    assert names == smsgate.provider_names()
    table = run("providers")
    assert "memory" in table.output


def test_send_with_config_from_working_directory_prints_receipt(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run("send", "13800138000", "13900139000", "--text", "hello【acme】")
    assert result.exit_code == 0, result.output
    assert "primary" in result.output
    assert "2" in result.output  # accepted


def test_send_json_output_is_parseable(workdir: Path) -> None:
    config = write(workdir / "elsewhere.toml", MEMORY_CONFIG)
    result = run("--config", str(config), "--json", "send", "13800138000", "--text", "hi【acme】")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["provider"] == "primary"
    assert data["accepted"] == 1
    assert data["task_id"]


def test_config_found_through_environment_variable(workdir: Path) -> None:
    (workdir / "conf").mkdir()
    config = write(workdir / "conf" / "x.toml", MEMORY_CONFIG)
    result = run("--json", "balance", env={"SMSGATE_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert [row["provider"] for row in json.loads(result.stdout)] == ["primary", "backup"]


def test_password_in_toml_is_refused_without_echoing_it(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG + f'password = "{SECRET}"\n')
    result = run("send", "13800138000", "--text", "hi【acme】")
    assert result.exit_code == 1
    assert "SMSGATE_BACKUP_PASSWORD" in result.stderr
    assert "ConfigurationError" in result.stderr
    assert SECRET not in result.output


def test_password_from_environment_reaches_provider_and_never_output(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[InMemoryProvider] = []
    original = _config.get_provider

    def spy(name: str, /, **options: Any) -> smsgate.Provider:
        provider = original(name, **options)
        assert isinstance(provider, InMemoryProvider)
        built.append(provider)
        return provider

    monkeypatch.setattr(_config, "get_provider", spy)
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run(
        "--json", "send", "13800138000", "--text", "hi【acme】", env={"SMSGATE_PRIMARY_PASSWORD": SECRET}
    )
    assert result.exit_code == 0
    assert built[0].check_password(SECRET)
    assert not built[1].check_password(SECRET), "each provider reads its own variable"
    assert SECRET not in result.output


def test_invalid_number_exits_2_and_sends_nothing(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run("send", "not-a-number", "--text", "hi【acme】")
    assert result.exit_code == EXIT_VALIDATION
    assert "ValidationError" in result.stderr


def test_refusal_by_every_provider_exits_3_listing_attempts_as_json(workdir: Path) -> None:
    config = MEMORY_CONFIG.replace('account = "acme"', "balance = 0") + "balance = 0\n"
    write(workdir / "smsgate.toml", config)
    result = run("--json", "send", "13800138000", "--text", "hi【acme】")
    assert result.exit_code == EXIT_REFUSED
    error = json.loads(result.stderr)
    assert error["error"] == "AllProvidersFailedError"
    assert [a["provider"] for a in error["attempts"]] == ["primary", "backup"]
    assert {a["error"] for a in error["attempts"]} == {"InsufficientBalanceError"}


def test_uncertain_outcome_exits_4_and_backup_is_not_called(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[InMemoryProvider] = []
    original = _config.get_provider

    def flaky_primary(name: str, /, **options: Any) -> smsgate.Provider:
        provider = original(name, **options)
        assert isinstance(provider, InMemoryProvider)
        if provider.name == "primary":
            provider.fail_next(UncertainOutcomeError)
        built.append(provider)
        return provider

    monkeypatch.setattr(_config, "get_provider", flaky_primary)
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run("send", "13800138000", "--text", "hi【acme】")
    assert result.exit_code == EXIT_UNCERTAIN
    assert "UncertainOutcomeError" in result.stderr
    assert built[1].calls["send"] == 0


def test_no_configuration_is_a_clear_error(workdir: Path) -> None:
    result = run("balance")
    assert result.exit_code == 1
    assert "no provider is configured" in result.stderr


def test_missing_explicit_config_file_is_an_error(workdir: Path) -> None:
    result = run("--config", str(workdir / "nope.toml"), "balance")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_batch_from_csv_sends_each_row(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    rows = 'mobile,text\n13800138000,"Hi Ann, code 1【acme】"\n13900139000,Hi Bob【acme】\n'
    csv_file = write(workdir / "batch.csv", rows)
    result = run("--json", "batch", str(csv_file), "--chunk", "1")
    assert result.exit_code == 0, result.output
    receipts = json.loads(result.stdout)
    assert [r["accepted"] for r in receipts] == [1, 1]


def test_mms_sends_files_as_parts(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    part = workdir / "hello.txt"
    part.write_bytes(b"hello")
    result = run("--json", "mms", "13800138000", "--subject", "Hi", "--part", str(part))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 1


def test_balance_of_mms_kind(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run("--json", "balance", "--kind", "mms")
    assert result.exit_code == 0
    data = json.loads(result.stdout)[0]
    assert (data["kind"], data["remaining"]) == ("mms", 1000)


def test_reports_and_inbound_pull_into_journal(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    assert json.loads(run("--json", "reports", "--limit", "5", "--journal", "j.sqlite3").stdout) == []
    assert json.loads(run("--json", "inbound", "--journal", "j.sqlite3").stdout) == []
    assert run("reports").exit_code == 0


def test_change_password_prompts_and_never_echoes(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    result = run("change-password", "--provider", "backup", input=f"{SECRET}\n{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert "SMSGATE_BACKUP_PASSWORD" in result.output
    assert SECRET not in result.output


def test_exit_codes_by_error_class() -> None:
    assert exit_code(ValidationError("x")) == 2
    assert exit_code(AuthenticationError("x")) == 3
    assert exit_code(UncertainOutcomeError("x")) == 4
    assert exit_code(ConfigurationError("x")) == 1
    assert exit_code(AllProvidersFailedError("all", [NotSentError("a"), AuthenticationError("b")])) == 1
    assert exit_code(AllProvidersFailedError("all", [InsufficientBalanceError("a")])) == 3
    partial = PartialBatchError("p", receipts=[], pending=[], cause=UncertainOutcomeError("u"))
    assert exit_code(partial) == 4
    invalid_after_some_sent = PartialBatchError("p", receipts=[], pending=[], cause=ValidationError("v"))
    assert exit_code(invalid_after_some_sent) == 1, "2 promises nothing was sent"


def test_plugin_commands_are_registered_once_on_first_use() -> None:
    """register_commands runs once per group, lazily, and its commands are callable."""
    calls: list[str] = []

    class Adds:
        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            calls.append(cli.name or "")

            @cli.command("hello")
            def hello() -> None:
                click.echo("hello from a plugin")

    manager = _plugins.get_plugin_manager()
    manager.register(Adds(), name="test-cli-adds")
    try:
        group = SmsGateGroup(name="fresh")
        runner = CliRunner()
        assert calls == []
        assert runner.invoke(group, ["hello"]).output == "hello from a plugin\n"
        assert "hello" in runner.invoke(group, ["--help"]).output
        assert calls == ["fresh"]
    finally:
        manager.unregister(name="test-cli-adds")


def test_ipyy_plugin_adds_sandbox_and_demo(workdir: Path) -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "sandbox" in result.output
    assert "demo" in result.output
    assert "--port" in run("sandbox", "--help").output


def test_sandbox_command_refuses_a_public_host() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "loopback" in result.output


SINGLE_CONFIG = """
[providers.primary]
type = "memory"
"""


def _scripted(monkeypatch: pytest.MonkeyPatch, setup: Any) -> list[InMemoryProvider]:
    """Make the CLI build in-memory providers prepared by ``setup`` (and keep them)."""
    built: list[InMemoryProvider] = []
    original = _config.get_provider

    def build(name: str, /, **options: Any) -> smsgate.Provider:
        provider = original(name, **options)
        assert isinstance(provider, InMemoryProvider)
        setup(provider)
        built.append(provider)
        return provider

    monkeypatch.setattr(_config, "get_provider", build)
    return built


def test_batch_failing_after_earlier_chunks_were_sent_reports_them_and_never_says_nothing_sent(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk 1 is accepted, chunk 2 is refused as invalid: the error must list chunk 1's
    receipt and the pending rows, and the exit code must not be 2 ("nothing was sent")."""
    built = _scripted(
        monkeypatch, lambda p: p.script(None, ValidationError("bad number"), operation="send_batch")
    )
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    rows = "13800138000,one【acme】\n13900139000,two【acme】\n13700137000,three【acme】\n"
    csv_file = write(workdir / "batch.csv", rows)
    result = run("--json", "batch", str(csv_file), "--chunk", "1")
    assert len(built[0].outbox) == 1
    assert result.exit_code not in (0, EXIT_VALIDATION)
    error = json.loads(result.stderr)
    assert error["error"] == "PartialSendError"  # the class PartialBatchError now aliases
    assert [r["task_id"] for r in error["accepted"]] == [built[0].outbox[0].receipt.task_id]
    assert error["pending"] == 2


def test_batch_refused_after_earlier_chunks_lists_the_accepted_receipts_in_text(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _scripted(
        monkeypatch, lambda p: p.script(None, InsufficientBalanceError("no balance"), operation="send_batch")
    )
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    csv_file = write(workdir / "batch.csv", "13800138000,one【acme】\n13900139000,two【acme】\n")
    result = run("batch", str(csv_file), "--chunk", "1")
    assert result.exit_code == EXIT_REFUSED
    assert "PartialSendError" in result.stderr
    assert built[0].outbox[0].receipt.task_id in result.stderr
    assert "1 pending" in result.stderr


def test_pulled_reports_are_still_shown_when_the_journal_cannot_store_them(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pull already removed the reports at the provider: a journal failure must not
    make the command drop them silently."""
    from smsgate.receiver import JournalError, SQLiteJournal

    def record(self: SQLiteJournal, events: object) -> list[object]:
        raise JournalError("disk full")

    monkeypatch.setattr(SQLiteJournal, "record", record)
    _scripted(monkeypatch, lambda p: p.queue_report("13800138000", task_id="t-kept"))
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    result = run("--json", "reports", "--journal", str(workdir / "j.sqlite3"))
    assert result.exit_code == 1
    assert [r["task_id"] for r in json.loads(result.stdout)] == ["t-kept"]
    assert json.loads(result.stderr)["error"] == "JournalError"


@pytest.mark.parametrize("command", ["reports", "inbound"])
def test_a_journal_that_cannot_be_opened_stops_the_pull_before_it_drains_the_provider(
    command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--journal`` in a directory that does not exist: the events were pulled (and so gone
    from the provider) before the journal was opened, then only printed. The journal is
    opened first now: nothing is pulled, the provider keeps them for the next try."""

    def queue(provider: InMemoryProvider) -> None:
        provider.queue_report("13800138000", task_id="t-kept")
        provider.queue_inbound("13800138000", text="hi")

    built = _scripted(monkeypatch, queue)
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    result = run("--json", command, "--journal", str(workdir / "missing-dir" / "j.sqlite3"))
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"] == "JournalError"
    assert result.stdout == ""
    assert all(p.pending_reports and p.pending_inbound for p in built)  # nothing was pulled


def _journaled(path: Path) -> int:
    from smsgate.receiver import SQLiteJournal

    with SQLiteJournal(path) as journal:
        return len(journal.entries())


@pytest.mark.parametrize(("command", "kind"), [("reports", "report"), ("inbound", "inbound")])
def test_with_a_journal_pulled_events_are_stored_before_any_observer_sees_them(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: str, kind: str
) -> None:
    """A pull is destructive at the provider: with ``--journal`` an observer is told of an
    event only once the journal holds it (and is still told, once)."""

    def setup(provider: InMemoryProvider) -> None:
        provider.queue_report("13800138000", task_id="t-1")
        provider.queue_inbound("13800138000", "hi")

    _scripted(monkeypatch, setup)
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    path = workdir / "j.sqlite3"
    seen: list[tuple[str, int]] = []

    class Watcher:
        def report_received(self, report: object) -> None:
            seen.append(("report", _journaled(path)))

        def inbound_received(self, message: object) -> None:
            seen.append(("inbound", _journaled(path)))

    handle = smsgate.observe(Watcher())
    try:
        result = run("--json", command, "--journal", str(path))
        assert result.exit_code == 0, result.output
        assert seen == [(kind, 1)]
        seen.clear()
        assert run("--json", command).exit_code == 0  # without a journal: observed as pulled
        assert seen == [(kind, 1)]
    finally:
        handle.close()


def test_batch_file_that_is_not_utf8_is_a_validation_error_not_a_traceback(workdir: Path) -> None:
    write(workdir / "smsgate.toml", MEMORY_CONFIG)
    csv_file = workdir / "batch.csv"
    csv_file.write_bytes("13800138000,您好【acme】\n".encode("gbk"))
    result = run("batch", str(csv_file))
    assert result.exit_code == 2, result.output
    assert "not UTF-8" in result.stderr


def test_a_plugin_whose_register_commands_raises_leaves_the_core_commands_working(
    workdir: Path, recwarn: pytest.WarningsRecorder
) -> None:
    class Broken:
        @smsgate.hookimpl
        def register_commands(self, cli: Any) -> None:
            raise RuntimeError("plugin bug")

    manager = _plugins.get_plugin_manager()
    manager.register(Broken(), name="broken-commands")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli, "_plugins_loaded", False)
            result = run("--json", "providers")
    finally:
        if manager.get_plugin("broken-commands") is not None:
            manager.unregister(name="broken-commands")
    caught = list(recwarn)
    assert result.exit_code == 0
    assert "memory" in json.loads(result.stdout)
    [warning] = [w for w in caught if issubclass(w.category, _plugins.PluginLoadWarning)]
    assert "plugin 'broken-commands' skipped: register_commands raised RuntimeError: plugin bug" in str(
        warning.message
    )


def test_change_password_follows_the_file_retry_policy(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command routes with the file's [gateway] settings; change-password used the
    library's defaults (3 tries) whatever [gateway.retry] said."""
    built = _scripted(monkeypatch, lambda p: p.fail_next(NotSentError, operation="change_password"))
    write(workdir / "smsgate.toml", "[gateway.retry]\nattempts = 1\n" + SINGLE_CONFIG)
    result = run("--json", "change-password", env={"SMSGATE_NEW_PASSWORD": SECRET})
    assert result.exit_code == 1, result.output
    assert json.loads(result.stderr)["error"] == "NotSentError"
    assert built[0].calls["change_password"] == 1


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "0001-01-01"])
def test_an_at_time_local_time_cannot_express_is_a_validation_error(workdir: Path, moment: str) -> None:
    """``--at 0001-01-01T00:00`` (no offset: local time) raised a bare ValueError traceback
    ("year 0 is out of range") from turning it into an aware time."""
    write(workdir / "smsgate.toml", SINGLE_CONFIG)
    result = run("send", "13800138000", "--text", "hi", "--at", moment)
    assert result.exit_code == EXIT_VALIDATION, result.output
    assert f"--at {moment!r}" in result.stderr
