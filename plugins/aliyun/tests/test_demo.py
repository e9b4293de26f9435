"""``smsgate demo-failover`` end to end: the installed script starts both sandboxes on loopback
sockets, runs every step and leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import smsgate
from smsgate._config import build_providers, load_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STEPS = (
    "both up: the first provider (ipyy) sends",
    "ipyy unreachable: the same template message goes to Aliyun",
    "ipyy uncertain: no failover, Aliyun is never called",
    "a template ipyy lacks: routed to Aliyun",
    "free text: never sent to Aliyun",
    "demo finished",
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_failover_runs_every_step_with_one_command() -> None:
    script = Path(sys.executable).parent / "smsgate"
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(script), "demo-failover"], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in STEPS:
        assert step in done.stdout, step
    assert "step failed" not in done.stdout
    # What reached Aliyun: the template code and the reference as OutId; the uncertain step's error.
    for shown in ("SMS_100001", "order-42", "UncertainOutcomeError", "Aliyun called │ 0 times"):
        assert shown in done.stdout, shown


def test_aliyun_sandbox_command_serves_until_terminated(tmp_path: Path) -> None:
    """``smsgate aliyun-sandbox --port 0`` prints where it listens and a configuration that
    works as printed (TOML + the secret in the environment), and stops cleanly on SIGTERM."""
    script = Path(sys.executable).parent / "smsgate"
    env = {**os.environ, "COLUMNS": "60", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [str(script), "aliyun-sandbox", "--port", "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "Ctrl+C stops." not in lines[-1]:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        start = printed.index("[providers.aliyun]")
        toml = "\n".join(line.strip() for line in printed[start:].splitlines()[:6])
        secret = printed.split("SMSGATE_ALIYUN_PASSWORD=")[1].split()[0]
        config = load_config(write(tmp_path, toml))
        [provider] = build_providers(config, env={"SMSGATE_ALIYUN_PASSWORD": secret})
        with smsgate.Gateway(provider) as gateway:
            receipt = gateway.send(smsgate.Sms(to="13800138000", template="verify", params={"code": "1"}))
        assert receipt.provider == "aliyun"
        # The printed templates name their variables: a message missing one is refused before I/O.
        assert provider.cannot_render(smsgate.Sms(to="13800138000", template="shipped")) is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
