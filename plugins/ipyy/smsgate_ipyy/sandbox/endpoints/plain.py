"""Plain sends and balance queries: sms.aspx (XML), smsGBK.aspx (GBK XML) and smsJson.aspx
(JSON), spec chapters 1 and 3; the balance answer also serves mms.aspx's ``action=overage``."""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from .._codes import code
from .._state import SandboxState
from ._common import (
    Call,
    Handler,
    ReplyFormat,
    auth_message,
    check_mobiles,
    check_text,
    refuse_send,
    returnsms,
    split_mobiles,
    submit_send,
)

__all__ = ["answer", "balance", "sender"]


def _overage_reply(
    fmt: ReplyFormat, ok: bool, message: str, *, pay: str = "", overage: int = 0, total: int = 0
) -> Response:
    """spec 3.3 / 3.4: the XML spells success ``Sucess`` (wire notes §4, captured); the
    JSON follows the spec's own example, ``Success``."""
    success = "Success" if fmt == "json" else "Sucess"
    return returnsms(
        fmt,
        {
            "returnstatus": success if ok else "Faild",
            "message": message,
            "payinfo": pay,
            "overage": str(overage),
            "sendTotal": str(total),
        },
    )


def balance(call: Call, params: dict[str, str], fmt: ReplyFormat, kind: Literal["sms", "mms"]) -> Response:
    """``action=overage`` (spec 3): the account's pay mode, balance and total sent or
    recharged; a refused login is answered in words, not codes (spec 3.4)."""
    login = call.login(params.get("account", ""), params.get("password", ""))
    call.fields["kind"] = kind
    if login.account is None:
        call.finish(code(login.refusal))
        return _overage_reply(fmt, False, auth_message(login.refusal))
    pay, overage, total = call.state.balance(login.account.account, kind)
    call.fields.update(overage=overage, send_total=total)
    ok = code("OK")
    call.finish(ok)
    return _overage_reply(fmt, True, ok.message, pay=pay, overage=overage, total=total)


def _send(call: Call, params: dict[str, str], fmt: ReplyFormat) -> Response:
    mobiles = split_mobiles(params.get("mobile", ""))
    text = params.get("content", "")
    ext = params.get("extno", "")
    send_time = params.get("sendtime", "")
    # (the call's fields are still empty: the same dict as an update would make, without keywords)
    # The numbers are kept joined with commas (which split_mobiles leaves in none of them):
    # a dict of strings alone is never tracked by the garbage collector, and every send
    # leaves its fields in the log, which hands them out as the list (see RawEntry).
    call.fields = {
        "userid": params.get("userid", ""),
        "mobiles": mobiles[0] if len(mobiles) == 1 else ",".join(mobiles),
        "content": text,
        "ext": ext,
        "send_time": send_time,
    }
    # (the account's settings are all a send checks: no copy of the account)
    login = call.login_sender(params.get("account", ""), params.get("password", ""))
    if login.settings is None:
        return refuse_send(call, fmt, login.refusal)
    refusal = check_mobiles(call.state, mobiles) or check_text(call.state, login.settings, text)
    if refusal:
        return refuse_send(call, fmt, refusal)
    return submit_send(call, fmt, login.settings, "sms", mobiles, ext=ext, send_time=send_time)


def answer(call: Call, params: dict[str, str], fmt: ReplyFormat) -> Response:
    """Answer a plain endpoint's parameters: ``action=send`` sends (spec 1.2),
    ``action=overage`` answers the SMS balance (spec 3); anything else is a ParamError."""
    action = params.get("action", "").lower()
    if action == "overage":
        return balance(call, params, fmt, "sms")
    if action != "send":
        return refuse_send(call, fmt, "ParamError")
    return _send(call, params, fmt)


def sender(endpoint: str, fmt: ReplyFormat) -> Handler:
    """The handler of one plain endpoint (see :func:`answer`)."""
    encoding = "gbk" if fmt == "gbk" else "utf-8"

    async def handle(request: Request, state: SandboxState) -> Response:
        call, params = await Call.read(request, state, endpoint, encoding)
        return answer(call, params, fmt)

    return handle
