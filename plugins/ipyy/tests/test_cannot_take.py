"""A message only ipyy's own rules refuse (a number that is no mainland number, a rendered text
longer than ``max_text_length``, an unsigned text where a 【signature】 is required, a 6-digit
``ext``, a character GBK cannot carry) is one ipyy *cannot take*: ``cannot_render`` says why,
so routing skips ipyy before any request and the next provider sends it. A direct send of it
is still the same ValidationError before any request, and its text is the reason."""

from __future__ import annotations

from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smsgate
from smsgate import Sms
from smsgate.exceptions import UnsupportedOperationError, ValidationError
from smsgate.testing import InMemoryProvider
from smsgate_ipyy._provider import IpyyProvider, _has_signature
from smsgate_ipyy._settings import SIGNATURE

from .conftest import NOW, PASSWORD, send_ok

TEMPLATES = {"verify": "您的验证码：{code}，5分钟内有效。【腾飞】", "unsigned": "验证码 {code}"}
VERIFY = Sms(to="13800138000", template="verify", params={"code": "1439"})
TEXT = "您的验证码：1439，5分钟内有效。【腾飞】"  # 22 characters


def ipyy(**settings: Any) -> IpyyProvider:
    built = smsgate.get_provider(
        "ipyy",
        account="acct",
        password=PASSWORD,
        base_url="http://127.0.0.1:9/",
        clock=lambda: NOW,
        templates=TEMPLATES,
        **settings,
    )
    assert isinstance(built, IpyyProvider)
    return built


def no_io(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"unexpected request to {request.url.path}")


def direct_send_error(provider: IpyyProvider, sms: Sms) -> ValidationError:
    """The ValidationError a direct send of ``sms`` raises (before any request)."""
    with httpx.Client(transport=httpx.MockTransport(no_io)) as client, pytest.raises(ValidationError) as info:
        smsgate.run_flow(provider.send(sms), client, provider=provider.name, operation="send")
    return info.value


# (settings, message, a word of the reason)
CANNOT_TAKE = {
    "rendered text too long": ({"max_text_length": 20}, VERIFY, "max_text_length (20)"),
    "text too long": ({"max_text_length": 20}, Sms(to="13800138000", text=TEXT), "max_text_length (20)"),
    "appended signature makes it too long": (
        {"max_text_length": 10, "signature": "append", "default_signature": "【腾飞】"},
        Sms(to="13800138000", text="验证码 1439"),
        "max_text_length (10)",
    ),
    "hong kong number": ({}, attrs.evolve(VERIFY, to="+85291234567"), "not a mainland mobile number"),
    "one of two numbers": ({}, attrs.evolve(VERIFY, to=["13800138000", "85291234567"]), "mainland"),
    "custom pattern": (
        {"mobile_pattern": "13[0-9]{9}"},
        attrs.evolve(VERIFY, to="15800158000"),
        "13[0-9]{9}",
    ),
    "unsigned rendered text": (
        {},
        Sms(to="13800138000", template="unsigned", params={"code": "1"}),
        "signature",
    ),
    "unsigned text": ({}, Sms(to="13800138000", text="您的验证码：1439"), "【signature】"),
    "six-digit ext": ({}, attrs.evolve(VERIFY, ext="123456"), "ext must be at most 5 digits"),
    "gbk": ({"transport": "gbk"}, Sms(to="13800138000", text="表情😀【腾飞】"), "transport 'gbk'"),
    "unknown template, unsigned text": (
        {},
        Sms(to="13800138000", template="welcome", text="您好"),
        "【signature】",
    ),
}

CAN_TAKE = {
    "template": ({}, VERIFY),
    "text at the limit": ({"max_text_length": 22}, Sms(to="13800138000", text=TEXT)),
    "+86 prefix": ({}, attrs.evolve(VERIFY, to="+8613800138000")),
    "0086 prefix, ext": ({}, attrs.evolve(VERIFY, to=["008613800138000", "13900139000"], ext="12345")),
    "signature appended": (
        {"signature": "append", "default_signature": "【腾飞】"},
        Sms(to="13800138000", text="验证码 1439"),
    ),
    "left to the gateway": ({"signature": "gateway"}, Sms(to="13800138000", text="验证码 1439")),
    "gbk text": ({"transport": "gbk"}, Sms(to="13800138000", text=TEXT)),
    "template unknown, text signed": ({}, Sms(to="13800138000", template="welcome", text=TEXT)),
}


@pytest.mark.parametrize(("settings", "sms", "word"), CANNOT_TAKE.values(), ids=CANNOT_TAKE)
def test_cannot_render_gives_the_reason_a_direct_send_raises(
    settings: dict[str, Any], sms: Sms, word: str
) -> None:
    provider = ipyy(**settings)
    reason = provider.cannot_render(sms)
    assert reason is not None
    assert word in reason
    error = direct_send_error(provider, sms)
    assert error.message == reason
    assert "9123" not in reason  # numbers are masked


@pytest.mark.parametrize(("settings", "sms"), CAN_TAKE.values(), ids=CAN_TAKE)
def test_cannot_render_is_none_for_what_ipyy_sends(settings: dict[str, Any], sms: Sms) -> None:
    provider = ipyy(**settings)
    assert provider.cannot_render(sms) is None
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=send_ok(count=len(sms.to)))

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        smsgate.run_flow(provider.send(sms), client)
    assert len(requests) == 1


@pytest.fixture
def backup() -> InMemoryProvider:
    return InMemoryProvider("backup", templates=TEMPLATES | {"welcome": "欢迎"})


def gateway(*providers: smsgate.Provider) -> smsgate.Gateway:
    return smsgate.Gateway(list(providers), client=httpx.Client(transport=httpx.MockTransport(no_io)))


@pytest.mark.parametrize(("settings", "sms", "word"), CANNOT_TAKE.values(), ids=CANNOT_TAKE)
def test_routing_skips_ipyy_and_the_next_provider_sends(
    settings: dict[str, Any], sms: Sms, word: str, backup: InMemoryProvider
) -> None:
    with gateway(ipyy(**settings), backup) as gw:
        receipt = gw.send(sms)
    assert receipt.provider == "backup"
    assert receipt.attempts == 1  # ipyy was skipped, not tried
    assert backup.sent == [sms]


def test_a_batch_with_one_message_ipyy_cannot_take_goes_to_the_next_provider(
    backup: InMemoryProvider,
) -> None:
    batch = [VERIFY, attrs.evolve(VERIFY, to="+85291234567")]
    with gateway(ipyy(), backup) as gw:
        receipts = gw.send_batch(batch)
    assert {r.provider for r in receipts} == {"backup"}


def test_with_ipyy_alone_nothing_is_sent_and_the_error_gives_the_reason() -> None:
    provider = ipyy(max_text_length=20)
    with gateway(provider) as gw, pytest.raises(UnsupportedOperationError) as info:
        gw.send(VERIFY)
    reason = provider.cannot_render(VERIFY)
    assert f"ipyy: {reason}" in str(info.value)


@given(st.text(alphabet="【】 ab\t", max_size=12))
def test_the_quick_signature_check_agrees_with_the_pattern(text: str) -> None:
    assert _has_signature(text) is (SIGNATURE.search(text) is not None)


STILL_RAISED = {
    "a lone surrogate (gbk)": ({"transport": "gbk"}, Sms(to="13800138000", text="hi\ud800【腾飞】")),
    "a lone surrogate": ({}, Sms(to="13800138000", text="hi\ud800【腾飞】")),
    "a number twice": ({}, attrs.evolve(VERIFY, to=["+8613800138000", "13800138000"])),
    "send_at in the past": ({}, attrs.evolve(VERIFY, send_at=NOW)),
}


@pytest.mark.parametrize(("settings", "sms"), STILL_RAISED.values(), ids=STILL_RAISED)
def test_what_no_provider_could_send_is_still_raised_at_once(
    settings: dict[str, Any], sms: Sms, backup: InMemoryProvider
) -> None:
    """A defect of the message itself, not a rule of ipyy: no reason to skip ipyy, and the
    send's ValidationError stops the call before any request anywhere."""
    provider = ipyy(**settings)
    assert provider.cannot_render(sms) is None
    with gateway(provider, backup) as gw, pytest.raises(ValidationError) as info:
        gw.send(sms)
    assert info.value.provider == "ipyy"
    assert backup.sent == []
