"""The receiver as an ASGI app (Starlette): mount it in Starlette, FastAPI or any ASGI server.

This adapter only moves bytes: it reads the body (refusing one over ``max_body``), passes it to
the receiver (:meth:`Receiver.ahandle_push <smsgate.receiver.Receiver.ahandle_push>`, or its
variant that starts a sync handler's dispatch as soon as the push is durable), writes the reply
and runs the dispatch the receiver left for after the reply. Every decision is the receiver's.
Needs the ``receiver`` extra (starlette).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.receiver._limits import ServerLimits
from smsgate.receiver._security import PushRequest
from smsgate.receiver._workers import running_loop

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Receiver

__all__ = ["asgi_app"]


class _TooLarge(Exception):
    pass


async def _read(request: Request, max_body: int) -> bytes:
    """The request body; :class:`_TooLarge` when it is over ``max_body`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise _TooLarge
    return bytes(body)


async def _read_in_time(request: Request, max_body: int, seconds: float) -> bytes | Response:
    """The body, or the response refusing it: 413 too large, 408 too slow, 400 cut off."""
    try:
        if running_loop() is not None:
            async with asyncio.timeout(seconds):
                return await _read(request, max_body)
        with anyio.fail_after(seconds):
            return await _read(request, max_body)
    except _TooLarge:
        return Response(b"body too large", status_code=413)
    except TimeoutError:
        return Response(b"body too slow", status_code=408, headers={"Connection": "close"})
    except ClientDisconnect:
        return Response(b"body cut off", status_code=400)


def _push_request(request: Request) -> PushRequest:
    """What the receiver's guard checks, read from the ASGI scope (as Starlette reads it,
    without building its header and query objects: most pushes have no query string)."""
    scope = request.scope
    query_token = request.query_params.get("token") if scope.get("query_string") else None
    client = scope.get("client")
    return PushRequest(
        peer=client[0] if client else None,
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
        token=request.path_params.get("token", query_token),
        url=str(request.url),
    )


def asgi_app(
    receiver: Receiver, *, max_body: int | None = None, limits: ServerLimits | None = None
) -> Starlette:
    """POST at ``/`` (and ``/<token>`` with a guard token): the raw body goes to ``receiver``,
    the provider's reply comes back.

    The request's Content-Type is passed along but never required: some vendors send a wrong
    one. Bodies over ``max_body`` bytes (default ``limits.max_body``) get 413; a body not
    read within ``limits.body_timeout`` seconds gets 408. A push the receiver's
    :meth:`~smsgate.receiver.Receiver.admit` refuses gets its 4xx and is never parsed. With
    ``receiver.ack_before_dispatch`` the handler never holds up the reply: a sync handler
    starts in a handler thread once the push is durable (with the SQLite journal under
    asyncio), otherwise the handler runs after the reply is sent (a Starlette background task).
    """
    limits = limits if limits is not None else ServerLimits()
    cap = max_body if max_body is not None else limits.max_body

    async def push(request: Request) -> Response:
        body = await _read_in_time(request, cap, limits.body_timeout)
        if isinstance(body, Response):
            return body
        refusal = receiver.admit(_push_request(request), body)
        if refusal is not None:
            return Response(b"refused", status_code=refusal.status_code, headers=dict(refusal.headers))
        result = await receiver._aserve_push(body, request.headers.get("content-type"))
        reply = result.reply
        task = BackgroundTask(result.after_reply) if result.after_reply is not None else None
        return Response(
            reply.body, status_code=reply.status_code, media_type=reply.media_type, background=task
        )

    routes = [Route("/", push, methods=["POST"])]
    if receiver.guard.token is not None:  # the token as the URL's last segment
        routes.append(Route("/{token}", push, methods=["POST"]))
    return Starlette(routes=routes)
