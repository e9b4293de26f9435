"""A refused Aliyun provider leaves its AccessKey secret in no frame local of its error's
traceback (error reporters capture them), and the traceback renders with its locals (the
repr of a provider whose ``__init__`` failed does not raise)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

import smsgate
from smsgate.exceptions import ConfigurationError, SmsGateError
from smsgate.testing import frames_with_secrets
from smsgate_aliyun import AliyunProvider, AliyunSettings

SECRET = "RefusedAliyunSecret0042"
# Each refused by a different check: the secret's own (AccessKey's), a converter-free
# validator, the unknown-key check, the alias clash.
BAD_SETTINGS: dict[str, dict[str, Any]] = {
    "secret with a space": {"access_key_secret": SECRET + " "},
    "base_url": {"access_key_secret": SECRET, "base_url": "ftp://x/"},
    "timeout": {"access_key_secret": SECRET, "timeout": -1},
    "unknown key": {"access_key_secret": SECRET, "nonsense": 1},
    "alias twice": {"access_key_secret": SECRET, "password": SECRET},
    "alias": {"password": SECRET + "\n"},
}


def raised(call: Callable[[], object]) -> SmsGateError:
    """The smsgate error ``call`` raises; this frame holds no secret."""
    try:
        call()
    except SmsGateError as error:
        return error
    raise AssertionError("nothing raised")


def config(key: str) -> dict[str, Any]:
    return {"access_key_id": "LTAIrefused0001", "sign_name": "腾飞", **BAD_SETTINGS[key]}


# The calls name their settings by key: no frame of the test holds the secret.
@pytest.mark.parametrize("key", BAD_SETTINGS)
@pytest.mark.parametrize("entry", ["get_provider", "AliyunProvider", "from_config"])
def test_a_refused_setting_leaves_no_secret_in_the_traceback(entry: str, key: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "get_provider": lambda: smsgate.get_provider("aliyun", **config(key)),
        "AliyunProvider": lambda: AliyunProvider(**config(key)),
        "from_config": lambda: AliyunSettings.from_config(config(key)),
    }
    error = raised(calls[entry])
    assert isinstance(error, ConfigurationError)
    assert frames_with_secrets(error, [SECRET]) == []
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert SECRET not in rendered


def test_the_repr_of_a_provider_whose_init_failed_does_not_raise() -> None:
    assert repr(AliyunProvider.__new__(AliyunProvider)) == "<AliyunProvider (not configured)>"
