"""The encrypted send, ensms.ashx (spec 1.5): a ``Text64`` of DES-encrypted JSON, keyed by the
password of the account the ``UserId`` names, with a timed ``Secret`` instead of a password."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._codes import ResultCode, code
from .._config import Account
from .._des import decrypt_text64, secret_of
from .._state import CHINA, SandboxState
from ._common import (
    JSON_TYPE,
    Call,
    check_ext_and_time,
    check_mobiles,
    check_text,
    json_bytes,
    split_mobiles,
)

__all__ = ["handle"]

_OK = code("OK")


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


def _reply(result: ResultCode, task_id: str = "", amount: int = 0, count: int = 0) -> Response:
    # spec 1.5: numbers unquoted here, unlike smsJson.aspx
    body = json_bytes(
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


def _refuse(call: Call, refusal: str) -> Response:
    result = code(refusal)
    call.finish(result)
    return _reply(result)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _decrypt_with(candidate: Account, text64: str) -> dict[str, str] | None:
    """The Text64's JSON fields under this account's key, or ``None`` when it does not open."""
    try:
        data = json.loads(decrypt_text64(text64, candidate.password).decode("utf-8"))
    except (ValueError, RecursionError):  # bad base64/padding, not UTF-8, not JSON, too deep
        return None
    if not isinstance(data, dict):
        return None
    # Newtonsoft binds property names case-insensitively; null or missing is empty
    return {str(key).lower(): _json_text(value) for key, value in data.items()}


def _open(candidates: list[Account], text64: str) -> tuple[dict[str, str], Account] | None:
    """The fields and the account of the first key that opens the Text64 and names its own
    account, else of the first key that opens it at all (several accounts may share a UserId)."""
    first: tuple[dict[str, str], Account] | None = None
    for candidate in candidates:
        fields = _decrypt_with(candidate, text64)
        if fields is None:
            continue
        if fields.get("username") == candidate.account:
            return fields, candidate
        first = first or (fields, candidate)
    return first


def _authenticate(call: Call, decoded: dict[str, str], account: Account) -> str | None:
    """The refusal of the JSON's UserName, Stamp and Secret, or ``None``."""
    username = decoded.get("username", "")
    call.account = username
    if not username:
        return "UserNameEmpty"
    if username != account.account:
        return "UserNameError"
    stamp = decoded.get("stamp", "")
    if not _stamp_ok(stamp, call.state.now(), call.state.config.stamp_tolerance):
        return "StampError"
    # spec 1.5: Secret = MD5(plain password + Stamp), upper case
    secret_ok = decoded.get("secret", "") == secret_of(account.password, stamp)
    call.fields["secret_valid"] = secret_ok
    return None if secret_ok else "PasswordError"


def _send(call: Call, decoded: dict[str, str], account: Account) -> Response:
    state = call.state
    mobiles = split_mobiles(decoded.get("moblie", ""))  # spec 1.5 spells it Moblie
    call.fields["mobiles"] = mobiles
    refusal = check_mobiles(state, mobiles) or check_text(state, account, decoded.get("text", ""))
    if refusal:
        return _refuse(call, refusal)
    ext = decoded.get("ext", "")
    refusal, send_at = check_ext_and_time(account, ext, decoded.get("sendtime", ""))
    if refusal:
        return _refuse(call, refusal)
    submitted = state.submit(account.account, "sms", mobiles, ext, send_at)
    if submitted.refusal:
        return _refuse(call, submitted.refusal)
    call.finish(_OK, submitted.task_id)
    return _reply(_OK, submitted.task_id, submitted.remaining, submitted.accepted)


async def handle(request: Request, state: SandboxState) -> Response:
    """ensms.ashx: find the accounts of ``UserId``, open ``Text64`` with their keys, check
    the stamp and secret, then send as sms.aspx does; answered in the spec 1.5 JSON."""
    call, params = await Call.read(request, state, "ensms.ashx")
    userid = params.get("userid", "")
    text64 = params.get("text64", "")
    call.fields["userid"] = userid
    call.password_style = "plain"  # noqa: S105 - a label: ensms keys DES with the plain password
    # spec 1.5 / chapter 9 1008: UserId must be numeric, and it says whose key decrypts
    candidates = state.accounts_by_userid(userid) if userid.isascii() and userid.isdigit() else []
    if not candidates:
        return _refuse(call, "UserIdError")
    opened = _open(candidates, text64) if text64 else None
    if opened is None:
        return _refuse(call, "Text64Error")
    decoded, account = opened
    call.fields["text64_json"] = {key: value for key, value in decoded.items() if key != "secret"}
    refusal = _authenticate(call, decoded, account)
    if refusal:
        return _refuse(call, refusal)
    return _send(call, decoded, account)
