"""ipyy's logical templates without a network: settings checks, cannot_render, rendering."""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate.exceptions import ConfigurationError
from smsgate_ipyy import IpyyProvider, IpyySettings

TO = "13800138000"
BASE: dict[str, Any] = {"account": "acct", "password": "pw-Secret-1", "base_url": "http://127.0.0.1:9/"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("code {}【腾飞】", "{}"),
        ("code {0}【腾飞】", "{0}"),
        ("code {user.name}【腾飞】", "{user.name}"),
        ("code {codes[0]}【腾飞】", "{codes[0]}"),
        ("code {code:{width}}【腾飞】", "{code}"),
        ("code {code:d}【腾飞】", "not for a string"),
        ("code {【腾飞】", "not a format string"),
        ("", "non-empty"),
    ],
)
def test_a_template_the_provider_could_not_fill_is_a_configuration_error(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match="templates") as caught:
        IpyySettings(**BASE, templates={"verify": text})
    assert says in str(caught.value)
    assert caught.value.provider == "ipyy"


@pytest.mark.parametrize(
    "templates", [{"verify-code": "x {code}"}, {"": "x"}, {7: "x"}, ["verify"], "verify"]
)
def test_template_names_and_the_table_itself_are_checked(templates: Any) -> None:
    with pytest.raises(ConfigurationError, match="templates"):
        IpyySettings(**BASE, templates=templates)


def test_the_table_is_read_only_and_templates_are_declared_only_when_configured() -> None:
    settings = IpyySettings(**BASE, templates={"verify": "code {code}【腾飞】"})
    with pytest.raises(TypeError):
        settings.templates["other"] = "x"  # type: ignore[index]
    assert hash(settings) == hash(IpyySettings(**BASE, templates={"verify": "other {code}【腾飞】"}))
    assert IpyyProvider(settings).capabilities.templates
    assert not IpyyProvider(**BASE).capabilities.templates
    provider = smsgate.get_provider("ipyy", **BASE, templates={"verify": "code {code}【腾飞】"})
    assert provider.capabilities.templates
    assert not provider.capabilities.query_status  # the status pull drains (docs/providers/ipyy.md)


def test_cannot_render_says_why() -> None:
    provider = IpyyProvider(**BASE, templates={"verify": "code {code} for {user}【腾飞】"})
    plain = IpyyProvider(**BASE)
    assert provider.cannot_render(smsgate.Sms(to=TO, template="welcome")) == "no template named 'welcome'"
    assert (
        provider.cannot_render(smsgate.Sms(to=TO, template="verify", params={"code": "1"}))
        == "template 'verify' needs parameter 'user'"
    )
    assert (
        provider.cannot_render(smsgate.Sms(to=TO, template="verify", params={"code": "1", "user": "u"}))
        is None
    )
    assert provider.cannot_render(smsgate.Sms(to=TO, template="welcome", text="hi【腾飞】")) is None
    assert provider.cannot_render(smsgate.Sms(to=TO, text="hi【腾飞】")) is None
    assert plain.cannot_render(smsgate.Sms(to=TO, template="verify")) == (
        "renders no templates, and the message has no text"
    )


def test_a_direct_send_of_a_message_it_cannot_render_fails_before_any_request() -> None:
    provider = IpyyProvider(**BASE, templates={"verify": "code {code}【腾飞】"})
    flow = provider.send(smsgate.Sms(to=TO, template="welcome"))
    with pytest.raises(smsgate.ValidationError, match="no template named 'welcome'"):
        next(flow)
