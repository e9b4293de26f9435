"""Aliyun's pushes to the application (HTTP batch push): delivery reports and inbound messages.

Both arrive as a POST whose body is a JSON array, and both want a JSON acknowledgement
``{"code": 0, "msg": "成功"}``; anything else makes the service push the batch again later.
Source: Alibaba Cloud SMS developer reference, "SmsReport"
(https://help.aliyun.com/zh/sms/developer-reference/smsreport-2) and "SmsUp", HTTP批量推送模式;
only ``code`` 0 matters in the answer (the page's sample has ``"msg": "接收成功"``)::

    [{"phone_number": "13800138000", "send_time": "2017-01-01 11:12:13",
      "report_time": "2017-01-01 11:12:14", "success": true, "err_code": "DELIVERED",
      "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "932702304080415357^0",
      "out_id": "1184585343"}]
    [{"phone_number": "13800138000", "send_time": "2017-01-01 00:00:00", "content": "1",
      "sign_name": "阿里云", "dest_code": "1234", "sequence_id": 1234567890}]

The parsers are pure and raise only :class:`~smsgate.exceptions.ValidationError` (the
receiver's signal for "not a valid push"), whatever the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from smsgate import CallbackReply, DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.exceptions import SmsGateError, ValidationError
from smsgate_aliyun._parse import load_json, parse_china_time

__all__ = ["ACK", "NACK", "parse_inbound_push", "parse_push", "parse_report_push", "push_reply"]

_JSON = "application/json; charset=utf-8"
#: The acknowledgement the service expects once a push is stored.
ACK = CallbackReply(status_code=200, body='{"code":0,"msg":"成功"}'.encode(), media_type=_JSON)
#: The answer that asks the service to push the batch again later.
NACK = CallbackReply(status_code=500, body='{"code":1,"msg":"接收失败"}'.encode(), media_type=_JSON)

T = TypeVar("T")


def push_reply(ok: bool) -> CallbackReply:
    """:data:`ACK` when the push was stored, else :data:`NACK` (the service retries)."""
    return ACK if ok else NACK


class _Bad(Exception):
    """An item of the push is missing a field or has one of the wrong type."""


def _items(body: bytes, what: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    try:
        doc = load_json(body)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"an Aliyun {what} push must be JSON", field="body") from exc
    if not isinstance(doc, list):
        raise ValidationError(f"an Aliyun {what} push must be a JSON array", field="body")
    out: list[T] = []
    for index, item in enumerate(doc):
        try:
            if not isinstance(item, dict):
                raise _Bad("not an object")
            out.append(parse(item))
        except (_Bad, ValueError) as exc:
            # SmsGateError from a model's validator is a ValueError too (ValidationError).
            raise ValidationError(
                f"item {index} of an Aliyun {what} push is invalid: {exc}", field="body"
            ) from exc
        except SmsGateError as exc:
            raise ValidationError(f"item {index} of an Aliyun {what} push: {exc}", field="body") from exc
    return out


def _str(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(f"{name} is not a string")
    return value


def _required(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise _Bad(f"{name} is missing or not a string")
    return value


def _typed(item: dict[str, Any], name: str, kind: type[T], what: str) -> T:
    value = item.get(name)
    if not isinstance(value, kind):
        raise _Bad(f"{name} is not {what}")
    return value


def _sequence_id(item: dict[str, Any]) -> str | None:
    """``sequence_id``, the service's number for an inbound message, as text (``None`` when
    absent or empty). SmsUp documents a number; a string is taken as it is."""
    value = item.get("sequence_id")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("sequence_id is not an integer")
    return str(value)


def parse_report_push(body: bytes, *, provider: str) -> list[DeliveryReport]:
    """The reports of a ``SmsReport`` push, one per item, in order.

    ``success`` true is delivered, false failed; ``biz_id`` becomes ``task_id``, ``err_code``
    ``vendor_code``, ``report_time`` (China time) ``received_at``, and ``out_id`` (the
    caller's reference, ``OutId``) ``reference``.
    """

    def report(item: dict[str, Any]) -> DeliveryReport:
        success = _typed(item, "success", bool, "true or false")
        return DeliveryReport(
            provider=provider,
            mobile=_required(item, "phone_number"),
            task_id=_required(item, "biz_id"),
            status=DeliveryStatus.DELIVERED if success else DeliveryStatus.FAILED,
            received_at=parse_china_time(item.get("report_time")),
            vendor_code=_str(item, "err_code"),
            reference=_str(item, "out_id"),
            raw=item,
        )

    return _items(body, "report", report)


def parse_inbound_push(body: bytes, *, provider: str) -> list[InboundMessage]:
    """The messages of a ``SmsUp`` push, one per item, in order.

    ``dest_code`` (the extension the handset replied to) becomes ``ext``, ``send_time``
    (China time) ``received_at``, and ``sequence_id`` (the service's number for the message)
    ``task_id``; ``sign_name`` stays in ``raw``.

    ``task_id`` is part of the receiver's de-duplication key
    (:func:`smsgate.receiver.event_key`): two messages alike in every other field (one number
    sending one text twice in a second, each in its own push) are two events, while a push
    delivered again keeps its numbers, and so its keys. An item without ``sequence_id`` has no
    ``task_id``, and the key it always had.
    """

    def message(item: dict[str, Any]) -> InboundMessage:
        content = _typed(item, "content", str, "a string")
        return InboundMessage(
            provider=provider,
            mobile=_required(item, "phone_number"),
            text=content,
            received_at=parse_china_time(item.get("send_time")),
            ext=_str(item, "dest_code"),
            task_id=_sequence_id(item),
            raw=item,
        )

    return _items(body, "inbound", message)


def parse_push(body: bytes, *, provider: str) -> list[DeliveryReport] | list[InboundMessage]:
    """A push of either kind: an ``SmsUp`` push (its items have ``content``) becomes inbound
    messages, any other a ``SmsReport`` push's reports. The service pushes the two kinds to
    separate URLs, but one receiver may take both; an empty array is an empty list.
    """
    try:
        doc = load_json(body)
    except (ValueError, RecursionError) as exc:
        raise ValidationError("an Aliyun push must be JSON", field="body") from exc
    if not isinstance(doc, list):
        raise ValidationError("an Aliyun push must be a JSON array", field="body")
    if doc and isinstance(doc[0], dict) and "content" in doc[0]:
        return parse_inbound_push(body, provider=provider)
    return parse_report_push(body, provider=provider)
