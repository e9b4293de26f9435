"""smsgate.settings: the converters and validators every provider's settings class shares."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from smsgate import settings
from smsgate.exceptions import ConfigurationError


@attrs.frozen(kw_only=True)
class AcmeSettings:
    """A provider's settings built from the shared pieces, as docs/plugins.md shows."""

    name: str = attrs.field(default="acme", validator=settings.check_name)
    base_url: str = attrs.field(
        default="https://api.acme.example/",
        converter=settings.to_base_url,
        validator=settings.check_base_url("the account token"),
    )
    timeout: float | None = attrs.field(
        default=10.0, converter=settings.to_seconds, validator=settings.check_timeout
    )
    allow_insecure_http: bool = attrs.field(default=False, converter=bool)


def _refusal(**values: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        AcmeSettings(**values)
    return caught.value


def test_defaults_and_conversions() -> None:
    """A base URL loses its query and fragment and ends in '/'; a whole number of seconds is a float."""
    assert AcmeSettings().base_url == "https://api.acme.example/"
    converted = AcmeSettings(base_url="https://api.acme.example/v1?x=1#top", timeout=5)
    assert converted.base_url == "https://api.acme.example/v1/"
    assert converted.timeout == 5.0
    assert isinstance(converted.timeout, float)
    assert AcmeSettings(timeout=None).timeout is None


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_bad_name_is_refused_naming_the_default_provider(name: object) -> None:
    error = _refusal(name=name)
    assert str(error) == "[acme] name must be a non-empty string"
    assert error.provider == "acme"


@pytest.mark.parametrize("timeout", [0, -1.5, "10", True, float("nan"), float("inf"), 10**400])
def test_a_bad_timeout_is_refused_naming_the_provider(timeout: object) -> None:
    error = _refusal(name="acme-2", timeout=timeout)
    assert "timeout must be a positive number of seconds" in str(error)
    assert error.provider == "acme-2"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url at all\x00", "base_url is not a valid URL"),
        ("ftp://api.acme.example/", "base_url must be an http:// or https:// URL with a host"),
        ("https://user:secret@api.acme.example/", "base_url must not carry user:password"),
        (
            "http://api.acme.example/",
            "base_url uses plain http to api.acme.example; the account token would travel "
            "unencrypted. Use https, or pass allow_insecure_http=True",
        ),
        ("http://app.localhost/", "base_url uses plain http to app.localhost"),
    ],
)
def test_a_bad_base_url_is_refused_without_its_secret(url: str, message: str) -> None:
    error = _refusal(base_url=url)
    assert message in str(error)
    assert "secret" not in str(error)
    assert error.provider == "acme"


def test_plain_http_to_loopback_or_when_allowed() -> None:
    assert AcmeSettings(base_url="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080/"
    assert AcmeSettings(base_url="http://[::1]/").base_url == "http://[::1]/"
    allowed = AcmeSettings(base_url="http://api.acme.example/", allow_insecure_http=True)
    assert allowed.base_url == "http://api.acme.example/"


def test_error_names_the_instance_else_the_class_default() -> None:
    assert settings.error(AcmeSettings(name="acme-eu"), "x").provider == "acme-eu"

    class Bare:
        name = ""

    assert settings.error(Bare(), "x").provider is None
    bad = object.__new__(AcmeSettings)
    object.__setattr__(bad, "name", "")
    assert settings.error(bad, "x").provider == "acme"


@settings.secret_fields("token")
@attrs.define(slots=False)
class _TokenSettings:
    """Positional, not frozen, not slotted: the decorator serves any attrs class."""

    token: str = attrs.field(repr=False)
    timeout: float | None = attrs.field(default=10.0, converter=settings.to_seconds)

    @timeout.validator
    def _check(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        settings.check_timeout(self, attribute, value)


TOKEN = "Acme-Token-Value-9"


def _token_refusal(*args: Any, **kwargs: Any) -> BaseException:
    try:
        _TokenSettings(*args, **kwargs)
    except BaseException as error:  # whatever escapes the constructor
        del args, kwargs
        return error
    raise AssertionError("accepted")


@pytest.mark.parametrize("how", ["positional", "keyword"])
def test_secret_fields_leave_the_secret_in_no_frame_and_not_on_the_half_built_object(how: str) -> None:
    from smsgate.testing import frames_with_secrets

    error = (
        _token_refusal(TOKEN, "soon") if how == "positional" else _token_refusal(token=TOKEN, timeout="soon")
    )
    assert isinstance(error, ConfigurationError)
    assert "timeout" in str(error)
    assert frames_with_secrets(error, [TOKEN]) == []
    tb = error.__traceback__
    held = []
    while tb is not None:
        held += [vars(v) for v in tb.tb_frame.f_locals.values() if isinstance(v, _TokenSettings)]
        tb = tb.tb_next
    assert held == [{"timeout": "soon"}]  # the decorated constructor's half-built self, cleaned


def test_secret_fields_keep_the_signature_and_what_is_built() -> None:
    import inspect

    parameters = inspect.signature(_TokenSettings).parameters.values()
    assert [(p.name, p.kind.name, p.default) for p in parameters] == [
        ("token", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        ("timeout", "POSITIONAL_OR_KEYWORD", 10.0),
    ]
    built = _TokenSettings(TOKEN, timeout=5)
    assert (built.token, built.timeout) == (TOKEN, 5.0)
    assert attrs.evolve(built, timeout=1).token == TOKEN
