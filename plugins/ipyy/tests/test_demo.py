"""``smsgate demo`` end to end: the installed script, a real sandbox, a real receiver."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECTIONS = (
    "send over each transport",
    "personalised batch",
    "MMS",
    "balances and a scheduled send (AsyncGateway)",
    "pull delivery reports and inbound messages",
    "pushed reports arriving at a local receiver",
    "failover from a failing account to a healthy one",
    "uncertain outcome refused for failover",
    "demo finished",
)


def _session_members(session: int) -> list[int]:
    """Processes still alive in the given session (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def test_demo_runs_every_step_quickly_and_leaves_nothing_running(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("smsgate")
    assert script.exists(), f"the smsgate script is not installed next to {sys.executable}"
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("SMSGATE_CONFIG", None)
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(script), "demo"],
        cwd=tmp_path,  # no smsgate.toml here: the demo needs no configuration
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - started
    text = output.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert elapsed < 30, f"demo took {elapsed:.1f} s"
    for section in SECTIONS:
        assert section in text, f"missing section {section!r}\n{text}"
    for transport in ("form", "gbk", "json", "encrypted", "soap"):
        assert re.search(rf"│ {transport}\s+│ ipyy-", text), f"no receipt row for {transport}"
    assert "step failed" not in text
    assert "UncertainOutcomeError" in text
    assert "backup provider called │ 0 times" in text
    assert "ipyy-healthy" in text
    assert "13700137004" in text, "the pushed report reached the receiver"
    assert "demo-password" not in text, "the demo prints no password"

    assert _session_members(proc.pid) == [], "a process of the demo outlived it"
    port = int(re.search(r"sandbox at http://127\.0\.0\.1:(\d+)/", text).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert not list(tmp_path.iterdir()), "the demo leaves no file in the working directory"


def test_sandbox_command_prints_url_and_test_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal

    import httpx

    script = Path(sys.executable).with_name("smsgate")
    proc = subprocess.Popen(
        [str(script), "sandbox", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if "Ctrl+C stops" in line:
                break
        text = "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", text)
        assert url, text
        # The sandbox's published test credentials are printed, ready to use.
        assert "demo-password" in text
        assert "SMSGATE_IPYY_PASSWORD" in text
        reply = httpx.get(url.group(1) + "_sandbox/accounts", timeout=5)
        assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
