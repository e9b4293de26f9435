"""``IpyySettings``: the checked settings object, its exports and how the provider takes it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import smsgate
from smsgate import Sms
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.testing import frames_with_secrets
from smsgate_ipyy import IpyyProvider, IpyySettings

PASSWORD = "s3cret-Pass"
TEXT = "您的验证码：1439【腾飞】"


def settings(**config: Any) -> IpyySettings:
    return IpyySettings(account="acct", password=PASSWORD, **config)


def test_the_package_exports_the_provider_and_its_settings_lazily() -> None:
    code = (
        "import sys, smsgate_ipyy\n"
        "print('smsgate_ipyy._provider' in sys.modules, end=' ')\n"
        "from smsgate_ipyy import IpyyProvider, IpyySettings\n"
        "print(IpyyProvider.__module__, IpyySettings.__module__)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False smsgate_ipyy._provider smsgate_ipyy._settings"


def test_an_unknown_name_is_an_attribute_error() -> None:
    import smsgate_ipyy

    with pytest.raises(AttributeError):
        _ = smsgate_ipyy.NoSuchThing


def test_defaults_are_the_documented_ones() -> None:
    made = settings()
    assert (made.transport, made.signature, made.batch_compression, made.batch_newlines) == (
        "form",
        "require",
        "gzip",
        "reject",
    )
    assert (made.max_recipients, made.max_text_length, made.batch_max_messages) == (1000, 1000, 1000)
    assert (made.base_url, made.timeout, made.soap_version) == ("https://dx.ipyy.net/", 10.0, 11)


def test_values_are_normalised() -> None:
    made = settings(userid=42, base_url="https://h.example/gw?x=1", timeout=5, default_signature=" 【腾飞】 ")
    assert (made.userid, made.base_url, made.timeout) == ("42", "https://h.example/gw/", 5.0)
    assert made.default_signature == "【腾飞】"


def test_settings_are_frozen_and_keep_the_password_out_of_the_repr() -> None:
    made = settings()
    assert PASSWORD not in repr(made)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.transport = "json"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"transport": "smtp"}, "transport"),
        ({"signature": "maybe"}, "signature"),
        ({"batch_compression": "bz2"}, "batch_compression"),
        ({"batch_newlines": "escape"}, "batch_newlines"),
        ({"soap_version": 13}, "soap_version"),
        ({"max_text_length": 0}, "max_text_length"),
        ({"batch_max_bytes": 1.5}, "batch_max_bytes"),
        ({"timeout": "10"}, "timeout"),
        ({"clock": "now"}, "clock"),
        ({"mobile_pattern": "("}, "mobile_pattern"),
        ({"base_url": "http://dx.ipyy.net/"}, "allow_insecure_http"),
        # bool() made the string "false" (an environment variable, a quoted value) allow it.
        ({"base_url": "http://dx.ipyy.net/", "allow_insecure_http": "false"}, "must be True or False"),
        ({"allow_insecure_http": 1}, "allow_insecure_http must be True or False"),
    ],
)
def test_a_wrong_value_is_a_configuration_error_naming_the_setting(
    config: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        settings(**config)
    assert named in str(info.value)
    assert info.value.provider == "ipyy"


def test_errors_name_the_configured_provider() -> None:
    with pytest.raises(ConfigurationError) as info:
        settings(name="hx", transport="smtp")
    assert info.value.provider == "hx"


def test_a_password_utf8_cannot_carry_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        IpyySettings(account="a", password="pw\ud800x")
    assert "\ud800" not in str(info.value)
    assert info.value.__cause__ is None


def test_the_provider_takes_a_settings_object() -> None:
    provider = IpyyProvider(settings(transport="json", name="hx"))
    assert (provider.name, provider.settings.transport) == ("hx", "json")
    built = smsgate.get_provider("ipyy", account="acct", password=PASSWORD)
    assert isinstance(built, IpyyProvider)
    assert built.settings == settings()


def test_settings_and_keywords_together_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        IpyyProvider(settings(), transport="json")


def test_max_text_length_is_declared_and_enforced_before_io(no_io: httpx.Client) -> None:
    provider = IpyyProvider(settings(max_text_length=20))
    assert provider.capabilities.max_text_length == 20
    with pytest.raises(ValidationError, match="max_text_length") as info:
        smsgate.run_flow(provider.send(Sms(to="13800138000", text="长" * 17 + "【腾飞】")), no_io)
    assert info.value.field == "text"


def test_the_appended_signature_counts_towards_max_text_length(no_io: httpx.Client) -> None:
    provider = IpyyProvider(settings(max_text_length=10, signature="append", default_signature="【腾飞】"))
    with pytest.raises(ValidationError, match="max_text_length"):
        smsgate.run_flow(provider.send(Sms(to="13800138000", text="1234567")), no_io)


class _Unprintable:
    """A userid whose text cannot be made: the converter fails with an error of its own."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


def _refusal(**config: Any) -> BaseException:
    """The error of a directly built ``IpyySettings``; this frame drops ``config`` first."""
    try:
        IpyySettings(account="acct", **config)
    except BaseException as error:  # whatever escapes the constructor
        del config
        return error
    raise AssertionError("the settings were accepted")


def _holders(error: BaseException, secret: str) -> list[str]:
    """Where a reporter would find ``secret``: the locals of every frame of ``error`` and of
    the errors chained to it (settings objects' fields read too, their repr hides the
    password), and those errors' arguments."""
    found = frames_with_secrets(error, [secret])
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
        if secret in repr(current.args) + str(getattr(current, "object", "")):
            found.append(f"{type(current).__name__}: arguments")
        tb = current.__traceback__
        while tb is not None:
            for name, value in tb.tb_frame.f_locals.items():
                if isinstance(value, IpyySettings) and secret in repr(
                    [getattr(value, field.name, None) for field in attrs.fields(IpyySettings)]
                ):
                    found.append(f"{tb.tb_frame.f_code.co_name}: {name}.password")
            tb = tb.tb_next
    return found


@pytest.mark.parametrize(
    "config",
    [
        {"password": PASSWORD + "\ud800"},  # its own check, a UnicodeEncodeError suppressed
        {"password": PASSWORD + "\x01", "transport": "soap"},
        {"password": PASSWORD, "base_url": "ftp://dx.ipyy.net/"},  # a later field refused
        {"password": PASSWORD, "timeout": "ten"},
        {"password": PASSWORD, "templates": {"verify": "{0}【腾飞】"}},
        {"password": PASSWORD, "userid": _Unprintable()},  # not a ConfigurationError
    ],
    ids=["utf8", "soap", "base_url", "timeout", "templates", "converter"],
)
def test_a_refused_direct_construction_leaves_the_password_in_no_frame(config: dict[str, Any]) -> None:
    """``IpyySettings(password=…)`` refused: no frame of the error or of what it chains holds
    the password (the attrs constructor's arguments, the validators' value and half-built
    object), and the error still says what is wrong."""
    error = _refusal(**config)
    assert _holders(error, PASSWORD) == []
    assert isinstance(error, ConfigurationError | RuntimeError)
    assert PASSWORD not in str(error)


def test_a_refused_construction_leaves_the_caller_s_own_error_alone() -> None:
    """Settings refused while the caller handles an error of its own: that error keeps its
    traceback (it is the refusal's context, not the constructor's to cut)."""
    try:
        raise LookupError("the caller's")
    except LookupError as own:
        error = _refusal(password=PASSWORD, transport="smtp")
        caller_s = own
    assert caller_s.__traceback__ is not None
    assert error.__context__ is caller_s
    assert _holders(error, PASSWORD) == []


def test_the_constructor_keeps_its_signature_and_evolve_still_checks() -> None:
    import inspect

    assert list(inspect.signature(IpyySettings).parameters)[:3] == ["name", "account", "password"]
    made = settings()
    assert attrs.evolve(made, transport="json").transport == "json"
    with pytest.raises(ConfigurationError, match="transport"):
        attrs.evolve(made, transport="smtp")


def test_every_setting_has_a_row_in_the_provider_page() -> None:
    """docs/providers/ipyy.md's configuration table left max_mms_size out."""
    page = (Path(__file__).resolve().parents[3] / "docs" / "providers" / "ipyy.md").read_text(
        encoding="utf-8"
    )
    rows = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    assert [f.name for f in attrs.fields(IpyySettings) if f.name not in rows] == []
