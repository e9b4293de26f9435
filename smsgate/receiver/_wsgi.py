"""The receiver as a WSGI app: for Flask, Django or any WSGI server."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Intake, Receiver

__all__ = ["WSGIApp", "build_wsgi_app"]

StartResponse: TypeAlias = Callable[..., Any]
#: A WSGI application callable.
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _ThenDispatch:
    """Response body whose ``close()`` (called by the server once the reply is sent) dispatches."""

    def __init__(self, body: bytes, receiver: Receiver, intake: Intake) -> None:
        self._body = body
        self._receiver = receiver
        self._intake = intake

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        self._receiver.dispatch(self._intake.new)


def _plain(
    start_response: StartResponse, status: str, body: bytes, extra: list[tuple[str, str]]
) -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


_REASONS = {200: "OK", 400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}


def build_wsgi_app(receiver: Receiver, *, max_body: int = 1 << 20) -> WSGIApp:
    """One POST route at ``/`` (relative to where it is mounted) served by ``receiver``.

    With ``receiver.ack_before_dispatch`` the handler runs in the response's ``close()``,
    which WSGI servers call after the reply has been written.
    """

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") not in ("", "/"):
            return _plain(start_response, "404 Not Found", b"not found", [])
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", b"POST only", [("Allow", "POST")])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _plain(start_response, "400 Bad Request", b"bad Content-Length", [])
        if length > max_body:
            return _plain(start_response, "413 Content Too Large", b"body too large", [])
        body = environ["wsgi.input"].read(length) if length else b""
        intake = receiver.receive(body, environ.get("CONTENT_TYPE"))
        reply = intake.reply
        if intake.stored and intake.new and not receiver.ack_before_dispatch:
            reply = receiver._final_reply(intake, receiver.dispatch(intake.new))
        status = f"{reply.status_code} {_REASONS.get(reply.status_code, 'Status')}"
        start_response(status, [("Content-Type", reply.media_type), ("Content-Length", str(len(reply.body)))])
        if intake.stored and intake.new and receiver.ack_before_dispatch:
            return _ThenDispatch(reply.body, receiver, intake)
        return [reply.body]

    return app
