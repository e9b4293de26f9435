"""End to end, both gateways, over a real loopback socket to the sandbox under uvicorn: plain
sends on every transport, what the sandbox understood from them, balances going down, the GBK
check before I/O, and scheduled sends converted to China time and held until due."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import smsgate
from smsgate.exceptions import ValidationError
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    account_state,
    china_text,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    requests_of,
    sandbox_clock,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

# transport id -> (provider settings, endpoint the sandbox logs, how it read the password,
# the request encoding it logs)
TRANSPORTS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "form": ({"transport": "form"}, "sms.aspx", "md5", "urlencoded"),
    "gbk": ({"transport": "gbk"}, "smsGBK.aspx", "md5", "urlencoded"),
    "json": ({"transport": "json"}, "smsJson.aspx", "md5", "urlencoded"),
    "encrypted": ({"transport": "encrypted"}, "ensms.ashx", "plain", "urlencoded"),
    "soap11": ({"transport": "soap", "soap_version": 11}, "WebService.asmx", "plain", "soap1.1"),
    "soap12": ({"transport": "soap", "soap_version": 12}, "WebService.asmx", "plain", "soap1.2"),
}


def sent_content(entry: dict[str, Any]) -> str:
    """The text the sandbox decoded from a send (ensms.ashx carries it inside Text64)."""
    fields = entry["fields"]
    return fields["text64_json"]["text"] if "text64_json" in fields else fields["content"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_send_on_each_transport_is_understood_by_the_gateway_and_charged(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """The receipt matches what the sandbox accepted: its decoded mobiles, Chinese content and
    ext, its task id, and the balance it charged one unit per recipient."""
    settings, endpoint, password_style, encoding = TRANSPORTS[transport]
    before = account_state(ipyy_sandbox_clean)["sms_balance"]
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, **settings))

    receipt = gateway.send(smsgate.Sms(to=list(MOBILES), text=TEXT, ext="123"))

    [entry] = requests_of(ipyy_sandbox_clean)
    assert entry["endpoint"] == endpoint
    assert entry["encoding"] == encoding
    assert entry["password_style"] == password_style
    assert entry["fields"]["mobiles"] == list(MOBILES)
    assert sent_content(entry) == TEXT
    assert entry["outcome"]["code"] == "OK"
    after = account_state(ipyy_sandbox_clean)["sms_balance"]
    assert after == before - len(MOBILES)
    assert receipt.provider == "ipyy"
    assert receipt.task_id == entry["outcome"]["task_id"]
    assert receipt.accepted == len(MOBILES)
    assert receipt.recipients == MOBILES
    assert receipt.balance == after
    assert receipt.attempts == 1


@pytest.mark.parametrize("transport", ["form", "gbk", "json", "encrypted", "soap11"])
def test_ext_reaches_the_gateway_on_each_transport(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """The extension number is carried by every transport's own field."""
    settings = TRANSPORTS[transport][0]
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, **settings))
    gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT, ext="4567"))
    [entry] = requests_of(ipyy_sandbox_clean)
    fields = entry["fields"]
    assert (fields["text64_json"]["ext"] if "text64_json" in fields else fields["ext"]) == "4567"


def test_gbk_transport_carries_chinese_text_the_sandbox_decodes_as_gbk(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Characters outside ASCII survive the GBK form (the sandbox decodes smsGBK.aspx as GBK,
    so UTF-8 bytes would arrive garbled)."""
    text = "尊敬的客户：您的订单已发货，请注意查收。【腾飞】"
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport="gbk"))
    gateway.send(smsgate.Sms(to=MOBILES[0], text=text))
    [entry] = requests_of(ipyy_sandbox_clean, endpoint="smsGBK.aspx")
    assert entry["fields"]["content"] == text


def test_gbk_transport_refuses_a_character_gbk_cannot_carry_before_any_request(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """An emoji has no GBK code: a rule of this transport (another provider may send it), so
    routing skips ipyy before any request, with the reason; ipyy being the only provider, it is
    a ValidationError (bad input, nothing sent) naming the character, and the sandbox saw nothing."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport="gbk"))
    with pytest.raises(ValidationError) as caught:
        gateway.send(smsgate.Sms(to=MOBILES[0], text="好消息😀【腾飞】"))
    assert "ipyy: character '😀' (U+1F600) at position 3 cannot be sent with transport 'gbk'" in str(
        caught.value
    )
    assert ipyy_sandbox_clean.requests() == []
    assert account_state(ipyy_sandbox_clean)["sms_sent"] == 0


# --- scheduled sends ---------------------------------------------------------------------------

# A zone far from China's, so a missing conversion cannot pass by accident.
NEW_YORK_WINTER = dt.timezone(dt.timedelta(hours=-5))


@pytest.mark.parametrize("transport", ["form", "gbk", "json", "encrypted", "soap11", "soap12"])
def test_scheduled_send_goes_out_in_china_time_and_reports_only_after_it(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """send_at (here in UTC-5) reaches the gateway as China time; the sandbox holds the
    message, so no report can be pulled before that time, and one is after it."""
    settings = TRANSPORTS[transport][0]
    send_at = (dt.datetime.now(NEW_YORK_WINTER) + dt.timedelta(days=1)).replace(microsecond=0)
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, **settings))

    receipt = gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT, send_at=send_at))

    [entry] = requests_of(ipyy_sandbox_clean)
    fields = entry["fields"]
    send_time = fields["text64_json"]["sendtime"] if "text64_json" in fields else fields["send_time"]
    assert send_time == china_text(send_at)
    # SOAP has no pull operations: pulls go to the XML endpoints whatever the send transport.
    assert gateway.fetch_reports() == []
    assert ipyy_sandbox_clean.state.pending_count() == 1

    with sandbox_clock(ipyy_sandbox_clean, lambda: send_at + dt.timedelta(seconds=1)):
        [report] = gateway.fetch_reports()
    assert report.task_id == receipt.task_id
    assert report.mobile == MOBILES[0]
    assert report.status is smsgate.DeliveryStatus.DELIVERED
    assert report.received_at == send_at  # the same instant, read back from China time
    assert report.received_at is not None
    assert report.received_at.utcoffset() == dt.timedelta(hours=8)


def test_flushing_the_sandbox_releases_a_scheduled_send_report(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The admin flush makes a held scheduled send's report due at once."""
    send_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport="json"))
    receipt = gateway.send(smsgate.Sms(to=MOBILES[1], text=TEXT, send_at=send_at))
    assert gateway.fetch_reports() == []
    assert ipyy_sandbox_clean.state.flush_reports() == 1
    [report] = gateway.fetch_reports()
    assert (report.task_id, report.mobile) == (receipt.task_id, MOBILES[1])


def test_send_at_in_the_past_is_refused_before_any_request(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """A send_at that is not in the future is a ValidationError; nothing reaches the sandbox."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    with pytest.raises(ValidationError):
        gateway.send(
            smsgate.Sms(to=MOBILES[0], text=TEXT, send_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    assert ipyy_sandbox_clean.requests() == []
