"""The ipyy replies, without I/O: reply bytes in, smsgate models out, or the error they mean.

A parser raises the error a reply means and nothing more: which provider and operation it
belongs to is added by smsgate's drivers, which know both. ``provider`` is passed only
where a model carries it (``Receipt.provider`` …). Every vendor reply field name lives here
as a constant.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, DecimalException
from itertools import repeat
from typing import Any, Literal

import httpx

from smsgate import Balance, DeliveryReport, DeliveryStatus, InboundMessage, Receipt, replace_lone_surrogates
from smsgate.exceptions import MalformedReplyError, ProviderError
from smsgate_ipyy import _codes
from smsgate_ipyy._crypto import CHINA
from smsgate_ipyy._flatxml import flat_boxes
from smsgate_ipyy._xml import (
    XmlError,
    children_text,
    decode_body,
    document_bytes,
    local_name,
    parse_document,
    parse_xml,
)

_orjson_loads: Callable[[bytes], Any] | None
try:  # a dependency of the plugin on CPython; optional elsewhere (no PyPy wheels)
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - the standard parser reads the same
    _orjson_loads = None

__all__ = [
    "amount",
    "check_http_status",
    "inbound_item",
    "malformed",
    "parse_balance_reply",
    "parse_china_time",
    "parse_encrypted_reply",
    "parse_inbound_reply",
    "parse_password_reply",
    "parse_reports_reply",
    "parse_send_reply",
    "report_item",
]

# --- reply field names ---------------------------------------------------------------------

R_ROOT = "returnsms"
R_STATUS = "returnstatus"
R_MESSAGE = "message"
R_REMAIN = "remainpoint"
R_TASK_ID = "taskID"
R_SUCCESS_COUNTS = "successCounts"
R_PAY_INFO = "payinfo"
R_OVERAGE = "overage"
R_SEND_TOTAL = "sendTotal"
R_STATUS_BOX = "statusbox"
R_CALL_BOX = "callbox"
R_ERROR_STATUS = "errorstatus"
R_ERROR = "error"
R_REMARK = "remark"
I_MOBILE = "mobile"
I_TASK_ID = "taskid"
I_STATUS = "status"
I_RECEIVE_TIME = "receivetime"
I_ERROR_CODE = "errorcode"
I_EXT = "extno"
I_CONTENT = "content"
E_STATUS_CODE = "StatusCode"
E_DESCRIPTION = "Description"
E_MSG_ID = "MsgId"
E_AMOUNT = "Amount"
E_SUCCESS_COUNTS = "SuccessCounts"

# spec 1.3 / wire notes §4: success is "Success", overage success "Sucess", failure "Faild".
_OK_WORDS = {"success", "sucess"}
_FAIL_WORDS = {"faild", "failed", "fail", "failure", "error"}
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")
# The first three of _TIME_FORMATS with two-digit fields, read by datetime.fromisoformat.
_COMMON_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"|[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
)
# The separators of the layouts _COMMON_TIME matches, at characters 4, 7, 10, 13 and 16.
_LAYOUTS = frozenset({"-- ::", "--T::", "// ::"})
_FROM_ISO = dt.datetime.fromisoformat
_COMBINE = dt.datetime.combine
# .NET's DateTime.MinValue stands for "no time" in the JSON MO pull (spec 5.5).
_NO_TIME = {"", "0001-01-01 00:00:00", "0001/1/1 0:00:00"}


_UTF8 = frozenset({"utf-8", "utf8"})
# 19 digits in a row: maybe an integer orjson would read as a float (beyond 64 bits).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19

log = logging.getLogger("smsgate.ipyy")

# No account holds 10**15 units: a balance at least that large (or NaN, Infinity, 1e5000) is
# not a number a model should carry. Longer texts are not even parsed.
_MAX_DIGITS = 15  # adjusted() >= 15: 10**15 or more (abs() would trap on 1E+1000000)
_MAX_NUMBER_TEXT = 40
# A count is at most 9 ASCII digits (no request has a billion recipients).
_COUNT = re.compile(r"[0-9]{1,9}")
_SIGNED_INTEGER = re.compile(r"[+-]?[0-9]+")


# --- HTTP status and the error for an unreadable reply ---------------------------------------


def check_http_status(response: httpx.Response, *, soap: bool = False) -> None:
    """Raise the error an HTTP status other than 2xx means (see
    :func:`smsgate_ipyy._codes.error_for_http_status`).

    With ``soap=True``, 500 and 400 are left to the SOAP parser: ASMX sends its faults with
    HTTP 500, and the SOAP 1.2 HTTP binding uses 400 for a Sender fault. Any other status
    means the same as on the form endpoints (a 404 is a refusal, not an uncertain outcome).
    """
    status = response.status_code
    if 200 <= status < 300 or (soap and status in (400, 500)):
        return  # (a 2xx means no error: Retry-After is not even looked up)
    error = _codes.error_for_http_status(status, retry_after=response.headers.get("Retry-After"))
    if error is not None:
        raise error


def malformed(reason: str, body: bytes) -> MalformedReplyError:
    """The error for a reply that cannot be understood: the outcome is uncertain."""
    return MalformedReplyError(f"could not understand the gateway's reply: {reason}", body_excerpt=body)


# --- documents and fields --------------------------------------------------------------------

_Doc = tuple[Literal["xml", "json"], Any]


def _load(body: bytes, encoding: str = "utf-8") -> _Doc:
    """Sniff and parse a reply: XML (an lxml root) or JSON (a dict). Content-Type is not
    trusted (wire notes §4: not observed; decode and look at the first character)."""
    try:
        head = _head(body)
        if head == b"<":
            return "xml", parse_xml(body, encoding)
        if head == b"{":
            value = _json_loads(body, encoding)
            if isinstance(value, dict):
                return "json", value
            raise malformed("JSON reply is not an object", body)
    except XmlError as exc:
        raise malformed(str(exc), body) from exc
    except ValueError as exc:  # json.JSONDecodeError and friends
        raise malformed("not valid JSON", body) from exc
    except RecursionError as exc:  # json's decoder recurses once per nesting level
        raise malformed("JSON nested too deeply", body) from exc
    raise malformed("neither XML nor JSON", body)


def _head(body: bytes) -> bytes:
    """The first byte that tells XML (``<``) from JSON (``{``), after any BOM and whitespace."""
    first = body[:1]
    if first in (b"<", b"{"):  # nothing to strip: no copy of the body
        return first
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def _json_loads(body: bytes, encoding: str) -> Any:
    """``json.loads(decode_body(body, encoding))``, by orjson where it can: orjson reads a
    4,000-row pull in half the time. orjson refuses what the standard parser takes (NaN, lone
    surrogates, BOMs, 1024 levels), and reads an integer beyond 64 bits as a float: a body
    with a run of 19 digits, one refused, or one not read as UTF-8 goes the standard way and
    gets its value or its error."""
    if (
        _orjson_loads is not None
        and encoding.lower() in _UTF8
        and _LONG_DIGITS not in body.translate(_DIGITS_AS_ZERO)
    ):
        try:
            return _orjson_loads(body)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return _standard_json(decode_body(body, encoding))


# A \uD800–\uDFFF escape, which json.loads reads as a lone surrogate unless a pair's other
# half follows (a ``\\`` before the ``u`` also matches: it only costs the walk below).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _standard_json(text: str) -> Any:
    """``json.loads(text)`` with each lone surrogate in its strings replaced by U+FFFD: the
    standard parser reads an unpaired ``\\ud800`` escape as a str no codec can encode, which
    would fail wherever the reports or messages go next (a journal, a database, a log). A pull
    is taken off the vendor when read, so its items are kept, each broken character marked."""
    value = json.loads(text)
    if _SURROGATE_ESCAPE.search(text) is None:
        return value
    return replace_lone_surrogates(value)


def _unexpected_root(root: Any, body: bytes) -> MalformedReplyError:
    """The error for an XML reply whose root is not the ``<returnsms>`` every reply has."""
    return malformed(f"unexpected root <{local_name(root)}>", body)


def _fields(doc: _Doc, body: bytes) -> dict[str, Any]:
    """The scalar fields of a ``<returnsms>`` reply or a JSON object."""
    kind, value = doc
    if kind == "json":
        return dict(value)
    if local_name(value) != R_ROOT:
        raise _unexpected_root(value, body)
    return dict(children_text(value))


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _count(value: object, body: bytes, recipients: Sequence[str]) -> int:
    """An accepted count: absent means every recipient sent; a negative or absurdly long
    number is ignored with a warning (the request *was* accepted, so the receipt is kept);
    anything else is not a count at all."""
    # wire notes §4: JSON numbers are quoted strings, except on ensms.ashx.
    text = _text(value)
    if not text:
        return len(recipients)
    if _COUNT.fullmatch(text):
        return int(text)
    if _SIGNED_INTEGER.fullmatch(text):
        log.warning("ipyy: ignoring an absurd accepted count in a success reply: %.20r", text)
        return len(recipients)
    raise malformed(f"{text[:20]!r} is not a number", body)


def amount(value: object, name: str = "amount") -> Decimal | None:
    """A balance or total as the gateway wrote it, or ``None`` when absent or unusable.

    Non-finite (``NaN``, ``sNaN``, ``Infinity``), absurdly large (``1e5000``; anything of
    10**15 or more) and unreadable values become ``None`` with a warning: they would break
    the model (a signalling NaN cannot even be hashed) and mean nothing anyway.
    """
    text = _text(value)
    if not text:
        return None
    number: Decimal | None = None
    if len(text) <= _MAX_NUMBER_TEXT:
        try:
            number = Decimal(text)
        except DecimalException:  # InvalidOperation, or Overflow for 1E+1000000
            number = None
    if number is None or not number.is_finite() or number.adjusted() >= _MAX_DIGITS:
        log.warning("ipyy: ignoring an unusable %s in the reply: %.40r", name, text)
        return None
    return number


def _refusal(fields: Mapping[str, Any]) -> ProviderError:
    message = _text(fields.get(R_MESSAGE))
    # Some gateways of this family put a numeric ResultCode in the message.
    if re.fullmatch(r"[0-9]{4}", message):
        return _codes.error_for_code(message, None, raw=dict(fields))
    return _codes.error_for_message(message, raw=dict(fields))


def _accepted_fields(body: bytes, encoding: str = "utf-8") -> dict[str, Any]:
    """The fields of a ``returnstatus`` reply (send, balance, password) that says success;
    ``Faild`` raises the error its message means, any other word is malformed."""
    fields = _fields(_load(body, encoding), body)
    word = _text(fields.get(R_STATUS)).lower()
    if word in _FAIL_WORDS:
        raise _refusal(fields)
    if word not in _OK_WORDS:
        raise malformed(f"unknown status {word!r}", body)
    return fields


# --- sends, balance, password ----------------------------------------------------------------


def parse_send_reply(
    body: bytes, *, provider: str, recipients: Sequence[str] = (), encoding: str = "utf-8"
) -> Receipt:
    """spec 1.3 / 1.4 / 1.6.3 / 2.3: a send reply (XML or JSON, sniffed) → :class:`Receipt`.

    ``Success`` gives the receipt (``taskID``, ``successCounts``, ``remainpoint``); ``Faild``
    raises the :mod:`~smsgate_ipyy._codes` error its message means; anything else is a
    :class:`MalformedReplyError` (the outcome is unknown).
    """
    fields = _plain_success(body) if encoding == "utf-8" else None
    if fields is None:
        fields = _accepted_fields(body, encoding)
    return _receipt(
        fields, body, provider, recipients, task_id=R_TASK_ID, counts=R_SUCCESS_COUNTS, balance=R_REMAIN
    )


# The success reply of sms.aspx as the gateway writes it: a UTF-8 declaration (or none), then
# <returnsms> holding only flat fields of plain text. Such a document holds no "<!" (no DTD,
# entity, comment or CDATA), no "&" (no reference), no attribute, namespace or processing
# instruction, and no character the XML parser would refuse or rewrite (controls, CR, ">",
# non-characters), so its fields are exactly what the hardened parse gives. Anything else
# (every refusal too) goes through parse_xml.
_PLAIN_TEXT = r"[^<>&\x00-\x08\x0b-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]*"
_PLAIN_SEND = re.compile(
    r'(?:<\?xml version="1\.0" encoding="utf-8" ?\?>)?[ \t\r\n]*<returnsms>[ \t\r\n]*'
    rf"((?:<(?P<tag>[A-Za-z][A-Za-z0-9]{{0,30}})>{_PLAIN_TEXT}</(?P=tag)>[ \t\r\n]*)*)"
    r"</returnsms>[ \t\r\n]*"
)
_PLAIN_FIELD = re.compile(rf"<([A-Za-z][A-Za-z0-9]*)>({_PLAIN_TEXT})</")
# A success reply is a couple of hundred bytes; a larger body takes the general path.
_PLAIN_MAX = 2048


def _plain_success(body: bytes) -> dict[str, str] | None:
    """The fields of a success reply of the plain shape (``_PLAIN_SEND``), read without the
    XML parser, or None: anything else (a refusal, another shape) is for :func:`_accepted_fields`."""
    if len(body) > _PLAIN_MAX:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    document = _PLAIN_SEND.fullmatch(text)
    if document is None:
        return None
    fields: dict[str, str] = {}
    for name, value in _PLAIN_FIELD.findall(document.group(1)):
        if name not in fields:  # a repeated tag keeps its first value, as children_text does
            fields[name] = value.strip()
    return fields if fields.get(R_STATUS, "").lower() in _OK_WORDS else None


def _receipt(
    fields: dict[str, Any],
    body: bytes,
    provider: str,
    recipients: Sequence[str],
    *,
    task_id: str,
    counts: str,
    balance: str,
) -> Receipt:
    """A receipt from a success reply's fields, named as this endpoint names them, accepted
    now (the reply is being read): the gateway then has no acceptance time to fill in, and
    rebuilds the receipt only for what else the provider cannot know (an attempt count above
    one, the message's reference)."""
    task = _text(fields.get(task_id))
    if not task:
        raise malformed(f"success without a {task_id}", body)
    return Receipt(
        provider=provider,
        task_id=task,
        accepted=_count(fields.get(counts), body, recipients),
        recipients=tuple(recipients),
        balance=amount(fields.get(balance), "balance"),
        accepted_at=dt.datetime.now(dt.UTC),
        raw=fields,
    )


def parse_encrypted_reply(body: bytes, *, provider: str, recipients: Sequence[str] = ()) -> Receipt:
    """spec 1.5: the ensms.ashx JSON reply (``StatusCode`` 1 = success, numbers unquoted)."""
    kind, fields = _load(body)
    if kind != "json":
        # An XML reply from this endpoint would be the plain returnsms shape.
        return parse_send_reply(body, provider=provider, recipients=recipients)
    if E_STATUS_CODE not in fields:
        raise malformed("no StatusCode", body)
    code = _text(fields[E_STATUS_CODE])
    if not _codes.is_success_code(code):
        raise _codes.error_for_code(code, _text(fields.get(E_DESCRIPTION)), raw=fields)
    return _receipt(
        fields, body, provider, recipients, task_id=E_MSG_ID, counts=E_SUCCESS_COUNTS, balance=E_AMOUNT
    )


def parse_balance_reply(body: bytes, *, provider: str, kind: str = "sms", encoding: str = "utf-8") -> Balance:
    """spec 3.3 / 3.4: the overage reply → :class:`Balance`. ``Sucess`` and ``Success`` both
    mean success (wire notes §4); ``payinfo`` and ``sendTotal`` are kept."""
    fields = _accepted_fields(body, encoding)
    remaining = amount(fields.get(R_OVERAGE), "balance")
    if remaining is None:
        raise malformed("no usable overage in the reply", body)
    return Balance(
        provider=provider,
        remaining=remaining,
        kind=kind,
        pay_mode=_text(fields.get(R_PAY_INFO)) or None,
        total=amount(fields.get(R_SEND_TOTAL), "total"),
        raw=fields,
    )


def parse_password_reply(body: bytes) -> None:
    """spec 7.3: ``Sucess``/``Success`` returns; ``Faild`` raises the matching error."""
    _accepted_fields(body)


# --- pulls -----------------------------------------------------------------------------------


def parse_china_time(text: str | None) -> dt.datetime | None:
    """A gateway time (``2011-12-02 22:12:11``, China time) → aware datetime.

    Empty, ``0001-01-01 00:00:00`` (.NET's "no value") or unreadable → ``None``; the raw text
    stays in the model's ``raw``.
    """
    value = (text or "").strip()
    if value in _NO_TIME:
        return None
    # The layouts of nearly every gateway time (_COMMON_TIME) are read by fromisoformat,
    # checked by position rather than by the regular expression (strptime was 59 % of a JSON
    # pull's parse, the expression a third of what was left): fromisoformat itself refuses
    # anything but an ASCII digit at every other position.
    if len(value) == 19 and value[4:17:3] in _LAYOUTS and value.isascii():
        try:
            parsed = _FROM_ISO(value.replace("/", "-"))
        except ValueError:
            pass  # not a time after all: the slow path decides, as it always did
        else:  # _in_china, inline: this runs once per distinct time of a pull
            return None if parsed.year <= 1 else _COMBINE(parsed, parsed.time(), CHINA)
    return _uncommon_time(value)


def _uncommon_time(value: str) -> dt.datetime | None:
    """:func:`parse_china_time` of a value ``fromisoformat`` did not read."""
    if _COMMON_TIME.fullmatch(value):
        return None  # a common layout, but no such time (2025-02-30): strptime fails too
    for pattern in _TIME_FORMATS:
        try:
            parsed = dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
        return _in_china(parsed)
    return None


def _in_china(parsed: dt.datetime) -> dt.datetime | None:
    """A naive gateway time as China time; year 1 is .NET's "no value"."""
    # combine() gives what replace(tzinfo=CHINA) gives, several times faster on CPython 3.11.
    return None if parsed.year <= 1 else dt.datetime.combine(parsed, parsed.time(), CHINA)


def report_item(item: Mapping[str, Any], provider: str) -> DeliveryReport:
    """One ``statusbox`` (pulled or pushed) → :class:`DeliveryReport`."""
    return DeliveryReport(
        provider=provider,
        mobile=_text(item.get(I_MOBILE)),
        task_id=_text(item.get(I_TASK_ID)) or None,
        status=_codes.report_status(_text(item.get(I_STATUS)), _text(item.get(I_ERROR_CODE))),
        received_at=parse_china_time(_text(item.get(I_RECEIVE_TIME))),
        vendor_code=_text(item.get(I_ERROR_CODE)) or None,
        ext=_text(item.get(I_EXT)) or None,
        raw=dict(item),
    )


def inbound_item(item: Mapping[str, Any], provider: str) -> InboundMessage:
    """One ``callbox`` (pulled or pushed) → :class:`InboundMessage`."""
    return InboundMessage(
        provider=provider,
        mobile=_text(item.get(I_MOBILE)),
        # Inbound text is the subscriber's own: keep it exactly (no stripping).
        text="" if item.get(I_CONTENT) is None else str(item.get(I_CONTENT)),
        received_at=parse_china_time(_text(item.get(I_RECEIVE_TIME))),
        ext=_text(item.get(I_EXT)) or None,
        task_id=_text(item.get(I_TASK_ID)) or None,
        raw=dict(item),
    )


# The rows DeliveryReport._many and InboundMessage._many build their models from (the batch
# constructors of the core: the keyword constructor's conversions and checks, without the
# cost of calling a class per row): mobile, task_id, status, received_at, vendor_code, ext,
# reference, raw; and mobile, text, received_at, ext, task_id, raw.
_ReportRow = tuple[str, str | None, DeliveryStatus, dt.datetime | None, str | None, str | None, None, Any]
_InboundRow = tuple[str, str, dt.datetime | None, str | None, str | None, Any]
# The fields of a report and of an inbound message, in the order their rows read them.
_REPORT_FIELDS = (I_MOBILE, I_TASK_ID, I_STATUS, I_RECEIVE_TIME, I_ERROR_CODE, I_EXT)
_INBOUND_FIELDS = (I_MOBILE, I_RECEIVE_TIME, I_EXT, I_TASK_ID)
# The columns an inbound pull is read from: those fields, and the text.
_INBOUND_COLUMNS = (*_INBOUND_FIELDS, I_CONTENT)


def _reports(
    items: list[dict[str, Any]], provider: str, columns: _Columns | None = None
) -> list[DeliveryReport]:
    """:func:`report_item` over a pull's items: the same values, built for speed (a pull holds
    thousands). Each item, a dict this parse made, is kept as ``raw`` without a copy.
    ``columns``: :func:`_string_columns` of the items, when the caller has them."""
    if columns is None:
        columns = _string_columns(items, _REPORT_FIELDS, _REPORT_KEPT)
    if columns is None:  # a field that is not a string (a JSON number, null, list …)
        return DeliveryReport._many(provider, _report_rows(items))
    return _report_columns(columns, items, provider)


# Column by column, each step a C loop over the whole pull (map, zip, dict lookups) rather
# than Python code per row: what _report_rows / _inbound_rows give when every field is a string.
_GET = dict.get
_STRIP = str.strip
_OR_NONE = {"": None}  # _OR_NONE.get(text, text) is `text or None` for a string
_SEPARATORS = operator.itemgetter(slice(4, 17, 3))  # the characters _LAYOUTS lists
_NAIVE_ORIGIN = dt.datetime(1, 1, 1)
_CHINA_ORIGIN = dt.datetime(1, 1, 1, tzinfo=CHINA)
_ADD = operator.add
_SUB = operator.sub
# The fields read as they were written, not stripped: a time (parse_china_time strips it, and
# a time in a common layout has nothing to strip) and an inbound text (the subscriber's own).
_REPORT_KEPT = frozenset({I_RECEIVE_TIME})
_INBOUND_KEPT = frozenset({I_RECEIVE_TIME, I_CONTENT})
# The named fields of a pull's items as columns (absent names left out) and whether the items
# hold no other field: see _string_columns.
_Columns = tuple[dict[str, list[str]], bool]


def _string_columns(
    items: list[dict[str, Any]], names: Sequence[str], kept: frozenset[str]
) -> _Columns | None:
    """Each of ``names`` that an item holds, as a column of every item's value (``""`` where
    absent), stripped unless ``kept``; and whether the items hold no field but ``names`` (then
    every value of every item is in a column). ``None`` when a value is not a string.

    Items of one shape (the same fields, the pull as the gateway writes it) are read by key;
    others by ``dict.get``. A column is stripped only when it holds whitespace at all."""
    first = items[0] if items else {}
    present = [name for name in names if name in first]
    columns: dict[str, list[str]] | None = None
    if len(present) == len(first) and sum(map(len, items)) == len(first) * len(items):
        # Every item holding the first one's fields, and the items as many fields in all as
        # that many copies of it: every item holds those fields and no other.
        try:
            columns = {name: list(map(operator.itemgetter(name), items)) for name in present}
            only_named = True
        except KeyError:
            columns = None
    if columns is None:
        keys = set().union(*items)
        columns = {name: list(map(_GET, items, repeat(name), repeat(""))) for name in names if name in keys}
        only_named = keys <= set(names)
    for name, column in columns.items():
        try:
            joined = "".join(column)
        except TypeError:  # a JSON number, null, list …
            return None
        if name not in kept and joined and joined.split() != [joined]:  # some value holds whitespace
            columns[name] = list(map(_STRIP, column))
    return columns, only_named


def _or_none(column: list[str] | None) -> Sequence[str | None] | None:
    """``text or None`` of each text of a column (``None``: an absent field, ``None`` for all)."""
    if column is None or "" not in column:
        return column
    return list(map(_OR_NONE.get, column, column))


def _report_columns(columns: _Columns, items: list[dict[str, Any]], provider: str) -> list[DeliveryReport]:
    """:func:`_report_rows`' reports, built from the items' columns (:func:`_string_columns`)."""
    named = columns[0]
    code = named.get(I_ERROR_CODE)
    text = named.get(I_RECEIVE_TIME)
    return DeliveryReport._from_columns(
        provider,
        items,
        mobile=named.get(I_MOBILE) or [""] * len(items),
        task_id=_or_none(named.get(I_TASK_ID)),
        status=_statuses(named.get(I_STATUS), code, len(items)),
        received_at=None if text is None else list(map(_china_times(text).__getitem__, text)),
        vendor_code=_or_none(code),
        ext=_or_none(named.get(I_EXT)),
    )


def _statuses(status_text: list[str] | None, code: list[str] | None, count: int) -> list[DeliveryStatus]:
    """The status of each row, as :func:`_report_rows` decides it, each distinct value once
    (a column of ``None``: the field is absent from every row)."""
    if status_text is None or not any(status_text):  # no row has a status (the JSON pull)
        if code is None:
            return [_codes.report_status("", "")] * count
        by_code = {value: _codes.report_status("", value) for value in dict.fromkeys(code)}
        return list(map(by_code.__getitem__, code))
    if all(status_text):  # every row has one (the XML pull)
        by_status = {value: _codes.report_status(value, "") for value in dict.fromkeys(status_text)}
        return list(map(by_status.__getitem__, status_text))
    pairs = list(zip(status_text, code or [""] * count, strict=True))
    by_pair = {pair: _codes.report_status(*pair) for pair in dict.fromkeys(pairs)}
    return list(map(by_pair.__getitem__, pairs))


def _common_layouts(keys: list[str]) -> str | None:
    """The join of the keys (19 characters each) when every one is ASCII with the separators
    of one of ``_LAYOUTS`` (what parse_china_time checks key by key), read as columns of their
    join; ``None`` otherwise."""
    joined = "".join(keys)
    if not joined.isascii():
        return None
    count = len(keys)
    dashes, colons = "-" * count, ":" * count
    if joined[13::19] != colons or joined[16::19] != colons:
        return None
    if joined[4::19] == dashes and joined[7::19] == dashes:
        return None if joined[10::19].strip(" T") else joined
    # Slashes (or anything else): key by key.
    return joined if set(map(_SEPARATORS, keys)) <= _LAYOUTS else None


def _china_times(texts: list[str]) -> dict[str, dt.datetime | None]:
    """:func:`parse_china_time` of each distinct text. When all of them are in a common layout,
    fromisoformat reads them in one C loop and the China offset is added by arithmetic (the
    origin of time in China plus the time since the naive origin): the same values as
    parse_china_time's, the same tzinfo; any other text goes through it one by one (a text
    with blanks around it too: parse_china_time strips it)."""
    times: dict[str, dt.datetime | None] = dict.fromkeys(texts)
    keys = list(times)
    if any(map(times.__contains__, _NO_TIME)):
        keys = [key for key in keys if key not in _NO_TIME]
    joined = _common_layouts(keys) if keys and set(map(len, keys)) == {19} else None
    if joined is not None:
        iso = keys
        if "/" in joined:  # the slash layout, read as the dash one
            iso = list(map(str.replace, keys, repeat("/"), repeat("-")))
        try:
            parsed = list(map(_FROM_ISO, iso))
        except ValueError:  # no such time (2025-02-30): each goes its own way below
            parsed = []
        # Year 1 is .NET's "no value": no year begins with 0 (the years' first digits), or none is 1.
        if parsed and ("0" not in joined[::19] or min(parsed).year > 1):
            deltas = map(_SUB, parsed, repeat(_NAIVE_ORIGIN))
            times.update(zip(keys, map(_ADD, repeat(_CHINA_ORIGIN), deltas), strict=True))
            return times
    for key in keys:
        times[key] = parse_china_time(key)
    return times


def _report_rows(items: list[dict[str, Any]]) -> Iterator[_ReportRow]:
    times: dict[str, dt.datetime | None] = {}  # each distinct time is parsed once
    codes: dict[str, DeliveryStatus] = {}  # and each distinct code looked at once
    for item in items:
        get = item.get
        try:  # nearly every field is a string (or absent): strip them without a call each
            mobile = get(I_MOBILE, "").strip()
            task = get(I_TASK_ID, "").strip()
            status_text = get(I_STATUS, "").strip()
            text = get(I_RECEIVE_TIME, "").strip()
            code = get(I_ERROR_CODE, "").strip()
            ext = get(I_EXT, "").strip()
        except AttributeError:  # a JSON number or null
            mobile, task, status_text, text, code, ext = (_text(get(name)) for name in _REPORT_FIELDS)
        if text in times:
            when = times[text]
        else:
            when = times[text] = parse_china_time(text)
        if status_text:
            status = _codes.report_status(status_text, code)
        elif code in codes:
            status = codes[code]
        else:
            status = codes[code] = _codes.report_status("", code)
        yield mobile, task or None, status, when, code or None, ext or None, None, item


def _inbound(
    items: list[dict[str, Any]], provider: str, columns: _Columns | None = None
) -> list[InboundMessage]:
    """:func:`inbound_item` over a pull's items, as :func:`_reports`."""
    if columns is None:
        columns = _string_columns(items, _INBOUND_COLUMNS, _INBOUND_KEPT)
    if columns is None:  # a field that is not a string
        return InboundMessage._many(provider, _inbound_rows(items))
    return _inbound_columns(columns, items, provider)


def _inbound_columns(columns: _Columns, items: list[dict[str, Any]], provider: str) -> list[InboundMessage]:
    """:func:`_inbound_rows`' messages, built from the items' columns (:func:`_string_columns`)."""
    named = columns[0]
    text = named.get(I_RECEIVE_TIME)
    return InboundMessage._from_columns(
        provider,
        items,
        mobile=named.get(I_MOBILE) or [""] * len(items),
        # Inbound text is the subscriber's own: kept exactly (no stripping).
        text=named.get(I_CONTENT) or [""] * len(items),
        received_at=None if text is None else list(map(_china_times(text).__getitem__, text)),
        ext=_or_none(named.get(I_EXT)),
        task_id=_or_none(named.get(I_TASK_ID)),
    )


def _inbound_rows(items: list[dict[str, Any]]) -> Iterator[_InboundRow]:
    times: dict[str, dt.datetime | None] = {}
    for item in items:
        get = item.get
        try:
            mobile = get(I_MOBILE, "").strip()
            text = get(I_RECEIVE_TIME, "").strip()
            ext = get(I_EXT, "").strip()
            task = get(I_TASK_ID, "").strip()
        except AttributeError:
            mobile, text, ext, task = (_text(get(name)) for name in _INBOUND_FIELDS)
        if text in times:
            when = times[text]
        else:
            when = times[text] = parse_china_time(text)
        content = get(I_CONTENT)
        # Inbound text is the subscriber's own: keep it exactly (no stripping).
        yield mobile, "" if content is None else str(content), when, ext or None, task or None, item


def box_fields(box: Any) -> dict[str, str]:
    """The fields of one ``<statusbox>`` or ``<callbox>``; a callbox keeps its text unstripped."""
    fields = children_text(box)
    if local_name(box) == R_CALL_BOX:
        for child in box:
            if local_name(child) == I_CONTENT:
                fields[I_CONTENT] = child.text or ""
                break
    return fields


def _json_items(fields: dict[str, Any], box: str, body: bytes) -> list[dict[str, Any]]:
    error = _text(fields.get(R_ERROR))
    if error and error != "1":
        raise _codes.error_for_code(error, _text(fields.get(R_REMARK)), raw=fields)
    items = fields.get(box)
    if items is None and not error:
        raise malformed(f"no {box} and no error field", body)
    if items is None:
        return []
    if not isinstance(items, list) or not set(map(type, items)) <= {dict}:  # a JSON object is a dict
        raise malformed(f"{box} is not a list of objects", body)
    return list(items)


def _plain_box(box: Any) -> dict[str, str]:
    """:func:`box_fields` of a ``<statusbox>`` (no text kept unstripped), in one plain loop:
    the hot path of an XML pull (``children_text`` per box was a third of its time)."""
    out: dict[str, str] = {}
    for child in box:
        tag = child.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            continue
        if "}" in tag:
            tag = tag.rsplit("}", 1)[-1]
        if tag and tag not in out:
            out[tag] = (child.text or "").strip()
    return out


def _xml_items(root: Any, box: str) -> list[dict[str, str]]:
    """One pass over the pull's children: the ``box`` items, the top-level fields (the first
    of each name, as ``children_text``), and an ``<errorstatus>`` raised as soon as seen."""
    fields = box_fields if box == R_CALL_BOX else _plain_box
    suffix = "}" + box
    items: list[dict[str, str]] = []
    top: dict[str, str] = {}
    for child in root:
        tag = child.tag
        if isinstance(tag, str) and (tag == box or tag.endswith(suffix)):
            items.append(fields(child))
            continue
        name = local_name(child)
        if name == R_ERROR_STATUS:
            err = children_text(child)
            raise _codes.error_for_pull_error(err.get(R_ERROR, ""), err.get(R_REMARK), raw=err)
        if name and name not in top:
            top[name] = (child.text or "").strip()
    if _text(top.get(R_STATUS)).lower() in _FAIL_WORDS:
        raise _refusal(top)
    # wire notes §4: an empty pull is a bare <returnsms></returnsms> (or <returnsms/>).
    return items


def _pull(body: bytes, box: str) -> list[dict[str, Any]]:
    """The items of a pull reply (spec 4.3–4.5, 5.3–5.5), or the error it carries."""
    return _pull_columns(body, box)[0]


# The columns each kind of box is read from, and those read as written (_string_columns).
_BOX_COLUMNS = {
    R_STATUS_BOX: (_REPORT_FIELDS, _REPORT_KEPT),
    R_CALL_BOX: (_INBOUND_COLUMNS, _INBOUND_KEPT),
}


def _pull_columns(body: bytes, box: str) -> tuple[list[dict[str, Any]], _Columns | None]:
    """The items of a pull reply and their columns (:func:`_string_columns`), or the error
    the reply carries.

    A JSON pull is first taken as orjson reads it without the 19-digit scan of
    :func:`_json_loads` (:func:`_unscanned_json`): orjson reads an integer beyond 64 bits as a
    float, and there the items' columns are the check, since a float in an item shows as a
    column not all strings, or as a field outside the columns. Any such pull is read again,
    the standard way (:func:`_load`), and gets the standard parser's values."""
    names, kept = _BOX_COLUMNS[box]
    if _head(body) == b"<":
        items = _xml_pull(body, box)
        return items, _string_columns(items, names, kept)
    value = _unscanned_json(body, box)
    if value is not None:
        items = _json_items(value, box, body)
        columns = _string_columns(items, names, kept)
        if columns is not None and columns[1]:  # every value of every item a string
            return items, columns
    _, value = _load(body)  # not XML: a JSON object, or the error the body means
    items = _json_items(value, box, body)
    return items, _string_columns(items, names, kept)


_SCALARS = frozenset({str, int, bool, type(None)})


def _unscanned_json(body: bytes, box: str) -> dict[str, Any] | None:
    """orjson's value of a JSON pull, unscanned, when the only place it can differ from the
    standard parser's is the items: the pull says no error (``error`` 1 or absent, so no
    error carries its value), holds its items as a list, and holds no float (maybe an integer
    beyond 64 bits) or other container beside them. ``None`` otherwise, or when orjson is
    missing or refuses the body."""
    if _orjson_loads is None:
        return None
    try:
        value = _orjson_loads(body)
    except ValueError:  # orjson.JSONDecodeError: the standard parser decides
        return None
    if type(value) is not dict or type(value.get(box)) is not list:
        return None
    others = [item for name, item in value.items() if name != box]
    if set(map(type, others)) <= _SCALARS and _text(value.get(R_ERROR)) in ("", "1"):
        return value
    return None


# The field of each kind of box that keeps its text as written (box_fields).
_UNSTRIPPED: dict[str, str | None] = {R_STATUS_BOX: None, R_CALL_BOX: I_CONTENT}


def _xml_pull(body: bytes, box: str) -> list[dict[str, Any]]:
    """The items of an XML pull. The bytes lxml would read are worked out once (encoding,
    declaration, BOM, DTD; :func:`~smsgate_ipyy._xml.document_bytes`); a flat pull is read
    from them without a tree (:func:`~smsgate_ipyy._flatxml.flat_boxes`, the same dicts
    :func:`_xml_items` makes), any other document is parsed from them by the hardened parser."""
    try:
        data = document_bytes(body)
        runs = _flat_pull(data, box)
        if runs is not None:
            return runs
        root = parse_document(data)
    except XmlError as exc:
        raise malformed(str(exc), body) from exc
    if local_name(root) != R_ROOT:
        raise _unexpected_root(root, body)
    return _xml_items(root, box)


def _flat_pull(data: bytes, box: str) -> list[dict[str, str]] | None:
    """The items of a flat pull of ``box`` items from its document bytes, or ``None``."""
    runs = flat_boxes(data, R_ROOT, {box: _UNSTRIPPED[box]})
    if runs is None:
        return None
    if len(runs) == 1:  # a pull as the gateway writes it: every box of one shape
        return runs[0][1]
    return [item for _, items in runs for item in items]


def parse_reports_reply(body: bytes, *, provider: str) -> list[DeliveryReport]:
    """spec 4.3–4.5: a report pull (XML or JSON) → delivery reports, oldest first.

    XML ``status`` 10 → delivered, 20 → failed, other → unknown; JSON items carry no status,
    so ``errorcode`` ``DELIVRD`` → delivered, any other code → failed, no code → unknown. The
    raw code is kept in ``vendor_code``. Errors (``<errorstatus>``, ``"error" != "1"``) raise.
    """
    items, columns = _pull_columns(body, R_STATUS_BOX)
    return _reports(items, provider, columns)


def parse_inbound_reply(body: bytes, *, provider: str) -> list[InboundMessage]:
    """spec 5.3–5.5: an inbound pull (XML or JSON) → inbound messages."""
    items, columns = _pull_columns(body, R_CALL_BOX)
    return _inbound(items, provider, columns)
