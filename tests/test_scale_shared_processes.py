"""Shared limits and breakers across real OS processes: each builds its own Gateway from the
same TOML file (``[gateway] shared_state`` naming the test Redis) and sends to the ipyy
sandbox on loopback.

- two processes sending as fast as they can share one rate limit of R/s: together they stay
  within 10 % of R over a window of several seconds (without the shared state they send 2R);
- a breaker opened by one process's failures is open in another, which then sends nothing;
- with the Redis of ``shared_state`` unreachable, a send is refused as not sent (typed) and
  nothing reaches the sandbox.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.routing import BreakerState
from smsgate.scale import SharedStateError

sandbox_module = pytest.importorskip("smsgate_ipyy.sandbox")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEXT = "hi【腾飞】"
RATE = 20  # sends per second, shared by both processes
SPAN = 4.0  # seconds counted (whole windows of the 20-per-second moving window)

# One process of the test: builds its gateway from the file, says "ready", waits for the go
# (a line on stdin), then sends; prints what happened as JSON.
CHILD = r"""
import json, sys, time
import smsgate

mode, path, arg = sys.argv[1], sys.argv[2], float(sys.argv[3])
gateway = smsgate.Gateway.from_config(path)
sms = smsgate.Sms(to="13800138000", text="hi【腾飞】")
print("ready", flush=True)
start = float(sys.stdin.readline())
if mode == "rate":  # send as fast as allowed until start + arg; the time of each acceptance
    while time.time() < start:
        time.sleep(0.001)
    accepted = []
    while time.time() < start + arg:
        gateway.send(sms)
        accepted.append(time.time())
    print(json.dumps(accepted), flush=True)
else:  # "fail": arg sends, the error class of each (null: accepted)
    outcomes = []
    for _ in range(int(arg)):
        try:
            gateway.send(sms)
            outcomes.append(None)
        except smsgate.SmsGateError as exc:
            outcomes.append(type(exc).__name__)
    print(json.dumps(outcomes), flush=True)
gateway.close()
"""


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    with sandbox_module.Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(box: Any) -> Any:
    box.reset()
    return box


def _config(
    tmp_path: Path, box: Any, shared_state: str | None, *, breaker: str = "", rate: bool = False
) -> Path:
    """The one TOML file every process of a test reads."""
    creds = box.credentials
    lines = ["[gateway]"]
    if shared_state is not None:
        lines.append(f'shared_state = "{shared_state}"')
    lines += ["[gateway.retry]", "attempts = 1"]
    if breaker:
        lines += ["[gateway.breaker]", breaker]
    if rate:
        lines += ["[gateway.rate_limit]", f"rate = {RATE}"]
    lines += [
        "[providers.demo]",
        'type = "ipyy"',
        f'account = "{creds.account}"',
        f'userid = "{creds.userid}"',
        f'base_url = "{box.base_url}"',
        'transport = "json"',
    ]
    path = tmp_path / "smsgate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env(box: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env["SMSGATE_DEMO_PASSWORD"] = box.credentials.password
    return env


def _run(mode: str, path: Path, arg: float, env: dict[str, str], processes: int = 1) -> list[Any]:
    """Start ``processes`` children, wait until each has built its gateway, let them go at
    one moment, and return what each printed (killed in any case)."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, mode, str(path), str(arg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.strip() == "ready", f"a child did not start (it printed {line!r})"
        start = time.time() + 0.2
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start}\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, _ = child.communicate(timeout=60)
            assert child.returncode == 0
            results.append(json.loads(out))
        return results
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _sends(box: Any) -> int:
    """Send requests the sandbox received."""
    return sum(1 for entry in box.requests() if entry["action"] == "send")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_two_processes_share_one_rate_limit(tmp_path: Path, sandbox: Any, redis_url: str) -> None:
    """Two processes, each allowed R/s by the file and sending flat out: together they send
    R/s (within 10 %) over a span of whole windows, and the sandbox got every send once."""
    path = _config(tmp_path, sandbox, redis_url, rate=True)
    results = _run("rate", path, SPAN + 1.5, _env(sandbox), processes=2)
    accepted = sorted(t for times in results for t in times)
    assert all(results), "each process sent"
    begin = accepted[0] + 0.5  # past the first burst; a span of whole windows from there
    counted = sum(1 for t in accepted if begin <= t < begin + SPAN)
    expected = RATE * SPAN
    per_process = [len(r) for r in results]
    print(f"{counted} sends in {SPAN} s by two processes (limit {expected:.0f}); each sent {per_process}")
    assert expected * 0.9 <= counted <= expected * 1.1
    assert _sends(sandbox) == len(accepted)


def test_a_breaker_opened_by_one_process_is_open_in_another(
    tmp_path: Path, sandbox: Any, redis_url: str
) -> None:
    """One process fails twice against an outage (the breaker's threshold); this process, with
    its own gateway from the same file, then finds the circuit open and sends nothing."""
    path = _config(tmp_path, sandbox, redis_url, breaker="failures = 2\ncool_down = 60")
    sandbox.set_fault(kind="outage")
    [outcomes] = _run("fail", path, 2, _env(sandbox))
    assert outcomes == ["ProviderOutageError", "ProviderOutageError"]
    sandbox.clear_faults()
    before = len(sandbox.requests())
    with smsgate.Gateway.from_config(path, env=_env(sandbox)) as gateway:
        [health] = gateway.health()
        assert (health.state, health.consecutive_failures) == (BreakerState.OPEN, 2)
        with pytest.raises(errors.CircuitOpenError):
            gateway.send(smsgate.Sms(to="13800138000", text=TEXT))
    assert len(sandbox.requests()) == before


def test_redis_unreachable_means_not_sent_in_another_process(tmp_path: Path, sandbox: Any) -> None:
    """The file names a Redis nobody answers at: the process's send fails with the typed
    not-sent error and the sandbox receives nothing."""
    path = _config(tmp_path, sandbox, f"redis://127.0.0.1:{_closed_port()}/0")
    [outcomes] = _run("fail", path, 1, _env(sandbox))
    assert outcomes == ["SharedStateError"]
    assert issubclass(SharedStateError, errors.NotSentError)
    assert sandbox.requests() == []
