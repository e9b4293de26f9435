"""End to end, both gateways, over a real loopback socket: delivery-report pulls (XML and JSON)
with ``limit`` and ``task_id`` draining and failed outcomes, and inbound pulls after injecting
mobile-originated messages into the sandbox."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

import smsgate
from smsgate import DeliveryStatus
from smsgate_ipyy._crypto import CHINA
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    TEXT,
    Flavour,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    report_outcomes,
    requests_of,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

DELIVERED, FAILS, ALSO_FAILS = "13800138000", "13800138004", "13900139004"
# transport -> (report pull endpoint, inbound pull endpoint)
PULLS = {"form": ("statusApi.aspx", "callApi.aspx"), "json": ("statusJsonApi.aspx", "callJsonApi.aspx")}


def assert_recent_china_time(moment: dt.datetime | None) -> None:
    """An aware datetime in China time (UTC+8), close to now."""
    assert moment is not None
    assert moment.utcoffset() == dt.timedelta(hours=8)
    assert abs(moment - dt.datetime.now(CHINA)) < dt.timedelta(minutes=1)


@pytest.mark.parametrize("transport", list(PULLS))
def test_report_pulls_drain_by_limit_and_task_id_and_map_delivered_and_failed(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """``limit`` goes out as statusNum and caps the pull; ``task_id`` takes only that task's
    reports and leaves the others queued; what was pulled is gone; DELIVRD is DELIVERED and
    the configured failure code is FAILED, with aware China-time datetimes."""
    endpoint = PULLS[transport][0]
    with report_outcomes(ipyy_sandbox_clean, {"4": "MY:0001"}):
        gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport=transport))
        first = gateway.send(smsgate.Sms(to=[DELIVERED, FAILS], text=TEXT))
        second = gateway.send(smsgate.Sms(to=ALSO_FAILS, text=TEXT))

        [oldest] = gateway.fetch_reports(limit=1)
        [of_second] = gateway.fetch_reports(task_id=second.task_id)
        [last] = gateway.fetch_reports()
        assert gateway.fetch_reports() == []
        pulls = requests_of(ipyy_sandbox_clean, endpoint=endpoint)
    assert [(e["fields"]["status_num"], e["fields"]["task_id"], e["fields"]["returned"]) for e in pulls] == [
        ("1", "", 1),
        ("", second.task_id, 1),
        ("", "", 1),
        ("", "", 0),
    ]
    assert (oldest.task_id, oldest.mobile, oldest.status, oldest.vendor_code) == (
        first.task_id,
        DELIVERED,
        DeliveryStatus.DELIVERED,
        "DELIVRD",
    )
    assert (of_second.task_id, of_second.mobile, of_second.status, of_second.vendor_code) == (
        second.task_id,
        ALSO_FAILS,
        DeliveryStatus.FAILED,
        "MY:0001",
    )
    assert (last.task_id, last.mobile, last.status, last.vendor_code) == (
        first.task_id,
        FAILS,
        DeliveryStatus.FAILED,
        "MY:0001",
    )
    for report in (oldest, of_second, last):
        assert report.provider == "ipyy"
        assert_recent_china_time(report.received_at)


@pytest.mark.parametrize("transport", list(PULLS))
def test_inbound_pulls_return_injected_messages_exactly_once(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """Messages injected through the Python helper and the admin HTTP API come back from the
    inbound pull with their text kept exactly, their ext and an aware China time; a second
    pull is empty (pulls are destructive)."""
    endpoint = PULLS[transport][1]
    ipyy_sandbox_clean.inject_inbound(DELIVERED, "TD 退订", ext="12")
    with httpx.Client(base_url=ipyy_sandbox_clean.base_url) as admin:
        admin.post(
            "/_sandbox/inbound",
            json={"account": "demo", "mobile": FAILS, "text": " 好的，明天见 ", "ext": ""},
        ).raise_for_status()
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport=transport))

    first, second = gateway.fetch_inbound()
    assert gateway.fetch_inbound() == []

    assert (first.mobile, first.text, first.ext) == (DELIVERED, "TD 退订", "12")
    assert (second.mobile, second.text) == (FAILS, " 好的，明天见 ")
    assert second.ext in (None, "")
    for message in (first, second):
        assert message.provider == "ipyy"
        assert_recent_china_time(message.received_at)
    assert [e["fields"]["returned"] for e in requests_of(ipyy_sandbox_clean, endpoint=endpoint)] == [2, 0]


def test_inbound_of_another_account_is_not_pulled(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """A pull returns only the account's own inbound messages."""
    ipyy_sandbox_clean.inject_inbound(DELIVERED, "给另一个账号", account="push")
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    assert gateway.fetch_inbound() == []
    [message] = flavour.gateway(ipyy(ipyy_sandbox_clean, "push")).fetch_inbound()
    assert message.text == "给另一个账号"
