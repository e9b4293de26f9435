"""Pushed reports and inbound messages (spec chapter 6) and the replies the gateway expects."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.exceptions import ValidationError
from smsgate_ipyy._crypto import CHINA

from .spec_samples import CALL_XML, STATUS_XML

STATUS_PUSH = STATUS_XML.encode()


CALL_PUSH = CALL_XML.encode()


def test_status_push_spec_6_2_gives_delivery_reports(h: Any) -> None:
    first, second = h.provider().parse_callback(STATUS_PUSH, "text/xml")
    assert isinstance(first, DeliveryReport)
    assert first.status is DeliveryStatus.DELIVERED
    assert first.mobile == "15023239810"
    assert first.task_id == "1212"
    assert first.received_at == dt.datetime(2011, 12, 2, 22, 12, 11, tzinfo=CHINA)
    assert first.ext == "01"
    assert first.provider == "ipyy"
    assert second.status is DeliveryStatus.FAILED
    assert second.vendor_code == "2"


def test_call_push_spec_6_3_gives_inbound_messages(h: Any) -> None:
    message, second = h.provider(name="ipyy-b").parse_callback(CALL_PUSH)
    assert second.text == "你好，本次活动路线是怎么的"
    assert isinstance(message, InboundMessage)
    assert message.text == "你好，我不需要"
    assert message.ext == "01"
    assert message.provider == "ipyy-b"


@pytest.mark.parametrize(
    "content_type", [None, "", "text/xml", "application/x-www-form-urlencoded", "text/plain"]
)
def test_content_type_is_ignored(h: Any, content_type: str | None) -> None:
    assert len(h.provider().parse_callback(STATUS_PUSH, content_type)) == 2


def test_push_without_status_field_derives_it_from_errorcode(h: Any) -> None:
    # wire notes §6: a harness posts items of mobile, taskid, errorcode, receivetime, extno.
    body = (
        b"<returnsms><statusbox><mobile>13800138000</mobile><taskid>9</taskid>"
        b"<errorcode>DELIVRD</errorcode></statusbox></returnsms>"
    )
    (report,) = h.provider().parse_callback(body)
    assert report.status is DeliveryStatus.DELIVERED


def test_mixed_push_keeps_document_order(h: Any) -> None:
    body = (
        b"<returnsms><callbox><mobile>13800138000</mobile><content>hi</content></callbox>"
        b"<statusbox><mobile>13800138001</mobile><status>10</status></statusbox></returnsms>"
    )
    kinds = [type(item) for item in h.provider().parse_callback(body)]
    assert kinds == [InboundMessage, DeliveryReport]


def test_empty_push_is_an_empty_list(h: Any) -> None:
    assert h.provider().parse_callback(b"<returnsms></returnsms>") == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<returnsms><callbox><mobile>1</mobile><content>&lol2;</content></callbox></returnsms>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"mobile=13800138000&status=10",
        b"<returnsms><statusbox>",
        b"<other/>",
        b"<returnsms><errorstatus><error>1</error></errorstatus></returnsms>",
        b"<returnsms><statusbox><taskid>1</taskid></statusbox></returnsms>",
        b"\xff\xfe\x00garbage",
        BILLION_LAUGHS,
    ],
)
def test_unparsable_push_is_a_validation_error(h: Any, body: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        h.provider().parse_callback(body)
    assert info.value.provider == "ipyy"


@pytest.mark.parametrize("body", [STATUS_XML, None, 7])
def test_a_push_body_that_is_no_bytes_is_a_validation_error(h: Any, body: object) -> None:
    """A decoded str (or None) raised a bare AttributeError or TypeError out of the parse."""
    with pytest.raises(ValidationError, match=f"raw bytes, not {type(body).__name__}") as info:
        h.provider().parse_callback(body)
    assert info.value.provider == "ipyy"
    assert info.value.field == "body"


def test_a_bytearray_or_memoryview_push_is_read_as_its_bytes(h: Any) -> None:
    for body in (bytearray(STATUS_PUSH), memoryview(STATUS_PUSH)):
        assert h.provider().parse_callback(body) == h.provider().parse_callback(STATUS_PUSH)


def test_callback_reply_spec_6_4(h: Any) -> None:
    provider = h.provider()
    ok = provider.callback_reply(True)
    retry = provider.callback_reply(False)
    assert (ok.status_code, ok.body, ok.media_type) == (200, b"1", "text/plain; charset=utf-8")
    assert (retry.status_code, retry.body) == (200, b"error")
