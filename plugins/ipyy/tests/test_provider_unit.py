"""IpyyProvider through the real drivers over ``httpx.MockTransport``: configuration,
validation before I/O, every operation on every transport (sync and async), chunking,
batch splitting, partial failures, error mapping, and secrets kept out of sight."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import DeliveryStatus, Mms, MmsPart, Receipt, Sms
from smsgate.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ContentError,
    InsufficientBalanceError,
    MalformedReplyError,
    MessageRejectedError,
    NotSentError,
    PartialBatchError,
    ProviderError,
    ProviderOutageError,
    RateLimitedError,
    SignatureError,
    SmsGateError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate.testing.conformance import ProviderConformance
from smsgate_ipyy._crypto import CHINA, des_decrypt, md5_upper, secret
from smsgate_ipyy._tms import unpack

from .wire_support import decompress

TEXT = "您的验证码：1439【腾飞】"
M1, M2, M3, M4, M5 = "13800138000", "13800138001", "13800138002", "13800138003", "13800138004"

BALANCE_OK = (
    '<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Sucess</returnstatus>'
    "<message>操作成功</message><payinfo>预付</payinfo><overage>4</overage><sendTotal>146</sendTotal></returnsms>"
).encode()
SOAP_OK = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    '<soap:Body><SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult><PayType>0</PayType>'
    "<StatusCode>{code}</StatusCode><Description>操作成功</Description><MsgId>{msg}</MsgId>"
    "<SuccessCounts>{count}</SuccessCounts><BillingCount>1</BillingCount><Amount>-11</Amount><Balance>0</Balance>"
    "<BillingAmount>0</BillingAmount><Errors /></SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"
)


@pytest.fixture(params=["sync", "async"])
def drive(request: pytest.FixtureRequest, h: Any) -> Any:
    """Run a flow over scripted replies with the sync or the async driver."""

    async def run(flow: Any, *replies: Any, **options: Any) -> tuple[Any, Any]:
        if request.param == "sync":
            return h.run(flow, *replies, **options)
        return await h.arun(flow, *replies, **options)

    return run


# --- configuration ---------------------------------------------------------------------------


def test_repr_shows_name_account_host_and_transport_only(h: Any) -> None:
    provider = h.provider(transport="json", base_url="https://sh2.ipyy.com/")
    text = repr(provider)
    assert text == "<IpyyProvider name='ipyy' account='acct' host='sh2.ipyy.com' transport='json'>"
    for secret_text in (h.PASSWORD, md5_upper(h.PASSWORD)):
        assert secret_text not in text
        assert secret_text not in str(vars(provider))


def test_capabilities_declare_every_operation_and_configured_limits(h: Any) -> None:
    caps = h.provider(max_recipients=50, batch_max_messages=200).capabilities
    assert caps.send
    assert caps.batch
    assert caps.mms
    assert caps.balance
    assert caps.report_pull
    assert caps.inbound_pull
    assert caps.callbacks
    assert caps.scheduling
    assert caps.change_password
    assert caps.balance_kinds == frozenset({"sms", "mms"})
    assert (caps.max_recipients, caps.max_batch) == (50, 200)


@pytest.mark.parametrize(
    "config",
    [
        {"account": ""},
        {"password": ""},
        {"password": None},
        {"transport": "smtp"},
        {"signature": "maybe"},
        {"signature": "append"},
        {"signature": "append", "default_signature": "腾飞"},
        {"batch_compression": "bz2"},
        {"batch_newlines": "escape"},
        {"mobile_pattern": "("},
        {"max_recipients": 0},
        {"batch_max_messages": -1},
        {"batch_max_bytes": 1.5},
        {"timeout": 0},
        {"timeout": "10"},
        {"base_url": "ftp://dx.ipyy.net/"},
        {"base_url": "https://user:pw@dx.ipyy.net/"},
        {"base_url": "http://dx.ipyy.net:8080/"},
        {"transport": "encrypted", "userid": ""},
        {"transport": "encrypted", "userid": "abc"},
        {"soap_version": 13},
        {"clock": "now"},
        {"name": ""},
    ],
)
def test_invalid_configuration_is_a_configuration_error(h: Any, config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        h.provider(**config)
    assert h.PASSWORD not in str(info.value)


def test_unknown_setting_names_the_key_but_not_the_value(h: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        h.provider(passwrod="hunter2-value")
    assert "passwrod" in str(info.value)
    assert "hunter2-value" not in str(info.value)


@pytest.mark.parametrize(
    ("base_url", "allow"),
    [
        ("http://127.0.0.1:8080", False),
        ("http://localhost:9000/", False),
        ("http://[::1]:9000/", False),
        ("http://dx.ipyy.net:8080/", True),
        ("https://114.113.154.5/", False),
    ],
)
def test_plain_http_only_to_loopback_unless_allowed(h: Any, base_url: str, allow: bool) -> None:
    provider = h.provider(base_url=base_url, allow_insecure_http=allow)
    assert provider.base_url.endswith("/")


def test_base_url_path_prefix_is_kept(h: Any) -> None:
    provider = h.provider(base_url="http://127.0.0.1:8080/gw")
    _, script = h.run(provider.balance(), BALANCE_OK)
    assert str(script.requests[0].url) == "http://127.0.0.1:8080/gw/sms.aspx"


# --- validation before I/O ---------------------------------------------------------------------


def _expect_invalid(flow: Any, client: httpx.Client, *fragments: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        smsgate.run_flow(flow, client)
    for fragment in fragments:
        assert fragment in str(info.value)
    return info.value


def test_non_mainland_number_is_refused_before_io(h: Any, no_io: httpx.Client) -> None:
    err = _expect_invalid(h.provider().send(Sms(to=["23800138000"], text=TEXT)), no_io, "238****8000")
    assert err.field == "to"


def test_configurable_pattern_accepts_other_numbers(h: Any) -> None:
    provider = h.provider(mobile_pattern=r"[0-9]{8,15}")
    _receipt, script = h.run(provider.send(Sms(to="85291234567", text=TEXT)), h.send_ok())
    assert h.form(script.requests[0])["mobile"] == "85291234567"


def test_leading_86_is_normalised_off(h: Any) -> None:
    provider = h.provider()
    receipt, script = h.run(
        provider.send(Sms(to=["+8613800138000", "8613800138001"], text=TEXT)), h.send_ok()
    )
    assert h.form(script.requests[0])["mobile"] == f"{M1},{M2}"
    assert receipt.recipients == (M1, M2)


def test_same_number_with_and_without_prefix_is_a_duplicate(h: Any, no_io: httpx.Client) -> None:
    _expect_invalid(h.provider().send(Sms(to=[M1, "+86" + M1], text=TEXT)), no_io, "twice")


def test_ext_longer_than_five_digits_is_refused(h: Any, no_io: httpx.Client) -> None:
    err = _expect_invalid(h.provider().send(Sms(to=M1, text=TEXT, ext="123456")), no_io, "5 digits")
    assert err.field == "ext"


def test_send_at_in_the_past_is_refused(h: Any, no_io: httpx.Client) -> None:
    past = h.NOW - dt.timedelta(seconds=1)
    _expect_invalid(h.provider().send(Sms(to=M1, text=TEXT, send_at=past)), no_io, "future")


def test_missing_signature_is_refused_in_require_mode(h: Any, no_io: httpx.Client) -> None:
    err = _expect_invalid(h.provider().send(Sms(to=M1, text="no signature")), no_io, "【signature】")
    assert err.field == "text"


def test_gbk_transport_names_the_unencodable_character_and_position(h: Any, no_io: httpx.Client) -> None:
    _expect_invalid(
        h.provider(transport="gbk").send(Sms(to=M1, text="ok😀【腾飞】")), no_io, "U+1F600", "position 2"
    )


def test_mms_without_subject_is_refused(h: Any, no_io: httpx.Client) -> None:
    mms = Mms(to=M1, subject=" ", parts=[MmsPart(name="1.txt", data=b"x")])
    _expect_invalid(h.provider().send_mms(mms), no_io, "subject")


def test_mms_part_name_must_be_ascii(h: Any, no_io: httpx.Client) -> None:
    mms = Mms(to=M1, subject="s", parts=[MmsPart(name="图片.jpg", data=b"x")])
    _expect_invalid(h.provider().send_mms(mms), no_io, "ASCII")


@pytest.mark.parametrize("new", ["", "x" * 21])
def test_new_password_must_have_1_to_20_characters(h: Any, no_io: httpx.Client, new: str) -> None:
    _expect_invalid(h.provider().change_password(new), no_io, "1 to 20")


def test_balance_kind_must_be_sms_or_mms(h: Any, no_io: httpx.Client) -> None:
    _expect_invalid(h.provider().balance("fax"), no_io, "fax")


@pytest.mark.parametrize("limit", [0, -5, True])
def test_report_limit_must_be_positive(h: Any, no_io: httpx.Client, limit: Any) -> None:
    _expect_invalid(h.provider().fetch_reports(limit=limit), no_io, "limit")


def test_batch_line_break_is_refused_naming_the_message(h: Any, no_io: httpx.Client) -> None:
    messages = [Sms(to=M1, text=TEXT), Sms(to=M2, text="line1\r\nline2【腾飞】")]
    err = _expect_invalid(h.provider().send_batch(messages), no_io, "message 2 of the batch", "line break")
    assert err.field == "text"


def test_batch_bad_number_names_the_message(h: Any, no_io: httpx.Client) -> None:
    messages = [Sms(to=M1, text=TEXT), Sms(to=M2, text=TEXT), Sms(to="999", text=TEXT)]
    _expect_invalid(h.provider().send_batch(messages), no_io, "message 3 of the batch")


def test_batch_line_larger_than_the_byte_limit_is_refused(h: Any, no_io: httpx.Client) -> None:
    _expect_invalid(
        h.provider(batch_max_bytes=20).send_batch([Sms(to=M1, text=TEXT)]), no_io, "batch_max_bytes"
    )


def test_naive_clock_is_a_configuration_error_before_io(h: Any, no_io: httpx.Client) -> None:
    provider = h.provider(clock=lambda: dt.datetime(2026, 1, 1), transport="encrypted", userid="1")
    with pytest.raises(ConfigurationError, match="aware"):
        smsgate.run_flow(provider.send(Sms(to=M1, text=TEXT)), no_io)


@pytest.mark.parametrize("transport", ["form", "json", "encrypted", "gbk"])
def test_lone_surrogate_in_text_is_a_validation_error_before_io(
    h: Any, no_io: httpx.Client, transport: str
) -> None:
    provider = h.provider(transport=transport, userid="1")
    with pytest.raises(ValidationError) as info:
        smsgate.run_flow(
            provider.send(Sms(to=M1, text="bad \ud800【腾飞】")), no_io, provider="ipyy", operation="send"
        )
    assert (info.value.provider, info.value.operation) == ("ipyy", "send")


def test_lone_surrogate_in_a_batch_text_is_a_validation_error_naming_the_message(
    h: Any, no_io: httpx.Client
) -> None:
    """The batch lines go out as UTF-8 (spec 1.6.2): an unencodable text is refused before I/O
    with the message index, not a bare UnicodeEncodeError."""
    messages = [Sms(to=M1, text=TEXT), Sms(to=M2, text="bad \ud800【腾飞】")]
    err = _expect_invalid(h.provider().send_batch(messages), no_io, "message 2 of the batch")
    assert err.field == "text"


def test_password_utf8_cannot_carry_is_a_configuration_error_without_the_password(h: Any) -> None:
    """Not a bare UnicodeEncodeError, whose text would quote a character of the password."""
    with pytest.raises(ConfigurationError) as info:
        h.provider(password="pw\udc9fX")
    assert "password" in str(info.value)
    assert "udc9f" not in str(info.value).lower()
    assert info.value.__cause__ is None


def test_gbk_unencodable_account_names_the_field_not_the_value(h: Any) -> None:
    """Refused with the settings (a request builder failing on it would hold the password MD5
    in its frame's locals); the error names the setting, not the value."""
    with pytest.raises(ConfigurationError, match="account") as info:
        h.provider(transport="gbk", account="acct😀")
    assert "😀" not in str(info.value)


def test_empty_batch_is_refused(h: Any, no_io: httpx.Client) -> None:
    _expect_invalid(h.provider().send_batch([]), no_io, "at least one")


# --- send on every transport ------------------------------------------------------------------


async def test_form_send_posts_md5_password_and_returns_receipt(h: Any, drive: Any) -> None:
    provider = h.provider(userid="12")
    receipt, script = await drive(provider.send(Sms(to=[M1, M2], text=TEXT, ext="01")), h.send_ok(count=2))
    request = script.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/sms.aspx"
    sent = h.form(request)
    assert sent["password"] == md5_upper(h.PASSWORD)
    assert h.PASSWORD not in request.content.decode()
    assert (sent["mobile"], sent["content"], sent["extno"], sent["userid"]) == (
        f"{M1},{M2}",
        TEXT,
        "01",
        "12",
    )
    assert receipt == Receipt(
        provider="ipyy", task_id="1504080852350206", accepted=2, recipients=(M1, M2), balance=16
    )


async def test_scheduled_send_is_china_time(h: Any, drive: Any) -> None:
    when = dt.datetime(2026, 4, 15, 0, 0, 0, tzinfo=dt.UTC)
    _, script = await drive(h.provider().send(Sms(to=M1, text=TEXT, send_at=when)), h.send_ok())
    assert h.form(script.requests[0])["sendTime"] == "2026-04-15 08:00:00"


async def test_gbk_send_encodes_form_in_gbk_and_reads_gb2312_reply(h: Any, drive: Any) -> None:
    reply = (
        '<?xml version="1.0" encoding="gb2312" ?><returnsms><returnstatus>Success</returnstatus>'
        "<message>操作成功</message><remainpoint>3</remainpoint><taskID>77</taskID>"
        "<successCounts>1</successCounts></returnsms>"
    ).encode("gbk")
    receipt, script = await drive(h.provider(transport="gbk").send(Sms(to=M1, text=TEXT)), reply)
    request = script.requests[0]
    assert request.url.path == "/smsGBK.aspx"
    assert h.form(request, "gbk")["content"] == TEXT
    assert receipt.task_id == "77"


async def test_json_send_reads_quoted_numbers(h: Any, drive: Any) -> None:
    reply = (
        b'{"returnstatus":"Success","message":"ok","remainpoint":"-4",'
        b'"taskID":"1606013552246778","successCounts":"1"}'
    )
    receipt, script = await drive(h.provider(transport="json").send(Sms(to=M1, text=TEXT)), reply)
    assert script.requests[0].url.path == "/smsJson.aspx"
    assert (receipt.task_id, receipt.balance) == ("1606013552246778", Decimal(-4))


async def test_encrypted_send_uses_clock_stamp_and_plain_password_key(h: Any, drive: Any) -> None:
    reply = (
        b'{"StatusCode":1,"Description":"ok","MsgId":"1504141655440332",'
        b'"Amount":-11,"SuccessCounts":1,"Errors":[]}'
    )
    provider = h.provider(transport="encrypted", userid="12")
    receipt, script = await drive(provider.send(Sms(to=M1, text=TEXT, ext="7")), reply)
    request = script.requests[0]
    assert request.url.path == "/ensms.ashx"
    sent = h.form(request)
    assert sent["UserId"] == "12"
    document = json.loads(des_decrypt(sent["Text64"], h.PASSWORD))
    assert document["Stamp"] == "0414174715"  # NOW in China time
    assert document["Secret"] == secret(h.PASSWORD, "0414174715")
    assert (document["UserName"], document["Moblie"], document["Text"], document["Ext"]) == (
        "acct",
        M1,
        TEXT,
        "7",
    )
    assert receipt.task_id == "1504141655440332"


async def test_encrypted_send_failure_maps_status_code(h: Any, drive: Any) -> None:
    reply = b'{"StatusCode":1111,"Description":"x","MsgId":"","Amount":0,"SuccessCounts":0,"Errors":[]}'
    with pytest.raises(InsufficientBalanceError):
        await drive(h.provider(transport="encrypted", userid="12").send(Sms(to=M1, text=TEXT)), reply)


async def test_soap_send_goes_through_the_soap_module(h: Any, drive: Any) -> None:
    reply = SOAP_OK.format(code="OK", msg="1504141655440332", count=2).encode()
    provider = h.provider(transport="soap")
    receipt, script = await drive(provider.send(Sms(to=[M1, M2], text=TEXT)), reply)
    request = script.requests[0]
    assert request.url.path == "/WebService.asmx"
    assert b"http://www.yysms.com/" in request.content
    assert (receipt.task_id, receipt.accepted, receipt.balance) == ("1504141655440332", 2, Decimal(-11))


async def test_soap_refusal_maps_the_result_code_name(h: Any, drive: Any) -> None:
    reply = SOAP_OK.format(code="RequiredSuffix", msg="", count=0).encode()
    provider = h.provider(transport="soap", name="hx")
    with pytest.raises(SignatureError) as info:
        await drive(provider.send(Sms(to=M1, text=TEXT)), reply, provider=provider.name, operation="send")
    assert info.value.code == "RequiredSuffix"
    assert info.value.provider == "hx"


SOAP_SENDER_FAULT_12 = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
    b"<soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"
    b"<soap:Reason><soap:Text>bad request</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize("status", [404, 405, 302])
async def test_soap_http_refusal_is_a_refusal_like_on_the_form_endpoints(
    h: Any, drive: Any, status: int
) -> None:
    """A 404 page (wrong base_url) from WebService.asmx means the service never saw the
    request: ProviderError with the HTTP code, as for sms.aspx, not an uncertain outcome."""
    reply = httpx.Response(status, content=b"<html><body>Not Found</body></html>")
    with pytest.raises(ProviderError) as info:
        await drive(h.provider(transport="soap").send(Sms(to=M1, text=TEXT)), reply)
    assert type(info.value) is ProviderError
    assert info.value.code == f"HTTP {status}"


async def test_soap_fault_with_http_400_is_still_read_as_a_fault(h: Any, drive: Any) -> None:
    """SOAP 1.2's HTTP binding sends a Sender fault with 400: the fault decides (refused)."""
    reply = httpx.Response(400, content=SOAP_SENDER_FAULT_12)
    with pytest.raises(MessageRejectedError) as info:
        await drive(h.provider(transport="soap", soap_version=12).send(Sms(to=M1, text=TEXT)), reply)
    assert info.value.code == "soap:Sender"


def test_soap_is_lazily_imported(h: Any) -> None:
    import sys

    # Building and sending over form must not need the SOAP module (zeep is heavy).
    sys.modules.pop("smsgate_ipyy._soap", None)
    h.run(h.provider().send(Sms(to=M1, text=TEXT)), h.send_ok())
    assert "smsgate_ipyy._soap" not in sys.modules


async def test_signature_append_mode_adds_default_signature(h: Any, drive: Any) -> None:
    provider = h.provider(signature="append", default_signature="【腾飞】")
    _, script = await drive(provider.send(Sms(to=M1, text="验证码1439")), h.send_ok())
    assert h.form(script.requests[0])["content"] == "验证码1439【腾飞】"
    _, script = await drive(provider.send(Sms(to=M1, text="已签【别家】")), h.send_ok())
    assert h.form(script.requests[0])["content"] == "已签【别家】"


async def test_signature_gateway_mode_sends_as_is_and_maps_the_refusal(h: Any, drive: Any) -> None:
    with pytest.raises(SignatureError):
        await drive(
            h.provider(signature="gateway").send(Sms(to=M1, text="unsigned")), h.send_faild("需要签名")
        )


# --- chunking and partial failures --------------------------------------------------------------


async def test_recipients_are_chunked_and_receipts_combined(h: Any, drive: Any) -> None:
    provider = h.provider(max_recipients=2)
    sms = Sms(to=[M1, M2, M3, M4, M5], text=TEXT)
    receipt, script = await drive(
        provider.send(sms), h.send_ok("T1", 2), h.send_ok("T2", 2), h.send_ok("T3", 1)
    )
    assert [h.form(r)["mobile"] for r in script.requests] == [f"{M1},{M2}", f"{M3},{M4}", M5]
    assert receipt.task_id == "T1,T2,T3"
    assert receipt.task_ids == ("T1", "T2", "T3")
    assert receipt.accepted == 5
    assert len(receipt.parts) == 3


async def test_refusal_after_accepted_chunk_is_partial_with_pending_recipients(h: Any, drive: Any) -> None:
    provider = h.provider(max_recipients=2)
    sms = Sms(to=[M1, "+86" + M2, M3, M4, M5], text=TEXT, ext="9")
    with pytest.raises(PartialBatchError) as info:
        await drive(provider.send(sms), h.send_ok("T1", 2), h.send_faild("余额不足"))
    err = info.value
    assert [r.task_id for r in err.receipts] == ["T1"]
    (pending,) = err.pending
    assert pending.to == (M3, M4, M5)
    assert (pending.text, pending.ext) == (TEXT, "9")
    assert isinstance(err.cause, InsufficientBalanceError)
    assert err.failover_safe  # follows the cause: the rest may go to another provider


async def test_transport_failure_after_accepted_chunk_is_partial_and_uncertain(h: Any, drive: Any) -> None:
    provider = h.provider(max_recipients=1)
    with pytest.raises(PartialBatchError) as info:
        await drive(provider.send(Sms(to=[M1, M2], text=TEXT)), h.send_ok("T1"), httpx.ReadTimeout("slow"))
    assert isinstance(info.value.cause, UncertainOutcomeError)
    assert not info.value.retry_safe
    assert info.value.pending[0].to == (M2,)


async def test_failure_of_the_first_chunk_is_the_plain_error(h: Any, drive: Any) -> None:
    with pytest.raises(NotSentError):
        await drive(
            h.provider(max_recipients=1).send(Sms(to=[M1, M2], text=TEXT)), httpx.ConnectError("refused")
        )


# --- batch --------------------------------------------------------------------------------------


def _lines(h: Any, request: httpx.Request) -> list[str]:
    blob = base64.b64decode(h.form(request)["content"])
    return decompress(blob).decode("utf-8").split("\r\n")[:-1]


async def test_batch_is_one_post_with_compressed_lines(h: Any, drive: Any) -> None:
    messages = [Sms(to=M1, text="a【x】"), Sms(to=M2, text="b,c【x】")]
    receipts, script = await drive(h.provider().send_batch(messages), h.send_ok("B1", 2))
    (request,) = script.requests
    assert request.method == "POST"
    assert request.url.path == "/BatchSms.ashx"
    assert base64.b64decode(h.form(request)["content"]).startswith(b"\x1f\x8b")  # gzip by default
    assert _lines(h, request) == [f"{M1},a【x】", f"{M2},b,c【x】"]
    assert [r.task_id for r in receipts] == ["B1"]
    assert receipts[0].recipients == (M1, M2)


async def test_batch_splits_where_a_number_repeats_preserving_order(h: Any, drive: Any) -> None:
    messages = [
        Sms(to=M1, text="1【x】"),
        Sms(to=M2, text="2【x】"),
        Sms(to=M1, text="3【x】"),
        Sms(to=M3, text="4【x】"),
    ]
    receipts, script = await drive(h.provider().send_batch(messages), h.send_ok("B1", 2), h.send_ok("B2", 2))
    assert [_lines(h, r) for r in script.requests] == [
        [f"{M1},1【x】", f"{M2},2【x】"],
        [f"{M1},3【x】", f"{M3},4【x】"],
    ]
    assert [r.task_id for r in receipts] == ["B1", "B2"]


async def test_batch_splits_on_different_schedule_or_ext(h: Any, drive: Any) -> None:
    later = h.NOW + dt.timedelta(hours=1)
    messages = [
        Sms(to=M1, text="1【x】"),
        Sms(to=M2, text="2【x】", send_at=later),
        Sms(to=M3, text="3【x】", send_at=later),
        Sms(to=M4, text="4【x】", send_at=later, ext="5"),
    ]
    _, script = await drive(
        h.provider().send_batch(messages), h.send_ok("B1"), h.send_ok("B2", 2), h.send_ok("B3")
    )
    sent = [h.form(r) for r in script.requests]
    assert [(f["sendTime"], f["extno"]) for f in sent] == [
        ("", ""),
        ("2026-04-14 18:47:15", ""),
        ("2026-04-14 18:47:15", "5"),
    ]
    assert [len(_lines(h, r)) for r in script.requests] == [1, 2, 1]


async def test_batch_splits_by_message_count_and_bytes(h: Any, drive: Any) -> None:
    messages = [Sms(to=m, text="x【y】") for m in (M1, M2, M3, M4, M5)]
    _, script = await drive(
        h.provider(batch_max_messages=2).send_batch(messages),
        h.send_ok("1", 2),
        h.send_ok("2", 2),
        h.send_ok("3"),
    )
    assert [len(_lines(h, r)) for r in script.requests] == [2, 2, 1]
    line = len(f"{M1},x【y】\r\n".encode())
    _, script = await drive(
        h.provider(batch_max_bytes=2 * line + 1).send_batch(messages),
        h.send_ok("1", 2),
        h.send_ok("2", 2),
        h.send_ok("3"),
    )
    assert [len(_lines(h, r)) for r in script.requests] == [2, 2, 1]


async def test_batch_expands_multi_recipient_messages_one_line_each(h: Any, drive: Any) -> None:
    _, script = await drive(h.provider().send_batch([Sms(to=[M1, M2], text="t【x】")]), h.send_ok("B", 2))
    assert _lines(h, script.requests[0]) == [f"{M1},t【x】", f"{M2},t【x】"]


async def test_batch_newlines_space_mode_replaces_each_run_with_one_space(h: Any, drive: Any) -> None:
    provider = h.provider(batch_newlines="space")
    _, script = await drive(provider.send_batch([Sms(to=M1, text="a\r\n\r\nb\nc【x】")]), h.send_ok())
    assert _lines(h, script.requests[0]) == [f"{M1},a b c【x】"]


@pytest.mark.parametrize(("method", "magic"), [("zip", b"PK\x03\x04"), ("zlib", b"\x78")])
async def test_batch_compression_setting_is_used(h: Any, drive: Any, method: str, magic: bytes) -> None:
    _, script = await drive(
        h.provider(batch_compression=method).send_batch([Sms(to=M1, text=TEXT)]), h.send_ok()
    )
    assert base64.b64decode(h.form(script.requests[0])["content"]).startswith(magic)


async def test_batch_partial_failure_lists_pending_messages(h: Any, drive: Any) -> None:
    first, second, third = (
        Sms(to=M1, text="1【x】"),
        Sms(to=[M2, M1], text="2【x】"),
        Sms(to=M3, text="3【x】"),
    )
    # Lines: M1 | M2, M1 (repeat: new request) | M3 → requests [M1, M2], [M1, M3].
    with pytest.raises(PartialBatchError) as info:
        await drive(
            h.provider().send_batch([first, second, third]), h.send_ok("B1", 2), h.send_faild("系统内部错误")
        )
    err = info.value
    assert [r.task_id for r in err.receipts] == ["B1"]
    assert [m.to for m in err.pending] == [(M1,), (M3,)]
    assert err.pending[1] is third
    assert isinstance(err.cause, ProviderOutageError)


# --- MMS, balance, pulls, password ---------------------------------------------------------------


async def test_mms_packs_parts_as_tms_base64(h: Any, drive: Any) -> None:
    parts = [MmsPart(name="1.txt", data="你好".encode("gb2312")), MmsPart(name="mms.smil", data=b"<smil/>")]
    mms = Mms(to=[M1, M2], subject="彩信主题", parts=parts)
    receipt, script = await drive(h.provider().send_mms(mms), h.send_ok("2010283731447233", 2))
    request = script.requests[0]
    assert request.url.path == "/mms.aspx"
    sent = h.form(request)
    assert (sent["subject"], sent["mobile"], sent["action"]) == ("彩信主题", f"{M1},{M2}", "send")
    assert unpack(base64.b64decode(sent["content"])) == [(p.name, p.data) for p in parts]
    assert receipt.task_id == "2010283731447233"


async def test_mms_refusal_maps_subject_empty(h: Any, drive: Any) -> None:
    mms = Mms(to=M1, subject="s", parts=[MmsPart(name="1.txt", data=b"x")])
    with pytest.raises(ContentError):
        await drive(h.provider().send_mms(mms), h.send_faild("主题为空"))


@pytest.mark.parametrize(
    ("transport", "kind", "path"),
    [
        ("form", "sms", "/sms.aspx"),
        ("encrypted", "sms", "/sms.aspx"),
        ("soap", "sms", "/sms.aspx"),
        ("gbk", "sms", "/smsGBK.aspx"),
        ("json", "sms", "/smsJson.aspx"),
        ("form", "mms", "/mms.aspx"),
        ("json", "mms", "/mms.aspx"),
    ],
)
async def test_balance_endpoint_follows_transport_and_kind(
    h: Any, drive: Any, transport: str, kind: str, path: str
) -> None:
    provider = h.provider(transport=transport, userid="12")
    balance, script = await drive(provider.balance(kind), BALANCE_OK)
    assert script.requests[0].url.path == path
    assert h.form(script.requests[0])["action"] == "overage"
    assert (balance.remaining, balance.kind, balance.pay_mode, balance.total) == (
        Decimal(4),
        kind,
        "预付",
        Decimal(146),
    )


async def test_fetch_reports_xml_with_limit_and_task(h: Any, drive: Any) -> None:
    reply = (
        b'<?xml version="1.0" encoding="utf-8" ?><returnsms><statusbox><mobile>15023239810</mobile>'
        b"<taskid>1212</taskid><status>10</status><receivetime>2011-12-02 22:12:11</receivetime>"
        b"<errorcode>DELIVRD</errorcode><extno>01</extno></statusbox></returnsms>"
    )
    reports, script = await drive(h.provider().fetch_reports(limit=10, task_id="1212"), reply)
    sent = h.form(script.requests[0])
    assert script.requests[0].url.path == "/statusApi.aspx"
    assert (sent["action"], sent["statusNum"], sent["taskid"]) == ("query", "10", "1212")
    (report,) = reports
    assert report.status is DeliveryStatus.DELIVERED
    assert report.received_at == dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)


async def test_fetch_reports_json_transport_uses_json_endpoint(h: Any, drive: Any) -> None:
    reply = (
        b'{"error":"1","remark":"ok","statusbox":[{"mobile":"13800138000","taskid":"1",'
        b'"receivetime":"","errorcode":"UNDELIV"}]}'
    )
    reports, script = await drive(h.provider(transport="json").fetch_reports(), reply)
    assert script.requests[0].url.path == "/statusJsonApi.aspx"
    assert reports[0].status is DeliveryStatus.FAILED
    assert reports[0].vendor_code == "UNDELIV"


async def test_fetch_reports_empty_pull(h: Any, drive: Any) -> None:
    reports, _ = await drive(h.provider().fetch_reports(), b"<returnsms></returnsms>")
    assert reports == []


async def test_fetch_reports_pull_error(h: Any, drive: Any) -> None:
    reply = (
        "<returnsms><errorstatus><error>2</error><remark>用户名或密码错误</remark></errorstatus></returnsms>"
    )
    with pytest.raises(AuthenticationError):
        await drive(h.provider().fetch_reports(), reply.encode())


@pytest.mark.parametrize(("transport", "path"), [("form", "/callApi.aspx"), ("json", "/callJsonApi.aspx")])
async def test_fetch_inbound(h: Any, drive: Any, transport: str, path: str) -> None:
    if transport == "json":
        reply = (
            '{"error":"1","remark":"成功","callbox":[{"mobile":"15510331875","taskid":"",'
            '"content":"T","receivetime":"0001-01-01 00:00:00","extno":"123"}]}'
        )
    else:
        reply = (
            "<returnsms><callbox><mobile>15510331875</mobile><content>T</content>"
            "<extno>123</extno></callbox></returnsms>"
        )
    messages, script = await drive(h.provider(transport=transport).fetch_inbound(), reply.encode())
    assert script.requests[0].url.path == path
    assert [(m.mobile, m.text, m.ext) for m in messages] == [("15510331875", "T", "123")]


async def test_change_password_then_uses_the_new_password(h: Any, drive: Any) -> None:
    provider = h.provider()
    ok = b"<returnsms><returnstatus>Sucess</returnstatus><message>ok</message></returnsms>"
    result, script = await drive(provider.change_password("n3w-pass"), ok)
    assert result is None
    sent = h.form(script.requests[0])
    assert script.requests[0].url.path == "/pwd.aspx"
    assert (sent["password"], sent["newpassword"]) == (md5_upper(h.PASSWORD), "n3w-pass")
    _, script = await drive(provider.balance(), BALANCE_OK)
    assert h.form(script.requests[0])["password"] == md5_upper("n3w-pass")


async def test_failed_password_change_keeps_the_old_password(h: Any, drive: Any) -> None:
    provider = h.provider()
    faild = "<returnsms><returnstatus>Faild</returnstatus><message>密码错误</message></returnsms>".encode()
    with pytest.raises(AuthenticationError):
        await drive(provider.change_password("n3w-pass"), faild)
    _, script = await drive(provider.balance(), BALANCE_OK)
    assert h.form(script.requests[0])["password"] == md5_upper(h.PASSWORD)


# --- HTTP-level errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (httpx.Response(429, headers={"Retry-After": "2"}), RateLimitedError),
        (httpx.Response(503), ProviderOutageError),
        (httpx.Response(500, content=b"boom"), UncertainOutcomeError),
        (httpx.Response(200, content=b"<html>maintenance</html>"), MalformedReplyError),
        (httpx.Response(200, content=b"OK"), MalformedReplyError),
    ],
)
async def test_http_failures_map_to_the_tree(h: Any, drive: Any, response: httpx.Response, cls: type) -> None:
    with pytest.raises(cls) as info:
        await drive(h.provider().send(Sms(to=M1, text=TEXT)), response, provider="ipyy", operation="send")
    assert (info.value.provider, info.value.operation) == ("ipyy", "send")


# --- secrets ---------------------------------------------------------------------------------------


async def test_no_secret_in_errors_logs_or_repr(h: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [h.PASSWORD, md5_upper(h.PASSWORD), base64.b64encode(h.PASSWORD.encode()[:8]).decode()]
    provider = h.provider(transport="encrypted", userid="12", max_recipients=1)
    errors: list[SmsGateError] = []
    attempts: list[tuple[Any, tuple[Any, ...]]] = [
        (provider.send(Sms(to=[M1, M2], text=TEXT)), (h.send_ok(), httpx.ReadTimeout("x"))),
        (provider.send(Sms(to=M1, text="nosig")), ()),
        (provider.balance(), (h.send_faild("用户名或密码错误"),)),
        (provider.fetch_reports(), (b"garbage",)),
        (provider.change_password("x" * 30), ()),
        (provider.change_password("n3w"), (httpx.Response(500),)),
    ]
    for flow, replies in attempts:
        with pytest.raises(SmsGateError) as info:
            h.run(flow, *replies)
        errors.append(info.value)
    with pytest.raises(ValidationError) as parse_info:
        provider.parse_callback(b"not xml")
    errors.append(parse_info.value)
    with pytest.raises(ConfigurationError) as config_info:
        h.provider(password=h.PASSWORD, transport="nope")
    errors.append(config_info.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(provider), caplog.text]
    texts += [str(getattr(e, "cause", "")) for e in errors]
    for text in texts:
        for secret_text in secrets:
            assert secret_text not in text
    assert len(errors) == 8


# --- the core's conformance suite, against the sandbox app in process (no socket) ------------------

SANDBOX_PASSWORD = "demo-password"  # the sandbox's default account (smsgate_ipyy.sandbox)


class _SyncASGI(httpx.BaseTransport):
    """Serve sync requests from an ASGI app in process (one short event loop per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())

        async def forward() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)) as client:
                response = await client.send(copy)
                return httpx.Response(
                    response.status_code, headers=response.headers, content=response.content
                )

        return asyncio.run(forward())


class TestIpyyConformance(ProviderConformance):
    """The public provider contract, sync and async, with the sandbox's ASGI app as the gateway."""

    app: Any = None

    def _app(self) -> Any:
        if self.app is None:
            from smsgate_ipyy.sandbox import SandboxConfig, create_app

            type(self).app = create_app(SandboxConfig.default())
        return self.app

    def sync_client(self) -> httpx.Client:
        return httpx.Client(transport=_SyncASGI(self._app()))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self._app()), base_url="http://127.0.0.1")

    @pytest.fixture
    def make_provider(self) -> Any:
        return lambda: smsgate.get_provider(
            "ipyy", account="demo", password=SANDBOX_PASSWORD, userid="1001", base_url="http://127.0.0.1/"
        )

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [SANDBOX_PASSWORD, md5_upper(SANDBOX_PASSWORD)]

    @pytest.fixture
    def invalid_recipient(self) -> str | None:
        return "23800138000"

    @pytest.fixture
    def bad_credentials_provider(self) -> smsgate.Provider | None:
        return smsgate.get_provider("ipyy", account="demo", password="wrong", base_url="http://127.0.0.1/")


def test_new_password_that_cannot_be_encoded_is_refused_without_quoting_it(
    h: Any, no_io: httpx.Client
) -> None:
    """The refusal names the field only: no cause whose text would quote a character of the
    new password."""
    err = _expect_invalid(h.provider().change_password("new\ud800pw"), no_io)
    assert err.field == "newpassword"
    assert err.__cause__ is None
    assert "ud800" not in str(err).lower()


def test_encrypted_transport_needs_an_ascii_numeric_userid(h: Any) -> None:
    """spec 1.5: UserId is numeric; digits of other scripts ("١٢") are not what the vendor gave."""
    with pytest.raises(ConfigurationError, match="numeric"):
        h.provider(transport="encrypted", userid="١٢")


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (
            lambda p: p.send(Mms(to="13800138000", subject="s", parts=[MmsPart(name="a.txt", data=b"x")])),
            "send() takes an Sms, not Mms",
        ),
        (lambda p: p.send("13800138000"), "send() takes an Sms, not str"),
        (lambda p: p.send_mms(Sms(to="13800138000", text="x【腾飞】")), "send_mms() takes an Mms, not Sms"),
        (lambda p: p.send_batch(None), "send_batch() takes a sequence of Sms, not NoneType"),
        (lambda p: p.cannot_render(None), "cannot_render() takes an Sms, not NoneType"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_validation_error(
    h: Any, no_io: httpx.Client, call: Any, said: str
) -> None:
    """Called directly (not through a gateway, which checks), these raised a bare
    AttributeError or TypeError from the first field they read."""

    def attempt() -> None:
        flow = call(h.provider())
        if hasattr(flow, "send"):  # a flow: refused when it starts, before any request
            smsgate.run_flow(flow, no_io)

    with pytest.raises(ValidationError, match=re.escape(said)):
        attempt()
