"""End to end, both gateways, over a real loopback socket: personalised batches (BatchSms.ashx)
split on a repeated mobile, every compression setting, CR/LF policy; MMS with several TMS
parts; SMS and MMS balances on each transport family."""

from __future__ import annotations

import pytest

import smsgate
from smsgate.exceptions import ValidationError
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    account_state,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    requests_of,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

A, B, C = "13800138000", "13900139000", "13700137000"


def batch_lines(sandbox: Sandbox) -> list[list[tuple[str, str]]]:
    """(mobile, content) lines of each BatchSms.ashx request the sandbox accepted, in order."""
    return [
        [(line["mobile"], line["content"]) for line in entry["fields"]["lines"]]
        for entry in requests_of(sandbox, endpoint="BatchSms.ashx")
    ]


def test_batch_splits_on_a_repeated_mobile_keeping_order_with_one_receipt_per_request(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """A repeated number starts a new request (spec 1.6.2); lines keep their order, each request
    gets its own task id and receipt, and the balance is charged per line."""
    before = account_state(ipyy_sandbox_clean)["sms_balance"]
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    messages = [
        smsgate.Sms(to=[A, B], text="张先生，您的包裹已到【腾飞】"),
        smsgate.Sms(to=A, text="张先生，第二件也到了【腾飞】"),
        smsgate.Sms(to=C, text="李女士，您的包裹已到【腾飞】"),
        smsgate.Sms(to=A, text="张先生，第三件【腾飞】"),
    ]

    receipts = gateway.send_batch(messages)

    assert batch_lines(ipyy_sandbox_clean) == [
        [(A, messages[0].text), (B, messages[0].text)],
        [(A, messages[1].text), (C, messages[2].text)],
        [(A, messages[3].text)],
    ]
    accepted = requests_of(ipyy_sandbox_clean, endpoint="BatchSms.ashx")
    assert [r.task_id for r in receipts] == [entry["outcome"]["task_id"] for entry in accepted]
    assert len({r.task_id for r in receipts}) == 3
    assert [r.recipients for r in receipts] == [(A, B), (A, C), (A,)]
    assert [r.accepted for r in receipts] == [2, 2, 1]
    assert all(r.provider == "ipyy" for r in receipts)
    assert account_state(ipyy_sandbox_clean)["sms_balance"] == before - 5


@pytest.mark.parametrize("compression", ["gzip", "zip", "zlib"])
def test_each_batch_compression_is_accepted_by_the_sandbox(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, compression: str
) -> None:
    """Every batch_compression setting arrives as that compression and is decoded intact."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, batch_compression=compression))
    [receipt] = gateway.send_batch([smsgate.Sms(to=A, text=TEXT), smsgate.Sms(to=B, text="另一条【腾飞】")])
    [entry] = requests_of(ipyy_sandbox_clean, endpoint="BatchSms.ashx")
    assert entry["fields"]["compression"] == compression
    assert entry["fields"]["lines"] == [
        {"mobile": A, "content": TEXT},
        {"mobile": B, "content": "另一条【腾飞】"},
    ]
    assert receipt.accepted == 2


def test_batch_line_breaks_become_one_space_with_the_space_policy(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """batch_newlines="space": each run of CR/LF is one space, and the line stays one message."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, batch_newlines="space"))
    gateway.send_batch([smsgate.Sms(to=A, text="第一行\r\n第二行\n\n第三行【腾飞】")])
    assert batch_lines(ipyy_sandbox_clean) == [[(A, "第一行 第二行 第三行【腾飞】")]]


def test_batch_line_breaks_are_refused_by_default_naming_the_message_and_nothing_is_sent(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The default policy rejects a CR/LF before any request, naming the message index."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    with pytest.raises(ValidationError, match="message 2 of the batch"):
        gateway.send_batch([smsgate.Sms(to=A, text=TEXT), smsgate.Sms(to=B, text="两行\n内容【腾飞】")])
    assert ipyy_sandbox_clean.requests() == []


# --- MMS --------------------------------------------------------------------------------------

PARTS = [
    smsgate.MmsPart(name="1.smil", data=b'<smil><body><par dur="5s"><img src="1.jpg"/></par></body></smil>'),
    smsgate.MmsPart(name="1.txt", data="您的电子发票已开具".encode("gb2312")),
    smsgate.MmsPart(name="1.jpg", data=bytes(range(256)) * 8),
]


def test_mms_with_several_parts_arrives_as_tms_and_charges_the_mms_balance(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Every part is unpacked by the sandbox with its name and size; the MMS balance (not the
    SMS one) goes down per recipient, as the MMS balance query shows."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    before = gateway.balance("mms")
    sms_before = account_state(ipyy_sandbox_clean)["sms_balance"]

    receipt = gateway.send_mms(smsgate.Mms(to=list(MOBILES), subject="电子发票", parts=PARTS, ext="88"))

    [entry] = [e for e in requests_of(ipyy_sandbox_clean, endpoint="mms.aspx") if e["action"] == "send"]
    assert entry["fields"]["parts"] == [{"name": p.name, "size": len(p.data)} for p in PARTS]
    assert entry["fields"]["subject"] == "电子发票"
    assert entry["fields"]["mobiles"] == list(MOBILES)
    assert entry["fields"]["ext"] == "88"
    assert receipt.task_id == entry["outcome"]["task_id"]
    assert receipt.accepted == 2
    after = gateway.balance("mms")
    assert after.kind == "mms"
    assert after.remaining == before.remaining - 2 == receipt.balance
    assert account_state(ipyy_sandbox_clean)["sms_balance"] == sms_before


def test_mms_without_a_subject_is_refused_before_any_request(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The gateway would answer 3001 SubjectEmpty: the provider refuses first, nothing is sent."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean))
    with pytest.raises(ValidationError) as caught:
        gateway.send_mms(smsgate.Mms(to=A, parts=PARTS))
    assert caught.value.field == "subject"
    assert ipyy_sandbox_clean.requests() == []


# --- balances ---------------------------------------------------------------------------------

FAMILIES = {"form": "sms.aspx", "gbk": "smsGBK.aspx", "json": "smsJson.aspx"}


@pytest.mark.parametrize("transport", list(FAMILIES))
def test_sms_and_mms_balance_on_each_transport_family_match_the_sandbox_accounts(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, transport: str
) -> None:
    """SMS balance is asked on the transport's own endpoint and MMS balance on mms.aspx; both
    report what the sandbox holds (remaining, pay mode, total recharged) and follow a send."""
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, transport=transport))
    state = account_state(ipyy_sandbox_clean)

    sms = gateway.balance()
    mms = gateway.balance("mms")

    assert (sms.kind, sms.remaining, sms.pay_mode, sms.total) == (
        "sms",
        state["sms_balance"],
        "预付",
        1_000_000,
    )
    assert (mms.kind, mms.remaining, mms.pay_mode, mms.total) == (
        "mms",
        state["mms_balance"],
        "预付",
        100_000,
    )
    assert [(e["endpoint"], e["action"]) for e in requests_of(ipyy_sandbox_clean)] == [
        (FAMILIES[transport], "overage"),
        ("mms.aspx", "overage"),
    ]
    gateway.send(smsgate.Sms(to=list(MOBILES), text=TEXT))
    assert gateway.balance().remaining == sms.remaining - 2
    assert gateway.balance("mms").remaining == mms.remaining
