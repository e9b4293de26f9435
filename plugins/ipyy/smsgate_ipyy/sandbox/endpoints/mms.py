"""MMS, mms.aspx (spec chapter 2): ``action=send`` with a subject and a base64 TMS container
of parts; ``action=overage`` answers the MMS balance (spec 3)."""

from __future__ import annotations

import binascii

from starlette.requests import Request
from starlette.responses import Response

from .._base64 import from_base64
from .._state import SandboxState
from .._tms import TmsError, read_parts
from ._common import Call, check_mobiles, refuse_send, split_mobiles, submit_send
from .plain import balance

__all__ = ["check_parts", "handle"]


def _check_names(state: SandboxState, names: list[str]) -> str | None:
    if len({name.lower() for name in names}) != len(names):
        return "ElementNameRepeat"
    if not state.config.mms_require_smil:
        return None
    smil = sum(1 for name in names if name.lower().endswith(".smil"))
    if smil == 0:
        return "SmilEmpty"
    return "SmilExcessive" if smil > 1 else None


def check_parts(state: SandboxState, raw: str) -> tuple[str | None, list[tuple[str, bytes]]]:
    """The refusal of an MMS ``content`` (or ``None``) and the parts it holds."""
    try:
        blob = from_base64(raw)
    except binascii.Error:
        return "ElementError", []
    if len(blob) > state.config.max_mms_bytes:
        return "SizeLong", []
    try:
        parts = read_parts(blob)  # spec 2.2: the TMS layout, checked strictly
    except TmsError:
        return "ElementError", []
    if not parts:
        return "ElementError", parts
    return _check_names(state, [name for name, _ in parts]), parts


async def handle(request: Request, state: SandboxState) -> Response:
    """mms.aspx: check the login, the recipients, the subject and the parts, then send."""
    call, params = await Call.read(request, state, "mms.aspx")
    action = params.get("action", "").lower()
    if action == "overage":
        return balance(call, params, "xml", "mms")
    if action != "send":
        return refuse_send(call, "xml", "ParamError")
    mobiles = split_mobiles(params.get("mobile", ""))
    subject = params.get("subject", "")
    ext = params.get("extno", "")
    send_time = params.get("sendtime", "")
    call.fields.update(mobiles=mobiles, subject=subject, ext=ext, send_time=send_time)
    login = call.login(params.get("account", ""), params.get("password", ""))
    if login.account is None:
        return refuse_send(call, "xml", login.refusal)
    # spec chapter 9: 3001 SubjectEmpty
    refusal = check_mobiles(state, mobiles) or (None if subject else "SubjectEmpty")
    if refusal:
        return refuse_send(call, "xml", refusal)
    raw = params.get("content", "")
    if not raw:
        return refuse_send(call, "xml", "ContentEmpty")
    refusal, parts = check_parts(state, raw)
    call.fields["parts"] = [{"name": name, "size": len(data)} for name, data in parts]
    if refusal:
        return refuse_send(call, "xml", refusal)
    return submit_send(call, "xml", login.account, "mms", mobiles, ext=ext, send_time=send_time)
