"""A message only ipyy's own rules refuse, sent through a gateway where no provider can take
it, is a ValidationError again (an UnrenderableMessageError, also an
UnsupportedOperationError): the quickstart's ``except errors.ValidationError`` ("bad input;
nothing was sent") catches it, as it did before routing learnt to skip ipyy for it. The error
names each provider's reason, and no request is made."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import Sms
from smsgate import exceptions as errors
from smsgate_ipyy._provider import IpyyProvider

from .conftest import NOW, PASSWORD

HONG_KONG = Sms(to="+85291234567", text="您的验证码：1439，5分钟内有效。【腾飞】")


def ipyy(name: str = "ipyy", **settings: Any) -> IpyyProvider:
    built = smsgate.get_provider(
        "ipyy",
        name=name,
        account="acct",
        password=PASSWORD,
        base_url="http://127.0.0.1:9/",
        clock=lambda: NOW,
        templates={"verify": "您的验证码：{code}，5分钟内有效。【腾飞】"},
        **settings,
    )
    assert isinstance(built, IpyyProvider)
    return built


def no_io(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"unexpected request to {request.url.path}")


def caught_as_validation_error(providers: list[smsgate.Provider], sms: Sms) -> errors.ValidationError:
    """What ``except errors.ValidationError`` catches from a gateway send of ``sms``."""
    with smsgate.Gateway(providers, client=httpx.Client(transport=httpx.MockTransport(no_io))) as gateway:
        try:
            gateway.send(sms)
        except errors.ValidationError as error:  # the quickstart's handler
            return error
    pytest.fail("the send raised nothing")


def test_ipyy_alone_and_a_hong_kong_number_is_a_validation_error() -> None:
    error = caught_as_validation_error([ipyy()], HONG_KONG)
    assert isinstance(error, errors.UnrenderableMessageError)
    assert isinstance(error, errors.UnsupportedOperationError)
    assert "no configured provider can render this message (ipyy: " in str(error)
    assert "not a mainland mobile number" in str(error)
    assert "91234567" not in str(error)  # the number stays masked


def test_two_providers_both_refusing_is_a_validation_error_naming_both() -> None:
    error = caught_as_validation_error([ipyy("first"), ipyy("second", max_text_length=10)], HONG_KONG)
    assert "first: " in str(error)
    assert "second: " in str(error)
    assert error.operation == "send"


def test_the_async_gateway_raises_the_same() -> None:
    async def send() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(no_io))
        async with smsgate.AsyncGateway([ipyy()], client=client) as gateway:
            await gateway.send(HONG_KONG)

    with pytest.raises(errors.ValidationError, match="not a mainland mobile number"):
        asyncio.run(send())


def test_a_template_no_provider_has_is_still_an_unsupported_operation_error() -> None:
    sms = Sms(to="13800138000", template="welcome", params={"name": "李"})
    with (
        smsgate.Gateway(
            [ipyy("first"), ipyy("second")], client=httpx.Client(transport=httpx.MockTransport(no_io))
        ) as gw,
        pytest.raises(errors.UnsupportedOperationError, match="first: no template named 'welcome'"),
    ):
        gw.send(sms)
