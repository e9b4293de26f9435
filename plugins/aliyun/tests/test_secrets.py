"""The AccessKey secret never shows where an error reporter looks: in no frame of an error's
traceback (the locals Sentry-style reporters capture), for an error before any I/O, a refused
connection, a refusal by the service or an unreadable reply, sync and async."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest

import smsgate
from smsgate.exceptions import SmsGateError
from smsgate.testing import frames_with_secrets
from smsgate_aliyun.sandbox import DEMO_SECRET, FaultRule, Sandbox

pytest_plugins = ["smsgate_aliyun.pytest_plugin"]

pytestmark = pytest.mark.e2e

SECRETS = (DEMO_SECRET,)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


VERIFY = smsgate.Sms(to="13800138000", template="verify", params={"code": "1"})
CASES: dict[str, tuple[dict[str, Any], FaultRule | None, Callable[[Any], Any]]] = {
    "unknown template": ({}, None, lambda g: g.send(smsgate.Sms(to="13800138000", template="nope"))),
    "bad batch entry": (
        {},
        None,
        lambda g: g.send_batch([VERIFY, smsgate.Sms(to="1234", template="verify")]),
    ),
    "refused connection": ({"base_url": closed_port()}, None, lambda g: g.send(VERIFY)),
    "service refusal": (
        {},
        FaultRule(kind="code", code="SignatureDoesNotMatch", status=400),
        lambda g: g.send(VERIFY),
    ),
    "unreadable reply": ({}, FaultRule(kind="garbage"), lambda g: g.send(VERIFY)),
    "query refused": ({}, FaultRule(kind="code", code="isp.SYSTEM_ERROR", times=9), None),
}


def failure(mode: str, provider: smsgate.Provider, start: Callable[[Any], Any]) -> SmsGateError:
    """The error ``start(gateway)`` raises, caught here: the traceback reaches no test frame."""
    retry = smsgate.RetryPolicy(attempts=1)
    try:
        if mode == "sync":
            with smsgate.Gateway(provider, retry=retry) as gateway:
                start(gateway)
        else:

            async def run() -> None:
                async with smsgate.AsyncGateway(provider, retry=retry) as gateway:
                    await start(gateway)

            asyncio.run(run())
    except SmsGateError as exc:
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_no_frame_of_a_failure_holds_the_secret(
    mode: str, case: str, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    changes, fault, call = CASES[case]
    provider = smsgate.get_provider("aliyun", **{**aliyun_credentials, **changes, "timeout": 2.0})
    receipt = smsgate.Receipt(provider="aliyun", task_id="1^0", accepted=1, recipients=["13800138000"])
    if fault is not None:
        aliyun_sandbox_clean.faults.add(fault)
    error = failure(mode, provider, call or (lambda g: g.query_status(receipt)))
    assert DEMO_SECRET not in str(error) + repr(error)
    assert frames_with_secrets(error, SECRETS) == []
