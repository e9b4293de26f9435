"""The receiver as an ASGI app (Starlette)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Receiver

__all__ = ["build_asgi_app"]


def build_asgi_app(receiver: Receiver, *, max_body: int = 1 << 20) -> Starlette:
    """One POST route at ``/``: the raw body goes to ``receiver``, the provider's reply comes back.

    The request's Content-Type is passed along but never required: some vendors send a wrong
    one. With ``receiver.ack_before_dispatch`` the handler runs after the reply is sent.
    """

    async def push(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            return Response(b"body too large", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return Response(b"body too large", status_code=413)
        intake = await receiver.areceive(bytes(body), request.headers.get("content-type"))
        reply = intake.reply
        task = None
        if intake.stored and intake.new:
            if receiver.ack_before_dispatch:
                task = BackgroundTask(receiver.adispatch, intake.new)
            else:
                done = await receiver.adispatch(intake.new)
                reply = receiver._final_reply(intake, done)
        return Response(
            reply.body, status_code=reply.status_code, media_type=reply.media_type, background=task
        )

    return Starlette(routes=[Route("/", push, methods=["POST"])])
