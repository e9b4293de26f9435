"""ipyy first, Aliyun second, both sandboxes on loopback: a logical template whose ipyy text
breaks a rule of the ipyy account (longer than its ``max_text_length``) is sent by Aliyun,
rendered its own way, and ipyy gets no request; with ipyy alone nothing is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import GatewayFactory

ipyy_sandbox = pytest.importorskip("smsgate_ipyy.sandbox")
aliyun_sandbox = pytest.importorskip("smsgate_aliyun.sandbox")

pytestmark = pytest.mark.e2e

IPYY_TEMPLATES = {"verify": "您的验证码：{code}，5分钟内有效。【腾飞】"}  # 22 characters rendered
SMS = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, reference="order-42")


@pytest.fixture(scope="module")
def boxes() -> Iterator[tuple[Any, Any]]:
    with ipyy_sandbox.Sandbox() as ipyy_box, aliyun_sandbox.Sandbox.demo() as aliyun_box:
        yield ipyy_box, aliyun_box


@pytest.fixture
def ipyy_box(boxes: tuple[Any, Any]) -> Any:
    boxes[0].reset()
    return boxes[0]


@pytest.fixture
def aliyun_box(boxes: tuple[Any, Any]) -> Any:
    box = boxes[1]
    box.reset()
    box.add_account(aliyun_sandbox.demo_account())
    return box


@pytest.fixture(params=["sync", "async"])
def make_gateway(request: pytest.FixtureRequest) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(request.param, sleep=lambda seconds: None)
    yield factory
    factory.close()


def ipyy(box: Any, **changes: Any) -> smsgate.Provider:
    settings = {**attrs.asdict(box.credentials), "base_url": box.base_url, "templates": IPYY_TEMPLATES}
    return smsgate.get_provider("ipyy", **settings, timeout=2.0, **changes)


def aliyun(box: Any) -> smsgate.Provider:
    return smsgate.get_provider("aliyun", **box.credentials(), timeout=2.0)


def test_a_text_too_long_for_ipyy_is_sent_by_aliyun(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    receipt = make_gateway([ipyy(ipyy_box, max_text_length=20), aliyun(aliyun_box)]).send(SMS)
    assert (receipt.provider, receipt.attempts, receipt.reference) == ("aliyun", 1, "order-42")
    assert ipyy_box.requests() == []
    [record] = aliyun_box.state.records
    assert (record.template_code, record.out_id) == ("SMS_100001", "order-42")


def test_with_ipyy_alone_nothing_is_sent(make_gateway: GatewayFactory, ipyy_box: Any) -> None:
    with pytest.raises(errors.UnsupportedOperationError) as info:
        make_gateway([ipyy(ipyy_box, max_text_length=20)]).send(SMS)
    assert "ipyy: the text has 22 characters, more than max_text_length (20)" in str(info.value)
    assert ipyy_box.requests() == []
