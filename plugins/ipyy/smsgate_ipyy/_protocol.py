"""The ipyy wire protocol, without I/O: request builders and reply parsers.

Builders take plain values (already validated by the provider) and return an
:class:`httpx.Request`; parsers take the reply bytes and return smsgate models, or raise the
smsgate error the reply means. Nothing here sends, sleeps or reads a clock, so the sync and
async drivers share every line, and the sandbox can reuse the constants.

Every vendor field name lives here as a constant, spelt as the gateway spells it
(``Moblie``, ``taskID``, ``extno`` …).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import io
import json
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import httpx

from smsgate import Balance, CallbackReply, DeliveryReport, DeliveryStatus, InboundMessage, Receipt
from smsgate.exceptions import MalformedReplyError, ProviderError, SmsGateError, ValidationError
from smsgate_ipyy import _codes
from smsgate_ipyy._crypto import CHINA, des_encrypt, secret
from smsgate_ipyy._xml import XmlError, children_text, decode_body, local_name, parse_xml

__all__ = [
    "BATCH",
    "CALL_JSON",
    "CALL_XML",
    "MMS",
    "PASSWORD",
    "SEND_ENCRYPTED",
    "SEND_FORM",
    "SEND_GBK",
    "SEND_JSON",
    "SOAP",
    "STATUS_JSON",
    "STATUS_XML",
    "BatchCompression",
    "batch_content",
    "batch_lines",
    "build_balance_request",
    "build_batch_request",
    "build_encrypted_send_request",
    "build_inbound_request",
    "build_mms_request",
    "build_password_request",
    "build_reports_request",
    "build_send_request",
    "callback_reply",
    "check_http_status",
    "encrypted_payload",
    "endpoint_url",
    "format_send_time",
    "malformed",
    "parse_balance_reply",
    "parse_china_time",
    "parse_encrypted_reply",
    "parse_inbound_reply",
    "parse_password_reply",
    "parse_push",
    "parse_reports_reply",
    "parse_send_reply",
]

# --- endpoints (spec 1.1, 1.6, 2.1, 3.1, 4.1, 5.1, 7.1, 8.1) ---------------------------------

SEND_FORM = "sms.aspx"
SEND_GBK = "smsGBK.aspx"
SEND_JSON = "smsJson.aspx"
SEND_ENCRYPTED = "ensms.ashx"
BATCH = "BatchSms.ashx"
MMS = "mms.aspx"
STATUS_XML = "statusApi.aspx"
STATUS_JSON = "statusJsonApi.aspx"
CALL_XML = "callApi.aspx"
CALL_JSON = "callJsonApi.aspx"
PASSWORD = "pwd.aspx"  # noqa: S105 - an endpoint path, not a secret
SOAP = "WebService.asmx"

# --- request field names -------------------------------------------------------------------

F_ACTION = "action"
F_USERID = "userid"
F_ACCOUNT = "account"
F_PASSWORD = "password"  # noqa: S105 - a field name
F_MOBILE = "mobile"
F_CONTENT = "content"
F_SEND_TIME = "sendTime"
F_EXT = "extno"
F_SUBJECT = "subject"
F_STATUS_NUM = "statusNum"
F_TASK_ID = "taskid"
F_NEW_PASSWORD = "newpassword"  # noqa: S105 - a field name
# spec 1.5: the encrypted endpoint's form fields and JSON keys (``Moblie`` sic).
F_ENC_USERID = "UserId"
F_ENC_TEXT64 = "Text64"
J_USERNAME = "UserName"
J_SECRET = "Secret"  # noqa: S105 - a JSON key
J_STAMP = "Stamp"
J_MOBILE = "Moblie"
J_TEXT = "Text"
J_EXT = "Ext"
J_SEND_TIME = "SendTime"

ACTION_SEND = "send"
ACTION_OVERAGE = "overage"
ACTION_QUERY = "query"

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
# spec 4.3: 10 delivered, 20 failed; the JSON pull has no status, only the upstream code.
_STATUS = {"10": DeliveryStatus.DELIVERED, "20": DeliveryStatus.FAILED}
_DELIVERED_CODE = "DELIVRD"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# .NET's DateTime.MinValue stands for "no time" in the JSON MO pull (spec 5.5).
_NO_TIME = {"", "0001-01-01 00:00:00", "0001/1/1 0:00:00"}

#: How the batch content is compressed (wire notes §2: the real format is unknown).
BatchCompression = Literal["gzip", "zip", "zlib"]
#: The entry name used for ``zip`` compression (unknown at the vendor; any single entry).
BATCH_ZIP_ENTRY = "content.txt"
_FORM_TYPE = "application/x-www-form-urlencoded"


# --- helpers -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def endpoint_url(base_url: str, endpoint: str) -> httpx.URL:
    """``base_url`` joined with an endpoint path; a base without a trailing slash is a folder.

    Cached: parsing and joining URLs was a third of the cost of building a request, and a
    provider only ever joins its one base URL with a dozen paths (``httpx.URL`` is immutable).
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    return httpx.URL(base).join(endpoint)


def format_send_time(when: dt.datetime | None) -> str:
    """spec 1.2: ``yyyy-MM-dd HH:mm:ss`` in China time; ``""`` for an immediate send."""
    if when is None:
        return ""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("format_send_time() needs a timezone-aware datetime")
    return when.astimezone(CHINA).strftime(_TIME_FORMAT)


def _form(url: httpx.URL, fields: Sequence[tuple[str, str]], *, encoding: str = "utf-8") -> httpx.Request:
    # The body is encoded here (not by httpx) so smsGBK.aspx gets GBK percent-escapes.
    try:
        body = urllib.parse.urlencode(list(fields), encoding=encoding).encode("ascii")
    except UnicodeEncodeError:
        # Which field is named, never its value (it may be the password).
        name = next((key for key, value in fields if _unencodable(value, encoding)), "a field")
        # No cause: the encoder's message quotes the offending character of the value.
        raise ValidationError(
            f"{name} contains a character that cannot be sent as {encoding}", field=name
        ) from None
    content_type = _FORM_TYPE if encoding == "utf-8" else f"{_FORM_TYPE}; charset={encoding}"
    return httpx.Request("POST", url, content=body, headers={"Content-Type": content_type})


def _unencodable(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


def _credentials(userid: str, account: str, password_md5: str) -> list[tuple[str, str]]:
    return [(F_USERID, userid), (F_ACCOUNT, account), (F_PASSWORD, password_md5)]


# --- builders ------------------------------------------------------------------------------


def build_send_request(
    *,
    base_url: str,
    endpoint: str = SEND_FORM,
    userid: str,
    account: str,
    password_md5: str,
    mobiles: Sequence[str],
    content: str,
    send_time: str = "",
    ext: str = "",
    encoding: str = "utf-8",
) -> httpx.Request:
    """spec 1.1–1.4: a send to sms.aspx, smsGBK.aspx (``encoding="gbk"``) or smsJson.aspx.

    The password goes out as its 32-character upper-case MD5 (spec 1.2).
    """
    fields = [
        (F_ACTION, ACTION_SEND),
        *_credentials(userid, account, password_md5),
        (F_MOBILE, ",".join(mobiles)),
        (F_CONTENT, content),
        (F_SEND_TIME, send_time),
        (F_EXT, ext),
    ]
    return _form(endpoint_url(base_url, endpoint), fields, encoding=encoding)


def encrypted_payload(
    *,
    account: str,
    password: str,
    stamp_value: str,
    mobiles: Sequence[str],
    content: str,
    ext: str = "",
    send_time: str = "",
) -> bytes:
    """spec 1.5 step 1–2: the JSON the ``Text64`` encrypts, as UTF-8 bytes.

    Compact, raw UTF-8 and keys in the spec's order: the worked example reproduces byte for
    byte (wire notes §0.2).
    """
    document = {
        J_USERNAME: account,
        J_SECRET: secret(password, stamp_value),
        J_STAMP: stamp_value,
        J_MOBILE: ",".join(mobiles),
        J_TEXT: content,
        J_EXT: ext,
        J_SEND_TIME: send_time,
    }
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in the text
        raise ValidationError("the text contains a character UTF-8 cannot carry", field="text") from exc


def build_encrypted_send_request(
    *,
    base_url: str,
    userid: str,
    account: str,
    password: str,
    stamp_value: str,
    mobiles: Sequence[str],
    content: str,
    ext: str = "",
    send_time: str = "",
) -> httpx.Request:
    """spec 1.5: ensms.ashx with ``UserId`` and the DES ``Text64``.

    ``password`` is the *plain* password: the spec's Secret and DES key are built from it.
    The form encoding percent-escapes ``+`` and ``/`` of the base64 (wire notes §0.2).
    """
    payload = encrypted_payload(
        account=account,
        password=password,
        stamp_value=stamp_value,
        mobiles=mobiles,
        content=content,
        ext=ext,
        send_time=send_time,
    )
    fields = [(F_ENC_USERID, userid), (F_ENC_TEXT64, des_encrypt(payload, password))]
    return _form(endpoint_url(base_url, SEND_ENCRYPTED), fields)


def batch_lines(lines: Iterable[tuple[str, str]]) -> bytes:
    """spec 1.6.2: ``mobile,content\\r\\n`` per message, UTF-8. Texts must hold no CR/LF."""
    out = []
    for mobile, text in lines:
        if "\r" in text or "\n" in text:
            raise ValueError("a batch line may not contain CR or LF")
        out.append(f"{mobile},{text}\r\n")
    return "".join(out).encode("utf-8")


def compress(data: bytes, method: BatchCompression) -> bytes:
    """Compress the batch content. Deterministic (fixed timestamps) so requests are repeatable."""
    if method == "gzip":
        return gzip.compress(data, mtime=0)
    if method == "zlib":
        return zlib.compress(data)
    if method == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(BATCH_ZIP_ENTRY, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        return buffer.getvalue()
    raise ValueError(f"unknown batch compression {method!r}")


def decompress(blob: bytes) -> bytes:
    """Inverse of :func:`compress`, sniffing the format by its magic bytes (for tests and
    the sandbox): PK zip (first entry), gzip, zlib, then raw deflate."""
    if blob.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            names = archive.namelist()
            if not names:
                raise ValueError("empty zip archive")
            return archive.read(names[0])
    if blob.startswith(b"\x1f\x8b"):
        return gzip.decompress(blob)
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return zlib.decompress(blob, -15)


def batch_content(lines: Iterable[tuple[str, str]], method: BatchCompression = "gzip") -> str:
    """spec 1.6.2: the ``content`` field: lines, compressed, then base64 (the form encoding
    adds the URL encoding)."""
    return base64.b64encode(compress(batch_lines(lines), method)).decode("ascii")


def build_batch_request(
    *,
    base_url: str,
    userid: str,
    account: str,
    password_md5: str,
    lines: Sequence[tuple[str, str]],
    send_time: str = "",
    ext: str = "",
    compression: BatchCompression = "gzip",
) -> httpx.Request:
    """spec 1.6: a personalised batch to BatchSms.ashx (POST only). ``lines`` are
    ``(mobile, text)`` pairs; no mobile may repeat within one request."""
    fields = [
        *_credentials(userid, account, password_md5),
        (F_CONTENT, batch_content(lines, compression)),
        (F_SEND_TIME, send_time),
        (F_EXT, ext),
    ]
    return _form(endpoint_url(base_url, BATCH), fields)


def build_mms_request(
    *,
    base_url: str,
    userid: str,
    account: str,
    password_md5: str,
    mobiles: Sequence[str],
    subject: str,
    tms: bytes,
    send_time: str = "",
    ext: str = "",
) -> httpx.Request:
    """spec 2.2: an MMS to mms.aspx; ``tms`` is the packed container (see ``_tms.pack``),
    sent base64-encoded."""
    fields = [
        (F_ACTION, ACTION_SEND),
        *_credentials(userid, account, password_md5),
        (F_MOBILE, ",".join(mobiles)),
        (F_SUBJECT, subject),
        (F_CONTENT, base64.b64encode(tms).decode("ascii")),
        (F_SEND_TIME, send_time),
        (F_EXT, ext),
    ]
    return _form(endpoint_url(base_url, MMS), fields)


def build_balance_request(
    *,
    base_url: str,
    endpoint: str = SEND_FORM,
    userid: str,
    account: str,
    password_md5: str,
    encoding: str = "utf-8",
) -> httpx.Request:
    """spec 3: ``action=overage`` on sms.aspx, smsGBK.aspx, smsJson.aspx or mms.aspx."""
    fields = [(F_ACTION, ACTION_OVERAGE), *_credentials(userid, account, password_md5)]
    return _form(endpoint_url(base_url, endpoint), fields, encoding=encoding)


def build_reports_request(
    *,
    base_url: str,
    json_reply: bool = False,
    userid: str,
    account: str,
    password_md5: str,
    limit: int | None = None,
    task_id: str | None = None,
) -> httpx.Request:
    """spec 4: pull delivery reports (statusApi.aspx, or statusJsonApi.aspx for JSON).

    ``statusNum`` and ``taskid`` are optional and left out when not given (the gateway's
    default is 4000 reports per pull).
    """
    fields = [(F_ACTION, ACTION_QUERY), *_credentials(userid, account, password_md5)]
    if limit is not None:
        fields.append((F_STATUS_NUM, str(limit)))
    if task_id:
        fields.append((F_TASK_ID, task_id))
    return _form(endpoint_url(base_url, STATUS_JSON if json_reply else STATUS_XML), fields)


def build_inbound_request(
    *, base_url: str, json_reply: bool = False, userid: str, account: str, password_md5: str
) -> httpx.Request:
    """spec 5: pull inbound messages (callApi.aspx, or callJsonApi.aspx for JSON)."""
    fields = [(F_ACTION, ACTION_QUERY), *_credentials(userid, account, password_md5)]
    return _form(endpoint_url(base_url, CALL_JSON if json_reply else CALL_XML), fields)


def build_password_request(
    *, base_url: str, userid: str, account: str, password_md5: str, new_password: str
) -> httpx.Request:
    """spec 7: pwd.aspx. The old password goes as its MD5 like everywhere else; the new one
    must go in clear (the gateway stores it and checks its length, at most 20)."""
    fields = [*_credentials(userid, account, password_md5), (F_NEW_PASSWORD, new_password)]
    return _form(endpoint_url(base_url, PASSWORD), fields)


# --- reply parsing -------------------------------------------------------------------------


def check_http_status(response: httpx.Response, *, provider: str, operation: str, soap: bool = False) -> None:
    """Raise the error an HTTP status other than 2xx means (see
    :func:`smsgate_ipyy._codes.error_for_http_status`).

    With ``soap=True``, 500 and 400 are left to the SOAP parser: ASMX sends its faults with
    HTTP 500, and the SOAP 1.2 HTTP binding uses 400 for a Sender fault. Any other status
    means the same as on the form endpoints (a 404 is a refusal, not an uncertain outcome).
    """
    if soap and response.status_code in (400, 500):
        return
    error = _codes.error_for_http_status(
        response.status_code,
        retry_after=response.headers.get("Retry-After"),
        provider=provider,
        operation=operation,
    )
    if error is not None:
        raise error


def malformed(
    reason: str, body: bytes, *, provider: str | None, operation: str | None
) -> MalformedReplyError:
    """The error for a reply that cannot be understood: the outcome is uncertain."""
    return MalformedReplyError(
        f"could not understand the gateway's reply: {reason}",
        body_excerpt=body,
        provider=provider,
        operation=operation,
    )


_Doc = tuple[Literal["xml", "json"], Any]


def _load(body: bytes, *, encoding: str, provider: str | None, operation: str | None) -> _Doc:
    """Sniff and parse a reply: XML (an lxml root) or JSON (a dict). Content-Type is not
    trusted (wire notes §4: not observed; decode and look at the first character)."""
    try:
        head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head == b"<":
            return "xml", parse_xml(body, encoding)
        if head == b"{":
            value = json.loads(decode_body(body, encoding))
            if isinstance(value, dict):
                return "json", value
            raise malformed("JSON reply is not an object", body, provider=provider, operation=operation)
    except XmlError as exc:
        raise malformed(str(exc), body, provider=provider, operation=operation) from exc
    except ValueError as exc:  # json.JSONDecodeError and friends
        raise malformed("not valid JSON", body, provider=provider, operation=operation) from exc
    except RecursionError as exc:  # json's decoder recurses once per nesting level
        raise malformed("JSON nested too deeply", body, provider=provider, operation=operation) from exc
    raise malformed("neither XML nor JSON", body, provider=provider, operation=operation)


def _fields(doc: _Doc, body: bytes, *, provider: str | None, operation: str | None) -> dict[str, Any]:
    """The scalar fields of a ``<returnsms>`` reply or a JSON object."""
    kind, value = doc
    if kind == "json":
        return dict(value)
    if local_name(value) != R_ROOT:
        raise malformed(
            f"unexpected root <{local_name(value)}>", body, provider=provider, operation=operation
        )
    return dict(children_text(value))


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _int(value: object, body: bytes, *, provider: str | None, operation: str | None) -> int:
    # wire notes §4: JSON numbers are quoted strings, except on ensms.ashx.
    try:
        return int(_text(value))
    except ValueError as exc:
        raise malformed(f"{value!r} is not a number", body, provider=provider, operation=operation) from exc


def _decimal(value: object) -> Decimal | None:
    text = _text(value)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _status_word(fields: Mapping[str, Any]) -> str:
    return _text(fields.get(R_STATUS)).lower()


def _refusal(fields: Mapping[str, Any], *, provider: str | None, operation: str | None) -> ProviderError:
    message = _text(fields.get(R_MESSAGE))
    # Some gateways of this family put a numeric ResultCode in the message.
    if re.fullmatch(r"[0-9]{4}", message):
        return _codes.error_for_code(message, None, provider=provider, operation=operation, raw=dict(fields))
    return _codes.error_for_message(message, provider=provider, operation=operation, raw=dict(fields))


def parse_send_reply(
    body: bytes,
    *,
    provider: str,
    recipients: Sequence[str] = (),
    encoding: str = "utf-8",
    operation: str = "send",
) -> Receipt:
    """spec 1.3 / 1.4 / 1.6.3 / 2.3: a send reply (XML or JSON, sniffed) → :class:`Receipt`.

    ``Success`` gives the receipt (``taskID``, ``successCounts``, ``remainpoint``); ``Faild``
    raises the :mod:`~smsgate_ipyy._codes` error its message means; anything else is a
    :class:`MalformedReplyError` (the outcome is unknown).
    """
    doc = _load(body, encoding=encoding, provider=provider, operation=operation)
    fields = _fields(doc, body, provider=provider, operation=operation)
    word = _status_word(fields)
    if word in _FAIL_WORDS:
        raise _refusal(fields, provider=provider, operation=operation)
    if word not in _OK_WORDS:
        raise malformed(f"unknown status {word!r}", body, provider=provider, operation=operation)
    task_id = _text(fields.get(R_TASK_ID))
    if not task_id:
        raise malformed("success without a task id", body, provider=provider, operation=operation)
    counts = _text(fields.get(R_SUCCESS_COUNTS))
    accepted = _int(counts, body, provider=provider, operation=operation) if counts else len(recipients)
    return Receipt(
        provider=provider,
        task_id=task_id,
        accepted=accepted,
        recipients=tuple(recipients),
        balance=_decimal(fields.get(R_REMAIN)),
        raw=fields,
    )


def parse_encrypted_reply(
    body: bytes, *, provider: str, recipients: Sequence[str] = (), operation: str = "send"
) -> Receipt:
    """spec 1.5: the ensms.ashx JSON reply (``StatusCode`` 1 = success, numbers unquoted)."""
    doc = _load(body, encoding="utf-8", provider=provider, operation=operation)
    if doc[0] != "json":
        # An XML reply from this endpoint would be the plain returnsms shape.
        return parse_send_reply(body, provider=provider, recipients=recipients, operation=operation)
    fields: dict[str, Any] = doc[1]
    if E_STATUS_CODE not in fields:
        raise malformed("no StatusCode", body, provider=provider, operation=operation)
    code = _text(fields[E_STATUS_CODE])
    if not _codes.is_success_code(code):
        raise _codes.error_for_code(
            code, _text(fields.get(E_DESCRIPTION)), provider=provider, operation=operation, raw=fields
        )
    task_id = _text(fields.get(E_MSG_ID))
    if not task_id:
        raise malformed("success without a MsgId", body, provider=provider, operation=operation)
    counts = fields.get(E_SUCCESS_COUNTS)
    accepted = (
        len(recipients)
        if counts in (None, "")
        else _int(counts, body, provider=provider, operation=operation)
    )
    return Receipt(
        provider=provider,
        task_id=task_id,
        accepted=accepted,
        recipients=tuple(recipients),
        balance=_decimal(fields.get(E_AMOUNT)),
        raw=fields,
    )


def parse_balance_reply(
    body: bytes, *, provider: str, kind: str = "sms", encoding: str = "utf-8", operation: str = "balance"
) -> Balance:
    """spec 3.3 / 3.4: the overage reply → :class:`Balance`. ``Sucess`` and ``Success`` both
    mean success (wire notes §4); ``payinfo`` and ``sendTotal`` are kept."""
    doc = _load(body, encoding=encoding, provider=provider, operation=operation)
    fields = _fields(doc, body, provider=provider, operation=operation)
    word = _status_word(fields)
    if word in _FAIL_WORDS:
        raise _refusal(fields, provider=provider, operation=operation)
    if word not in _OK_WORDS:
        raise malformed(f"unknown status {word!r}", body, provider=provider, operation=operation)
    remaining = _decimal(fields.get(R_OVERAGE))
    if remaining is None:
        raise malformed("no overage in the reply", body, provider=provider, operation=operation)
    return Balance(
        provider=provider,
        remaining=remaining,
        kind=kind,
        pay_mode=_text(fields.get(R_PAY_INFO)) or None,
        total=_decimal(fields.get(R_SEND_TOTAL)),
        raw=fields,
    )


def parse_password_reply(body: bytes, *, provider: str, operation: str = "change_password") -> None:
    """spec 7.3: ``Sucess``/``Success`` returns; ``Faild`` raises the matching error."""
    doc = _load(body, encoding="utf-8", provider=provider, operation=operation)
    fields = _fields(doc, body, provider=provider, operation=operation)
    word = _status_word(fields)
    if word in _FAIL_WORDS:
        raise _refusal(fields, provider=provider, operation=operation)
    if word not in _OK_WORDS:
        raise malformed(f"unknown status {word!r}", body, provider=provider, operation=operation)


def parse_china_time(text: str | None) -> dt.datetime | None:
    """A gateway time (``2011-12-02 22:12:11``, China time) → aware datetime.

    Empty, ``0001-01-01 00:00:00`` (.NET's "no value") or unreadable → ``None``; the raw text
    stays in the model's ``raw``.
    """
    value = (text or "").strip()
    if value in _NO_TIME:
        return None
    for pattern in (_TIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            parsed = dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
        if parsed.year <= 1:
            return None
        return parsed.replace(tzinfo=CHINA)
    return None


def _report(item: Mapping[str, Any], provider: str) -> DeliveryReport:
    code = _text(item.get(I_ERROR_CODE))
    status_text = _text(item.get(I_STATUS))
    if status_text:
        status = _STATUS.get(status_text, DeliveryStatus.UNKNOWN)
    elif code:
        # spec 4.5: the JSON pull has no status field; DELIVRD is the carriers' success word.
        status = DeliveryStatus.DELIVERED if code.upper() == _DELIVERED_CODE else DeliveryStatus.FAILED
    else:
        # Neither a status nor a code: nothing says the message failed (calling it FAILED
        # could make an application send a delivered message again).
        status = DeliveryStatus.UNKNOWN
    return DeliveryReport(
        provider=provider,
        mobile=_text(item.get(I_MOBILE)),
        task_id=_text(item.get(I_TASK_ID)) or None,
        status=status,
        received_at=parse_china_time(_text(item.get(I_RECEIVE_TIME))),
        vendor_code=code or None,
        ext=_text(item.get(I_EXT)) or None,
        raw=dict(item),
    )


def _inbound(item: Mapping[str, Any], provider: str) -> InboundMessage:
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


def _xml_items(root: Any, box: str) -> list[dict[str, str]]:
    items = []
    for child in root:
        if local_name(child) == box:
            fields = children_text(child)
            if box == R_CALL_BOX:
                # Keep the inbound text unstripped.
                for grandchild in child:
                    if local_name(grandchild) == I_CONTENT:
                        fields[I_CONTENT] = grandchild.text or ""
                        break
            items.append(fields)
    return items


def _pull(body: bytes, box: str, *, provider: str, operation: str) -> list[dict[str, Any]]:
    """The items of a pull reply (spec 4.3–4.5, 5.3–5.5), or the error it carries."""
    kind, value = _load(body, encoding="utf-8", provider=provider, operation=operation)
    if kind == "json":
        fields: dict[str, Any] = value
        error = _text(fields.get(R_ERROR))
        if error and error != "1":
            raise _codes.error_for_code(
                error, _text(fields.get(R_REMARK)), provider=provider, operation=operation, raw=fields
            )
        items = fields.get(box)
        if items is None and not error:
            raise malformed(f"no {box} and no error field", body, provider=provider, operation=operation)
        if items is None:
            return []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise malformed(f"{box} is not a list of objects", body, provider=provider, operation=operation)
        return list(items)
    if local_name(value) != R_ROOT:
        raise malformed(
            f"unexpected root <{local_name(value)}>", body, provider=provider, operation=operation
        )
    for child in value:
        if local_name(child) == R_ERROR_STATUS:
            err = children_text(child)
            raise _codes.error_for_pull_error(
                err.get(R_ERROR, ""), err.get(R_REMARK), provider=provider, operation=operation, raw=err
            )
    top = children_text(value)
    if _status_word(top) in _FAIL_WORDS:
        raise _refusal(top, provider=provider, operation=operation)
    # wire notes §4: an empty pull is a bare <returnsms></returnsms> (or <returnsms/>).
    return _xml_items(value, box)


def parse_reports_reply(
    body: bytes, *, provider: str, operation: str = "fetch_reports"
) -> list[DeliveryReport]:
    """spec 4.3–4.5: a report pull (XML or JSON) → delivery reports, oldest first.

    XML ``status`` 10 → delivered, 20 → failed, other → unknown; JSON items carry no status,
    so ``errorcode`` ``DELIVRD`` → delivered, any other code → failed, no code → unknown. The
    raw code is kept in ``vendor_code``. Errors (``<errorstatus>``, ``"error" != "1"``) raise.
    """
    return [_report(i, provider) for i in _pull(body, R_STATUS_BOX, provider=provider, operation=operation)]


def parse_inbound_reply(
    body: bytes, *, provider: str, operation: str = "fetch_inbound"
) -> list[InboundMessage]:
    """spec 5.3–5.5: an inbound pull (XML or JSON) → inbound messages."""
    return [_inbound(i, provider) for i in _pull(body, R_CALL_BOX, provider=provider, operation=operation)]


# --- pushes (spec 6) -----------------------------------------------------------------------


def parse_push(body: bytes, *, provider: str) -> list[DeliveryReport | InboundMessage]:
    """spec 6.2 / 6.3: a pushed ``<returnsms>`` of ``<statusbox>`` and/or ``<callbox>`` items.

    The body is sniffed (Content-Type is not to be trusted, wire notes §6) and read as UTF-8
    unless its declaration says otherwise. Anything else raises :class:`ValidationError`.
    """
    try:
        root = parse_xml(body)
    except XmlError as exc:
        raise ValidationError(f"not an ipyy push: {exc}", provider=provider) from exc
    if local_name(root) != R_ROOT:
        raise ValidationError(f"not an ipyy push: root is <{local_name(root)}>", provider=provider)
    out: list[DeliveryReport | InboundMessage] = []
    try:
        for child in root:
            name = local_name(child)
            if name == R_STATUS_BOX:
                out.append(_report(children_text(child), provider))
            elif name == R_CALL_BOX:
                out.append(_inbound(_xml_items([child], R_CALL_BOX)[0], provider))
            else:
                raise ValidationError(f"not an ipyy push: unexpected <{name}>", provider=provider)
    except SmsGateError as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"not an ipyy push: {exc}", provider=provider) from exc
    for item in out:
        if not item.mobile:
            raise ValidationError("not an ipyy push: an item has no mobile", provider=provider)
    return out


def callback_reply(ok: bool) -> CallbackReply:
    """spec 6.4: ``1`` when the push was stored, ``error`` to make the gateway retry (3 tries)."""
    return CallbackReply(
        status_code=200, body=b"1" if ok else b"error", media_type="text/plain; charset=utf-8"
    )
