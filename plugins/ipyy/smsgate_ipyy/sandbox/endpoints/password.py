"""Change of password, pwd.aspx (spec chapter 7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .._codes import code
from .._state import XML_DECLARATION, SandboxState
from ._common import XML_TYPE, Call, auth_message

__all__ = ["handle"]

#: spec 7.2: the new password is at most 20 characters.
_MAX_PASSWORD = 20


def _reply(ok: bool, message: str) -> Response:
    # spec 7.3: success is spelt Sucess here too
    text = (
        f"{XML_DECLARATION}\n<returnsms>\n\t<returnstatus>{'Sucess' if ok else 'Faild'}</returnstatus>\n"
        f"\t<message>{message}</message>\n</returnsms>\n"
    )
    return Response(text.encode("utf-8"), media_type=XML_TYPE)


async def handle(request: Request, state: SandboxState) -> Response:
    """pwd.aspx: check the login, then store ``newPassword`` (1 to 20 characters)."""
    call, params = await Call.read(request, state, "pwd.aspx")
    new_password = params.get("newpassword", "")
    call.fields.update(userid=params.get("userid", ""), new_password_length=len(new_password))
    login = call.login(params.get("account", ""), params.get("password", ""))
    if login.account is None:
        call.finish(code(login.refusal))
        return _reply(False, auth_message(login.refusal))
    if not new_password or len(new_password) > _MAX_PASSWORD:
        refused = code("ParamError")
        call.finish(refused)
        return _reply(False, refused.message)
    state.change_password(login.account.account, new_password)
    ok = code("OK")
    call.finish(ok)
    return _reply(True, ok.message)
