"""AliyunSettings: every wrong value is a ConfigurationError naming the setting, never the
secret; the provider keeps the secret out of every repr; the entry point and lazy exports."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
from typing import Any

import pytest

import smsgate
from smsgate.exceptions import ConfigurationError
from smsgate.testing import frames_with_secrets
from smsgate_aliyun import AliyunProvider, AliyunSettings
from smsgate_aliyun._settings import Template

SECRET = "Sup3r-Secret-Value"  # an AccessKey secret
GOOD: dict[str, Any] = {
    "access_key_id": "LTAI5tTestKeyId",
    "access_key_secret": SECRET,
    "sign_name": "腾飞",
    "templates": {"verify": "SMS_123456789"},
}


def settings(**changes: Any) -> AliyunSettings:
    return AliyunSettings.from_config({**GOOD, **changes})


def test_defaults_are_the_public_endpoint_and_the_service_limits() -> None:
    s = settings()
    assert s.base_url == "https://dysmsapi.aliyuncs.com/"
    assert (s.name, s.timeout, s.max_recipients, s.max_batch) == ("aliyun", 10.0, 1000, 100)
    assert s.templates == {"verify": Template(code="SMS_123456789")}


def test_a_template_table_gives_its_own_sign_name_and_parameters() -> None:
    s = settings(templates={"verify": {"code": "SMS_1", "sign_name": "阿里云", "params": ["code"]}})
    assert s.templates["verify"] == Template(code="SMS_1", sign_name="阿里云", params=("code",))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"access_key_id": ""}, "access_key_id"),
        ({"access_key_secret": ""}, "access_key_secret"),
        ({"access_key_secret": SECRET + " x"}, "access_key_secret"),
        ({"sign_name": ""}, "sign_name"),
        ({"sign_name": "a\nb"}, "sign_name"),
        ({"templates": ["SMS_1"]}, "templates"),
        ({"templates": {"verify": "SMS 1"}}, "templates['verify']"),
        ({"templates": {"verify": {"code": "SMS_1", "color": "red"}}}, "templates['verify']"),
        ({"templates": {"verify": {"code": "SMS_1", "params": "code"}}}, "params"),
        # Names no Sms can carry were accepted, and their templates never used.
        ({"templates": {"verify-code": "SMS_1"}}, "'verify-code' is not a name a message can carry"),
        ({"templates": {"1verify": "SMS_1"}}, "'1verify' is not a name a message can carry"),
        ({"templates": {"v" * 65: "SMS_1"}}, "is not a name a message can carry"),
        # Parameter names no Sms can carry were accepted, and their templates skipped forever.
        (
            {"templates": {"v": {"code": "SMS_1", "params": ["1code"]}}},
            "templates['v']: the parameter '1code' is not a name a message can carry",
        ),
        ({"templates": {"v": {"code": "SMS_1", "params": ["code", "名字"]}}}, "parameter '名字' is not"),
        ({"templates": {"v": {"code": "SMS_1", "params": ["a" * 65]}}}, "is not a name a message can carry"),
        ({"templates": {"v": {"code": "SMS_1", "params": ["cod e"]}}}, "parameter 'cod e' is not a name"),
        ({"templates": {"v": {"code": "SMS_1", "params": [5]}}}, "params must be a list of variable names"),
        ({"base_url": "ftp://x/"}, "base_url"),
        ({"base_url": "http://dysmsapi.aliyuncs.com/"}, "base_url uses plain http"),
        ({"base_url": "http://evil.localhost/"}, "base_url uses plain http"),
        ({"base_url": "http://localhost.localdomain/"}, "base_url uses plain http"),
        # bool() made the string "false" (an environment variable, a quoted value) allow it.
        ({"base_url": "http://dysmsapi.aliyuncs.com/", "allow_insecure_http": "false"}, "True or False"),
        ({"allow_insecure_http": 1}, "allow_insecure_http must be True or False"),
        ({"base_url": "https://user:pw@dysmsapi.aliyuncs.com/"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"max_recipients": 1001}, "max_recipients"),
        ({"max_batch": 0}, "max_batch"),
        ({"clock": "now"}, "clock"),
        ({"nonce": 5}, "nonce"),
        ({"region": "cn-hangzhou"}, "unknown aliyun setting(s): region"),
    ],
)
def test_a_wrong_value_names_the_setting_and_never_the_secret(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        settings(**changes)
    assert named in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.provider == "aliyun"


def test_get_provider_refuses_a_template_parameter_no_message_can_carry() -> None:
    """smsgate.Sms refuses the parameter name '1code', so a template needing it could never be
    rendered: it was accepted, and routing skipped the provider for that template forever."""
    templates = {"v": {"code": "SMS_1", "params": ["1code"]}}
    with pytest.raises(ConfigurationError, match=r"templates\['v'\]: the parameter '1code'") as info:
        smsgate.get_provider("aliyun", **{**GOOD, "templates": templates})
    assert info.value.provider == "aliyun"
    with pytest.raises(smsgate.ValidationError):
        smsgate.Sms(to="13800138000", template="v", params={"1code": "1"})
    # Every name a message can carry is taken.
    ok = {"v": {"code": "SMS_1", "params": ["code", "_x", "A" * 64]}}
    assert smsgate.get_provider("aliyun", **{**GOOD, "templates": ok}).settings.templates["v"].params == (
        "code",
        "_x",
        "A" * 64,
    )


def test_plain_http_is_allowed_to_loopback_or_when_asked() -> None:
    assert settings(base_url="http://127.0.0.1:8081").base_url == "http://127.0.0.1:8081/"
    assert (
        settings(base_url="http://sms.internal/", allow_insecure_http=True).base_url == "http://sms.internal/"
    )


def test_password_is_the_command_line_s_name_for_the_secret() -> None:
    """The CLI passes SMSGATE_<NAME>_PASSWORD as ``password``; it becomes the secret."""
    values = {k: v for k, v in GOOD.items() if k != "access_key_secret"}
    assert AliyunSettings.from_config({**values, "password": SECRET}).access_key_secret == SECRET
    with pytest.raises(ConfigurationError, match="not both"):
        AliyunSettings.from_config({**GOOD, "password": SECRET})


def test_the_secret_is_in_no_repr_and_no_attribute_name() -> None:
    provider = AliyunProvider(**GOOD)
    assert SECRET not in repr(settings()) + repr(provider) + str(provider)
    assert SECRET not in repr(list(vars(provider)))
    assert "LTAI5tTestKeyId" in repr(provider)


def test_the_provider_takes_settings_or_keywords_not_both() -> None:
    assert AliyunProvider(settings()).name == "aliyun"
    with pytest.raises(ConfigurationError, match="not both"):
        AliyunProvider(settings(), name="x")  # type: ignore[call-arg]


def test_declared_capabilities_are_aliyun_s() -> None:
    caps = AliyunProvider(**GOOD).capabilities
    assert (caps.send, caps.batch, caps.callbacks, caps.templates, caps.references, caps.query_status) == (
        True,
        True,
        True,
        True,
        True,
        True,
    )
    assert [caps.free_text, caps.balance, caps.mms, caps.scheduling, caps.report_pull] == [False] * 5
    assert (caps.max_recipients, caps.max_batch) == (1000, 100)


def test_the_entry_point_registers_aliyun() -> None:
    assert "aliyun" in smsgate.provider_names()
    provider = smsgate.get_provider("aliyun", **GOOD, name="aliyun-backup")
    assert isinstance(provider, AliyunProvider)
    assert provider.name == "aliyun-backup"


def test_a_clock_without_a_time_zone_is_refused_when_used() -> None:
    provider = AliyunProvider(**GOOD, clock=lambda: dt.datetime(2026, 1, 1))
    sms = smsgate.Sms(to="13800138000", template="verify")
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        next(provider.send(sms))


@pytest.mark.parametrize("nonce", [12345, None, "", "a\r\nb", "nonce-非"])
def test_a_nonce_that_cannot_be_a_header_is_refused_when_used(nonce: object) -> None:
    """It failed inside httpx as a bare AttributeError (an int) or header error."""
    provider = AliyunProvider(**GOOD, nonce=lambda: nonce)
    sms = smsgate.Sms(to="13800138000", template="verify")
    with pytest.raises(ConfigurationError, match="nonce"):
        next(provider.send(sms))


def test_importing_the_package_loads_neither_the_provider_nor_the_settings() -> None:
    code = (
        "import sys, smsgate_aliyun, smsgate_aliyun.plugin; "
        "print(any(m in sys.modules for m in ('smsgate_aliyun._provider', 'smsgate_aliyun._settings')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert importlib.import_module("smsgate_aliyun").AliyunSettings is AliyunSettings


def _refusal(**changes: Any) -> BaseException:
    """The error of a directly built ``AliyunSettings``; this frame drops its arguments first."""
    values = {**GOOD, **changes}
    try:
        AliyunSettings(**values)
    except BaseException as error:  # whatever escapes the constructor
        del changes, values
        return error
    raise AssertionError("the settings were accepted")


def _frames_holding_the_secret(error: BaseException) -> list[str]:
    """``frames_with_secrets``, and the fields of any settings object in those frames (its
    repr hides the secret), for ``error`` and every error chained to it."""
    found = frames_with_secrets(error, [SECRET])
    chain: list[BaseException | None] = [error]
    while chain:
        current = chain.pop()
        if current is not None:
            chain += [current.__cause__, current.__context__]
            tb = current.__traceback__
            while tb is not None:
                found += [
                    f"{tb.tb_frame.f_code.co_name}: {name}.access_key_secret"
                    for name, value in tb.tb_frame.f_locals.items()
                    if getattr(value, "access_key_secret", None) == SECRET
                ]
                tb = tb.tb_next
    return found


@pytest.mark.parametrize(
    "changes",
    [
        {"access_key_secret": SECRET + " x"},  # the AccessKey's own check
        {"sign_name": ""},  # a later field refused
        {"base_url": "ftp://dysmsapi.aliyuncs.com/"},
        {"templates": {"verify": "not a code"}},
        {"nonce": 5},
    ],
    ids=["secret", "sign_name", "base_url", "templates", "nonce"],
)
def test_a_refused_direct_construction_leaves_the_secret_in_no_frame(changes: dict[str, Any]) -> None:
    """``AliyunSettings(access_key_secret=…)`` refused: the attrs constructor's arguments,
    the validators' values and half-built object, the AccessKey's check: none is left in a
    frame of the error or of what it chains."""
    error = _refusal(**changes)
    assert isinstance(error, ConfigurationError)
    assert _frames_holding_the_secret(error) == []
    assert SECRET not in str(error)
