"""The reference pages' samples and claims, checked as written: docs/testing.md's and
docs/hooks.md's code samples (the self-contained ones in this process, the pytest ones as a
test module of their own, with the application functions they call, ``signup`` …, defined
beside them), and what docs/concepts.md and docs/receiver.md say of the drivers and dispatch."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)


def _block(page: str, needle: str) -> str:
    [block] = [block for block in _python_blocks(page) if needle in block]
    return block


def test_the_in_memory_provider_sample_runs_as_written() -> None:
    exec(_block("testing.md", "provider = InMemoryProvider()"), {})


def test_the_console_sample_runs_as_written() -> None:
    exec(_block("testing.md", 'get_provider("console", stream=out)'), {"smsgate": smsgate})


def test_the_segments_sample_runs_as_written() -> None:
    scope: dict[str, Any] = {"smsgate": smsgate, "render_code_message": lambda code: f"code {code}"}
    exec(_block("testing.md", "smsgate.segments(render_code_message"), scope)


# What the pytest samples take from the application under test.
APPLICATION = """
import pytest
import smsgate
from smsgate import exceptions as errors

sms = smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】")


def signup(gateway, mobile):
    gateway.send(smsgate.Sms(to=mobile, text="您的验证码：1439【腾飞】"))


async def asignup(gateway, mobile):
    await gateway.send(smsgate.Sms(to=mobile, text="您的验证码：1439【腾飞】"))
"""


def test_the_pytest_samples_pass_as_a_test_module(tmp_path: Path) -> None:
    """The fixtures, observe() and GatewayFactory samples: every test they define passes."""
    needles = (
        "def test_signup_sends_a_code",
        "def test_failover_is_observed",
        "GatewayFactory(request.param",
    )
    samples = "\n\n".join(_block("testing.md", needle) for needle in needles)
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["smsgate.testing.pytest_plugin"]\n', encoding="utf-8"
    )
    (tmp_path / "test_samples.py").write_text(textwrap.dedent(APPLICATION) + samples, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout


def test_the_observe_sample_counts_what_was_accepted() -> None:
    accepted: list[int] = []

    class Counter:
        def inc(self, amount: int) -> None:
            accepted.append(amount)

    provider = smsgate.get_provider("memory")
    with smsgate.Gateway(provider) as gateway:
        scope: dict[str, Any] = {
            "smsgate": smsgate,
            "counter": Counter(),
            "gateway": gateway,
            "sms": smsgate.Sms(to=["13800138000", "13800138001"], text="hi【shop】"),
        }
        exec(_block("hooks.md", "class Metrics:"), scope)
        gateway.send(smsgate.Sms(to="13800138000", text="not observed【shop】"))
    assert accepted == [2]


def test_a_direct_run_flow_names_provider_and_operation_only_when_told() -> None:
    """docs/concepts.md: the gateways tell the driver whose flow it runs; a direct call passes
    provider= and operation= for the driver's own errors (a refused connection) to carry them."""
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = smsgate.get_provider("ipyy", account="a", password="p", base_url=f"http://127.0.0.1:{port}/")
    sms = smsgate.Sms(to="13800138000", text="hi【shop】")
    with httpx.Client() as client:
        with pytest.raises(smsgate.NotSentError) as untold:
            smsgate.run_flow(provider.send(sms), client)
        with pytest.raises(smsgate.NotSentError) as told:
            smsgate.run_flow(provider.send(sms), client, provider=provider.name, operation="send")
    assert (untold.value.provider, untold.value.operation) == (None, None)
    assert (told.value.provider, told.value.operation) == ("ipyy", "send")


def test_dispatch_hands_over_exactly_the_events_it_is_given(tmp_path: Path) -> None:
    """docs/receiver.md: dispatch() does not consult the journal unless recheck=True."""
    from smsgate.receiver import Receiver

    handled: list[object] = []
    receiver = Receiver(smsgate.get_provider("memory"), handled.append, journal=tmp_path / "j.sqlite3")
    try:
        event = smsgate.InboundMessage(provider="memory", mobile="13800138000", text="TD")
        new = receiver.store_pulled([event])
        assert receiver.dispatch(new) == 1
        assert receiver.dispatch(new) == 1  # the same events again: handled again
        assert receiver.dispatch(new, recheck=True) == 0  # done by now: skipped
        assert receiver.store_pulled([event]) == []
    finally:
        receiver.close()
    assert len(handled) == 2
