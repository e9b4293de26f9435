"""A refused ipyy provider or password change leaves no secret in the frame locals of its
error's traceback (error reporters capture them), and the traceback renders with its locals
(the repr of a provider whose ``__init__`` failed does not raise)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

import smsgate
from smsgate.exceptions import ConfigurationError, SmsGateError, ValidationError
from smsgate.testing import frames_with_secrets
from smsgate_ipyy import IpyyProvider, IpyySettings

PASSWORD = "Refused-Secret-41"
NEW = "New-Secret-0042"
SOAP_BAD = PASSWORD + "\x01"  # refused by the soap transport: XML cannot carry it
BAD_SETTINGS: dict[str, dict[str, Any]] = {
    "base_url": {"base_url": "ftp://x/"},
    "timeout": {"timeout": -1},
    "unknown key": {"nonsense": 1},
    "userid": {"transport": "encrypted", "userid": "x"},
    "soap password": {"transport": "soap", "password": SOAP_BAD},
}


def raised(call: Callable[[], object]) -> SmsGateError:
    """The smsgate error ``call`` raises; this frame holds no secret."""
    try:
        call()
    except SmsGateError as error:
        return error
    raise AssertionError("nothing raised")


def rendered(error: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


def config(bad: dict[str, Any]) -> dict[str, Any]:
    return {"account": "acct", "password": PASSWORD, "userid": "1", **bad}


# The calls name their settings by key: no frame of the test holds the password.
@pytest.mark.parametrize("key", BAD_SETTINGS)
@pytest.mark.parametrize("entry", ["get_provider", "IpyyProvider", "from_config"])
def test_a_refused_setting_leaves_no_secret_in_the_traceback(entry: str, key: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "get_provider": lambda: smsgate.get_provider("ipyy", **config(BAD_SETTINGS[key])),
        "IpyyProvider": lambda: IpyyProvider(**config(BAD_SETTINGS[key])),
        "from_config": lambda: IpyySettings.from_config(config(BAD_SETTINGS[key])),
    }
    error = raised(calls[entry])
    assert isinstance(error, ConfigurationError)
    assert frames_with_secrets(error, [PASSWORD, SOAP_BAD]) == []
    text = rendered(error)  # the half-built provider's repr does not raise
    assert PASSWORD not in text


def test_the_repr_of_a_provider_whose_init_failed_does_not_raise() -> None:
    half_built = IpyyProvider.__new__(IpyyProvider)
    assert repr(half_built) == "<IpyyProvider (not configured)>"
    error = raised(lambda: IpyyProvider(account="acct", password=PASSWORD, base_url="ftp://x/"))
    assert "<IpyyProvider (not configured)>" in rendered(error)


REFUSED_NEW = {"too long": "Refused-New-Secret-21", "surrogate": "New-Secret\ud800"}


@pytest.mark.parametrize("key", REFUSED_NEW)
def test_a_refused_new_password_leaves_no_secret_in_the_traceback(key: str) -> None:
    provider = IpyyProvider(account="acct", password=PASSWORD, userid="1")
    with smsgate.Gateway(provider) as gateway:
        error = raised(lambda: gateway.change_password(REFUSED_NEW[key]))
    assert isinstance(error, ValidationError)
    assert frames_with_secrets(error, [PASSWORD, REFUSED_NEW[key]]) == []


def test_a_failed_password_change_leaves_the_new_password_in_no_frame() -> None:
    """Refused connection: the request was built, the flow's frame is in the traceback."""
    provider = IpyyProvider(account="acct", password=PASSWORD, userid="1", base_url="http://127.0.0.1:9/")
    with smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        error = raised(lambda: gateway.change_password(NEW))
    names = [line for line in rendered(error).splitlines() if "change_password" in line]
    assert names  # the provider's flow frame is in the traceback
    assert frames_with_secrets(error, [NEW, PASSWORD]) == []
    assert NEW not in rendered(error)


async def _async_change(gateway: smsgate.AsyncGateway) -> SmsGateError:
    """The error of an async password change; its traceback starts in this frame."""
    try:
        await gateway.change_password(NEW)
    except SmsGateError as error:
        return error
    raise AssertionError("nothing raised")


async def test_a_failed_async_password_change_leaves_the_new_password_in_no_frame() -> None:
    provider = IpyyProvider(account="acct", password=PASSWORD, userid="1", base_url="http://127.0.0.1:9/")
    async with smsgate.AsyncGateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        error = await _async_change(gateway)
    assert "change_password" in rendered(error)
    assert frames_with_secrets(error, [NEW, PASSWORD]) == []
    assert NEW not in rendered(error)


def test_a_new_password_the_soap_settings_would_refuse_is_refused_before_any_request() -> None:
    """Sent, the gateway would change it, and then the provider could not take it (its SOAP
    settings refuse a password XML cannot carry): it is refused first, nothing sent (an
    attempt to send would fail with NotSentError on this closed port)."""
    provider = IpyyProvider(
        account="acct", password=PASSWORD, userid="1", transport="soap", base_url="http://127.0.0.1:9/"
    )
    with smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        error = raised(lambda: gateway.change_password(SOAP_BAD))
    assert isinstance(error, ValidationError)
    assert "XML" in str(error)
    assert frames_with_secrets(error, [PASSWORD, SOAP_BAD]) == []
