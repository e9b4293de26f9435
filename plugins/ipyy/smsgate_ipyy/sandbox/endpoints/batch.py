"""The personalised batch, BatchSms.ashx (spec 1.6): one text per number, sent as base64 of
compressed ``mobile,content`` lines."""

from __future__ import annotations

import io
import zipfile
import zlib

from starlette.requests import Request
from starlette.responses import Response

from .._base64 import from_base64
from .._config import Account
from .._state import SandboxState
from ._common import Call, check_text, refuse_send, submit_send, valid_mobile

__all__ = ["handle", "parse_batch"]

#: Cap on a decompressed batch, so a hostile archive cannot exhaust memory.
_MAX_BATCH_BYTES = 16 * 1024 * 1024
#: Batch lines kept in the inspection log per request.
_LOGGED_LINES = 200
_TOO_LARGE = "batch content decompresses to more than the sandbox accepts"


def _bounded_inflate(data: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, _MAX_BATCH_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(_TOO_LARGE)
    if not inflater.eof:
        raise ValueError("compressed batch content is truncated")
    return out


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if not entries:
            raise ValueError("zip archive has no file")
        if entries[0].file_size > _MAX_BATCH_BYTES:
            raise ValueError(_TOO_LARGE)
        return archive.read(entries[0])


def _looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0


def _sniff(data: bytes) -> tuple[bytes, str]:
    if data[:2] == b"\x1f\x8b":
        return _bounded_inflate(data, 31), "gzip"
    if data[:4] == b"PK\x03\x04":
        return _unzip(data), "zip"
    if _looks_like_zlib(data):
        try:
            return _bounded_inflate(data, 15), "zlib"
        except zlib.error:
            pass  # two bytes that merely look like a zlib header: try raw deflate
    return _bounded_inflate(data, -15), "deflate"


def _decompress(data: bytes) -> tuple[bytes, str]:
    """Wire notes §2: the "Zip" format is unknown, so sniff gzip, PK zip (first file entry),
    zlib, then raw deflate. ``ValueError`` when none fits."""
    try:
        return _sniff(data)
    except (zlib.error, zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"batch content is not compressed data: {exc}") from exc


def parse_batch(raw: str) -> tuple[list[tuple[str, str]], str]:
    """spec 1.6.2: base64 of compressed UTF-8 lines ``mobile,content`` joined by CRLF; the
    ``(mobile, content)`` lines and the compression found. ``ValueError`` when malformed."""
    data = from_base64(raw)
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


def _check_lines(state: SandboxState, account: Account, lines: list[tuple[str, str]]) -> str | None:
    """The refusal of a batch's lines, or ``None``."""
    if not lines:
        return "ContentEmpty"
    if len(lines) > state.config.max_batch_lines:
        return "MsisdnsMany"
    mobiles = [mobile for mobile, _ in lines]
    # spec 1.6.2: the same number may not appear twice in one batch (WSDL name MsisdnRepeat)
    if len(set(mobiles)) != len(mobiles):
        return "MsisdnRepeat"
    if not all(valid_mobile(mobile) for mobile in mobiles):
        return "MsisdnError"
    refusals = (check_text(state, account, content) for _, content in lines)
    return next((refusal for refusal in refusals if refusal), None)


async def handle(request: Request, state: SandboxState) -> Response:
    """BatchSms.ashx: POST only; check the login, unpack and check every line, then send
    them as one task; answered as sms.aspx answers."""
    call, params = await Call.read(request, state, "BatchSms.ashx")
    ext = params.get("extno", "")
    send_time = params.get("sendtime", "")
    call.fields.update(userid=params.get("userid", ""), ext=ext, send_time=send_time)
    if request.method != "POST":
        # spec 1.6.1: POST only; the handler reads the form, which a GET does not have
        call.fields["refused"] = "POST only"
        return refuse_send(call, "xml", "ParamError")
    login = call.login(params.get("account", ""), params.get("password", ""))
    if login.account is None:
        return refuse_send(call, "xml", login.refusal)
    raw = params.get("content", "")
    if not raw:
        return refuse_send(call, "xml", "ContentEmpty")
    try:
        lines, method = parse_batch(raw)
    except ValueError as exc:  # binascii.Error, from the base64, is a ValueError
        call.fields["content_error"] = str(exc)
        return refuse_send(call, "xml", "ParamError")
    call.fields.update(
        compression=method,
        line_count=len(lines),
        lines=[{"mobile": mobile, "content": content} for mobile, content in lines[:_LOGGED_LINES]],
    )
    refusal = _check_lines(state, login.account, lines)
    if refusal:
        return refuse_send(call, "xml", refusal)
    mobiles = [mobile for mobile, _ in lines]
    return submit_send(call, "xml", login.account, "sms", mobiles, ext=ext, send_time=send_time)
