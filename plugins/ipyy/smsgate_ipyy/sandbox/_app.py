"""The sandbox's ASGI application: every endpoint of the ipyy document, answered as the
gateway answers, plus JSON admin and inspection endpoints under ``/_sandbox/``.

Request decoding is as tolerant as the real gateway (wire notes §7: GET, urlencoded or
multipart bodies, query and form mixed with the query winning, case-insensitive parameter
names, raw UTF-8 in urlencoded bodies, plain or MD5 passwords) and the checks are as strict
(chapter 9 codes for every refusal). Replies are built with format strings: the plain send
is the hot path and must stay cheap (thousands of requests per second).

This module is an independent implementation of the protocol: it does not import the
client side of ``smsgate_ipyy``, so tests running one against the other cross-check both.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import importlib.resources
import io
import json
import re
import zipfile
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from lxml import etree
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from smsgate_ipyy._crypto import CHINA, des_decrypt, secret
from smsgate_ipyy._tms import TmsError, unpack

from ._codes import (
    MSG_AUTH_EMPTY,
    MSG_AUTH_WRONG,
    PULL_ERRORS,
    PULL_JSON_ERRORS,
    PULL_XML_ERRORS,
    ResultCode,
    code,
)
from ._config import Account, SandboxConfig
from ._state import TIME_FORMAT, XML_DECLARATION, SandboxState, boxes_xml

__all__ = ["create_app"]

XML_TYPE = "text/xml; charset=utf-8"
GBK_TYPE = "text/xml; charset=gb2312"
JSON_TYPE = "application/json; charset=utf-8"
GBK_DECLARATION = '<?xml version="1.0" encoding="gb2312" ?>'

# spec 1.2: content + 【signature】; the signature may also lead, as gateways accept both.
_SIGNATURE = re.compile(r"^【[^【】]+】|【[^【】]+】$")
_XS_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_WHITESPACE = str.maketrans("", "", " \t\r\n")
_BASE64_WS = str.maketrans("", "", "\t\r\n")
#: Cap on a decompressed batch, so a hostile archive cannot exhaust memory.
_MAX_BATCH_BYTES = 16 * 1024 * 1024
#: Batch lines kept in the inspection log per request.
_LOGGED_LINES = 200

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
YYSMS = "http://www.yysms.com/"  # wire notes §1: the service's target namespace

Handler = Callable[[Request, SandboxState], Awaitable[Response]]
ReplyFormat = Literal["xml", "gbk", "json"]


# -- request decoding ------------------------------------------------------------------------


def _merge_pairs(target: dict[str, str], text: str, encoding: str) -> None:
    # ASP.NET collections are case-insensitive; the first value of a repeated name is kept
    for key, value in parse_qsl(text, keep_blank_values=True, encoding=encoding, errors="replace"):
        target.setdefault(key.lower(), value)


async def _read_params(request: Request, encoding: str = "utf-8") -> tuple[dict[str, str], str]:
    """The request's parameters with lower-cased names, and how they came (for the log).

    The query wins over the form (wire notes §7: ASP.NET ``Request[...]`` looks in the query
    string first). Urlencoded bodies are decoded before unquoting so raw, un-percent-encoded
    UTF-8 (or GBK on smsGBK.aspx) survives."""
    form: dict[str, str] = {}
    style = "query"
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            style = "multipart"
            async with request.form() as parsed:
                for key, value in parsed.multi_items():
                    if isinstance(value, UploadFile):
                        text = (await value.read()).decode(encoding, "replace")
                    else:
                        text = value
                    form.setdefault(key.lower(), text)
        else:
            body = await request.body()
            if body:
                style = "urlencoded"
                _merge_pairs(form, body.decode(encoding, "replace"), encoding)
    raw_query: bytes = request.scope.get("query_string", b"")
    if raw_query:
        query: dict[str, str] = {}
        _merge_pairs(query, raw_query.decode(encoding, "replace"), encoding)
        if style != "query":
            style += "+query"
        form.update(query)
    return form, style


def _entry(request: Request, endpoint: str, style: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "time": None,
        "endpoint": endpoint,
        "method": request.method,
        "encoding": style,
        "action": params.get("action", ""),
        "account": params.get("account", ""),
        "password_style": None,
        "fields": {},
        "outcome": {},
    }


def _finish(state: SandboxState, entry: dict[str, Any], result: ResultCode, task_id: str = "") -> None:
    entry["time"] = state.now().strftime(TIME_FORMAT)
    entry["outcome"] = {
        "code": result.name,
        "number": result.number,
        "message": result.message,
        "task_id": task_id,
    }
    state.log_request(entry)


def _split_mobiles(raw: str) -> list[str]:
    # spec 1.2: half-width commas; a trailing comma is common and harmless
    return [item.strip() for item in raw.split(",") if item.strip()]


def _valid_mobile(mobile: str) -> bool:
    return len(mobile) == 11 and mobile.isascii() and mobile.isdigit() and mobile[0] == "1"


def _parse_send_time(value: str) -> dt.datetime | None:
    """spec 1.2: ``yyyy-MM-dd HH:mm:ss`` China time; ``ValueError`` when malformed."""
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)


def _check_text(state: SandboxState, account: Account, text: str) -> str | None:
    if not text:
        return "ContentEmpty"
    if len(text) > state.config.max_content_length:
        return "ContentLong"
    if account.require_signature and not _SIGNATURE.search(text.strip()):
        return "RequiredSuffix"
    return None


def _check_ext_and_time(account: Account, ext: str, send_time: str) -> tuple[str | None, dt.datetime | None]:
    # spec 1.2: extno digits only, at most 5
    if ext and (len(ext) > 5 or not ext.isascii() or not ext.isdigit() or not account.extno_allowed):
        return "ExtNumberError", None
    if not send_time:
        return None, None
    try:
        return None, _parse_send_time(send_time)
    except ValueError:
        return "ParamError", None


def _check_mobiles(state: SandboxState, mobiles: list[str]) -> str | None:
    if not mobiles:
        return "MsisdnEmpty"
    if not all(_valid_mobile(mobile) for mobile in mobiles):
        return "MsisdnError"
    if len(mobiles) > state.config.max_recipients:
        return "MsisdnsMany"
    return None


def _check_send(
    state: SandboxState, account: Account, mobiles: list[str], text: str, *, ext: str, send_time: str
) -> tuple[str | None, dt.datetime | None]:
    refusal = _check_mobiles(state, mobiles) or _check_text(state, account, text)
    if refusal:
        return refusal, None
    return _check_ext_and_time(account, ext, send_time)


# -- reply formats ---------------------------------------------------------------------------


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _returnsms(fmt: ReplyFormat, fields: dict[str, str]) -> Response:
    """A ``<returnsms>`` reply in the endpoint's format: JSON with every value quoted, or XML
    with one element per line (GB2312-declared and GBK-encoded on smsGBK.aspx)."""
    if fmt == "json":
        return Response(_json(fields), media_type=JSON_TYPE)
    declaration = GBK_DECLARATION if fmt == "gbk" else XML_DECLARATION
    rows = "".join(f"\t<{name}>{value}</{name}>\n" for name, value in fields.items())
    text = f"{declaration}\n<returnsms>\n{rows}</returnsms>\n"
    if fmt == "gbk":
        return Response(text.encode("gbk"), media_type=GBK_TYPE)
    return Response(text.encode("utf-8"), media_type=XML_TYPE)


def _send_reply(
    fmt: ReplyFormat, result: ResultCode, remaining: int = 0, task_id: str = "", count: int = 0
) -> Response:
    """spec 1.3 / 1.4 and wire notes §4: ``Success`` or ``Faild``; on failure taskID is
    empty and the numbers are ``0``; JSON quotes every value."""
    return _returnsms(
        fmt,
        {
            "returnstatus": "Success" if result.name == "OK" else "Faild",
            "message": result.message,
            "remainpoint": str(remaining),
            "taskID": task_id,
            "successCounts": str(count),
        },
    )


def _overage_reply(
    fmt: ReplyFormat, ok: bool, message: str, *, pay: str = "", overage: int = 0, total: int = 0
) -> Response:
    """spec 3.3 / 3.4: the XML spells success ``Sucess`` (wire notes §4, captured); the
    JSON follows the spec's own example, ``Success``."""
    success = "Success" if fmt == "json" else "Sucess"
    return _returnsms(
        fmt,
        {
            "returnstatus": success if ok else "Faild",
            "message": message,
            "payinfo": pay,
            "overage": str(overage),
            "sendTotal": str(total),
        },
    )


# -- plain sends and balance: sms.aspx, smsGBK.aspx, smsJson.aspx ------------------------------


async def _overage(
    state: SandboxState,
    entry: dict[str, Any],
    params: dict[str, str],
    fmt: ReplyFormat,
    kind: Literal["sms", "mms"],
) -> Response:
    refusal, style = state.check_login(params.get("account", ""), params.get("password", ""))
    entry["password_style"] = style
    entry["fields"] = {"kind": kind}
    if refusal in ("UserNameEmpty", "PasswordEmpty"):
        _finish(state, entry, code(refusal))
        return _overage_reply(fmt, False, MSG_AUTH_EMPTY)
    if refusal:
        _finish(state, entry, code(refusal))
        return _overage_reply(fmt, False, MSG_AUTH_WRONG)
    pay, overage, total = state.balance(params["account"], kind)
    entry["fields"].update(overage=overage, send_total=total)
    _finish(state, entry, code("OK"))
    return _overage_reply(fmt, True, code("OK").message, pay=pay, overage=overage, total=total)


def _plain_sender(endpoint: str, fmt: ReplyFormat) -> Handler:
    encoding = "gbk" if fmt == "gbk" else "utf-8"

    async def handle(request: Request, state: SandboxState) -> Response:
        params, style = await _read_params(request, encoding)
        entry = _entry(request, endpoint, style, params)
        action = params.get("action", "").lower()
        if action == "overage":
            return await _overage(state, entry, params, fmt, "sms")
        if action != "send":
            _finish(state, entry, code("ParamError"))
            return _send_reply(fmt, code("ParamError"))
        account_name = params.get("account", "")
        refusal, entry["password_style"] = state.check_login(account_name, params.get("password", ""))
        mobiles = _split_mobiles(params.get("mobile", ""))
        text = params.get("content", "")
        ext = params.get("extno", "")
        send_time = params.get("sendtime", "")
        entry["fields"] = {
            "userid": params.get("userid", ""),
            "mobiles": mobiles,
            "content": text,
            "ext": ext,
            "send_time": send_time,
        }
        if refusal is None:
            account = state.get_account(account_name)
            assert account is not None  # check_login found it
            refusal, send_at = _check_send(state, account, mobiles, text, ext=ext, send_time=send_time)
            if refusal is None:
                submitted = state.submit(account_name, "sms", mobiles, ext, send_at)
                refusal = submitted.refusal
                if refusal is None:
                    _finish(state, entry, code("OK"), submitted.task_id)
                    return _send_reply(
                        fmt, code("OK"), submitted.remaining, submitted.task_id, submitted.accepted
                    )
        result = code(refusal)
        _finish(state, entry, result)
        return _send_reply(fmt, result)

    return handle


# -- encrypted send: ensms.ashx -----------------------------------------------------------------


def _stamp_ok(value: str, now: dt.datetime, tolerance: float) -> bool:
    """spec 1.5: ``MMddHHmmss`` China time within the tolerance; the stamp has no year, so
    the nearest of last, this and next year is taken (a stamp of 12-31 23:59 is fine at
    01-01 00:01)."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    month, day, hour, minute, second = (int(value[i : i + 2]) for i in range(0, 10, 2))
    for year in (now.year - 1, now.year, now.year + 1):
        try:
            candidate = dt.datetime(year, month, day, hour, minute, second, tzinfo=CHINA)
        except ValueError:
            continue
        if abs((candidate - now).total_seconds()) <= tolerance:
            return True
    return False


def _ensms_reply(result: ResultCode, task_id: str = "", amount: int = 0, count: int = 0) -> Response:
    # spec 1.5: numbers unquoted here, unlike smsJson.aspx
    body = _json(
        {
            "StatusCode": result.wire_number,
            "Description": result.message,
            "MsgId": task_id,
            "Amount": amount,
            "SuccessCounts": count,
            "Errors": [],
        }
    )
    return Response(body, media_type=JSON_TYPE)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, bool) else str(value)


async def _ensms(request: Request, state: SandboxState) -> Response:
    params, style = await _read_params(request)
    entry = _entry(request, "ensms.ashx", style, params)
    userid = params.get("userid", "")
    text64 = params.get("text64", "")
    entry["fields"] = {"userid": userid}
    entry["password_style"] = "plain"  # noqa: S105 - a label: ensms keys DES with the plain password

    def refuse(name: str) -> Response:
        _finish(state, entry, code(name))
        return _ensms_reply(code(name))

    # spec 1.5 / chapter 9 1008: UserId must be numeric, and it says whose key decrypts
    if not userid or not userid.isascii() or not userid.isdigit():
        return refuse("UserIdError")
    candidates = state.accounts_by_userid(userid)
    if not candidates:
        return refuse("UserIdError")
    if not text64:
        return refuse("Text64Error")
    decoded: dict[str, str] | None = None
    account: Account | None = None
    for candidate in candidates:
        try:
            data = json.loads(des_decrypt(text64, candidate.password).decode("utf-8"))
        except (ValueError, RecursionError):  # bad base64/padding, not UTF-8, not JSON, too deep
            continue
        if not isinstance(data, dict):
            continue
        # Newtonsoft binds property names case-insensitively; null or missing is empty
        fields = {str(key).lower(): _json_text(value) for key, value in data.items()}
        if decoded is None or fields.get("username") == candidate.account:
            decoded, account = fields, candidate
        if fields.get("username") == candidate.account:
            break
    if decoded is None or account is None:
        return refuse("Text64Error")
    entry["fields"]["text64_json"] = {key: value for key, value in decoded.items() if key != "secret"}
    username = decoded.get("username", "")
    entry["account"] = username
    if not username:
        return refuse("UserNameEmpty")
    if username != account.account:
        return refuse("UserNameError")
    stamp_value = decoded.get("stamp", "")
    if not _stamp_ok(stamp_value, state.now(), state.config.stamp_tolerance):
        return refuse("StampError")
    # spec 1.5: Secret = MD5(plain password + Stamp), upper case
    secret_ok = decoded.get("secret", "") == secret(account.password, stamp_value)
    entry["fields"]["secret_valid"] = secret_ok
    if not secret_ok:
        return refuse("PasswordError")
    mobiles = _split_mobiles(decoded.get("moblie", ""))  # spec 1.5 spells it Moblie
    entry["fields"]["mobiles"] = mobiles
    refusal, send_at = _check_send(
        state,
        account,
        mobiles,
        decoded.get("text", ""),
        ext=decoded.get("ext", ""),
        send_time=decoded.get("sendtime", ""),
    )
    if refusal:
        return refuse(refusal)
    submitted = state.submit(account.account, "sms", mobiles, decoded.get("ext", ""), send_at)
    if submitted.refusal:
        return refuse(submitted.refusal)
    _finish(state, entry, code("OK"), submitted.task_id)
    return _ensms_reply(code("OK"), submitted.task_id, submitted.remaining, submitted.accepted)


# -- personalised batch: BatchSms.ashx ------------------------------------------------------------


def _bounded_inflate(data: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, _MAX_BATCH_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("batch content decompresses to more than the sandbox accepts")
    if not inflater.eof:
        raise ValueError("compressed batch content is truncated")
    return out


def _decompress(data: bytes) -> tuple[bytes, str]:
    """Wire notes §2: the "Zip" format is unknown, so sniff gzip, PK zip (first file entry),
    zlib, then raw deflate. ``ValueError`` when none fits."""
    try:
        if data[:2] == b"\x1f\x8b":
            return _bounded_inflate(data, 31), "gzip"
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                entries = [info for info in archive.infolist() if not info.is_dir()]
                if not entries:
                    raise ValueError("zip archive has no file")
                if entries[0].file_size > _MAX_BATCH_BYTES:
                    raise ValueError("batch content decompresses to more than the sandbox accepts")
                return archive.read(entries[0]), "zip"
        if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0:
            try:
                return _bounded_inflate(data, 15), "zlib"
            except zlib.error:
                pass  # two bytes that merely look like a zlib header: try raw deflate
        return _bounded_inflate(data, -15), "deflate"
    except (zlib.error, zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"batch content is not compressed data: {exc}") from exc


def _parse_batch(raw: str) -> tuple[list[tuple[str, str]], str]:
    """spec 1.6.2: base64 of compressed UTF-8 lines ``mobile,content`` joined by CRLF."""
    # .NET's base64 decoder skips line breaks; a '+' turned into a space stays an error
    data = base64.b64decode(raw.translate(_BASE64_WS), validate=True)
    text_bytes, method = _decompress(data)
    text = text_bytes.decode("utf-8")
    lines: list[tuple[str, str]] = []
    for line in text.split("\r\n"):
        if not line:
            continue
        mobile, comma, content = line.partition(",")
        if not comma:
            raise ValueError(f"batch line without a comma: {line[:40]!r}")
        lines.append((mobile.strip(), content))
    return lines, method


async def _batch(request: Request, state: SandboxState) -> Response:
    params, style = await _read_params(request)
    entry = _entry(request, "BatchSms.ashx", style, params)
    account_name = params.get("account", "")
    ext = params.get("extno", "")
    send_time = params.get("sendtime", "")
    entry["fields"] = {"userid": params.get("userid", ""), "ext": ext, "send_time": send_time}

    def refuse(name: str) -> Response:
        _finish(state, entry, code(name))
        return _send_reply("xml", code(name))

    if request.method != "POST":
        # spec 1.6.1: POST only; the handler reads the form, which a GET does not have
        entry["fields"]["refused"] = "POST only"
        return refuse("ParamError")
    refusal, entry["password_style"] = state.check_login(account_name, params.get("password", ""))
    if refusal:
        return refuse(refusal)
    account = state.get_account(account_name)
    assert account is not None
    raw = params.get("content", "")
    if not raw:
        return refuse("ContentEmpty")
    try:
        lines, method = _parse_batch(raw)
    except (ValueError, binascii.Error) as exc:
        entry["fields"]["content_error"] = str(exc)
        return refuse("ParamError")
    entry["fields"].update(
        compression=method,
        line_count=len(lines),
        lines=[{"mobile": mobile, "content": content} for mobile, content in lines[:_LOGGED_LINES]],
    )
    if not lines:
        return refuse("ContentEmpty")
    if len(lines) > state.config.max_batch_lines:
        return refuse("MsisdnsMany")
    mobiles = [mobile for mobile, _ in lines]
    # spec 1.6.2: the same number may not appear twice in one batch (WSDL name MsisdnRepeat)
    if len(set(mobiles)) != len(mobiles):
        return refuse("MsisdnRepeat")
    if not all(_valid_mobile(mobile) for mobile in mobiles):
        return refuse("MsisdnError")
    for _, content in lines:
        refusal = _check_text(state, account, content)
        if refusal:
            return refuse(refusal)
    refusal, send_at = _check_ext_and_time(account, ext, send_time)
    if refusal:
        return refuse(refusal)
    submitted = state.submit(account_name, "sms", mobiles, ext, send_at)
    if submitted.refusal:
        return refuse(submitted.refusal)
    _finish(state, entry, code("OK"), submitted.task_id)
    return _send_reply("xml", code("OK"), submitted.remaining, submitted.task_id, submitted.accepted)


# -- MMS: mms.aspx --------------------------------------------------------------------------------


def _check_parts(state: SandboxState, raw: str) -> tuple[str | None, list[tuple[str, bytes]]]:
    try:
        blob = base64.b64decode(raw.translate(_BASE64_WS), validate=True)
    except binascii.Error:
        return "ElementError", []
    if len(blob) > state.config.max_mms_bytes:
        return "SizeLong", []
    try:
        parts = unpack(blob)  # spec 2.2: the TMS layout, checked strictly
    except TmsError:
        return "ElementError", []
    if not parts:
        return "ElementError", parts
    names = [name for name, _ in parts]
    if len({name.lower() for name in names}) != len(names):
        return "ElementNameRepeat", parts
    if state.config.mms_require_smil:
        smil = sum(1 for name in names if name.lower().endswith(".smil"))
        if smil == 0:
            return "SmilEmpty", parts
        if smil > 1:
            return "SmilExcessive", parts
    return None, parts


async def _mms(request: Request, state: SandboxState) -> Response:
    params, style = await _read_params(request)
    entry = _entry(request, "mms.aspx", style, params)
    action = params.get("action", "").lower()
    if action == "overage":
        return await _overage(state, entry, params, "xml", "mms")

    def refuse(name: str) -> Response:
        _finish(state, entry, code(name))
        return _send_reply("xml", code(name))

    if action != "send":
        return refuse("ParamError")
    account_name = params.get("account", "")
    mobiles = _split_mobiles(params.get("mobile", ""))
    subject = params.get("subject", "")
    ext = params.get("extno", "")
    send_time = params.get("sendtime", "")
    entry["fields"] = {"mobiles": mobiles, "subject": subject, "ext": ext, "send_time": send_time}
    refusal, entry["password_style"] = state.check_login(account_name, params.get("password", ""))
    if refusal:
        return refuse(refusal)
    account = state.get_account(account_name)
    assert account is not None
    refusal = _check_mobiles(state, mobiles)
    if refusal:
        return refuse(refusal)
    if not subject:
        return refuse("SubjectEmpty")  # spec chapter 9: 3001
    raw = params.get("content", "")
    if not raw:
        return refuse("ContentEmpty")
    refusal, parts = _check_parts(state, raw)
    entry["fields"]["parts"] = [{"name": name, "size": len(data)} for name, data in parts]
    if refusal:
        return refuse(refusal)
    refusal, send_at = _check_ext_and_time(account, ext, send_time)
    if refusal:
        return refuse(refusal)
    submitted = state.submit(account_name, "mms", mobiles, ext, send_at)
    if submitted.refusal:
        return refuse(submitted.refusal)
    _finish(state, entry, code("OK"), submitted.task_id)
    return _send_reply("xml", code("OK"), submitted.remaining, submitted.task_id, submitted.accepted)


# -- pulls: statusApi.aspx, statusJsonApi.aspx, callApi.aspx, callJsonApi.aspx -------------------


def _pull_error(fmt: ReplyFormat, reason: str, box: str) -> Response:
    """spec 4.4 / 5.4 (XML ``errorstatus`` 1–4) and 4.5 / 5.5 (JSON ``error`` / ``remark``)."""
    if fmt == "json":
        error, remark = PULL_JSON_ERRORS[reason]
        return Response(_json({"error": error, "remark": remark, box: []}), media_type=JSON_TYPE)
    number = PULL_XML_ERRORS[reason]
    text = (
        f"{XML_DECLARATION}\n<returnsms>\n\t<errorstatus>\n\t\t<error>{number}</error>\n"
        f"\t\t<remark>{PULL_ERRORS[number]}</remark>\n\t</errorstatus>\n</returnsms>\n"
    )
    return Response(text.encode("utf-8"), media_type=XML_TYPE)


def _puller(endpoint: str, fmt: ReplyFormat, kind: Literal["report", "inbound"]) -> Handler:
    box = "statusbox" if kind == "report" else "callbox"

    async def handle(request: Request, state: SandboxState) -> Response:
        params, style = await _read_params(request)
        entry = _entry(request, endpoint, style, params)
        account_name = params.get("account", "")
        status_num = params.get("statusnum", "")
        task_id = params.get("taskid", "")
        entry["fields"] = {"userid": params.get("userid", "")}
        if kind == "report":
            entry["fields"].update(status_num=status_num, task_id=task_id)

        def refuse(reason: str) -> Response:
            number = PULL_XML_ERRORS[reason]
            _finish(state, entry, ResultCode(reason, number, PULL_ERRORS[number]))
            return _pull_error(fmt, reason, box)

        refusal, entry["password_style"] = state.check_login(account_name, params.get("password", ""))
        if refusal:
            return refuse(refusal)
        account = state.get_account(account_name)
        assert account is not None
        if not account.reports_allowed:
            return refuse("NotAllowed")
        # spec 4.2: action is the fixed "query"; statusNum numeric, default 4000
        if params.get("action", "query").lower() not in ("query", ""):
            return refuse("ParamError")
        if status_num and not (status_num.isascii() and status_num.isdigit()):
            return refuse("ParamError")
        limit = int(status_num) if status_num and int(status_num) > 0 else state.config.default_status_num
        items: list[Any]
        if kind == "report":
            items = state.pull_reports(account_name, limit, task_id)
        else:
            items = state.pull_inbound(account_name)
        entry["fields"]["returned"] = len(items)
        _finish(state, entry, code("OK"))
        if fmt == "json":
            body = _json({"error": "1", "remark": "成功", box: [item.json_item() for item in items]})
            return Response(body, media_type=JSON_TYPE)
        return Response(boxes_xml(items).encode("utf-8"), media_type=XML_TYPE)

    return handle


# -- change password: pwd.aspx ---------------------------------------------------------------------


def _pwd_reply(ok: bool, message: str) -> Response:
    # spec 7.3: success is spelt Sucess here too
    text = (
        f"{XML_DECLARATION}\n<returnsms>\n\t<returnstatus>{'Sucess' if ok else 'Faild'}</returnstatus>\n"
        f"\t<message>{message}</message>\n</returnsms>\n"
    )
    return Response(text.encode("utf-8"), media_type=XML_TYPE)


async def _pwd(request: Request, state: SandboxState) -> Response:
    params, style = await _read_params(request)
    entry = _entry(request, "pwd.aspx", style, params)
    account_name = params.get("account", "")
    new_password = params.get("newpassword", "")
    entry["fields"] = {"userid": params.get("userid", ""), "new_password_length": len(new_password)}
    refusal, entry["password_style"] = state.check_login(account_name, params.get("password", ""))
    if refusal:
        _finish(state, entry, code(refusal))
        empty = refusal in ("UserNameEmpty", "PasswordEmpty")
        return _pwd_reply(False, MSG_AUTH_EMPTY if empty else MSG_AUTH_WRONG)
    # spec 7.2: the new password is at most 20 characters
    if not new_password or len(new_password) > 20:
        _finish(state, entry, code("ParamError"))
        return _pwd_reply(False, code("ParamError").message)
    state.change_password(account_name, new_password)
    _finish(state, entry, code("OK"))
    return _pwd_reply(True, code("OK").message)


# -- SOAP: WebService.asmx ------------------------------------------------------------------------

_wsdl_cache: list[bytes] = []
_WSDL_ADDRESSES = ("http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/")


def _wsdl_bytes(address: str) -> bytes | None:
    """The packaged WSDL with both ports' ``location`` pointed at ``address`` (this
    sandbox), so a SOAP client that reads the WSDL from here never posts to the real
    gateway."""
    if not _wsdl_cache:
        resource = importlib.resources.files("smsgate_ipyy").joinpath("wsdl/WebService.wsdl")
        try:
            _wsdl_cache.append(resource.read_bytes())
        except OSError:
            return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(_wsdl_cache[0], parser)
    for namespace in _WSDL_ADDRESSES:
        for element in root.iter(f"{{{namespace}}}address"):
            element.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


class _SoapFault(Exception):
    """A request ASMX would answer with a SOAP fault (HTTP 500)."""

    def __init__(self, message: str, *, sender: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.sender = sender


def _soap_envelope(version: str, body: str) -> str:
    ns = SOAP12 if version == "1.2" else SOAP11
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}" '
        f'xmlns:xsi="{XSI}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def _soap_type(version: str) -> str:
    return "application/soap+xml; charset=utf-8" if version == "1.2" else XML_TYPE


def _fault_response(version: str, fault: _SoapFault) -> Response:
    message = fault.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if version == "1.2":
        value = "soap:Sender" if fault.sender else "soap:Receiver"
        body = (
            f"<soap:Fault><soap:Code><soap:Value>{value}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{message}</soap:Text></soap:Reason>'
            "<soap:Detail /></soap:Fault>"
        )
    else:
        value = "soap:Client" if fault.sender else "soap:Server"
        body = (
            f"<soap:Fault><faultcode>{value}</faultcode><faultstring>{message}</faultstring>"
            "<detail /></soap:Fault>"
        )
    return Response(
        _soap_envelope(version, body).encode("utf-8"), status_code=500, media_type=_soap_type(version)
    )


def _send_result(
    version: str, result: ResultCode, task_id: str = "", amount: int = 0, count: int = 0
) -> Response:
    """wire notes §1: ``SendSmsResponse/SendSmsResult`` in the unprefixed default
    namespace, fields in the WSDL's order, ``StatusCode`` the ResultCode name."""
    msg_id = f"<MsgId>{task_id}</MsgId>" if task_id else ""
    body = (
        f'<SendSmsResponse xmlns="{YYSMS}"><SendSmsResult><PayType>0</PayType>'
        f"<StatusCode>{result.name}</StatusCode><Description>{result.message}</Description>{msg_id}"
        f"<SuccessCounts>{count}</SuccessCounts><BillingCount>{count}</BillingCount>"
        f"<Amount>{amount}</Amount><Balance>0</Balance><BillingAmount>0</BillingAmount>"
        "<Errors /></SendSmsResult></SendSmsResponse>"
    )
    return Response(_soap_envelope(version, body).encode("utf-8"), media_type=_soap_type(version))


def _plan_send_time(element: Any) -> dt.datetime | None:
    """``PlanSendTime`` is an ``xs:dateTime`` (wire notes §1): nil or absent means now;
    an empty or malformed value is a fault; no offset means China time."""
    if element is None or element.get(f"{{{XSI}}}nil") in ("true", "1"):
        return None
    text = (element.text or "").strip()
    match = _XS_DATETIME.match(text)
    if match is None:
        raise _SoapFault(
            f"There is an error in XML document: The string '{text}' is not a valid AllXsd value."
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    zone = match.group(8)
    tz: dt.tzinfo = CHINA
    if zone == "Z":
        tz = dt.UTC
    elif zone:
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(CHINA)
    except ValueError as exc:
        raise _SoapFault(f"There is an error in XML document: {text!r} is not a valid date.") from exc


def _child_text(parent: Any, name: str, *, strip: bool = True) -> str:
    if parent is None:
        return ""
    element = parent.find(f"{{{YYSMS}}}{name}")
    if element is None or element.text is None:
        return ""
    text = str(element.text)
    return text.strip() if strip else text


async def _soap(request: Request, state: SandboxState) -> Response:
    if request.method != "POST":
        lowered = {key.lower() for key in request.query_params}
        if "wsdl" in lowered:
            wsdl = _wsdl_bytes(f"{request.base_url}WebService.asmx")
            if wsdl is None:
                return Response(b"WSDL not available", status_code=404, media_type="text/plain")
            return Response(wsdl, media_type=XML_TYPE)
        page = "<html><body><h1>WebService</h1><p>Operation: SendSms. WSDL: ?wsdl</p></body></html>"
        return Response(page.encode("utf-8"), media_type="text/html; charset=utf-8")
    content_type = request.headers.get("content-type", "").lower()
    version = "1.2" if content_type.startswith("application/soap+xml") else "1.1"
    body = await request.body()
    entry: dict[str, Any] = {
        "time": None,
        "endpoint": "WebService.asmx",
        "method": "POST",
        "encoding": f"soap{version}",
        "action": "",
        "account": "",
        "password_style": None,
        "fields": {},
        "outcome": {},
    }
    try:
        if b"<!DOCTYPE" in body:  # .NET prohibits DTDs in SOAP messages
            raise _SoapFault("DTD is prohibited in this XML document.")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            raise _SoapFault(
                f"Server was unable to read request. There is an error in XML document: {exc}"
            ) from exc
        envelope_ns = etree.QName(root).namespace
        if etree.QName(root).localname != "Envelope" or envelope_ns not in (SOAP11, SOAP12):
            raise _SoapFault("Possible SOAP version mismatch: Envelope namespace was unexpected.")
        version = "1.2" if envelope_ns == SOAP12 else "1.1"
        entry["encoding"] = f"soap{version}"
        soap_body = root.find(f"{{{envelope_ns}}}Body")
        operation = None if soap_body is None else next(iter(soap_body.iterchildren(tag=etree.Element)), None)
        if operation is None:
            raise _SoapFault("Server did not recognize the request: the SOAP Body is empty.")
        name = etree.QName(operation)
        entry["action"] = name.localname
        soap_action = request.headers.get("soapaction", "").strip().strip('"')
        if version == "1.1" and soap_action and soap_action != f"{YYSMS}{name.localname}":
            raise _SoapFault(f"Server did not recognize the value of HTTP Header SOAPAction: {soap_action}.")
        if name.namespace != YYSMS or name.localname != "SendSms":
            raise _SoapFault(f"Server did not recognize the value of the request element: {name.localname}.")
        sms = operation.find(f"{{{YYSMS}}}sms")
        send_at = _plan_send_time(None if sms is None else sms.find(f"{{{YYSMS}}}PlanSendTime"))
    except _SoapFault as fault:
        entry["fields"] = {"fault": fault.message}
        _finish(state, entry, code("ParamError"))
        return _fault_response(version, fault)
    account_name = _child_text(operation, "userName")
    mobiles = _split_mobiles(_child_text(sms, "Msisdns"))
    # XmlSerializer keeps a string's whitespace: the message text is taken as written.
    text = _child_text(sms, "SMSContent", strip=False)
    ext = _child_text(sms, "ExtNumber")
    entry["account"] = account_name
    entry["fields"] = {
        "mobiles": mobiles,
        "content": text,
        "ext": ext,
        "send_time": None if send_at is None else send_at.strftime(TIME_FORMAT),
    }
    refusal, entry["password_style"] = state.check_login(account_name, _child_text(operation, "password"))
    if refusal is None:
        account = state.get_account(account_name)
        assert account is not None
        refusal = _check_mobiles(state, mobiles) or _check_text(state, account, text)
        if refusal is None:
            refusal, _ = _check_ext_and_time(account, ext, "")
        if refusal is None:
            submitted = state.submit(account_name, "sms", mobiles, ext, send_at)
            refusal = submitted.refusal
            if refusal is None:
                _finish(state, entry, code("OK"), submitted.task_id)
                return _send_result(
                    version, code("OK"), submitted.task_id, submitted.remaining, submitted.accepted
                )
    _finish(state, entry, code(refusal))
    return _send_result(version, code(refusal))


# -- routing ----------------------------------------------------------------------------------------

#: Gateway endpoints by lower-cased path (spec paths are matched case-insensitively).
_ENDPOINTS: dict[str, Handler] = {
    "/sms.aspx": _plain_sender("sms.aspx", "xml"),
    "/smsgbk.aspx": _plain_sender("smsGBK.aspx", "gbk"),
    "/smsjson.aspx": _plain_sender("smsJson.aspx", "json"),
    "/ensms.ashx": _ensms,
    "/batchsms.ashx": _batch,
    "/mms.aspx": _mms,
    "/statusapi.aspx": _puller("statusApi.aspx", "xml", "report"),
    "/statusjsonapi.aspx": _puller("statusJsonApi.aspx", "json", "report"),
    "/callapi.aspx": _puller("callApi.aspx", "xml", "inbound"),
    "/calljsonapi.aspx": _puller("callJsonApi.aspx", "json", "inbound"),
    "/pwd.aspx": _pwd,
    "/webservice.asmx": _soap,
}

_NOT_FOUND = (
    b"<html><body><h1>Server Error in '/' Application.</h1><p>The resource cannot be found.</p></body></html>"
)


async def _gateway(request: Request) -> Response:
    handler = _ENDPOINTS.get(request.url.path.lower())
    if handler is None:
        return Response(_NOT_FOUND, status_code=404, media_type="text/html; charset=utf-8")
    state: SandboxState = request.app.state.sandbox
    return await handler(request, state)


# -- admin and inspection (/_sandbox/) ---------------------------------------------------------------


def _admin_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def _admin_requests(request: Request) -> Response:
    state = _admin_state(request)
    if request.method == "DELETE":
        state.clear_requests()
        return JSONResponse({"cleared": True})
    entries = state.requests()
    for key in ("endpoint", "account"):
        wanted = request.query_params.get(key)
        if wanted:
            entries = [entry for entry in entries if str(entry.get(key, "")).lower() == wanted.lower()]
    return JSONResponse(entries)


async def _admin_accounts(request: Request) -> Response:
    return JSONResponse(_admin_state(request).accounts())


_ACCOUNT_TYPES: dict[str, tuple[type, ...]] = {
    "sms_balance": (int,),
    "mms_balance": (int,),
    "pay_mode": (str,),
    "callback_url": (str, type(None)),
    "require_signature": (bool,),
    "extno_allowed": (bool,),
    "reports_allowed": (bool,),
    "password": (str,),
    "userid": (str,),
}


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


async def _admin_account(request: Request) -> Response:
    state = _admin_state(request)
    name = request.path_params["account"]
    changes = await _json_body(request)
    if changes is None:
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    for key, value in changes.items():
        allowed = _ACCOUNT_TYPES.get(key)
        if allowed is None:
            return JSONResponse({"error": f"unknown setting {key!r}"}, status_code=400)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return JSONResponse({"error": f"bad value for {key!r}"}, status_code=400)
    if state.get_account(name) is None:
        if "password" not in changes or "userid" not in changes:
            return JSONResponse(
                {"error": f"unknown account {name!r}; give password and userid to create it"}, 404
            )
        state.add_account(
            Account(
                account=name,
                password=changes.pop("password"),
                userid=changes.pop("userid"),
                sms_balance=changes.pop("sms_balance", 0),
                mms_balance=changes.pop("mms_balance", 0),
            )
        )
    return JSONResponse(state.update_account(name, **changes))


async def _admin_inbound(request: Request) -> Response:
    state = _admin_state(request)
    data = await _json_body(request)
    if data is None or not all(isinstance(data.get(key), str) for key in ("account", "mobile", "text")):
        return JSONResponse({"error": "give account, mobile and text as strings"}, status_code=400)
    try:
        state.inject_inbound(
            data["account"],
            data["mobile"],
            data["text"],
            str(data.get("ext", "")),
            str(data.get("task_id", "")),
        )
    except KeyError:
        return JSONResponse({"error": f"unknown account {data['account']!r}"}, status_code=404)
    return JSONResponse({"queued": True})


async def _admin_flush(request: Request) -> Response:
    return JSONResponse({"flushed": _admin_state(request).flush_reports()})


async def _admin_reset(request: Request) -> Response:
    _admin_state(request).reset()
    return JSONResponse({"reset": True})


async def _admin_pushes(request: Request) -> Response:
    return JSONResponse(_admin_state(request).pushes())


async def _admin_health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(config: SandboxConfig | None = None, *, state: SandboxState | None = None) -> Starlette:
    """The sandbox as a Starlette ASGI app.

    Pass a ``config`` (default :meth:`SandboxConfig.default`) or a ready ``state`` (to share
    it, or to inject a clock). The state is ``app.state.sandbox``. Gateway paths are matched
    case-insensitively; the admin API lives under ``/_sandbox/``::

        GET    /_sandbox/requests        what each request meant (no passwords)
        DELETE /_sandbox/requests        clear that log
        GET    /_sandbox/accounts        balances and settings
        PUT    /_sandbox/accounts/{a}    change (or create) an account: JSON settings
        POST   /_sandbox/inbound         inject an inbound message: account, mobile, text, ext
        POST   /_sandbox/reports/flush   make every pending report due now
        GET    /_sandbox/pushes          outcomes of pushes to callback URLs
        POST   /_sandbox/reset           back to the configured state
    """
    if state is None:
        state = SandboxState(config)
    admin = [
        Route("/health", _admin_health, methods=["GET"]),
        Route("/requests", _admin_requests, methods=["GET", "DELETE"]),
        Route("/accounts", _admin_accounts, methods=["GET"]),
        Route("/accounts/{account}", _admin_account, methods=["PUT"]),
        Route("/inbound", _admin_inbound, methods=["POST"]),
        Route("/reports/flush", _admin_flush, methods=["POST"]),
        Route("/pushes", _admin_pushes, methods=["GET"]),
        Route("/reset", _admin_reset, methods=["POST"]),
    ]
    app = Starlette(
        routes=[
            Mount("/_sandbox", routes=admin),
            Route("/{path:path}", _gateway, methods=["GET", "POST"]),
        ]
    )
    app.state.sandbox = state
    return app
