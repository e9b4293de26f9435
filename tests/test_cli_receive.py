"""``smsgate receive`` as a real process: a push is stored, acknowledged and printed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from smsgate.cli import cli
from smsgate.receiver import EventState, SQLiteJournal

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_dispatched(path: Path, within: float = 15.0) -> None:
    """Wait until the journal holds one event and it is marked done (the handler has run)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with SQLiteJournal(path) as journal:
            if [entry.state for entry in journal.entries()] == [EventState.DONE]:
                return
        time.sleep(0.05)


def test_receive_serves_a_receiver_that_journals_and_prints_pushes(tmp_path: Path) -> None:
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n')
    port = _free_port()
    script = Path(sys.executable).with_name("smsgate")
    env = {k: v for k, v in os.environ.items() if k != "SMSGATE_CONFIG"}
    proc = subprocess.Popen(
        [str(script), "receive", "--port", str(port), "--journal", "pushes.sqlite3"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = json.dumps(
            {"reports": [{"mobile": "13800138000", "task_id": "T9", "status": "delivered"}]}
        ).encode()
        deadline = time.monotonic() + 15
        while True:
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}/", content=body, timeout=2)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        assert (reply.status_code, reply.content) == (200, b"ok")
        assert httpx.post(f"http://127.0.0.1:{port}/", content=b"junk", timeout=2).content == b"retry"
        _wait_until_dispatched(tmp_path / "pushes.sqlite3")  # the handler runs after the reply
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    text = output.decode()
    assert proc.returncode == 0, text
    assert "receiving pushes for mem" in text
    assert "report  mem 13800138000 task T9 delivered" in text
    with SQLiteJournal(tmp_path / "pushes.sqlite3") as journal:
        [entry] = journal.entries()
    assert entry.state is EventState.DONE
    assert entry.event.task_id == "T9"


def test_receive_ends_with_a_plain_message_when_its_journal_cannot_record_the_last_outcomes(
    tmp_path: Path,
) -> None:
    """At shutdown, a done mark the journal cannot commit (another process holds its write
    lock) ends ``smsgate receive`` with a one-line error saying those events are handled again
    at the next start, not with a JournalError traceback (and the journal is not asked twice)."""
    import sqlite3

    import click

    import smsgate
    from smsgate.cli import _close_receiver
    from smsgate.receiver import Receiver

    path = tmp_path / "pushes.sqlite3"
    SQLiteJournal(path).close()  # the file exists before the lock is taken
    provider = smsgate.get_provider("memory")
    report = smsgate.DeliveryReport(
        provider="memory", mobile="13800138000", task_id="T1", status=smsgate.DeliveryStatus.DELIVERED
    )
    receiver = Receiver(provider, lambda event: None, journal=path)
    journal = receiver.journal
    assert isinstance(journal, SQLiteJournal)
    assert journal._conn is not None
    journal._conn.execute("PRAGMA busy_timeout = 100")  # not the 5 s a receiver waits for a lock
    journal.record([report])
    journal._set_soon(report, EventState.DONE, None)  # a handled event's mark, queued
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(click.ClickException) as info:
            _close_receiver(receiver)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    message = info.value.format_message()
    assert "1 dispatch outcome(s) could not be recorded" in message
    assert message.endswith("those events will be handled again at its next start")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    receiver.close()  # the lock is gone: the mark is recorded
    with SQLiteJournal(path) as reopened:
        assert [entry.state for entry in reopened.entries()] == [EventState.DONE]


@pytest.mark.parametrize("option", ["--allow", "--trusted-proxy"])
def test_a_wrong_network_is_a_usage_error(
    option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped network is the command line's mistake: exit 2, the entry named, nothing served."""
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["receive", "--journal", "pushes.sqlite3", option, "not-a-net"])
    assert result.exit_code == 2, result.output
    assert "not-a-net" in result.output
    assert not (tmp_path / "pushes.sqlite3").exists()


@pytest.mark.parametrize("option", ["--body-timeout", "--claim-lease"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0.05"])
def test_a_seconds_option_that_is_no_finite_duration_is_a_usage_error(
    option: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click's FloatRange(0.1) let NaN and infinity through: --body-timeout nan ended as a
    ConfigurationError about ServerLimits.head_timeout (exit 1), and --claim-lease inf was
    taken (a claim that never lapses)."""
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    args = ["receive", "--port", "0", "--journal", "pushes.sqlite3", option, value]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert not (tmp_path / "pushes.sqlite3").exists()
