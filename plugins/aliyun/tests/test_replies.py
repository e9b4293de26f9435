"""Golden tests of the reply and push parsers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from smsgate import DeliveryStatus, InboundMessage
from smsgate.exceptions import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRecipientError,
    MalformedReplyError,
    ProviderError,
    ProviderOutageError,
    RateLimitedError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate.receiver import event_key
from smsgate_aliyun import AliyunProvider
from smsgate_aliyun._parse import parse_query_reply, parse_send_reply
from smsgate_aliyun._push import ACK, NACK, parse_inbound_push, parse_report_push, push_reply

from .samples import (
    CHINA,
    GATEWAY_SIGNATURE,
    INBOUND_PUSH,
    QUERY_EMPTY,
    QUERY_OK,
    REPORT_PUSH,
    SEND_OK,
    SEND_REFUSED,
)


def test_a_send_reply_becomes_a_receipt_with_the_biz_id() -> None:
    receipt = parse_send_reply(
        SEND_OK, status_code=200, provider="aliyun", recipients=["13800138000", "13900139000"]
    )
    assert receipt.provider == "aliyun"
    assert receipt.task_id == "9006197469364984400"
    assert receipt.accepted == 2
    assert receipt.recipients == ("13800138000", "13900139000")
    assert receipt.raw["RequestId"] == "F655A8D5-B967-440B-8683-DAD6FF8DE990"


def test_a_refusal_keeps_the_vendor_code_and_message() -> None:
    with pytest.raises(InvalidRecipientError) as info:
        parse_send_reply(SEND_REFUSED, status_code=200, provider="aliyun", recipients=["1"])
    assert info.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert info.value.vendor_message == "非法手机号"
    assert info.value.provider is None


def test_a_gateway_refusal_with_http_400_is_classified_by_its_code() -> None:
    with pytest.raises(AuthenticationError) as info:
        parse_send_reply(GATEWAY_SIGNATURE, status_code=400, provider="aliyun", recipients=["1"])
    assert info.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 200),
        (b"<html>502 Bad Gateway</html>", 502),
        (b"[]", 200),
        (b'{"Message":"OK"}', 200),
        (b'{"Code":"OK"}', 200),
        (b'{"Code":"OK","BizId":""}', 200),
        (b'{"Code":"OK","BizId":42}', 200),
        (b'{"Code":"OK","BizId":"1"}', 500),
        (b"\xff\xfe\x00", 200),
        (b"[" * 100_000, 200),
    ],
)
def test_an_unreadable_send_reply_is_malformed(body: bytes, status: int) -> None:
    with pytest.raises(MalformedReplyError) as info:
        parse_send_reply(body, status_code=status, provider="aliyun", recipients=["1"])
    assert info.value.status_code == status
    assert info.value.body_excerpt == body[:200]


def test_a_query_reply_maps_send_status_3_2_1() -> None:
    page = parse_query_reply(QUERY_OK, status_code=200, provider="aliyun", biz_id="134523^4351232")
    assert page.total == 3
    delivered, failed, pending = page.reports
    assert delivered.status is DeliveryStatus.DELIVERED
    assert delivered.vendor_code == "DELIVERED"
    assert delivered.received_at == dt.datetime(2019, 1, 8, 16, 44, 13, tzinfo=CHINA)
    assert delivered.received_at == dt.datetime(2019, 1, 8, 8, 44, 13, tzinfo=dt.UTC)
    assert delivered.task_id == "134523^4351232"
    assert delivered.mobile == "15298356881"
    assert delivered.raw["OutId"] == "order-42"
    assert failed.status is DeliveryStatus.FAILED
    assert failed.vendor_code == "MK:0001"
    assert pending.status is DeliveryStatus.PENDING
    assert pending.received_at is None
    assert pending.vendor_code is None


def test_an_empty_query_reply_has_no_reports() -> None:
    page = parse_query_reply(QUERY_EMPTY, status_code=200, provider="aliyun")
    assert page.reports == ()
    assert page.total == 0
    assert (
        parse_query_reply(b'{"Code":"OK","TotalCount":0}', status_code=200, provider="aliyun").reports == ()
    )


def test_an_unexpected_send_status_is_unknown() -> None:
    doc = json.loads(QUERY_OK)
    doc["SmsSendDetailDTOs"]["SmsSendDetailDTO"][0]["SendStatus"] = 9
    page = parse_query_reply(json.dumps(doc).encode(), status_code=200, provider="aliyun")
    assert page.reports[0].status is DeliveryStatus.UNKNOWN


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("SendStatus",), "3"),
        (("SendStatus",), True),
        (("PhoneNum",), 15298356881),
        (("PhoneNum",), ""),
        (("ReceiveDate",), "2019/01/08"),
        (("ErrCode",), 0),
    ],
)
def test_a_bad_query_detail_is_malformed(path: tuple[str, ...], value: object) -> None:
    doc = json.loads(QUERY_OK)
    doc["SmsSendDetailDTOs"]["SmsSendDetailDTO"][0][path[0]] = value
    with pytest.raises(MalformedReplyError):
        parse_query_reply(json.dumps(doc).encode(), status_code=200, provider="aliyun")


def test_a_query_refusal_is_classified() -> None:
    body = b'{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"x"}'
    with pytest.raises(InvalidRecipientError):
        parse_query_reply(body, status_code=200, provider="aliyun")


def test_a_report_push_becomes_reports() -> None:
    delivered, failed = parse_report_push(REPORT_PUSH, provider="aliyun")
    assert delivered.status is DeliveryStatus.DELIVERED
    assert delivered.task_id == "932702304080415357^0"
    assert delivered.vendor_code == "DELIVERED"
    assert delivered.received_at == dt.datetime(2017, 1, 1, 11, 12, 14, tzinfo=CHINA)
    assert delivered.raw["out_id"] == "1184585343"
    assert failed.status is DeliveryStatus.FAILED
    assert failed.mobile == "13900139000"
    assert failed.vendor_code == "MK:0001"


def test_an_inbound_push_becomes_messages() -> None:
    (message,) = parse_inbound_push(INBOUND_PUSH, provider="aliyun")
    assert message.mobile == "13800138000"
    assert message.text == "退订"
    assert message.ext == "1234"
    assert message.received_at == dt.datetime(2017, 1, 1, tzinfo=CHINA)
    assert message.raw["sign_name"] == "阿里云"
    assert message.task_id == "1234567890"  # sequence_id: the service's number for the message


def _inbound(**fields: object) -> bytes:
    item = {"phone_number": "13800138000", "send_time": "2017-01-01 00:00:00", "content": "好的"}
    return json.dumps([{**item, **fields}]).encode()


def test_the_sequence_id_tells_apart_two_messages_alike_in_every_other_field() -> None:
    """Two replies "好的" from one number in one second, each in its own push: only their
    sequence_id differs. The receiver's de-duplication key took them for one push delivered
    twice and dispatched one; the same push delivered again keeps its key."""
    (first,) = parse_inbound_push(_inbound(sequence_id=1), provider="aliyun")
    (second,) = parse_inbound_push(_inbound(sequence_id=2), provider="aliyun")
    (again,) = parse_inbound_push(_inbound(sequence_id=2), provider="aliyun")
    assert event_key(first) != event_key(second)
    assert event_key(second) == event_key(again)
    assert (first.task_id, second.task_id) == ("1", "2")
    (text_id,) = parse_inbound_push(_inbound(sequence_id="77"), provider="aliyun")
    assert text_id.task_id == "77"


@pytest.mark.parametrize("absent", [{}, {"sequence_id": None}, {"sequence_id": ""}])
def test_a_message_without_a_sequence_id_keeps_the_key_it_had(absent: dict[str, object]) -> None:
    """A journal written before sequence_id was read still recognises a re-delivery of a push
    whose items carry none: their key is the one a message without task_id always had."""
    (message,) = parse_inbound_push(_inbound(**absent), provider="aliyun")
    before = InboundMessage(
        provider="aliyun", mobile="13800138000", text="好的", received_at=message.received_at, raw={}
    )
    assert message.task_id is None
    assert event_key(message) == event_key(before)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"[1]",
        b'[{"phone_number":"1","biz_id":"b"}]',
        b'[{"phone_number":"1","biz_id":"b","success":"true"}]',
        b'[{"phone_number":"","biz_id":"b","success":true}]',
        b'[{"phone_number":"1","biz_id":"b","success":true,"report_time":"yesterday"}]',
        b"\xff",
    ],
)
def test_a_bad_report_push_is_a_validation_error(body: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_report_push(body, provider="aliyun")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"content":"x"}',
        b'[{"phone_number":"1"}]',
        b'[{"phone_number":"1","content":7}]',
        b'[{"phone_number":"1","content":"x","sequence_id":true}]',
        b'[{"phone_number":"1","content":"x","sequence_id":1.5}]',
        b'[{"phone_number":"1","content":"x","sequence_id":[1]}]',
    ],
)
def test_a_bad_inbound_push_is_a_validation_error(body: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_inbound_push(body, provider="aliyun")


@pytest.mark.parametrize("body", [INBOUND_PUSH.decode(), None, 7])
def test_a_push_body_that_is_no_bytes_is_a_validation_error(body: object) -> None:
    """A decoded str (or None) raised a bare AttributeError out of the provider's parse."""
    provider = AliyunProvider(access_key_id="LTAIx", access_key_secret="s3cret-key", sign_name="腾飞")
    with pytest.raises(ValidationError, match=f"raw bytes, not {type(body).__name__}") as info:
        provider.parse_callback(body)  # type: ignore[arg-type]
    assert info.value.provider == "aliyun"
    assert info.value.field == "body"
    assert provider.parse_callback(bytearray(REPORT_PUSH)) == provider.parse_callback(REPORT_PUSH)


def test_the_push_acknowledgement_is_aliyun_s_json() -> None:
    assert push_reply(True) is ACK
    assert ACK.status_code == 200
    assert json.loads(ACK.body) == {"code": 0, "msg": "成功"}
    assert ACK.media_type.startswith("application/json")
    assert push_reply(False) is NACK
    assert json.loads(NACK.body)["code"] != 0


# --- replies without a Code: read by their HTTP status -------------------------------------

_PAGE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


@pytest.mark.parametrize("parse", ["send", "query"])
@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (429, RateLimitedError, "HTTP 429"),
        (503, ProviderOutageError, "HTTP 503"),
        (403, ProviderError, "HTTP 403"),
        (404, ProviderError, "HTTP 404"),
    ],
)
def test_a_page_without_a_code_that_refuses_the_request_is_not_sent(
    parse: str, status: int, error: type[ProviderError], code: str
) -> None:
    """What a load balancer, proxy or firewall in front of the service answers: the request
    never reached it, so nothing was sent (a 429 or 503 may go to another provider)."""
    with pytest.raises(error) as info:
        _parse_reply(parse, _PAGE, status, retry_after="12")
    assert type(info.value) is error
    assert info.value.code == code
    assert not isinstance(info.value, UncertainOutcomeError)
    if status == 429:
        assert isinstance(info.value, RateLimitedError)
        assert info.value.retry_after == 12.0


@pytest.mark.parametrize("parse", ["send", "query"])
@pytest.mark.parametrize("body", [_PAGE, b"", b"[]", b'{"Message": "no code"}'])
@pytest.mark.parametrize("status", [200, 500, 502, 504])
def test_a_reply_without_a_code_after_which_the_service_may_have_acted_is_malformed(
    parse: str, body: bytes, status: int
) -> None:
    with pytest.raises(MalformedReplyError) as info:
        _parse_reply(parse, body, status, retry_after=None)
    assert info.value.status_code == status


def test_a_refusal_code_wins_over_the_http_status() -> None:
    body = json.dumps({"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "余额不足"}).encode()
    with pytest.raises(InsufficientBalanceError):
        parse_send_reply(body, status_code=503, provider="aliyun", recipients=["1"], retry_after="1")


def _parse_reply(parse: str, body: bytes, status: int, *, retry_after: str | None) -> object:
    if parse == "send":
        return parse_send_reply(
            body, status_code=status, provider="aliyun", recipients=["1"], retry_after=retry_after
        )
    return parse_query_reply(body, status_code=status, provider="aliyun", retry_after=retry_after)
