"""A refusal that carries only the gateway's message (the ``Faild`` replies of ``sms.aspx``,
``smsGBK.aspx`` and ``smsJson.aspx``) still has its ResultCode in ``error.code``: the code the
message stands for, as ``ensms.ashx`` sends it (its number, or its name when chapter 9 gives
none), so a log line or a handler reads the same code whatever the transport."""

from __future__ import annotations

import pytest

import smsgate
from smsgate.exceptions import (
    ContentError,
    InvalidRecipientError,
    ProviderError,
    RateLimitedError,
    SmsGateError,
)
from smsgate_ipyy import _codes
from smsgate_ipyy import _parse as p
from smsgate_ipyy.sandbox import Sandbox
from smsgate_ipyy.sandbox._codes import CODES as SANDBOX_CODES

from .conftest import send_faild
from .e2e_support import TEXT, ipyy

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

# Every refusal the sandbox can answer for a send (not "OK").
REFUSALS = sorted(name for name in SANDBOX_CODES if name != "OK")
ENDPOINTS = {"form": "/sms.aspx", "gbk": "/smsGBK.aspx", "json": "/smsJson.aspx"}


def expected_code(name: str) -> str:
    """The code the vendor gives for ``name``: its chapter 9 number, or its name without one."""
    number = SANDBOX_CODES[name].number
    return name if number is None else str(number)


@pytest.mark.parametrize(
    ("message", "code", "cls"),
    [
        ("错误的手机号码", "1108", InvalidRecipientError),
        ("敏感词(测试)", "2107", ContentError),
        ("操作过于频繁", "FrequentOperation", RateLimitedError),  # no number in chapter 9
    ],
)
def test_a_text_only_refusal_has_the_code_its_message_stands_for(
    message: str, code: str, cls: type[ProviderError]
) -> None:
    with pytest.raises(cls) as info:
        p.parse_send_reply(send_faild(message), provider="ipyy")
    assert info.value.code == code
    assert info.value.vendor_message == message
    assert info.value.code in str(info.value)


def test_the_code_is_the_one_the_numeric_transport_gives() -> None:
    by_message = _codes.error_for_message("错误的手机号码")
    by_number = _codes.error_for_code(1108, "错误的手机号码")
    assert type(by_message) is type(by_number)
    assert (by_message.code, by_message.vendor_message) == (by_number.code, by_number.vendor_message)
    assert str(by_message).endswith("[MsisdnError]: 错误的手机号码 (code 1108)")


def test_a_code_given_with_the_message_is_kept() -> None:
    assert _codes.error_for_message("错误的手机号码", code="4242").code == "4242"


def test_an_unknown_message_still_has_no_code() -> None:
    err = _codes.error_for_message("未知的错误")
    assert type(err) is ProviderError
    assert err.code is None


@pytest.mark.e2e
@pytest.mark.parametrize("transport", sorted(ENDPOINTS))
@pytest.mark.parametrize("name", REFUSALS)
def test_every_sandbox_refusal_of_a_plain_send_carries_its_code(
    ipyy_sandbox_clean: Sandbox, transport: str, name: str
) -> None:
    ipyy_sandbox_clean.set_fault(kind="vendor", path=ENDPOINTS[transport], code=name, times=1)
    with (
        smsgate.Gateway(
            ipyy(ipyy_sandbox_clean, transport=transport), retry=smsgate.RetryPolicy(attempts=1)
        ) as gateway,
        pytest.raises(SmsGateError) as info,
    ):
        gateway.send(smsgate.Sms(to="13800138000", text=TEXT))
    error = info.value
    assert isinstance(error, ProviderError)
    assert (error.provider, error.code) == ("ipyy", expected_code(name))
    assert error.vendor_message == SANDBOX_CODES[name].message
