"""Reply parsers for ``SendSms``, ``SendBatchSms`` and ``QuerySendDetails``.

Pure functions: the reply's bytes and HTTP status in, smsgate models out. They raise only
smsgate errors, whatever the bytes:

* a refusal (any ``Code`` but ``OK``) → the class :mod:`smsgate_aliyun._codes` gives the code,
  with the vendor's code and message kept;
* a reply that cannot be understood (not JSON, no ``Code``, ``OK`` without a ``BizId``, a field
  of the wrong type) → :class:`~smsgate.exceptions.MalformedReplyError`: whether the service
  acted is unknown.

Provider and operation are not put on the errors: the driver adds them.

Reply shapes (API reference, Dysmsapi 2017-05-25)::

    {"Code": "OK", "Message": "OK", "BizId": "9006197469364984400", "RequestId": "…"}
    {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "…", "RequestId": "…"}
    {"Code": "OK", "TotalCount": 1, "SmsSendDetailDTOs": {"SmsSendDetailDTO": [
        {"PhoneNum": "…", "SendStatus": 3, "ErrCode": "DELIVERED", "ReceiveDate": "…", …}]}}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

import attrs

from smsgate import DeliveryReport, DeliveryStatus, Receipt, replace_lone_surrogates
from smsgate.exceptions import MalformedReplyError, SmsGateError, error_for_http_status
from smsgate_aliyun._codes import SUCCESS, error_for_code

__all__ = ["CHINA", "QueryPage", "load_json", "parse_china_time", "parse_query_reply", "parse_send_reply"]

#: The service's clock: every date it writes is China time (UTC+8, no daylight saving).
CHINA = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: QuerySendDetails ``SendStatus``: 1 waiting for a report, 2 failed, 3 delivered.
SEND_STATUS = {
    1: DeliveryStatus.PENDING,
    2: DeliveryStatus.FAILED,
    3: DeliveryStatus.DELIVERED,
}


@attrs.frozen
class QueryPage:
    """One page of ``QuerySendDetails``: its reports and the total count over every page."""

    reports: tuple[DeliveryReport, ...]
    total: int
    raw: Any = attrs.field(default=None, eq=False, repr=False)


class _Bad(Exception):
    """A reply field is missing or of the wrong type (turned into MalformedReplyError)."""


def parse_china_time(text: object) -> dt.datetime | None:
    """``2019-01-08 16:44:13`` (China time) as an aware datetime; ``None`` for ``""``/absent.

    :raises ValueError: any other text.
    """
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError("a time must be a string")
    return dt.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=CHINA)


# An escaped or a raw UTF-16 surrogate: json.loads reads either (it decodes bytes with
# "surrogatepass") into a str no codec encodes, unless a pair's other half follows.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def load_json(body: bytes) -> Any:
    """``json.loads(body)`` with each lone surrogate in its strings replaced by U+FFFD.

    The standard parser reads an unpaired ``\\ud800`` escape as a str that no codec can
    encode: it would fail wherever the reports or messages go next (the receiver's journal,
    a database, a log), and a push that cannot be stored is pushed again, forever. Each
    broken character is marked instead and the items are kept.

    :raises ValueError: not JSON (``UnicodeDecodeError`` included).
    :raises RecursionError: nested too deep.
    """
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    doc = json.loads(text)
    if _SURROGATE.search(text) is None:
        return doc
    return replace_lone_surrogates(doc)


def _malformed(why: str, body: bytes, status_code: int) -> MalformedReplyError:
    return MalformedReplyError(
        f"Aliyun sent a reply smsgate cannot read: {why}", status_code=status_code, body_excerpt=body
    )


def _unreadable(why: str, body: bytes, status_code: int, retry_after: str | None) -> SmsGateError:
    """The error for a reply without a readable ``Code``: what its HTTP status says when the
    status refuses the request before the service read it (429, 503, another 4xx: nothing was
    sent; a proxy or load balancer in front of the service answers so, in its own words),
    otherwise :class:`MalformedReplyError` (a 2xx or another 5xx: the outcome is uncertain)."""
    if status_code == 503 or 400 <= status_code < 500:
        error = error_for_http_status(status_code, retry_after=retry_after, service="Aliyun")
        if error is not None:
            return error
    return _malformed(why, body, status_code)


def _load(body: bytes, status_code: int, retry_after: str | None = None) -> dict[str, Any]:
    """The reply as a JSON object whose ``Code`` is ``OK``; a refusal raises its error, and so
    does a reply without a ``Code`` (:func:`_unreadable`; ``retry_after``: its ``Retry-After``
    header)."""
    try:
        doc = load_json(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _unreadable("not JSON", body, status_code, retry_after) from exc
    if not isinstance(doc, dict):
        raise _unreadable("not a JSON object", body, status_code, retry_after)
    if "Code" not in doc:
        raise _unreadable("no Code", body, status_code, retry_after)
    code = doc["Code"]
    if not isinstance(code, str) or not code:
        # The service's JSON, whatever its status: it may have acted on the request (uncertain).
        raise _malformed("a Code that is no code", body, status_code)
    if code != SUCCESS:
        message = doc.get("Message")
        raise error_for_code(code, message if isinstance(message, str) else None, raw=doc)
    if not 200 <= status_code < 300:
        raise _malformed(f"Code OK with HTTP status {status_code}", body, status_code)
    return doc


def parse_send_reply(
    body: bytes, *, status_code: int, provider: str, recipients: Sequence[str], retry_after: str | None = None
) -> Receipt:
    """The reply of ``SendSms`` or ``SendBatchSms``: a :class:`Receipt` whose ``task_id`` is
    the ``BizId`` and which counts every number of the request as accepted (the service
    accepts or refuses a request whole)."""
    doc = _load(body, status_code, retry_after)
    biz_id = doc.get("BizId")
    if not isinstance(biz_id, str) or not biz_id:
        raise _malformed("Code OK without a BizId", body, status_code)
    return Receipt(
        provider=provider,
        task_id=biz_id,
        accepted=len(recipients),
        recipients=tuple(recipients),
        raw=doc,
    )


def _details(doc: dict[str, Any]) -> list[Any]:
    wrapper = doc.get("SmsSendDetailDTOs")
    if wrapper is None:
        return []
    if not isinstance(wrapper, dict):
        raise _Bad("SmsSendDetailDTOs")
    items = wrapper.get("SmsSendDetailDTO", [])
    if not isinstance(items, list):
        raise _Bad("SmsSendDetailDTO")
    return items


def _optional_str(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(name)
    return value


def _report(item: object, *, provider: str, biz_id: str | None) -> DeliveryReport:
    if not isinstance(item, dict):
        raise _Bad("SmsSendDetailDTO")
    mobile = item.get("PhoneNum")
    status = item.get("SendStatus")
    if not isinstance(mobile, str) or not mobile:
        raise _Bad("PhoneNum")
    if isinstance(status, bool) or not isinstance(status, int):
        raise _Bad("SendStatus")
    try:
        received_at = parse_china_time(item.get("ReceiveDate"))
    except ValueError as exc:
        raise _Bad("ReceiveDate") from exc
    return DeliveryReport(
        provider=provider,
        mobile=mobile,
        task_id=biz_id,
        status=SEND_STATUS.get(status, DeliveryStatus.UNKNOWN),
        received_at=received_at,
        vendor_code=_optional_str(item, "ErrCode"),
        reference=_optional_str(item, "OutId"),
        raw=item,
    )


def parse_query_reply(
    body: bytes,
    *,
    status_code: int,
    provider: str,
    biz_id: str | None = None,
    retry_after: str | None = None,
) -> QueryPage:
    """The reply of ``QuerySendDetails``: one :class:`DeliveryReport` per message sent.

    The service does not repeat the ``BizId`` in the details; the one the query asked for (if
    any) becomes each report's ``task_id``. ``SendStatus`` 3 is delivered, 2 failed, 1 still
    pending; any other value is ``unknown``. ``ErrCode`` is kept as ``vendor_code`` and
    ``ReceiveDate`` (China time) becomes ``received_at`` and ``OutId`` (the caller's
    reference) ``reference``.
    """
    doc = _load(body, status_code, retry_after)
    total = doc.get("TotalCount", 0)
    try:
        if isinstance(total, bool) or not isinstance(total, int | str):
            raise _Bad("TotalCount")
        reports = tuple(_report(i, provider=provider, biz_id=biz_id) for i in _details(doc))
        count = int(total)
    except (_Bad, ValueError) as exc:
        raise _malformed(f"a bad or missing field ({exc})", body, status_code) from exc
    except SmsGateError as exc:  # a model refused a value (an empty mobile …)
        raise _malformed(str(exc), body, status_code) from exc
    return QueryPage(reports=reports, total=max(count, len(reports)), raw=doc)
