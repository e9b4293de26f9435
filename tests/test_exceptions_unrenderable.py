"""UnrenderableMessageError: what a gateway raises when no configured provider can render a
message. It is both an UnsupportedOperationError (the gateway has no provider for it) and a
ValidationError (this input cannot be sent as it is; nothing was sent), so an application
catching either — the quickstart's ``except errors.ValidationError`` among them — catches it."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import smsgate
from smsgate import Sms
from smsgate import exceptions as errors
from smsgate.exceptions import (
    ConfigurationError,
    SmsGateError,
    UnrenderableMessageError,
    UnsupportedOperationError,
    ValidationError,
)
from smsgate.testing import InMemoryProvider

VERIFY = Sms(to="13800138000", template="verify", params={"code": "1439"})


def test_it_is_both_parents_and_a_value_error() -> None:
    assert UnrenderableMessageError.__mro__ == (
        UnrenderableMessageError,
        UnsupportedOperationError,
        ConfigurationError,
        ValidationError,
        SmsGateError,
        ValueError,
        Exception,
        BaseException,
        object,
    )
    assert (UnrenderableMessageError.retry_safe, UnrenderableMessageError.failover_safe) == (False, False)


def test_fields_str_repr_and_pickling_are_those_of_its_parents() -> None:
    error = UnrenderableMessageError(
        "no configured provider can render this message (a: no)", operation="send"
    )
    assert (error.message, error.field, error.provider, error.operation, error.attempts) == (
        "no configured provider can render this message (a: no)",
        None,
        None,
        "send",
        (),
    )
    assert str(error) == "no configured provider can render this message (a: no)"
    assert repr(error) == "UnrenderableMessageError('no configured provider can render this message (a: no)')"
    named = UnrenderableMessageError("bad", field="to", provider="ipyy", operation="send")
    assert (named.field, named.provider, str(named)) == ("to", "ipyy", "[ipyy] bad")
    copy = pickle.loads(pickle.dumps(named))
    assert type(copy) is UnrenderableMessageError
    assert (copy.message, copy.field, copy.provider, copy.operation, str(copy)) == (
        "bad",
        "to",
        "ipyy",
        "send",
        "[ipyy] bad",
    )


def test_it_is_exported_on_the_package() -> None:
    assert "UnrenderableMessageError" in errors.__all__
    assert "UnrenderableMessageError" in smsgate.__all__
    assert smsgate.UnrenderableMessageError is UnrenderableMessageError


def _refusing() -> list[smsgate.Provider]:
    """Two providers, neither of which knows the template ``verify``."""
    return [InMemoryProvider("a", templates={"welcome": "hi"}), InMemoryProvider("b", templates={})]


def test_a_template_no_provider_has_is_caught_as_either_parent_and_nothing_is_sent() -> None:
    providers = _refusing()
    with smsgate.Gateway(providers) as gateway:
        with pytest.raises(UnsupportedOperationError, match="no template named 'verify'") as info:
            gateway.send(VERIFY)
        assert isinstance(info.value, ValidationError)
        caught: errors.ValidationError | None = None
        try:
            gateway.send(VERIFY)
        except errors.ValidationError as error:  # the quickstart's handler: bad input, nothing sent
            caught = error
        assert type(caught) is UnrenderableMessageError
        assert caught.operation == "send"
        with pytest.raises(ValidationError, match="a: message 2 of the batch: no template named 'verify'"):
            gateway.send_batch([Sms(to="13800138000", text="hi"), VERIFY])
    assert all(p.sent == [] for p in providers)  # type: ignore[attr-defined]


def test_the_async_gateway_raises_the_same() -> None:
    providers = _refusing()

    async def send() -> None:
        async with smsgate.AsyncGateway(providers) as gateway:
            await gateway.send(VERIFY)

    with pytest.raises(UnrenderableMessageError, match="a: no template named 'verify'"):
        asyncio.run(send())
    assert all(p.sent == [] for p in providers)  # type: ignore[attr-defined]
