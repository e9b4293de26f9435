"""The admin and inspection API under ``/_sandbox/`` (JSON): the request log, accounts,
inbound messages, due reports, push outcomes, dropped reports, reset and health."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._config import Account
from .._state import SandboxState

__all__ = ["routes"]

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


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


async def _requests(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.clear_requests()
        return JSONResponse({"cleared": True})
    entries = state.requests()
    for key in ("endpoint", "account"):
        wanted = request.query_params.get(key)
        if wanted:
            entries = [entry for entry in entries if str(entry.get(key, "")).lower() == wanted.lower()]
    return JSONResponse(entries)


async def _accounts(request: Request) -> Response:
    return JSONResponse(_state(request).accounts())


def _bad_setting(changes: dict[str, Any]) -> str | None:
    """Why a settings body is refused, or ``None``."""
    for key, value in changes.items():
        allowed = _ACCOUNT_TYPES.get(key)
        if allowed is None:
            return f"unknown setting {key!r}"
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return f"bad value for {key!r}"
    return None


async def _account(request: Request) -> Response:
    state = _state(request)
    name = request.path_params["account"]
    changes = await _json_body(request)
    if changes is None:
        return _error("body must be a JSON object", 400)
    bad = _bad_setting(changes)
    if bad:
        return _error(bad, 400)
    if state.get_account(name) is None:
        if "password" not in changes or "userid" not in changes:
            return _error(f"unknown account {name!r}; give password and userid to create it", 404)
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


async def _inbound(request: Request) -> Response:
    state = _state(request)
    data = await _json_body(request)
    if data is None or not all(isinstance(data.get(key), str) for key in ("account", "mobile", "text")):
        return _error("give account, mobile and text as strings", 400)
    try:
        state.inject_inbound(
            data["account"],
            data["mobile"],
            data["text"],
            str(data.get("ext", "")),
            str(data.get("task_id", "")),
        )
    except KeyError:
        return _error(f"unknown account {data['account']!r}", 404)
    return JSONResponse({"queued": True})


async def _flush(request: Request) -> Response:
    return JSONResponse({"flushed": _state(request).flush_reports()})


async def _reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


async def _pushes(request: Request) -> Response:
    return JSONResponse(_state(request).pushes())


async def _dropped(request: Request) -> Response:
    return JSONResponse(_state(request).dropped())


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def routes() -> list[Route]:
    """The admin routes, relative to the ``/_sandbox`` mount."""
    return [
        Route("/health", _health, methods=["GET"]),
        Route("/requests", _requests, methods=["GET", "DELETE"]),
        Route("/accounts", _accounts, methods=["GET"]),
        Route("/accounts/{account}", _account, methods=["PUT"]),
        Route("/inbound", _inbound, methods=["POST"]),
        Route("/reports/flush", _flush, methods=["POST"]),
        Route("/pushes", _pushes, methods=["GET"]),
        Route("/dropped", _dropped, methods=["GET"]),
        Route("/reset", _reset, methods=["POST"]),
    ]
