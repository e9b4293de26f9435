"""The core's tools for keeping secrets out of the frame locals error reporters capture:
``smsgate.settings.cut_traceback`` and the private ``Secret`` holder, and the in-memory
provider's password change, which uses it."""

from __future__ import annotations

import pickle
import traceback

import pytest

import smsgate
from smsgate import settings
from smsgate._secret import Secret
from smsgate.exceptions import ConfigurationError, SmsGateError
from smsgate.testing import frames_with_secrets

SECRET = "Core-Secret-Value-7"


def _refuse(value: str) -> None:
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigurationError("the value is not ASCII") from None


def _refuse_with_cause(value: str) -> None:
    try:
        len(value) / 0
    except ZeroDivisionError as exc:  # a cause whose message quotes nothing
        raise ConfigurationError("the value cannot be divided") from exc


@pytest.mark.parametrize("refuse", [_refuse, _refuse_with_cause])
def test_cut_traceback_leaves_no_frame_and_keeps_what_is_shown(refuse: object) -> None:
    value = SECRET + "\u00e9"
    try:
        refuse(value)  # type: ignore[operator]
    except ConfigurationError as caught:
        error = caught
    del value
    assert frames_with_secrets(error, [SECRET]) != []  # the frames below held it
    settings.cut_traceback(error)
    assert frames_with_secrets(error, [SECRET]) == []
    assert error.__traceback__ is None
    if error.__suppress_context__:
        assert error.__context__ is None  # a UnicodeEncodeError keeps the whole string
    else:
        assert isinstance(error.__cause__, ZeroDivisionError)  # shown: kept, without its frames
        assert error.__cause__.__traceback__ is None
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert SECRET not in rendered


def test_a_secret_hides_its_value() -> None:
    secret = Secret(SECRET)
    assert secret.value == SECRET
    assert SECRET not in repr(secret) + str(secret) + repr([secret])
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_failed_password_change_of_the_memory_provider_leaves_no_frame_with_it() -> None:
    provider = smsgate.get_provider("memory")
    provider.fail_next(smsgate.NotSentError, operation="change_password")
    with smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        error = _raised(gateway)
    assert isinstance(error, smsgate.NotSentError)
    assert frames_with_secrets(error, [SECRET]) == []


def _raised(gateway: smsgate.Gateway) -> SmsGateError | None:
    """The error of a password change; its traceback starts in this frame (no secret)."""
    try:
        gateway.change_password(SECRET)
    except SmsGateError as error:
        return error
    return None
