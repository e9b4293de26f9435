"""Issue 10 in the command line: what got in the way of a new user, and what they expected."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import smsgate
from smsgate.cli import EXIT_LISTEN, EXIT_VALIDATION, cli
from smsgate.exceptions import NotSentError, ProviderOutageError
from smsgate.testing import InMemoryProvider

SMSGATE = [sys.executable, "-c", "from smsgate.cli import main; main()"]
TWO_MEMORY = '[providers.primary]\ntype = "memory"\n\n[providers.backup]\ntype = "memory"\nbalance = 5\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    monkeypatch.delenv("SMSGATE_NEW_PASSWORD", raising=False)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def _process_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SMSGATE_CONFIG" and not k.startswith("SMSGATE_")}


def _scripted(monkeypatch: pytest.MonkeyPatch, setup: Any) -> list[InMemoryProvider]:
    """Make the CLI's providers in-memory ones that ``setup`` scripts."""
    built: list[InMemoryProvider] = []
    real = smsgate._plugins.get_provider

    def get_provider(name: str, /, **config: Any) -> Any:
        provider = real(name, **config)
        if isinstance(provider, InMemoryProvider):
            setup(provider)
            built.append(provider)
        return provider

    monkeypatch.setattr(smsgate._config, "get_provider", get_provider)
    return built


# --- a missing password names its variable ---------------------------------------------


def test_missing_password_names_the_environment_variable(workdir: Path) -> None:
    """Issue 10: "password is required" did not say which SMSGATE_<NAME>_PASSWORD to set."""
    (workdir / "smsgate.toml").write_text(
        '[providers.main-sms]\ntype = "ipyy"\naccount = "a"\nbase_url = "http://127.0.0.1:9/"\n'
    )
    result = run("send", "13800138000", "--text", "hi【x】")
    assert result.exit_code == 1
    assert "password is required" in result.stderr
    assert "SMSGATE_MAIN_SMS_PASSWORD" in result.stderr


# --- routing from the file ----------------------------------------------------------------


def test_send_routes_with_the_files_retry_setting(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI used only strategy and weights: a retry setting in the file was ignored."""
    (workdir / "smsgate.toml").write_text("[gateway.retry]\nattempts = 1\nbase = 0.0\n\n" + TWO_MEMORY)
    _scripted(monkeypatch, lambda p: p.fail_next(NotSentError) if p.name == "primary" else None)
    result = run("--json", "send", "13800138000", "--text", "hi【x】")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["provider"] == "backup"  # no retry on primary


# --- balance of every provider -----------------------------------------------------------


def test_balance_lists_every_configured_provider(workdir: Path) -> None:
    (workdir / "smsgate.toml").write_text(TWO_MEMORY)
    result = run("--json", "balance")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["provider"], r["remaining"]) for r in rows] == [("primary", 1000), ("backup", 5)]
    text = run("balance")
    assert "primary" in text.stdout
    assert "backup" in text.stdout


def test_balance_shows_a_failing_provider_and_still_the_others(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "smsgate.toml").write_text("[gateway.retry]\nattempts = 1\n\n" + TWO_MEMORY)
    _scripted(monkeypatch, lambda p: p.fail_next(ProviderOutageError) if p.name == "primary" else None)
    result = run("--json", "balance")
    rows = json.loads(result.stdout)
    assert rows[0]["error"] == "ProviderOutageError"
    assert rows[1]["remaining"] == 5
    assert result.exit_code != 0


# --- batch: which rows were not sent ------------------------------------------------------


def test_partly_failed_batch_lists_unsent_rows_and_writes_them_to_resend(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "smsgate.toml").write_text(
        '[gateway.retry]\nattempts = 1\n\n[providers.only]\ntype = "memory"\n'
    )
    rows = [f"1380013800{i},hello, number {i}【x】" for i in range(5)]
    (workdir / "in.csv").write_text("mobile,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    # Chunks of 2: the first is accepted, the second refused (nothing retried).
    _scripted(monkeypatch, lambda p: p.script(None, ProviderOutageError("down"), operation="send_batch"))
    result = run("--json", "batch", "in.csv", "--chunk", "2", "--unsent", "rest.csv")
    assert result.exit_code != 0
    error = json.loads(result.stderr)
    assert error["unsent"] == [
        {"line": 4, "mobile": "13800138002"},
        {"line": 5, "mobile": "13800138003"},
        {"line": 6, "mobile": "13800138004"},
    ]
    assert error["unsent_file"] == "rest.csv"
    with (workdir / "rest.csv").open(newline="", encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written == [
        ["mobile", "text"],
        ["13800138002", "hello, number 2【x】"],
        ["13800138003", "hello, number 3【x】"],
        ["13800138004", "hello, number 4【x】"],
    ]
    # The file is a batch file: sending it works.
    monkeypatch.undo()
    monkeypatch.chdir(workdir)
    again = run("--json", "batch", "rest.csv")
    assert again.exit_code == 0, again.output
    assert sum(r["accepted"] for r in json.loads(again.stdout)) == 3


def test_batch_refused_from_the_start_lists_every_row_in_text(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "smsgate.toml").write_text('[providers.only]\ntype = "memory"\n')
    (workdir / "in.csv").write_text("13800138000,a【x】\n13900139000,b【x】\n", encoding="utf-8")
    _scripted(monkeypatch, lambda p: p.fail_next(ProviderOutageError, times=5))
    result = run("batch", "in.csv")
    assert result.exit_code != 0
    assert "2 row(s) not sent:" in result.stderr
    assert "line 1: 13800138000" in result.stderr
    assert "line 2: 13900139000" in result.stderr


# --- send --dry-run ------------------------------------------------------------------------


def test_send_dry_run_counts_segments_and_cost_and_sends_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "smsgate.toml").write_text('[providers.only]\ntype = "memory"\n')
    built = _scripted(monkeypatch, lambda p: None)
    text = "您好" * 34 + "【腾飞】"  # 72 characters: two UCS-2 segments
    result = run(
        "--json", "send", "13800138000", "13900139000", "--text", text, "--dry-run", "--price", "0.05"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["encoding"], data["characters"], data["segments"], data["segments_total"]) == (
        "UCS-2",
        72,
        2,
        4,
    )
    assert data["cost"] == 0.2
    assert all(not p.outbox for p in built)
    plain = run("send", "13800138000", "--text", "hello【x】", "--dry-run")
    assert "dry run, nothing sent" in plain.stdout
    assert "GSM-7" not in plain.stdout  # 【】 is not GSM-7
    assert "UCS-2, 1 segment(s)" in plain.stdout


def test_send_dry_run_refuses_a_text_too_long_for_every_provider(workdir: Path) -> None:
    (workdir / "smsgate.toml").write_text(
        '[providers.ipyy]\ntype = "ipyy"\naccount = "a"\n'
        'base_url = "http://127.0.0.1:9/"\nmax_text_length = 10\n'
    )
    result = run(
        "send", "13800138000", "--text", "x" * 20 + "【x】", "--dry-run", env={"SMSGATE_IPYY_PASSWORD": "p"}
    )
    assert result.exit_code == EXIT_VALIDATION
    assert "TOO LONG" in result.stdout


# --- change-password ----------------------------------------------------------------------


def test_change_password_checks_the_provider_before_asking(workdir: Path) -> None:
    """Issue 10: the provider name was checked only after the password was typed twice."""
    (workdir / "smsgate.toml").write_text(TWO_MEMORY)
    result = run("change-password", "--provider", "nope", input="")
    assert "no provider 'nope'" in result.stderr
    assert "New password" not in result.output


def test_change_password_has_no_command_line_secret_and_reads_env_or_stdin(workdir: Path) -> None:
    (workdir / "smsgate.toml").write_text(TWO_MEMORY)
    refused = CliRunner().invoke(cli, ["change-password", "--new-password", "s3cret"])
    assert refused.exit_code == 2
    assert "No such option" in refused.output
    from_env = run("--json", "change-password", env={"SMSGATE_NEW_PASSWORD": "s3cret-env"})
    assert from_env.exit_code == 0, from_env.output
    assert json.loads(from_env.stdout)["changed"] is True
    from_stdin = run("change-password", "--provider", "backup", "--password-stdin", input="s3cret-in\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert "s3cret" not in from_stdin.output
    prompted = run("change-password", input="s3cret-p\ns3cret-p\n")
    assert prompted.exit_code == 0, prompted.output
    assert "s3cret" not in prompted.output


# --- tables --------------------------------------------------------------------------------


def test_tables_never_cut_task_ids(workdir: Path) -> None:
    """Issue 10: a narrow (or piped, 80-column) output truncated task ids."""
    name = "a-provider-with-a-long-name"
    (workdir / "smsgate.toml").write_text(f'[providers.{name}]\ntype = "memory"\n')
    result = run("send", "13800138000", "--text", "hi【x】", env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    assert f"{name}-1" in result.stdout
    assert "…" not in result.stdout


def test_empty_inbound_table_has_inbound_headers(workdir: Path) -> None:
    (workdir / "smsgate.toml").write_text('[providers.only]\ntype = "memory"\n')
    result = run("inbound")
    assert result.exit_code == 0, result.output
    assert "text" in result.stdout
    assert "status" not in result.stdout
    reports = run("reports")
    assert "status" in reports.stdout


# --- errors once ------------------------------------------------------------------------


def test_cli_shows_an_error_once(tmp_path: Path) -> None:
    """Issue 10: without a NullHandler the gateway's WARNING line repeated every CLI error."""
    config = tmp_path / "smsgate.toml"
    config.write_text('[providers.mem]\ntype = "memory"\nbalance = 0\n')
    result = subprocess.run(
        [*SMSGATE, "--config", str(config), "send", "13800138000", "--text", "hi【x】"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_process_env(),
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("balance too low") == 1, result.stderr
    assert "send failed on" not in result.stderr  # the gateway's log line, through lastResort
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- receive -----------------------------------------------------------------------------


@pytest.fixture
def receive_dir(tmp_path: Path) -> Path:
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n')
    return tmp_path


def test_receive_on_port_0_prints_the_real_port(receive_dir: Path) -> None:
    proc = subprocess.Popen(
        [*SMSGATE, "receive", "--port", "0", "--journal", "j.sqlite3"],
        cwd=receive_dir,
        env=_process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        port = int(match.group(1))
        assert port != 0
        reply = httpx.post(f"http://127.0.0.1:{port}/", content=b"{}", timeout=5)
        assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_receive_on_a_busy_port_exits_5_with_json(receive_dir: Path, busy_port: int) -> None:
    """Issue 10: a busy port exited 3 ("the provider refused") and ignored --json."""
    started = time.monotonic()
    result = subprocess.run(
        [*SMSGATE, "--json", "receive", "--port", str(busy_port), "--journal", "j.sqlite3"],
        cwd=receive_dir,
        env=_process_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 60
    assert result.returncode == EXIT_LISTEN == 5, result.stderr
    error = json.loads(result.stderr)
    assert error["exit_code"] == 5
    assert str(busy_port) in error["message"]
