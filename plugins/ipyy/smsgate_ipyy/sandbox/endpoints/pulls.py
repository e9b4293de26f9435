"""Pulls of delivery reports and inbound messages: statusApi.aspx and statusJsonApi.aspx
(spec chapter 4), callApi.aspx and callJsonApi.aspx (spec chapter 5). Pulls are destructive,
as at the gateway."""

from __future__ import annotations

from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from .._codes import PULL_ERRORS, PULL_JSON_ERRORS, PULL_XML_ERRORS, ResultCode, code
from .._config import Account
from .._state import XML_DECLARATION, SandboxState, boxes_xml
from ._common import JSON_TYPE, XML_TYPE, Call, Handler, json_bytes

__all__ = ["puller"]

PullFormat = Literal["xml", "json"]


def _error_reply(fmt: PullFormat, reason: str, box: str) -> Response:
    """spec 4.4 / 5.4 (XML ``errorstatus`` 1–4) and 4.5 / 5.5 (JSON ``error`` / ``remark``)."""
    if fmt == "json":
        error, remark = PULL_JSON_ERRORS[reason]
        return Response(json_bytes({"error": error, "remark": remark, box: []}), media_type=JSON_TYPE)
    number = PULL_XML_ERRORS[reason]
    text = (
        f"{XML_DECLARATION}\n<returnsms>\n\t<errorstatus>\n\t\t<error>{number}</error>\n"
        f"\t\t<remark>{PULL_ERRORS[number]}</remark>\n\t</errorstatus>\n</returnsms>\n"
    )
    return Response(text.encode("utf-8"), media_type=XML_TYPE)


def _refuse(call: Call, fmt: PullFormat, reason: str, box: str) -> Response:
    number = PULL_XML_ERRORS[reason]
    call.finish(ResultCode(reason, number, PULL_ERRORS[number]))
    return _error_reply(fmt, reason, box)


def _check_query(account: Account, params: dict[str, str]) -> str | None:
    """The refusal of a pull by a logged-in account, or ``None``."""
    if not account.reports_allowed:
        return "NotAllowed"
    # spec 4.2: action is the fixed "query"; statusNum numeric, default 4000
    if params.get("action", "query").lower() not in ("query", ""):
        return "ParamError"
    status_num = params.get("statusnum", "")
    if status_num and not (status_num.isascii() and status_num.isdigit()):
        return "ParamError"
    return None


def _boxes_reply(fmt: PullFormat, box: str, items: list[Any]) -> Response:
    if fmt == "json":
        body = json_bytes({"error": "1", "remark": "成功", box: [item.json_item() for item in items]})
        return Response(body, media_type=JSON_TYPE)
    return Response(boxes_xml(items).encode("utf-8"), media_type=XML_TYPE)


def puller(endpoint: str, fmt: PullFormat, kind: Literal["report", "inbound"]) -> Handler:
    """The handler of one pull endpoint: ``report`` pulls delivery reports (up to
    ``statusNum``, only ``taskid``'s when given), ``inbound`` pulls inbound messages."""
    box = "statusbox" if kind == "report" else "callbox"

    async def handle(request: Request, state: SandboxState) -> Response:
        call, params = await Call.read(request, state, endpoint)
        status_num = params.get("statusnum", "")
        task_id = params.get("taskid", "")
        call.fields["userid"] = params.get("userid", "")
        if kind == "report":
            call.fields.update(status_num=status_num, task_id=task_id)
        login = call.login(params.get("account", ""), params.get("password", ""))
        if login.account is None:
            return _refuse(call, fmt, login.refusal, box)
        refusal = _check_query(login.account, params)
        if refusal:
            return _refuse(call, fmt, refusal, box)
        limit = int(status_num) if status_num and int(status_num) > 0 else state.config.default_status_num
        name = login.account.account
        items: list[Any] = (
            state.pull_reports(name, limit, task_id) if kind == "report" else state.pull_inbound(name)
        )
        call.fields["returned"] = len(items)
        call.finish(code("OK"))
        return _boxes_reply(fmt, box, items)

    return handle
