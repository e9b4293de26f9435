"""End to end, both gateways, over a real loopback socket: the gateway's refusals arrive as the
typed smsgate errors (wrong password, no balance, missing signature, a number only the gateway
refuses), and a password change takes effect at once on both sides."""

from __future__ import annotations

import pytest

import smsgate
from smsgate.exceptions import (
    AllProvidersFailedError,
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRecipientError,
    SignatureError,
    SmsGateError,
)
from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    account_state,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    requests_of,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

SENDS = {
    "form": {"transport": "form"},
    "gbk": {"transport": "gbk"},
    "json": {"transport": "json"},
    "encrypted": {"transport": "encrypted"},
    "soap": {"transport": "soap"},
}
WRONG = "not-the-password"


def only_failure(caught: pytest.ExceptionInfo[SmsGateError]) -> SmsGateError:
    """The error of a single-provider gateway that gave up: the provider's own typed error,
    not a group (there was no other provider), after one attempt."""
    error = caught.value
    assert not isinstance(error, AllProvidersFailedError)
    assert error.provider == "ipyy"
    assert error.attempts == ()
    return error


def assert_discreet(error: BaseException, *secrets: str) -> None:
    """No secret in the error's text or repr."""
    for text in (str(error), repr(error)):
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize("transport", list(SENDS))
def test_wrong_password_is_an_authentication_error_on_every_transport(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """The sandbox refuses the login; the gateway raises AuthenticationError (failing over has
    nowhere to go) and no message is charged."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, password=WRONG, **SENDS[transport]))
    with pytest.raises(SmsGateError) as caught:
        gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT))
    error = only_failure(caught)
    assert isinstance(error, AuthenticationError)
    assert_discreet(caught.value, WRONG, md5_upper(WRONG))
    assert account_state(ipyy_sandbox_clean)["sms_sent"] == 0
    [entry] = ipyy_sandbox_clean.requests()
    assert entry["outcome"]["code"] != "OK"


@pytest.mark.parametrize("operation", ["balance", "fetch_reports", "fetch_inbound"])
def test_wrong_password_is_an_authentication_error_on_reads(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, operation: str
) -> None:
    """Balance and pull endpoints word the refusal differently; each is AuthenticationError."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, password=WRONG))
    with pytest.raises(SmsGateError) as caught:
        getattr(gateway, operation)()
    assert isinstance(only_failure(caught), AuthenticationError)


@pytest.mark.parametrize("transport", list(SENDS))
def test_zero_balance_account_is_an_insufficient_balance_error(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """The ``poor`` account has nothing left: 1111 AmountNotEnough → InsufficientBalanceError."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, "poor", **SENDS[transport]))
    with pytest.raises(SmsGateError) as caught:
        gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT))
    assert isinstance(only_failure(caught), InsufficientBalanceError)
    [entry] = requests_of(ipyy_sandbox_clean, account="poor")
    assert entry["outcome"]["code"] == "AmountNotEnough"


def test_zero_mms_balance_is_an_insufficient_balance_error(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The same refusal on mms.aspx."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, "poor"))
    mms = smsgate.Mms(to=MOBILES[0], subject="s", parts=[smsgate.MmsPart(name="1.txt", data=b"x")])
    with pytest.raises(SmsGateError) as caught:
        gateway.send_mms(mms)
    assert isinstance(only_failure(caught), InsufficientBalanceError)


@pytest.mark.parametrize("transport", list(SENDS))
def test_missing_signature_left_to_the_gateway_is_a_signature_error(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """With signature="gateway" the unsigned text is sent; the sandbox answers 2113
    RequiredSuffix and the gateway raises SignatureError at once (no failover: another
    provider would refuse it too)."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, signature="gateway", **SENDS[transport]))
    with pytest.raises(SignatureError) as caught:
        gateway.send(smsgate.Sms(to=MOBILES[0], text="没有签名的短信"))
    assert caught.value.provider == "ipyy"
    [entry] = ipyy_sandbox_clean.requests()
    assert entry["outcome"]["code"] == "RequiredSuffix"


@pytest.mark.parametrize("transport", list(SENDS))
def test_number_refused_only_by_the_gateway_is_an_invalid_recipient_error(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """A permissive mobile_pattern lets a non-mobile number through the client; the sandbox
    refuses it (MsisdnError) and the gateway raises InvalidRecipientError at once."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, mobile_pattern=r"[0-9]{11}", **SENDS[transport]))
    with pytest.raises(InvalidRecipientError):
        gateway.send(smsgate.Sms(to="23800138000", text=TEXT))
    [entry] = ipyy_sandbox_clean.requests()
    assert entry["fields"]["mobiles"] == ["23800138000"]
    assert entry["outcome"]["code"] == "MsisdnError"
    assert account_state(ipyy_sandbox_clean)["sms_sent"] == 0


# --- password change (pwd.aspx) -----------------------------------------------------------------

NEW_PASSWORD = "Fresh-Pass-2026"


def test_changed_password_is_used_at_once_and_the_old_one_is_refused(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """After change_password the same provider sends with the new password; a provider still
    holding the old one gets AuthenticationError; a new provider with the new one works."""
    provider = ipyy(ipyy_sandbox_clean)
    gateway = flavour.gateway(provider)

    gateway.change_password(NEW_PASSWORD)

    [change] = requests_of(ipyy_sandbox_clean, endpoint="pwd.aspx")
    assert change["fields"]["new_password_length"] == len(NEW_PASSWORD)
    assert change["outcome"]["code"] == "OK"
    assert NEW_PASSWORD not in repr(change)
    receipt = gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT))
    assert receipt.accepted == 1

    stale = flavour.gateway(ipyy(ipyy_sandbox_clean))  # the configured (old) password
    with pytest.raises(SmsGateError) as caught:
        stale.send(smsgate.Sms(to=MOBILES[0], text=TEXT))
    assert isinstance(only_failure(caught), AuthenticationError)
    fresh = flavour.gateway(ipyy(ipyy_sandbox_clean, password=NEW_PASSWORD, transport="encrypted"))
    assert fresh.send(smsgate.Sms(to=MOBILES[1], text=TEXT)).accepted == 1
    assert_discreet(caught.value, NEW_PASSWORD, md5_upper(NEW_PASSWORD))
    assert NEW_PASSWORD not in repr(provider)


def test_change_password_with_a_wrong_old_password_is_refused_and_changes_nothing(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """pwd.aspx checks the old password: AuthenticationError from the one provider asked,
    and the configured password still works afterwards."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, password=WRONG))
    with pytest.raises(SmsGateError) as caught:
        gateway.change_password(NEW_PASSWORD)
    assert isinstance(only_failure(caught), AuthenticationError)
    assert flavour.gateway(ipyy(ipyy_sandbox_clean)).balance().remaining > 0
