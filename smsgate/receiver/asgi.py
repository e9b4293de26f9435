"""The receiver as an ASGI app (Starlette): mount it in Starlette, FastAPI or any ASGI server.

This adapter only moves bytes: it reads the body (refusing one over ``max_body``), passes it to
:meth:`Receiver.ahandle_push <smsgate.receiver.Receiver.ahandle_push>`, writes the reply and
runs the dispatch the receiver left for after the reply. Every decision is the receiver's.
Needs the ``receiver`` extra (starlette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Receiver

__all__ = ["asgi_app"]


async def _read(request: Request, max_body: int) -> bytes | None:
    """The request body, or None when it is over ``max_body`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            return None
    return bytes(body)


def asgi_app(receiver: Receiver, *, max_body: int = 1 << 20) -> Starlette:
    """One POST route at ``/``: the raw body goes to ``receiver``, the provider's reply comes back.

    The request's Content-Type is passed along but never required: some vendors send a wrong
    one. Bodies over ``max_body`` bytes get 413. With ``receiver.ack_before_dispatch`` the
    handler runs after the reply is sent (a Starlette background task).
    """

    async def push(request: Request) -> Response:
        body = await _read(request, max_body)
        if body is None:
            return Response(b"body too large", status_code=413)
        result = await receiver.ahandle_push(body, request.headers.get("content-type"))
        reply = result.reply
        task = BackgroundTask(result.after_reply) if result.after_reply is not None else None
        return Response(
            reply.body, status_code=reply.status_code, media_type=reply.media_type, background=task
        )

    return Starlette(routes=[Route("/", push, methods=["POST"])])
