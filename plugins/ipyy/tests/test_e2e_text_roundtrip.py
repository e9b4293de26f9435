"""Property tests across the two independent implementations, over a real socket: any text
the client accepts arrives at the sandbox exactly as written, on every send transport, and any
inbound text the sandbox holds is pulled back exactly, from the XML and the JSON pull.

The client encodes (form percent-escapes, GBK, the DES-encrypted JSON of ensms.ashx, a SOAP
envelope, a compressed batch) and the sandbox decodes with its own code, so characters that
need escaping somewhere (``+ & % = " < > ' \\``, full-width punctuation, emoji, combining
marks) are where a disagreement would show.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smsgate
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import MOBILES, ipyy

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

SIGNATURE = "【测试】"
TRANSPORTS: dict[str, dict[str, Any]] = {
    "form": {"transport": "form"},
    "gbk": {"transport": "gbk"},
    "json": {"transport": "json"},
    "encrypted": {"transport": "encrypted"},
    "soap11": {"transport": "soap", "soap_version": 11},
    "soap12": {"transport": "soap", "soap_version": 12},
}

# Printable text: no control characters (XML 1.0 cannot carry most of them), no lone
# surrogates, no unassigned code points. Punctuation that every encoding layer escapes is
# drawn often on purpose.
_TRICKY = st.sampled_from([*"+&%=\"'<>\\/?#;,：，。【】 ", "\u00a0", "é", "😀", "e\u0301"])
_ANY = st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co"))
TEXTS = st.lists(st.one_of(_TRICKY, _ANY), min_size=1, max_size=60).map("".join)


def _is_gbk(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _decoded_content(entry: dict[str, Any]) -> str:
    fields = entry["fields"]
    return fields["text64_json"]["text"] if "text64_json" in fields else fields["content"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=TEXTS)
def test_any_accepted_text_reaches_the_gateway_unchanged(
    ipyy_sandbox: Sandbox, transport: str, body: str
) -> None:
    text = body + SIGNATURE
    if not text.strip("\u3000 \t") or (transport == "gbk" and not _is_gbk(text)):
        return  # the client refuses these before any I/O; other tests cover that
    provider = ipyy(ipyy_sandbox, **TRANSPORTS[transport])
    with smsgate.Gateway(provider) as gateway:
        receipt = gateway.send(smsgate.Sms(to=MOBILES[0], text=text))
    [entry] = [e for e in ipyy_sandbox.requests() if e["outcome"].get("task_id") == receipt.task_id]
    assert _decoded_content(entry) == text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(TEXTS.filter(lambda t: "\r" not in t and "\n" not in t), min_size=1, max_size=4))
def test_any_accepted_batch_text_reaches_the_gateway_unchanged(
    ipyy_sandbox: Sandbox, bodies: list[str]
) -> None:
    """BatchSms.ashx lines are ``mobile,content`` (spec 1.6.2): commas and every other
    character in the content survive compression, base64 and the form encoding."""
    texts = [body + SIGNATURE for body in bodies]
    numbers = [f"1390013{index:04d}" for index in range(len(texts))]
    provider = ipyy(ipyy_sandbox)
    with smsgate.Gateway(provider) as gateway:
        [receipt] = gateway.send_batch(
            [smsgate.Sms(to=number, text=text) for number, text in zip(numbers, texts, strict=True)]
        )
    [entry] = [e for e in ipyy_sandbox.requests() if e["outcome"].get("task_id") == receipt.task_id]
    assert entry["fields"]["lines"] == [
        {"mobile": number, "content": text} for number, text in zip(numbers, texts, strict=True)
    ]


@pytest.mark.parametrize("transport", ["form", "json"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS)
def test_any_inbound_text_is_pulled_unchanged(ipyy_sandbox: Sandbox, transport: str, text: str) -> None:
    """The other direction: what a handset sent comes back exactly, from the XML pull
    (callApi.aspx) and from the JSON pull (callJsonApi.aspx)."""
    provider = ipyy(ipyy_sandbox, transport=transport)
    with smsgate.Gateway(provider) as gateway:
        gateway.fetch_inbound()  # drain anything an earlier example left
        ipyy_sandbox.inject_inbound(MOBILES[0], text)
        [message] = gateway.fetch_inbound()
    assert message.text == text
