"""End to end, both gateways, over a real loopback socket to the sandbox: logical templates
rendered by the ipyy provider on every transport and in batches, the checks a rendered text
gets before any request, routing between two ipyy accounts by the templates each knows, and
query_status declared unsupported."""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate.exceptions import UnsupportedOperationError, ValidationError
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    requests_of,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

TEMPLATES = {
    "verify": "您的验证码：{code}，五分钟内有效【腾飞】",
    "welcome": "{name}，欢迎注册【腾飞】",
    "unsigned": "验证码 {code}",
}
VERIFY = smsgate.Sms(to=MOBILES[0], template="verify", params={"code": "1439"}, reference="order-42")
SETTINGS: dict[str, dict[str, Any]] = {
    "form": {"transport": "form"},
    "gbk": {"transport": "gbk"},
    "json": {"transport": "json"},
    "encrypted": {"transport": "encrypted"},
    "soap": {"transport": "soap"},
}


def sent_content(entry: dict[str, Any]) -> str:
    """The text the sandbox decoded from a send (ensms.ashx carries it inside Text64)."""
    fields = entry["fields"]
    return str(fields["text64_json"]["text"] if "text64_json" in fields else fields["content"])


@pytest.mark.parametrize("transport", list(SETTINGS))
def test_a_template_is_rendered_and_sent_on_each_transport(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """The sandbox receives the template's text with the parameters filled in; the receipt
    carries the message's reference (ipyy has no field for it: the gateway keeps it)."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES, **SETTINGS[transport]))
    receipt = gateway.send(VERIFY)
    [entry] = requests_of(ipyy_sandbox_clean)
    assert sent_content(entry) == TEXT
    assert entry["outcome"]["code"] == "OK"
    assert receipt.task_id == entry["outcome"]["task_id"]
    assert receipt.reference == "order-42"


def test_a_batch_renders_each_message_its_own_way(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    batch = [
        VERIFY,
        smsgate.Sms(to=MOBILES[1], template="welcome", params={"name": "小王"}),
        smsgate.Sms(to="13700137000", text="纯文本消息【腾飞】"),
    ]
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES))
    gateway.send_batch(batch)
    [entry] = requests_of(ipyy_sandbox_clean, endpoint="BatchSms.ashx")
    assert [(line["mobile"], line["content"]) for line in entry["fields"]["lines"]] == [
        (MOBILES[0], TEXT),
        (MOBILES[1], "小王，欢迎注册【腾飞】"),
        ("13700137000", "纯文本消息【腾飞】"),
    ]


def test_a_rendered_text_gets_the_checks_of_any_text_before_any_request(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Signature, max_text_length and (gbk) characters are checked on the rendered text. They
    are rules of this account (another provider may send the message): routing finds them
    before any request and, ipyy being the gateway's only provider, nothing is sent: a
    ValidationError (bad input), as a direct send of it would be."""
    unsigned = smsgate.Sms(to=MOBILES[0], template="unsigned", params={"code": "1"})
    with pytest.raises(ValidationError, match="ipyy: the text needs a 【signature】"):
        flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES)).send(unsigned)
    long = smsgate.Sms(to=MOBILES[0], template="welcome", params={"name": "名" * 40})
    with pytest.raises(
        ValidationError, match=r"ipyy: the text has 49 characters, more than max_text_length \(40\)"
    ):
        flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES, max_text_length=40)).send(long)
    emoji = smsgate.Sms(to=MOBILES[0], template="welcome", params={"name": "😀"})
    with pytest.raises(ValidationError, match="cannot be sent with transport 'gbk'"):
        flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES, transport="gbk")).send(emoji)
    with pytest.raises(ValidationError, match="ipyy: the text needs a 【signature】"):
        flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES)).send_batch([unsigned])
    assert requests_of(ipyy_sandbox_clean) == []


def test_signature_append_applies_to_a_rendered_text(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    provider = ipyy(ipyy_sandbox_clean, templates=TEMPLATES, signature="append", default_signature="【腾飞】")
    flavour.gateway(provider).send(smsgate.Sms(to=MOBILES[0], template="unsigned", params={"code": "7"}))
    [entry] = requests_of(ipyy_sandbox_clean)
    assert sent_content(entry) == "验证码 7【腾飞】"


def test_a_template_one_account_lacks_is_sent_by_the_other(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Routing skips the account without the template before any request."""
    plain = ipyy(ipyy_sandbox_clean, "demo", name="plain", transport="form")
    templated = ipyy(ipyy_sandbox_clean, "push", name="templated", transport="json", templates=TEMPLATES)
    receipt = flavour.gateway([plain, templated]).send(VERIFY)
    assert receipt.provider == "templated"
    assert requests_of(ipyy_sandbox_clean, account="demo") == []
    [entry] = requests_of(ipyy_sandbox_clean, account="push")
    assert sent_content(entry) == TEXT


def test_a_message_no_account_can_render_names_each_reason(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    plain = ipyy(ipyy_sandbox_clean, "demo", name="plain")
    other = ipyy(ipyy_sandbox_clean, "push", name="other", templates={"welcome": TEMPLATES["welcome"]})
    short = smsgate.Sms(to=MOBILES[0], template="welcome")
    with pytest.raises(UnsupportedOperationError) as caught:
        flavour.gateway([plain, other]).send(short)
    assert "plain: renders no templates, and the message has no text" in str(caught.value)
    assert "other: template 'welcome' needs parameter 'name'" in str(caught.value)
    assert requests_of(ipyy_sandbox_clean) == []


def test_text_beside_an_unknown_template_is_sent_as_text(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    both = smsgate.Sms(to=MOBILES[0], text=TEXT, template="elsewhere", params={"code": "1"})
    flavour.gateway(ipyy(ipyy_sandbox_clean, templates=TEMPLATES)).send(both)
    [entry] = requests_of(ipyy_sandbox_clean)
    assert sent_content(entry) == TEXT


def test_query_status_is_declared_unsupported(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """The status pull drains what it returns, so ipyy offers no lookup (docs/providers/ipyy.md)."""
    provider = ipyy(ipyy_sandbox_clean, templates=TEMPLATES)
    assert not provider.capabilities.query_status
    gateway = flavour.gateway(provider)
    receipt = gateway.send(VERIFY)
    with pytest.raises(UnsupportedOperationError, match="cannot look messages up"):
        gateway.query_status(receipt)
    assert len(requests_of(ipyy_sandbox_clean)) == 1  # the send only
