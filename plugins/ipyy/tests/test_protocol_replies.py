"""Golden tests of the reply parsers, from the spec's samples and the wire notes' captures."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest

from smsgate import DeliveryStatus
from smsgate.exceptions import (
    AuthenticationError,
    ContentError,
    InvalidRecipientError,
    MalformedReplyError,
    PermissionDeniedError,
    ProviderError,
    ProviderOutageError,
    ProviderUnavailableError,
    RateLimitedError,
    SignatureError,
    UncertainOutcomeError,
)
from smsgate_ipyy import _parse as p
from smsgate_ipyy._crypto import CHINA

from .spec_samples import CALL_XML, STATUS_XML

DECL = '<?xml version="1.0" encoding="utf-8" ?>'

# wire notes §3 (WD-MMS), a real reply.
SEND_XML = (
    DECL + "\n<returnsms><returnstatus>Success</returnstatus><message>操作成功</message>"
    "<remainpoint>16</remainpoint><taskID>2010283731447233</taskID><successCounts>1</successCounts></returnsms>"
)
# spec 1.4 and wire notes §4 (UGOOD): quoted numbers, negative balance.
SEND_JSON = (
    '{"returnstatus":"Success",\n"message":"操作成功",\n"remainpoint":"-4",\n'
    '"taskID":"1504080852350206",\n"successCounts":"1"}'
)
# wire notes §4 (SUTRA error.xml shape).
FAILD_XML = (
    DECL + "\n<returnsms>\n<returnstatus>Faild</returnstatus>\n<message>需要签名</message>\n"
    "<remainpoint>0</remainpoint>\n<taskID></taskID>\n<successCounts>0</successCounts>\n</returnsms>"
)
FAILD_JSON = (
    '{"returnstatus":"Faild","message":"敏感词(??)","remainpoint":"0","taskID":"","successCounts":"0"}'
)


def test_send_xml_success_gives_receipt_with_task_count_and_balance() -> None:
    receipt = p.parse_send_reply(SEND_XML.encode(), provider="ipyy", recipients=["13800138000"])
    assert receipt.task_id == "2010283731447233"
    assert receipt.accepted == 1
    assert receipt.balance == Decimal(16)
    assert receipt.recipients == ("13800138000",)
    assert receipt.provider == "ipyy"


def test_send_json_success_with_quoted_numbers_and_negative_balance() -> None:
    receipt = p.parse_send_reply(SEND_JSON.encode(), provider="ipyy")
    assert receipt.task_id == "1504080852350206"
    assert receipt.accepted == 1
    assert receipt.balance == Decimal(-4)


def test_spec_template_with_space_in_remainpoint_and_one_field_per_line() -> None:
    body = (
        DECL + "\n\n<returnsms>\n\n<returnstatus>Success</returnstatus>\n<message>ok</message>\n"
        "<remainpoint> 100 </remainpoint>\n<taskID>1</taskID>\n"
        "<successCounts>2</successCounts>\n</returnsms>\n"
    )
    receipt = p.parse_send_reply(body.encode(), provider="ipyy")
    assert receipt.balance == Decimal(100)
    assert receipt.accepted == 2


def test_faild_xml_with_message_only_becomes_signature_error() -> None:
    with pytest.raises(SignatureError) as info:
        p.parse_send_reply(FAILD_XML.encode(), provider="ipyy")
    assert info.value.vendor_message == "需要签名"
    # The parser names no provider or operation: the driver adds both (test_provider_unit).
    assert (info.value.provider, info.value.operation) == (None, None)


def test_faild_json_sensitive_words_becomes_content_error() -> None:
    with pytest.raises(ContentError) as info:
        p.parse_send_reply(FAILD_JSON.encode(), provider="ipyy")
    assert info.value.vendor_message == "敏感词(??)"


def test_faild_with_a_numeric_message_uses_the_code_table() -> None:
    body = (
        DECL + "<returnsms><returnstatus>Faild</returnstatus><message>1108</message></returnsms>"
    ).encode()
    with pytest.raises(InvalidRecipientError) as info:
        p.parse_send_reply(body, provider="ipyy")
    assert info.value.code == "1108"


def test_gbk_reply_declared_gb2312_with_gbk_only_characters() -> None:
    # 镕 is in GBK but not in GB2312: a strict gb2312 decoder would fail.
    text = (
        '<?xml version="1.0" encoding="gb2312" ?><returnsms><returnstatus>Faild</returnstatus>'
        "<message>敏感词(朱镕基)</message><taskID></taskID></returnsms>"
    )
    with pytest.raises(ContentError) as info:
        p.parse_send_reply(text.encode("gbk"), provider="ipyy", encoding="gbk")
    assert info.value.vendor_message == "敏感词(朱镕基)"


def test_gbk_reply_without_declaration_uses_the_endpoint_default() -> None:
    body = (
        "<returnsms><returnstatus>Success</returnstatus><message>操作成功</message>"
        "<taskID>7</taskID></returnsms>"
    )
    receipt = p.parse_send_reply(
        body.encode("gbk"), provider="ipyy", encoding="gbk", recipients=["13800138000"]
    )
    assert receipt.task_id == "7"
    assert receipt.accepted == 1  # successCounts absent: the recipients of the request


def test_utf8_bom_is_accepted() -> None:
    assert (
        p.parse_send_reply(b"\xef\xbb\xbf" + SEND_XML.encode(), provider="ipyy").task_id == "2010283731447233"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"Server Error",
        b"<html><body>oops</body></html>",
        b"<returnsms><returnstatus>Success",
        b'{"returnstatus":"Success"',
        b"[1,2]",
        DECL.encode() + b"<returnsms><returnstatus>Maybe</returnstatus></returnsms>",
        DECL.encode() + b"<returnsms><returnstatus>Success</returnstatus><taskID></taskID></returnsms>",
        DECL.encode() + b"<returnsms><returnstatus>Success</returnstatus><taskID>1</taskID>"
        b"<successCounts>x</successCounts></returnsms>",
    ],
)
def test_unusable_send_replies_are_malformed_uncertain(body: bytes) -> None:
    with pytest.raises(MalformedReplyError) as info:
        p.parse_send_reply(body, provider="ipyy")
    assert isinstance(info.value, UncertainOutcomeError)
    assert info.value.body_excerpt == body[:200]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<returnsms><returnstatus>Success</returnstatus><message>&lol4;</message><taskID>1</taskID></returnsms>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<returnsms><returnstatus>Faild</returnstatus><message>&x;</message></returnsms>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_dtd_and_entities_in_a_reply_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedReplyError) as info:
        p.parse_send_reply(body, provider="ipyy")
    assert "DTD" in str(info.value)


def test_encrypted_reply_success_with_unquoted_numbers() -> None:
    body = (
        '{"StatusCode":1,"Description":"操作成功","MsgId":"1504141655440332",'
        '"Amount":-11,"SuccessCounts":1,"Errors":[]}'
    ).encode()
    receipt = p.parse_encrypted_reply(body, provider="ipyy", recipients=["15510331875"])
    assert receipt.task_id == "1504141655440332"
    assert receipt.balance == Decimal(-11)
    assert receipt.accepted == 1


@pytest.mark.parametrize(
    ("code", "cls"),
    [(1010, ProviderUnavailableError), (1009, AuthenticationError), ("1005", AuthenticationError)],
)
def test_encrypted_reply_failure_maps_the_status_code(code: object, cls: type[ProviderError]) -> None:
    status = json.dumps(code)  # an int stays unquoted, a string is quoted
    body = f'{{"StatusCode":{status},"Description":"x","MsgId":"","Amount":0,"SuccessCounts":0,"Errors":[]}}'
    with pytest.raises(cls) as info:
        p.parse_encrypted_reply(body.encode(), provider="ipyy")
    assert info.value.code == str(code)


def test_encrypted_reply_without_status_code_is_malformed() -> None:
    with pytest.raises(MalformedReplyError):
        p.parse_encrypted_reply(b'{"MsgId":"1"}', provider="ipyy")


# --- balance ---------------------------------------------------------------------------------


def test_balance_xml_sucess_spelling_from_a_capture() -> None:
    # wire notes §4 (ZIRAN, sh2.ipyy.com).
    body = (
        DECL + "<returnsms><returnstatus>Sucess</returnstatus><message>操作成功</message>"
        "<payinfo>预付</payinfo><overage>4</overage><sendTotal>146</sendTotal></returnsms>"
    ).encode()
    balance = p.parse_balance_reply(body, provider="ipyy")
    assert balance.remaining == Decimal(4)
    assert balance.pay_mode == "预付"
    assert balance.total == Decimal(146)
    assert balance.kind == "sms"


def test_balance_json_success_spelling_from_spec_3_4() -> None:
    body = '{"returnstatus":"Success","message":"操作成功",\n"payinfo":"后付","overage":"-4","sendTotal":"0"}'
    balance = p.parse_balance_reply(body.encode(), provider="ipyy", kind="mms")
    assert balance.remaining == Decimal(-4)
    assert balance.pay_mode == "后付"
    assert balance.total == Decimal(0)
    assert balance.kind == "mms"


def test_balance_failure_wrong_password() -> None:
    body = (
        DECL + "<returnsms><returnstatus>Faild</returnstatus><message>用户名或密码错误</message></returnsms>"
    ).encode()
    with pytest.raises(AuthenticationError):
        p.parse_balance_reply(body, provider="ipyy")


def test_balance_without_overage_is_malformed() -> None:
    body = (DECL + "<returnsms><returnstatus>Sucess</returnstatus></returnsms>").encode()
    with pytest.raises(MalformedReplyError):
        p.parse_balance_reply(body, provider="ipyy")


# --- reports -------------------------------------------------------------------------------


def test_reports_xml_spec_4_3_sample() -> None:
    first, second = p.parse_reports_reply(STATUS_XML.encode(), provider="ipyy")
    assert first.mobile == "15023239810"
    assert first.task_id == "1212"
    assert first.status is DeliveryStatus.DELIVERED
    assert first.received_at == dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)
    assert first.received_at is not None
    assert first.received_at.utcoffset() == dt.timedelta(hours=8)
    assert first.vendor_code == "DELIVRD"
    assert first.ext == "01"
    assert second.status is DeliveryStatus.FAILED
    assert second.vendor_code == "2"
    assert second.ext is None


def test_reports_xml_unknown_status_is_unknown() -> None:
    body = (
        DECL + "<returnsms><statusbox><mobile>1</mobile><status>30</status></statusbox></returnsms>"
    ).encode()
    (report,) = p.parse_reports_reply(body, provider="ipyy")
    assert report.status is DeliveryStatus.UNKNOWN


def test_reports_json_from_a_capture_derives_status_from_errorcode() -> None:
    # wire notes §4 (JADL 2017) plus a failed item as WD-MMS saw (MY:0001).
    body = (
        '{"error":"1","remark":"成功","statusbox":[{"mobile":"18600755757","taskid":"1710173515120547",'
        '"receivetime":"2017-10-17 11:15:16","errorcode":"DELIVRD"},{"mobile":"13483728958","taskid":"124",'
        '"receivetime":"2015-02-01 00:00:00","errorcode":"MY:0001"}]}'
    )
    ok, bad = p.parse_reports_reply(body.encode(), provider="ipyy")
    assert ok.status is DeliveryStatus.DELIVERED
    assert ok.task_id == "1710173515120547"
    assert ok.received_at == dt.datetime(2017, 10, 17, 11, 15, 16, tzinfo=CHINA)
    assert bad.status is DeliveryStatus.FAILED
    assert bad.vendor_code == "MY:0001"


def test_reports_json_spec_4_5_sample_codes_other_than_delivrd_are_failed() -> None:
    body = (
        '{"error":"1",\n"remark":"成功",\n"statusbox":[\n    {"mobile":"15510331875",\n     "taskid":"123",\n'
        '     "receivetime":"2015-01-01 00:00:00",\n     "errorcode":"dEv"\n    },{\n'
        '    "mobile":"13483728958",\n'
        '    "taskid":"124",\n    "receivetime":"2015-02-01 00:00:00",\n    "errorcode":"back"}\n    ]\n}'
    )
    reports = p.parse_reports_reply(body.encode(), provider="ipyy")
    assert [r.status for r in reports] == [DeliveryStatus.FAILED, DeliveryStatus.FAILED]
    assert [r.vendor_code for r in reports] == ["dEv", "back"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":"1","statusbox":[{"mobile":"13800138000","taskid":"7","errorcode":""}]}',
        b'{"error":"1","statusbox":[{"mobile":"13800138000","taskid":"7"}]}',
        b"<returnsms><statusbox><mobile>13800138000</mobile><taskid>7</taskid></statusbox></returnsms>",
    ],
    ids=["json-empty-code", "json-no-code", "xml-no-status-no-code"],
)
def test_report_with_neither_status_nor_code_is_unknown_not_failed(body: bytes) -> None:
    """Nothing in the item says the message failed; FAILED could make an application resend a
    delivered message."""
    (report,) = p.parse_reports_reply(body, provider="ipyy")
    assert report.status is DeliveryStatus.UNKNOWN
    assert report.vendor_code is None


def test_deeply_nested_json_reply_is_malformed_not_a_recursion_error() -> None:
    """json's decoder recurses per nesting level; a hostile or broken reply must still be a
    MalformedReplyError (uncertain outcome), never a bare RecursionError."""
    body = b'{"returnstatus":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(MalformedReplyError) as info:
        p.parse_send_reply(body, provider="ipyy")
    assert isinstance(info.value.__cause__, RecursionError)
    with pytest.raises(MalformedReplyError):
        p.parse_reports_reply(body, provider="ipyy")


@pytest.mark.parametrize(
    "body",
    [
        b"<returnsms></returnsms>",
        b"<returnsms/>",
        DECL.encode() + b"\n<returnsms>\n</returnsms>\n",
        b'{"error":"1","remark":"\xe6\x88\x90\xe5\x8a\x9f","statusbox":[]}',
        b'{"error":1,"remark":"ok","statusbox":[]}',
    ],
)
def test_empty_report_pulls_are_empty_lists(body: bytes) -> None:
    assert p.parse_reports_reply(body, provider="ipyy") == []


def test_reports_json_error_1005_from_spec_4_5() -> None:
    body = '{"error":"1005","remark":"密码错了","statusbox":[]}'.encode()
    with pytest.raises(AuthenticationError) as info:
        p.parse_reports_reply(body, provider="ipyy")
    assert info.value.code == "1005"
    assert info.value.vendor_message == "密码错了"
    assert info.value.operation is None  # the driver names it


@pytest.mark.parametrize(
    ("code", "remark", "cls"),
    [
        ("1", "用户名或密码不能为空", AuthenticationError),
        ("2", "用户名或密码错误", AuthenticationError),
        ("3", "该用户不允许查看状态报告", PermissionDeniedError),
        ("4", "参数不正确", ProviderError),
    ],
)
def test_reports_xml_errorstatus_spec_4_4(code: str, remark: str, cls: type[ProviderError]) -> None:
    body = (
        f"{DECL}\n<returnsms>\n<errorstatus>\n<error>{code}</error>\n<remark>{remark}</remark>\n"
        "</errorstatus>\n</returnsms>"
    ).encode()
    with pytest.raises(cls) as info:
        p.parse_reports_reply(body, provider="ipyy")
    assert info.value.code == code
    assert info.value.vendor_message == remark


def test_reports_json_with_neither_box_nor_error_is_malformed() -> None:
    with pytest.raises(MalformedReplyError):
        p.parse_reports_reply(b'{"remark":"?"}', provider="ipyy")


def test_reports_json_box_of_wrong_type_is_malformed() -> None:
    with pytest.raises(MalformedReplyError):
        p.parse_reports_reply(b'{"error":"1","statusbox":"none"}', provider="ipyy")


# --- inbound -------------------------------------------------------------------------------


def test_inbound_xml_spec_5_3_sample() -> None:
    first, second = p.parse_inbound_reply(CALL_XML.encode(), provider="ipyy")
    assert first.mobile == "15023239810"
    assert first.text == "你好，我不需要"
    assert first.task_id == "1212"
    assert first.ext == "01"
    assert first.received_at == dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)
    assert second.text == "你好，本次活动路线是怎么的"


def test_inbound_json_spec_5_5_sample_min_value_time_is_none() -> None:
    body = (
        '{"error":"1",\n"remark":"成功",\n"callbox":[\n  {"mobile":"15510331875",\n'
        '  "taskid":"",\n  "content":"a",\n'
        '  "receivetime":"0001-01-01 00:00:00",\n  "extno":"123"\n  },{\n'
        '  "mobile":"13483728958",\n  "taskid":"",\n'
        '  "content":"b",\n  "receivetime":"0001-01-01 00:00:00",\n  "extno":"456"\n  }\n ]\n}'
    )
    first, second = p.parse_inbound_reply(body.encode(), provider="ipyy")
    assert (first.mobile, first.text, first.ext, first.task_id, first.received_at) == (
        "15510331875",
        "a",
        "123",
        None,
        None,
    )
    assert second.ext == "456"


def test_inbound_text_keeps_its_whitespace() -> None:
    body = (
        DECL + "<returnsms><callbox><mobile>1</mobile><content> T </content></callbox></returnsms>"
    ).encode()
    assert p.parse_inbound_reply(body, provider="ipyy")[0].text == " T "


def test_inbound_json_error_from_spec_5_5() -> None:
    with pytest.raises(AuthenticationError):
        p.parse_inbound_reply('{"error":"1005","remark":"密码错了","callbox":[]}'.encode(), provider="ipyy")


@pytest.mark.parametrize("body", [b"<returnsms/>", b'{"error":"1","remark":"ok","callbox":[]}'])
def test_empty_inbound_pulls_are_empty_lists(body: bytes) -> None:
    assert p.parse_inbound_reply(body, provider="ipyy") == []


# --- password, times, HTTP status ------------------------------------------------------------


def test_password_reply_sucess_returns_and_faild_raises() -> None:
    p.parse_password_reply((DECL + "<returnsms><returnstatus>Sucess</returnstatus></returnsms>").encode())
    with pytest.raises(AuthenticationError):
        p.parse_password_reply(
            (
                DECL + "<returnsms><returnstatus>Faild</returnstatus><message>密码错误</message></returnsms>"
            ).encode()
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2011-12-02 22:12:11", dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)),
        ("2011-12-02T22:12:11", dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)),
        ("", None),
        (None, None),
        ("0001-01-01 00:00:00", None),
        ("not a time", None),
    ],
)
def test_parse_china_time(text: str | None, expected: dt.datetime | None) -> None:
    assert p.parse_china_time(text) == expected


def test_http_status_check_maps_statuses() -> None:
    ok = httpx.Response(200)
    p.check_http_status(ok)
    with pytest.raises(RateLimitedError):
        p.check_http_status(httpx.Response(429, headers={"Retry-After": "3"}))
    with pytest.raises(ProviderOutageError):
        p.check_http_status(httpx.Response(503))
    with pytest.raises(UncertainOutcomeError):
        p.check_http_status(httpx.Response(500))


def test_http_status_check_leaves_soap_faults_to_the_soap_parser() -> None:
    p.check_http_status(httpx.Response(500), soap=True)
    with pytest.raises(ProviderOutageError):
        p.check_http_status(httpx.Response(503), soap=True)
