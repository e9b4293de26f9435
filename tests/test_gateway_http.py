"""The gateway over a flow-based provider talking HTTP through ``httpx.MockTransport``: the
drivers' translation of transport errors feeds the routing rules (both gateways)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._gateway import RetryPolicy
from smsgate._provider import Capabilities, Flow

SMS = smsgate.Sms(to="13800138000", text="hello【shop】")


class HttpProvider(smsgate.Provider):
    """A minimal JSON-over-HTTP provider written as a flow, like a real plugin."""

    capabilities = Capabilities(send=True, balance=True)

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        self.timeout = 2.0

    def send(self, sms: smsgate.Sms) -> Flow[smsgate.Receipt]:
        response = yield httpx.Request(
            "POST", f"http://127.0.0.1:9/{self.path}/send", json={"to": list(sms.to)}
        )
        data = response.json()
        return smsgate.Receipt(provider=self.name, task_id=str(data["task"]), accepted=len(sms.to))

    def balance(self, kind: str = "sms") -> Flow[smsgate.Balance]:
        response = yield httpx.Request("GET", f"http://127.0.0.1:9/{self.path}/balance")
        return smsgate.Balance(provider=self.name, remaining=response.json()["left"])


class Server:
    """MockTransport handler: the first path segment picks a behaviour."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        behaviour = request.url.path.split("/")[1]
        if behaviour == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if behaviour == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if behaviour == "garbage":
            return httpx.Response(200, content=b"<html>oops")
        assert request.extensions["timeout"]["read"] == 2.0  # the provider's timeout was applied
        if request.url.path.endswith("/balance"):
            return httpx.Response(200, json={"left": "12.5"})
        return httpx.Response(200, json={"task": 77})


@pytest.fixture
def server() -> Server:
    return Server()


def test_connect_error_is_not_sent_and_fails_over(make_gateway: Any, server: Server) -> None:
    gateway = make_gateway(
        [HttpProvider("a", "refused"), HttpProvider("b", "ok")],
        client=make_gateway.client(server),
        retry=RetryPolicy(attempts=2),
    )
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.task_id, receipt.attempts) == ("b", "77", 2)
    assert server.seen == ["/refused/send", "/ok/send"]  # b could take it: no retry of a


def test_read_timeout_is_uncertain_and_does_not_fail_over(make_gateway: Any, server: Server) -> None:
    gateway = make_gateway(
        [HttpProvider("a", "slow"), HttpProvider("b", "ok")], client=make_gateway.client(server)
    )
    with pytest.raises(errors.UncertainOutcomeError) as info:
        gateway.send(SMS)
    assert server.seen == ["/slow/send"]
    assert info.value.provider == "a"
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_unparseable_reply_is_malformed_and_does_not_fail_over(make_gateway: Any, server: Server) -> None:
    gateway = make_gateway(
        [HttpProvider("a", "garbage"), HttpProvider("b", "ok")], client=make_gateway.client(server)
    )
    with pytest.raises(errors.MalformedReplyError) as info:
        gateway.send(SMS)
    assert server.seen == ["/garbage/send"]
    assert info.value.body_excerpt.startswith(b"<html>")


def test_read_timeout_on_balance_fails_over_then_the_last_provider_is_retried(
    make_gateway: Any, server: Server
) -> None:
    gateway = make_gateway(
        [HttpProvider("a", "slow"), HttpProvider("b", "slow")],
        client=make_gateway.client(server),
        retry=RetryPolicy(attempts=2),
    )
    with pytest.raises(errors.AllProvidersFailedError) as info:
        gateway.balance()
    # a read may be repeated: a is left for b at once, and b, the last one, is retried
    assert [e.provider for e in info.value.exceptions] == ["a", "b", "b"]
    assert server.seen == ["/slow/balance", "/slow/balance", "/slow/balance"]


def test_every_attempt_error_keeps_the_httpx_cause(make_gateway: Any, server: Server) -> None:
    gateway = make_gateway(
        [HttpProvider("a", "refused"), HttpProvider("b", "refused")],
        client=make_gateway.client(server),
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(errors.AllProvidersFailedError) as info:
        gateway.send(SMS)
    assert [type(e.__cause__) for e in info.value.exceptions] == [httpx.ConnectError, httpx.ConnectError]
    assert "127.0.0.1" not in str(info.value)
