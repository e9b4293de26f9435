"""Failover across vendors: one logical-template message, an ipyy provider first and Aliyun
second, both on their sandboxes over loopback sockets. Each vendor renders the template from
its own configuration: ipyy formats a text, Aliyun sends its template code, sign name and
parameters. The Aliyun sandbox's records show exactly what reached Aliyun."""

from __future__ import annotations

import socket
from typing import Any

import attrs
import pytest

import smsgate
from smsgate.exceptions import (
    AllProvidersFailedError,
    NotSentError,
    SmsGateError,
    UncertainOutcomeError,
    UnsupportedOperationError,
)
from smsgate_aliyun.sandbox import Sandbox
from smsgate_ipyy.sandbox import Sandbox as IpyySandbox

pytest_plugins = ["smsgate_aliyun.pytest_plugin", "smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

IPYY_TEMPLATES = {"verify": "您的验证码：{code}，5分钟内有效。【腾飞】", "promo": "{what}大促【腾飞】"}
SMS = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, reference="order-42")


def closed_port() -> str:
    """A loopback URL nothing listens on: a connection there is refused (surely not sent)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def ipyy(box: IpyySandbox, **changes: Any) -> smsgate.Provider:
    settings = {
        **attrs.asdict(box.credentials),
        "base_url": box.base_url,
        "templates": IPYY_TEMPLATES,
        "timeout": 2.0,
        **changes,
    }
    return smsgate.get_provider("ipyy", **settings)


def aliyun(credentials: dict[str, Any]) -> smsgate.Provider:
    return smsgate.get_provider("aliyun", **credentials, timeout=5.0)


def ipyy_sends(box: IpyySandbox) -> list[dict[str, Any]]:
    return [r for r in box.requests() if r.get("endpoint") == "sms.aspx"]


def test_ipyy_unreachable_the_same_template_message_is_sent_by_aliyun(
    ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """(a) ipyy refuses the connection (not sent): Aliyun accepts the same message, rendered
    with the template code, sign name and parameters, its reference as OutId."""
    providers = [ipyy(ipyy_sandbox_clean, base_url=closed_port()), aliyun(aliyun_credentials)]
    with smsgate.Gateway(providers, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("aliyun", 2)  # one refused connection, then Aliyun
    [record] = aliyun_sandbox_clean.state.records
    assert (record.biz_id, record.phone) == (receipt.task_id, "13800138000")
    assert (record.template_code, record.sign_name, record.out_id) == ("SMS_100001", "腾飞", "order-42")
    assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"


@pytest.mark.parametrize("fault", ["drop", "hang"])
def test_ipyy_uncertain_aliyun_is_never_called(
    fault: str,
    ipyy_sandbox_clean: IpyySandbox,
    aliyun_sandbox_clean: Sandbox,
    aliyun_credentials: dict[str, Any],
) -> None:
    """(b) ipyy may have sent (the connection dropped after the send was made, or no reply came
    before the read timeout): the gateway raises the uncertain outcome and never calls Aliyun."""
    ipyy_sandbox_clean.set_fault(kind=fault, path="/sms.aspx", times=1, seconds=5.0)
    provider = ipyy(ipyy_sandbox_clean, timeout=0.5)
    with smsgate.Gateway([provider, aliyun(aliyun_credentials)]) as gateway:
        with pytest.raises(UncertainOutcomeError) as info:
            gateway.send(SMS)
    assert info.value.provider == "ipyy"
    assert aliyun_sandbox_clean.state.records == []


def test_a_template_only_aliyun_has_goes_to_aliyun_and_one_only_ipyy_has_goes_to_ipyy(
    ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """(c) Routing skips a provider that cannot render the message, before any I/O, whichever
    comes first: 'shipped' exists at Aliyun only, 'promo' at ipyy only."""
    with smsgate.Gateway([ipyy(ipyy_sandbox_clean), aliyun(aliyun_credentials)]) as gateway:
        shipped = gateway.send(smsgate.Sms(to="13900139000", template="shipped", params={"name": "张三"}))
    with smsgate.Gateway([aliyun(aliyun_credentials), ipyy(ipyy_sandbox_clean)]) as gateway:
        promo = gateway.send(smsgate.Sms(to="13900139000", template="promo", params={"what": "双十一"}))
    assert (shipped.provider, shipped.attempts) == ("aliyun", 1)
    assert (promo.provider, promo.attempts) == ("ipyy", 1)
    assert ipyy_sends(ipyy_sandbox_clean)[0]["fields"]["content"] == "双十一大促【腾飞】"
    assert [r.template_code for r in aliyun_sandbox_clean.state.records] == ["SMS_100002"]


def test_free_text_never_reaches_aliyun(
    ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """(d) Free text goes to ipyy; with ipyy down it fails there, and Aliyun (templates only)
    is never tried: the error says ipyy was not reached, nothing went to Aliyun."""
    text = smsgate.Sms(to="13800138000", text="周末大促，全场八折【腾飞】")
    with smsgate.Gateway([aliyun(aliyun_credentials), ipyy(ipyy_sandbox_clean)]) as gateway:
        receipt = gateway.send(text)
    assert (receipt.provider, receipt.attempts) == ("ipyy", 1)
    down = ipyy(ipyy_sandbox_clean, base_url=closed_port())
    with smsgate.Gateway([down, aliyun(aliyun_credentials)]) as gateway:
        with pytest.raises(SmsGateError) as info:
            gateway.send(text)
    assert isinstance(info.value, NotSentError | AllProvidersFailedError)
    assert aliyun_sandbox_clean.state.records == []


def test_a_message_no_provider_can_render_is_refused_before_any_request(
    ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """Neither vendor knows the template: nothing is sent, and the error says why for each."""
    with smsgate.Gateway([ipyy(ipyy_sandbox_clean), aliyun(aliyun_credentials)]) as gateway:
        with pytest.raises(UnsupportedOperationError) as info:
            gateway.send(smsgate.Sms(to="13800138000", template="unknown_template"))
    assert "unknown_template" in str(info.value)
    assert ipyy_sends(ipyy_sandbox_clean) == []
    assert aliyun_sandbox_clean.state.records == []


def test_query_status_asks_the_vendor_that_sent(
    ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """A receipt from a failed-over send is looked up at the vendor that accepted it."""
    with smsgate.Gateway(
        [ipyy(ipyy_sandbox_clean, base_url=closed_port()), aliyun(aliyun_credentials)]
    ) as gateway:
        receipt = gateway.send(SMS)
        [report] = gateway.query_status(receipt)
    assert (report.provider, report.task_id, report.reference) == ("aliyun", receipt.task_id, "order-42")
    assert report.status is smsgate.DeliveryStatus.DELIVERED
