"""The ipyy requests, without I/O: plain values in, an :class:`httpx.Request` out.

Every builder takes the :class:`Login` (address and credentials) and values the provider
has already validated. Nothing here sends, sleeps or reads a clock. Every vendor field name
lives here as a constant, spelt as the gateway spells it (``Moblie``, ``extno`` …).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import itertools
import json
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import attrs
import httpx

from smsgate.exceptions import ValidationError
from smsgate_ipyy._crypto import CHINA, des_encrypt, md5_upper, secret
from smsgate_ipyy._settings import BatchCompression

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
    "Columns",
    "Login",
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
    "compress",
    "encrypted_payload",
    "endpoint_url",
    "format_send_time",
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

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The entry name used for ``zip`` compression (unknown at the vendor; any single entry).
BATCH_ZIP_ENTRY = "content.txt"
_FORM_TYPE = "application/x-www-form-urlencoded"
_ACTION_SEND_FIELD = f"{F_ACTION}={ACTION_SEND}&".encode("ascii")


@attrs.frozen
class Login:
    """Where and as whom to send: the gateway address and the account's credentials.

    The password and its MD5 stay out of the repr; the MD5 is computed once.
    """

    base_url: str
    userid: str
    account: str
    password: str = attrs.field(repr=False)
    password_md5: str = attrs.field(init=False, repr=False)
    #: spec 1.2: ``userid``, ``account`` and the password's upper-case MD5, as form fields.
    fields: tuple[tuple[str, str], ...] = attrs.field(init=False, repr=False)
    # ``fields`` form-encoded, per encoding: made on first use, then reused by every request.
    _encoded: dict[str, bytes] = attrs.field(init=False, repr=False, eq=False, factory=dict)

    @password_md5.default
    def _md5(self) -> str:
        return md5_upper(self.password)

    @fields.default
    def _fields(self) -> tuple[tuple[str, str], ...]:
        return ((F_USERID, self.userid), (F_ACCOUNT, self.account), (F_PASSWORD, self.password_md5))

    def url(self, endpoint: str) -> httpx.URL:
        """The address of ``endpoint`` at this gateway."""
        return endpoint_url(self.base_url, endpoint)

    def encoded_fields(self, encoding: str = "utf-8") -> bytes:
        """:attr:`fields` form-encoded in ``encoding`` (``urlencode``'s bytes), computed once
        per encoding."""
        encoded = self._encoded.get(encoding)
        if encoded is None:
            encoded = self._encoded[encoding] = _urlencoded(self.fields, encoding)
        return encoded


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
        raise ValidationError("send_at must be a timezone-aware datetime", field="send_at")
    return when.astimezone(CHINA).strftime(_TIME_FORMAT)


def _form(target: _Target, fields: Sequence[tuple[str, str]]) -> httpx.Request:
    # The body is encoded here (not by httpx) so smsGBK.aspx gets GBK percent-escapes.
    return _post(target, _urlencoded(fields, target.encoding))


class _Target(NamedTuple):
    """Where a form goes: the parsed endpoint URL, the form's encoding and the headers every
    POST to it starts with (``Host``, ``Content-Type``)."""

    url: httpx.URL
    encoding: str
    headers: tuple[tuple[bytes, bytes], ...]


@functools.lru_cache(maxsize=256)
def _target(base_url: str, endpoint: str, encoding: str = "utf-8") -> _Target:
    """The :class:`_Target` of ``endpoint`` at ``base_url``; cached (keyed on plain strings:
    hashing an ``httpx.URL`` formats it)."""
    url = endpoint_url(base_url, endpoint)
    content_type = _FORM_TYPE if encoding == "utf-8" else f"{_FORM_TYPE}; charset={encoding}"
    return _Target(url, encoding, ((b"Host", url.netloc), (b"Content-Type", content_type.encode("ascii"))))


def _post(target: _Target, body: bytes) -> httpx.Request:
    """A form POST of ``body``: the same request as ``httpx.Request("POST", url,
    content=body, headers={"Content-Type": ...})`` (headers ``Host``, ``Content-Type``,
    ``Content-Length`` in that order), without httpx parsing the URL and working out the
    host and the content headers again for every request."""
    if not body:  # httpx puts an empty body's Content-Length first: leave that to httpx
        content_type = target.headers[1][1].decode("ascii")
        return httpx.Request("POST", target.url, content=body, headers={"Content-Type": content_type})
    length = (b"Content-Length", str(len(body)).encode("ascii"))
    request = httpx.Request(
        "POST", target.url, headers=[*target.headers, length], stream=httpx.ByteStream(body)
    )
    # What request.read() leaves (the body in hand, the stream a ByteStream of it), without
    # its isinstance check against typing.Iterable, as slow as the rest of the request.
    request._content = body
    return request


def _urlencoded(fields: Sequence[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    try:
        return urllib.parse.urlencode(list(fields), encoding=encoding).encode("ascii")
    except UnicodeEncodeError:
        # Which field is named, never its value (it may be the password).
        name = next((key for key, value in fields if _unencodable(value, encoding)), "a field")
        # No cause: the encoder's message quotes the offending character of the value.
        raise ValidationError(
            f"{name} contains a character that cannot be sent as {encoding}", field=name
        ) from None


# quote_plus with an empty safe set, byte by byte: the characters it never quotes stay, a space
# is "+", every other byte is "%XX" (a table lookup in C per byte instead of a Python call).
_UNQUOTED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_QUOTED = tuple(chr(b) if b in _UNQUOTED else "+" if b == 0x20 else f"%{b:02X}" for b in range(256))
_ASCII_QUOTED = {b: _QUOTED[b] for b in range(128)}  # for str.translate
_ASCII_RUNS = re.compile(r"([\x00-\x7f]+)")


def _quote_plus(value: str, encoding: str) -> str:
    """``urllib.parse.quote_plus(value, "", encoding)``; raises UnicodeEncodeError as it does."""
    if encoding != "utf-8":
        return "".join(map(_QUOTED.__getitem__, value.encode(encoding)))
    if value.isascii():
        return value.translate(_ASCII_QUOTED)
    # In UTF-8 every byte of a non-ASCII character is quoted: such a run is its bytes in hex.
    runs = _ASCII_RUNS.split(value)  # non-ASCII, ASCII, non-ASCII, …
    for i, run in enumerate(runs):
        if i % 2:
            runs[i] = run.translate(_ASCII_QUOTED)
        elif run:
            runs[i] = "%" + run.encode("utf-8").hex("%").upper()
    return "".join(runs)


def _escaped(fields: Sequence[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    """``urlencode(fields)`` for field names that need no escaping (the constants here):
    only the values are quoted, with urlencode's ``quote_plus`` and its empty safe set."""
    try:
        return "&".join([f"{name}={_quote_plus(value, encoding)}" for name, value in fields]).encode("ascii")
    except UnicodeEncodeError:
        name = next((key for key, value in fields if _unencodable(value, encoding)), "a field")
        raise ValidationError(
            f"{name} contains a character that cannot be sent as {encoding}", field=name
        ) from None


def _unencodable(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


# --- sends -----------------------------------------------------------------------------------


def build_send_request(
    login: Login,
    *,
    endpoint: str = SEND_FORM,
    mobiles: Sequence[str],
    content: str,
    send_time: str = "",
    ext: str = "",
    encoding: str = "utf-8",
) -> httpx.Request:
    """spec 1.1–1.4: a send to sms.aspx, smsGBK.aspx (``encoding="gbk"``) or smsJson.aspx.

    The password goes out as its 32-character upper-case MD5 (spec 1.2).
    """
    # urlencode()'s bytes of action, login.fields, mobile, content, sendTime, extno: the
    # login's part is encoded once per login; no local holds it (frame locals are reported).
    body = b"".join(
        (
            _ACTION_SEND_FIELD,
            login.encoded_fields(encoding),
            b"&",
            _escaped(
                ((F_MOBILE, ",".join(mobiles)), (F_CONTENT, content), (F_SEND_TIME, send_time), (F_EXT, ext)),
                encoding,
            ),
        )
    )
    return _post(_target(login.base_url, endpoint, encoding), body)


def encrypted_payload(
    login: Login,
    *,
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
        J_USERNAME: login.account,
        J_SECRET: secret(login.password, stamp_value),
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
    login: Login,
    *,
    stamp_value: str,
    mobiles: Sequence[str],
    content: str,
    ext: str = "",
    send_time: str = "",
) -> httpx.Request:
    """spec 1.5: ensms.ashx with ``UserId`` and the DES ``Text64``.

    The *plain* password is the key material of the spec's Secret and DES key; it is never
    sent. The form encoding percent-escapes ``+`` and ``/`` of the base64 (wire notes §0.2).
    """
    payload = encrypted_payload(
        login, stamp_value=stamp_value, mobiles=mobiles, content=content, ext=ext, send_time=send_time
    )
    fields = [(F_ENC_USERID, login.userid), (F_ENC_TEXT64, des_encrypt(payload, login.password))]
    return _form(_target(login.base_url, SEND_ENCRYPTED), fields)


# --- batch -----------------------------------------------------------------------------------


def batch_lines(lines: Iterable[tuple[str, str]] | Columns) -> bytes:
    """spec 1.6.2: ``mobile,content\\r\\n`` per message, UTF-8. Texts must hold no CR/LF."""
    return b"".join(_line_chunks(lines))


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(BATCH_ZIP_ENTRY, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)
    return buffer.getvalue()


# zlib's own gzip framing (wbits 31): a zero mtime, so requests are repeatable; the same bytes
# as gzip.compress(data, mtime=0), and the same whether compressed at once or line by line.
_GZIP_LEVEL, _GZIP_WBITS = 9, 31
_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: zlib.compress(data, _GZIP_LEVEL, _GZIP_WBITS),
    "zlib": zlib.compress,
    "zip": _zip,
}
# (level, wbits) of the methods whose content is compressed as the lines are made.
_STREAMED = {"gzip": (_GZIP_LEVEL, _GZIP_WBITS), "zlib": (zlib.Z_DEFAULT_COMPRESSION, zlib.MAX_WBITS)}
_LINES_PER_CHUNK = 128
# quote_plus of a base64 text: letters and digits stay, and only these three are escaped.
_BASE64_ESCAPES = (("+", "%2B"), ("/", "%2F"), ("=", "%3D"))


def compress(data: bytes, method: BatchCompression) -> bytes:
    """Compress the batch content with ``gzip``, ``zlib`` or ``zip`` (one entry)."""
    return _COMPRESSORS[method](data)


class Columns(NamedTuple):
    """The lines of a batch request as two columns of equal length (an alternative to
    ``(mobile, text)`` pairs that spares pairing them)."""

    mobiles: Sequence[str]
    texts: Sequence[str]


def _line_chunks(lines: Iterable[tuple[str, str]] | Columns) -> Iterator[bytes]:
    """The lines as UTF-8, a chunk of lines at a time (a CR or LF in a text is refused)."""
    for chunk, count in _chunks(lines):
        text = "".join([f"{mobile},{content}\r\n" for mobile, content in chunk])
        # Each line ends with one CR and one LF: any other is inside a line.
        if text.count("\r") != count or text.count("\n") != count:
            raise ValidationError("a batch line may not contain CR or LF", field="text")
        yield text.encode("utf-8")


def _chunks(lines: Iterable[tuple[str, str]] | Columns) -> Iterator[tuple[Iterable[tuple[str, str]], int]]:
    """``(mobile, text)`` pairs a chunk at a time, and how many; columns are sliced, not
    paired first."""
    if isinstance(lines, Columns):
        mobiles, texts = lines
        if len(mobiles) != len(texts):
            raise ValueError("batch columns of different lengths")
        for start in range(0, len(mobiles), _LINES_PER_CHUNK):
            numbers = mobiles[start : start + _LINES_PER_CHUNK]
            yield zip(numbers, texts[start : start + _LINES_PER_CHUNK], strict=True), len(numbers)
        return
    pairs = iter(lines)
    while chunk := list(itertools.islice(pairs, _LINES_PER_CHUNK)):
        yield chunk, len(chunk)


def _compressed_lines(lines: Iterable[tuple[str, str]] | Columns, method: BatchCompression) -> bytes:
    """``compress(batch_lines(lines), method)``, without ever holding every uncompressed
    line at once for gzip and zlib: the lines go to the compressor a chunk at a time."""
    if method not in _STREAMED:
        return compress(batch_lines(lines), method)
    level, wbits = _STREAMED[method]
    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits)
    out = [compressor.compress(chunk) for chunk in _line_chunks(lines)]
    out.append(compressor.flush())
    return b"".join(out)


def batch_content(lines: Iterable[tuple[str, str]] | Columns, method: BatchCompression = "gzip") -> str:
    """spec 1.6.2: the ``content`` field: lines, compressed, then base64 (the form encoding
    adds the URL encoding)."""
    return base64.b64encode(_compressed_lines(lines, method)).decode("ascii")


def build_batch_request(
    login: Login,
    *,
    lines: Iterable[tuple[str, str]] | Columns,
    send_time: str = "",
    ext: str = "",
    compression: BatchCompression = "gzip",
) -> httpx.Request:
    """spec 1.6: a personalised batch to BatchSms.ashx (POST only). ``lines`` are
    ``(mobile, text)`` pairs (read once: an iterator is fine), or :class:`Columns`; no
    mobile may repeat within one request."""
    content = batch_content(lines, compression)
    for character, escape in _BASE64_ESCAPES:
        content = content.replace(character, escape)
    # The same bytes as urlencode() of the fields in this order; the (large) base64 content
    # is escaped with three replaces instead of urlencode's character by character quoting.
    body = b"&".join(
        (
            _urlencoded(login.fields),
            f"{F_CONTENT}={content}".encode("ascii"),
            _urlencoded([(F_SEND_TIME, send_time), (F_EXT, ext)]),
        )
    )
    return _post(_target(login.base_url, BATCH), body)


# --- MMS, balance, pulls, password -----------------------------------------------------------


def build_mms_request(
    login: Login, *, mobiles: Sequence[str], subject: str, tms: bytes, send_time: str = "", ext: str = ""
) -> httpx.Request:
    """spec 2.2: an MMS to mms.aspx; ``tms`` is the packed container (see ``_tms.pack``),
    sent base64-encoded."""
    fields = [
        (F_ACTION, ACTION_SEND),
        *login.fields,
        (F_MOBILE, ",".join(mobiles)),
        (F_SUBJECT, subject),
        (F_CONTENT, base64.b64encode(tms).decode("ascii")),
        (F_SEND_TIME, send_time),
        (F_EXT, ext),
    ]
    return _form(_target(login.base_url, MMS), fields)


def build_balance_request(
    login: Login, *, endpoint: str = SEND_FORM, encoding: str = "utf-8"
) -> httpx.Request:
    """spec 3: ``action=overage`` on sms.aspx, smsGBK.aspx, smsJson.aspx or mms.aspx."""
    return _form(_target(login.base_url, endpoint, encoding), [(F_ACTION, ACTION_OVERAGE), *login.fields])


def build_reports_request(
    login: Login, *, endpoint: str = STATUS_XML, limit: int | None = None, task_id: str | None = None
) -> httpx.Request:
    """spec 4: pull delivery reports (statusApi.aspx, or statusJsonApi.aspx for JSON).

    ``statusNum`` and ``taskid`` are optional and left out when not given (the gateway's
    default is 4000 reports per pull).
    """
    fields = [(F_ACTION, ACTION_QUERY), *login.fields]
    if limit is not None:
        fields.append((F_STATUS_NUM, str(limit)))
    if task_id:
        fields.append((F_TASK_ID, task_id))
    return _form(_target(login.base_url, endpoint), fields)


def build_inbound_request(login: Login, *, endpoint: str = CALL_XML) -> httpx.Request:
    """spec 5: pull inbound messages (callApi.aspx, or callJsonApi.aspx for JSON)."""
    return _form(_target(login.base_url, endpoint), [(F_ACTION, ACTION_QUERY), *login.fields])


def build_password_request(login: Login, *, new_password: str) -> httpx.Request:
    """spec 7: pwd.aspx. The old password goes as its MD5 like everywhere else; the new one
    must go in clear (the gateway stores it and checks its length, at most 20)."""
    return _form(_target(login.base_url, PASSWORD), [*login.fields, (F_NEW_PASSWORD, new_password)])
