"""A lone surrogate in an Aliyun push or reply is marked (U+FFFD), not kept as a str no codec
can encode.

``json.loads`` reads an unpaired ``\\ud800`` escape (or the UTF-8-looking bytes of one, which it
decodes with ``surrogatepass``) into a str that fails wherever it goes next: the receiver's
journal could not store such a push, answered "retry", and the service pushed the same batch
again forever, the other items of it with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import smsgate
from smsgate.receiver import Receiver
from smsgate_aliyun._parse import parse_query_reply
from smsgate_aliyun._push import ACK, parse_inbound_push, parse_report_push

REPORT = {
    "phone_number": "13800138000",
    "send_time": "2017-01-01 11:12:13",
    "report_time": "2017-01-01 11:12:14",
    "success": True,
    "err_code": "DELIVERED",
    "err_msg": "用户接收成功",
    "sms_size": "1",
    "biz_id": "932702304080415357^0",
    "out_id": "1184585343",
}
INBOUND = {
    "phone_number": "13800138000",
    "send_time": "2017-01-01 00:00:00",
    "content": "好的",
    "sign_name": "阿里云",
    "dest_code": "1234",
    "sequence_id": 1,
}


def _push(*items: dict[str, Any]) -> bytes:
    return json.dumps(list(items)).encode()  # ensure_ascii: "\ud800" stays an escape


def _encodable(value: Any) -> None:
    json.dumps(value, ensure_ascii=False).encode()  # raises UnicodeEncodeError on a lone surrogate


@pytest.mark.parametrize(
    ("base", "field"),
    [
        (REPORT, "err_msg"),
        (REPORT, "out_id"),
        (REPORT, "send_time"),
        (INBOUND, "content"),
        (INBOUND, "sign_name"),
    ],
)
def test_a_push_with_a_lone_surrogate_is_stored_and_acknowledged(
    tmp_path: Path, base: dict[str, Any], field: str
) -> None:
    provider = smsgate.get_provider(
        "aliyun", access_key_id="LTAI5tTestKey", access_key_secret="secret-0", sign_name="腾飞"
    )
    broken = {**base, field: "a\ud800b"}
    with Receiver(provider, None, journal=tmp_path / "journal.sqlite3") as receiver:
        intake = receiver.receive(_push(broken, base), "application/json")
    assert intake.stored
    assert intake.reply == ACK
    assert len(intake.events) == 2
    for event in intake.events:
        _encodable(event.raw)


def test_each_lone_surrogate_becomes_a_replacement_character_and_a_pair_stays() -> None:
    body = _push({**INBOUND, "content": "x\udc00y\ud83d\ude00", "extra\ud800": ["\udfff"]})
    [message] = parse_inbound_push(body, provider="aliyun")
    assert message.text == "x\ufffdy😀"
    assert message.raw["extra\ufffd"] == ["\ufffd"]


def test_the_raw_bytes_of_a_surrogate_are_marked_too() -> None:
    """UTF-8-looking bytes ED A0 80 are no UTF-8, but json.loads takes them (surrogatepass)."""
    body = _push({**REPORT, "err_code": "@"}).replace(b"@", b"\xed\xa0\x80")
    [report] = parse_report_push(body, provider="aliyun")
    assert report.vendor_code == "\ufffd"


def test_a_query_reply_with_a_lone_surrogate_gives_encodable_reports() -> None:
    item = {"PhoneNum": "13800138000", "SendStatus": 3, "ErrCode": "\ud800", "OutId": "o\udbff"}
    body = json.dumps({"Code": "OK", "TotalCount": 1, "SmsSendDetailDTOs": {"SmsSendDetailDTO": [item]}})
    page = parse_query_reply(body.encode(), status_code=200, provider="aliyun")
    [report] = page.reports
    assert (report.vendor_code, report.reference) == ("\ufffd", "o\ufffd")
    _encodable(page.raw)


def test_a_push_in_utf16_with_a_lone_surrogate_escape_is_read_and_marked() -> None:
    body = json.dumps([{**INBOUND, "content": "\ud800"}]).encode("utf-16")
    [message] = parse_inbound_push(body, provider="aliyun")
    assert message.text == "\ufffd"
