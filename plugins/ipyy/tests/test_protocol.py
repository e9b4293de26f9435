"""Golden tests of the request builders: endpoint, method and decoded form fields."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse

import httpx
import pytest

from smsgate.exceptions import ValidationError
from smsgate_ipyy import _build as p
from smsgate_ipyy._build import Login
from smsgate_ipyy._crypto import CHINA, des_decrypt
from smsgate_ipyy._settings import BatchCompression
from smsgate_ipyy._tms import pack, unpack

from .wire_support import decompress

BASE = "https://dx.ipyy.net/"
PASSWORD = "abc123"  # spec 1.2: its MD5 is the one below
MD5 = "E99A18C428CB38D5F260853678922E03"


def fields(request: httpx.Request, encoding: str = "utf-8") -> dict[str, str]:
    return dict(
        urllib.parse.parse_qsl(request.content.decode("ascii"), keep_blank_values=True, encoding=encoding)
    )


def test_endpoint_url_joins_with_or_without_trailing_slash() -> None:
    assert str(p.endpoint_url("https://dx.ipyy.net/", p.SEND_FORM)) == "https://dx.ipyy.net/sms.aspx"
    assert (
        str(p.endpoint_url("http://127.0.0.1:8080/gw", p.BATCH)) == "http://127.0.0.1:8080/gw/BatchSms.ashx"
    )


def test_send_form_matches_spec_1_2_example() -> None:
    request = p.build_send_request(
        Login(BASE, "", "account", PASSWORD),
        mobiles=["15023239810", "13527576163"],
        content="您的验证码：1439【腾飞】",
    )
    assert request.method == "POST"
    assert str(request.url) == "https://dx.ipyy.net/sms.aspx"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert fields(request) == {
        "action": "send",
        "userid": "",
        "account": "account",
        "password": MD5,
        "mobile": "15023239810,13527576163",
        "content": "您的验证码：1439【腾飞】",
        "sendTime": "",
        "extno": "",
    }


def test_send_carries_schedule_and_ext() -> None:
    request = p.build_send_request(
        Login(BASE, "12", "a", PASSWORD),
        endpoint=p.SEND_JSON,
        mobiles=["13800138000"],
        content="x【y】",
        send_time="2010-10-24 09:08:10",
        ext="01",
    )
    assert request.url.path == "/smsJson.aspx"
    got = fields(request)
    assert got["sendTime"] == "2010-10-24 09:08:10"
    assert got["extno"] == "01"
    assert got["userid"] == "12"


def test_gbk_send_is_percent_encoded_in_gbk() -> None:
    request = p.build_send_request(
        Login(BASE, "", "a", PASSWORD),
        endpoint=p.SEND_GBK,
        mobiles=["13800138000"],
        content="验证码【腾飞】",
        encoding="gbk",
    )
    assert request.url.path == "/smsGBK.aspx"
    assert "charset=gbk" in request.headers["Content-Type"]
    assert urllib.parse.quote("验证码".encode("gbk")) in request.content.decode("ascii")
    assert fields(request, "gbk")["content"] == "验证码【腾飞】"


def test_format_send_time_is_china_time() -> None:
    assert p.format_send_time(dt.datetime(2010, 10, 24, 1, 8, 10, tzinfo=dt.UTC)) == "2010-10-24 09:08:10"
    assert p.format_send_time(None) == ""
    with pytest.raises(ValidationError):
        p.format_send_time(dt.datetime(2010, 10, 24, 9, 8, 10))


def test_encrypted_send_posts_userid_and_decryptable_text64() -> None:
    request = p.build_encrypted_send_request(
        Login(BASE, "12", "test", "test"),
        stamp_value="0414174715",
        mobiles=["15510331875"],
        content="我的验证码是：7890。【奥创时代】",
    )
    assert str(request.url) == "https://dx.ipyy.net/ensms.ashx"
    got = fields(request)
    assert set(got) == {"UserId", "Text64"}
    assert got["UserId"] == "12"
    # wire notes §0.2: + and / must be percent-encoded, or '+' arrives as a space.
    raw = request.content.decode("ascii")
    assert "+" not in raw.split("Text64=", 1)[1]
    document = json.loads(des_decrypt(got["Text64"], "test"))
    assert list(document) == ["UserName", "Secret", "Stamp", "Moblie", "Text", "Ext", "SendTime"]
    assert document["Secret"] == "2A8D628159B0D4D3D4D58A3EB17F3082"


def test_batch_lines_follow_spec_1_6_2() -> None:
    lines = [("13800138000", "验证码：1234【华信】"), ("13800138001", "验证码：4567【华信】")]
    assert (
        p.batch_lines(lines)
        == "13800138000,验证码：1234【华信】\r\n13800138001,验证码：4567【华信】\r\n".encode()
    )


def test_batch_lines_refuse_embedded_line_breaks() -> None:
    with pytest.raises(ValidationError):
        p.batch_lines([("13800138000", "a\nb")])


@pytest.mark.parametrize(
    ("method", "magic"), [("gzip", b"\x1f\x8b"), ("zip", b"PK\x03\x04"), ("zlib", b"\x78")]
)
def test_batch_request_content_is_compressed_base64_of_the_lines(
    method: BatchCompression, magic: bytes
) -> None:
    lines = [("13800138000", "你好,世界【华信】"), ("13800138001", "b【华信】")]
    request = p.build_batch_request(
        Login(BASE, "", "a", PASSWORD),
        lines=lines,
        send_time="2026-01-01 08:00:00",
        ext="9",
        compression=method,
    )
    assert request.method == "POST"
    assert request.url.path == "/BatchSms.ashx"
    got = fields(request)
    assert set(got) == {"userid", "account", "password", "content", "sendTime", "extno"}
    blob = base64.b64decode(got["content"], validate=True)
    assert blob.startswith(magic)
    assert decompress(blob) == p.batch_lines(lines)
    assert got["sendTime"] == "2026-01-01 08:00:00"
    assert got["extno"] == "9"


def test_batch_compression_is_deterministic() -> None:
    for method in ("gzip", "zip", "zlib"):
        assert p.compress(b"abc", method) == p.compress(b"abc", method)


def test_mms_request_matches_spec_2_2() -> None:
    tms = pack([("1.txt", "你好".encode("gb2312")), ("mms.smil", b"<smil/>")])
    request = p.build_mms_request(
        Login(BASE, "", "a", PASSWORD),
        mobiles=["15023239810", "13527576163"],
        subject="彩信主题",
        tms=tms,
    )
    assert request.url.path == "/mms.aspx"
    got = fields(request)
    assert got["action"] == "send"
    assert got["subject"] == "彩信主题"
    assert got["mobile"] == "15023239810,13527576163"
    assert unpack(base64.b64decode(got["content"])) == [
        ("1.txt", "你好".encode("gb2312")),
        ("mms.smil", b"<smil/>"),
    ]
    assert got["sendTime"] == ""
    assert got["extno"] == ""


def test_mms_request_carries_send_time_and_extension() -> None:
    """spec 2.2: sendTime and extno are fields of mms.aspx as of sms.aspx."""
    request = p.build_mms_request(
        Login(BASE, "", "a", PASSWORD),
        mobiles=["15023239810"],
        subject="s",
        tms=pack([("1.txt", b"x")]),
        send_time="2010-10-24 09:08:10",
        ext="01",
    )
    got = fields(request)
    assert (got["sendTime"], got["extno"]) == ("2010-10-24 09:08:10", "01")


@pytest.mark.parametrize("endpoint", [p.SEND_FORM, p.SEND_GBK, p.SEND_JSON, p.MMS])
def test_balance_request_is_action_overage(endpoint: str) -> None:
    request = p.build_balance_request(
        Login(BASE, "12", "a", PASSWORD),
        endpoint=endpoint,
    )
    assert request.url.path == "/" + endpoint
    assert fields(request) == {"action": "overage", "userid": "12", "account": "a", "password": MD5}


def test_reports_request_matches_spec_4_2() -> None:
    request = p.build_reports_request(Login(BASE, "12", "a", PASSWORD), limit=100, task_id="1523516")
    assert request.url.path == "/statusApi.aspx"
    assert fields(request) == {
        "action": "query",
        "userid": "12",
        "account": "a",
        "password": MD5,
        "statusNum": "100",
        "taskid": "1523516",
    }


def test_reports_request_leaves_optional_fields_out_and_json_uses_its_endpoint() -> None:
    request = p.build_reports_request(Login(BASE, "", "a", PASSWORD), endpoint=p.STATUS_JSON)
    assert request.url.path == "/statusJsonApi.aspx"
    assert "statusNum" not in fields(request)
    assert "taskid" not in fields(request)


@pytest.mark.parametrize(("json_reply", "path"), [(False, "/callApi.aspx"), (True, "/callJsonApi.aspx")])
def test_inbound_request_matches_spec_5_2(json_reply: bool, path: str) -> None:
    request = p.build_inbound_request(
        Login(BASE, "12", "a", PASSWORD), endpoint=p.CALL_JSON if json_reply else p.CALL_XML
    )
    assert request.url.path == path
    assert fields(request) == {"action": "query", "userid": "12", "account": "a", "password": MD5}


def test_password_request_matches_spec_7_2() -> None:
    request = p.build_password_request(Login(BASE, "12", "a", PASSWORD), new_password="n3w")
    assert request.url.path == "/pwd.aspx"
    assert fields(request) == {"userid": "12", "account": "a", "password": MD5, "newpassword": "n3w"}


def test_send_time_helper_keeps_china_local_clock() -> None:
    when = dt.datetime(2026, 5, 1, 8, 0, 0, tzinfo=CHINA)
    assert p.format_send_time(when) == "2026-05-01 08:00:00"


def test_login_repr_shows_neither_the_password_nor_its_md5() -> None:
    login = Login(BASE, "12", "a", PASSWORD)
    assert login.password_md5 == MD5
    assert PASSWORD not in repr(login)
    assert MD5 not in repr(login)
