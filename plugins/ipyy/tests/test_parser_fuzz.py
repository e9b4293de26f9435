"""Every public parser of the ipyy plugin raises only smsgate errors, whatever the bytes.

Property-based: hypothesis mutates valid replies (the spec samples and golden replies) by
flipping, inserting and deleting bytes, and by putting hostile values where a field, a
number or the declared encoding was: ``sNaN``, ``1e5000``, 5,000 digits, ``undefined``,
``punycode``, ``unicode_escape``, a lone surrogate escape … A parser may return or raise an
:class:`~smsgate.SmsGateError`; anything else (``ValueError``, ``UnicodeError``,
``decimal.Overflow`` …) fails. Whatever model comes out can be hashed and compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smsgate import SmsGateError
from smsgate_ipyy import _codes, _parse, _push, _soap

from .spec_samples import CALL_XML, STATUS_XML

DECL = '<?xml version="1.0" encoding="utf-8" ?>'
SEND_XML = (
    DECL + "<returnsms><returnstatus>Success</returnstatus><message>操作成功</message>"
    "<remainpoint>16</remainpoint><taskID>2010283731447233</taskID><successCounts>1</successCounts></returnsms>"
)
SEND_JSON = (
    '{"returnstatus":"Success","message":"操作成功","remainpoint":"-4",'
    '"taskID":"1504080852350206","successCounts":"1"}'
)
FAILD_XML = DECL + "<returnsms><returnstatus>Faild</returnstatus><message>需要签名</message></returnsms>"
ENSMS = (
    '{"StatusCode":1,"Description":"操作成功","MsgId":"1504141655440332",'
    '"Amount":-11,"SuccessCounts":1,"Errors":[]}'
)
ENSMS_FAILD = '{"StatusCode":1005,"Description":"x","MsgId":"","Amount":0,"SuccessCounts":0,"Errors":[]}'
BALANCE_XML = (
    DECL + "<returnsms><returnstatus>Sucess</returnstatus><message>操作成功</message>"
    "<payinfo>预付</payinfo><overage>4</overage><sendTotal>146</sendTotal></returnsms>"
)
BALANCE_JSON = '{"returnstatus":"Sucess","message":"","payinfo":"预付","overage":"4","sendTotal":"146"}'
REPORTS_JSON = (
    '{"error":"1","remark":"","statusbox":[{"mobile":"15023239810","taskid":"1212",'
    '"receivetime":"2011-12-02 22:12:11","errorcode":"DELIVRD","extno":"01"}]}'
)
INBOUND_JSON = (
    '{"error":"1","remark":"","callbox":[{"mobile":"15023239810","taskid":"1212",'
    '"content":"你好","receivetime":"0001-01-01 00:00:00","extno":"01"}]}'
)
PULL_ERROR_XML = (
    DECL
    + "<returnsms><errorstatus><error>2</error><remark>用户名或密码错误</remark></errorstatus></returnsms>"
)
PULL_ERROR_JSON = '{"error":"1005","remark":"密码错了"}'
SOAP_OK = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<soap:Body><SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult>'
    "<StatusCode>OK</StatusCode><Description>操作成功</Description><MsgId>1504141655440332</MsgId>"
    "<SuccessCounts>1</SuccessCounts><BillingCount>1</BillingCount><Amount>-11</Amount>"
    "<Errors><string>e</string></Errors></SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"
)
SOAP_FAULT = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
    "<soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"
    "<soap:Reason><soap:Text>bad</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"
)

SEND_SEEDS = [SEND_XML, SEND_JSON, FAILD_XML, ENSMS, ENSMS_FAILD]
BALANCE_SEEDS = [BALANCE_XML, BALANCE_JSON, FAILD_XML]
REPORT_SEEDS = [STATUS_XML, REPORTS_JSON, PULL_ERROR_XML, PULL_ERROR_JSON]
INBOUND_SEEDS = [CALL_XML, INBOUND_JSON, PULL_ERROR_XML, PULL_ERROR_JSON]
PUSH_SEEDS = [STATUS_XML, CALL_XML]
SOAP_SEEDS = [SOAP_OK, SOAP_FAULT]

# What a hostile or broken server puts where a value was.
HOSTILE = [
    b"sNaN",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e5000",
    b"1E+1000000",
    b"-1",
    b"9" * 5000,
    b"undefined",
    b"punycode",
    b"unicode_escape",
    b"raw_unicode_escape",
    b"idna",
    b"utf-7",
    b"utf-16",
    b"base64",
    b"rot13",
    b"\\ud800",
    b"\xed\xa0\x80",
    b"\xff\xfe",
    b"",
    b"<",
    b"&amp;",
    b"\x00",
    b"{}",
    b"[]",
    b"null",
    b"0001-01-01 00:00:00",
    b"9999-99-99 99:99:99",
    b"Success",
    b"Faild",
    b"OK",
]
# The spans a hostile value may replace: element text, JSON values, the declared encoding.
_FIELDS = re.compile(rb'>([^<>]*)<|:\s*"?([^",{}\[\]]*)"?|encoding=["\']([^"\']*)["\']')


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> bytes:
    """A seed reply with a few random mutations."""
    body = bytearray(draw(st.sampled_from(seeds)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["field", "field", "replace", "insert", "delete"]))
        if operation == "field":
            spans = [m.span(g) for m in _FIELDS.finditer(bytes(body)) for g in (1, 2, 3) if m.start(g) >= 0]
            if spans:
                start, end = draw(st.sampled_from(spans))
                body[start:end] = draw(st.sampled_from(HOSTILE))
            continue
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 12)))
        if operation == "replace":
            body[start:end] = draw(st.binary(max_size=8))
        elif operation == "insert":
            body[start:start] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(HOSTILE))
        else:
            del body[start:end]
    return bytes(body)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _check(parse: Callable[[], Any]) -> None:
    """Call a parser: it returns (a usable result) or raises an smsgate error, nothing else."""
    try:
        result = parse()
    except SmsGateError:
        return
    for item in result if isinstance(result, list) else [result]:
        if item is not None:
            hash(item)
            assert attrs.evolve(item) == item  # its values pass the model's own checks again


def _response(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": "text/xml; charset=utf-8"})


DECLARED = [
    (
        DECL.replace("utf-8", name) + "<returnsms><statusbox><mobile>1</mobile></statusbox></returnsms>"
    ).encode()
    for name in ("undefined", "punycode", "unicode_escape")
]
LONG_CODE = ('{"error":"' + "9" * 5000 + '","remark":"x"}').encode()


@FUZZ
@given(body=mutated(SEND_SEEDS))
@example(body=SEND_XML.replace(">16<", ">sNaN<").encode())
@example(body=ENSMS_FAILD.replace("1005", "9" * 5000).encode())
@example(body=DECLARED[0])
def test_send_parsers_raise_only_smsgate_errors(body: bytes) -> None:
    _check(lambda: _parse.parse_send_reply(body, provider="ipyy", recipients=["13800138000"]))
    _check(lambda: _parse.parse_send_reply(body, provider="ipyy", encoding="gbk"))
    _check(lambda: _parse.parse_encrypted_reply(body, provider="ipyy", recipients=["13800138000"]))


@FUZZ
@given(body=mutated(BALANCE_SEEDS))
@example(body=BALANCE_XML.replace(">4<", ">Infinity<").encode())
def test_balance_and_password_parsers_raise_only_smsgate_errors(body: bytes) -> None:
    _check(lambda: _parse.parse_balance_reply(body, provider="ipyy"))
    _check(lambda: _parse.parse_password_reply(body))


@FUZZ
@given(body=mutated(REPORT_SEEDS + INBOUND_SEEDS))
@example(body=LONG_CODE)
@example(body=DECLARED[1])
def test_pull_parsers_raise_only_smsgate_errors(body: bytes) -> None:
    _check(lambda: _parse.parse_reports_reply(body, provider="ipyy"))
    _check(lambda: _parse.parse_inbound_reply(body, provider="ipyy"))


@FUZZ
@given(body=mutated(PUSH_SEEDS))
@example(body=DECLARED[0])
@example(body=DECLARED[1])
@example(body=DECLARED[2])
def test_push_parser_and_parse_callback_raise_only_smsgate_errors(body: bytes) -> None:
    from smsgate_ipyy._provider import IpyyProvider

    provider = IpyyProvider(account="acct", password="pw")
    _check(lambda: _push.parse_push(body, provider="ipyy"))
    _check(lambda: provider.parse_callback(body))


@FUZZ
@given(body=mutated(SOAP_SEEDS), status=st.sampled_from([200, 400, 500, 302, 429]))
@example(body=SOAP_OK.replace(">OK<", ">" + "9" * 5000 + "<").encode(), status=200)
@example(body=SOAP_OK.replace("-11", "1e5000").encode(), status=200)
@example(body=SOAP_OK.replace('encoding="utf-8"', 'encoding="undefined"').encode(), status=200)
def test_soap_parsers_raise_only_smsgate_errors(body: bytes, status: int) -> None:
    _check(lambda: _soap.parse_send_response(_response(body, status)))
    _check(lambda: _soap.parse_send_receipt(_response(body, status), provider="ipyy", recipients=["1"]))


@FUZZ
@given(
    code=st.text() | st.from_regex(r"-?[0-9]{1,6000}", fullmatch=True) | st.integers(),
    message=st.none() | st.text(),
    status=st.integers(100, 599),
    retry_after=st.none() | st.text() | st.sampled_from(["²", "٣", "1e5", "-1", "9" * 50]),
)
@example(code="9" * 5000, message=None, status=429, retry_after="²")
def test_code_table_functions_raise_nothing(
    code: Any, message: str | None, status: int, retry_after: Any
) -> None:
    """The code table maps anything to an error object; it never raises."""
    for error in (
        _codes.error_for_code(code, message),
        _codes.error_for_pull_error(code, message),
        _codes.error_for_message(message),
        _codes.error_for_http_status(status, retry_after=retry_after),
    ):
        assert error is None or isinstance(error, SmsGateError)
    _codes.is_success_code(code)
    seconds = _codes.parse_retry_after(retry_after)
    assert seconds is None or seconds >= 0


@FUZZ
@given(
    text=st.text() | st.sampled_from(["2011-12-02 22:12:11", "0001-01-01 00:00:00", "9999-12-31 23:59:59"])
)
def test_parse_china_time_never_raises(text: str) -> None:
    _parse.parse_china_time(text)


@pytest.mark.parametrize("body", DECLARED, ids=["undefined", "punycode", "unicode_escape"])
def test_a_declared_python_only_codec_is_a_malformed_reply(body: bytes) -> None:
    """Codecs that are no character set are refused as the declared encoding, by every parser."""
    with pytest.raises(SmsGateError):
        _push.parse_push(body, provider="ipyy")
    with pytest.raises(SmsGateError):
        _parse.parse_reports_reply(body, provider="ipyy")
    with pytest.raises(SmsGateError):
        _soap.parse_send_response(_response(body))
