"""The receiver as a WSGI app: for Flask, Django or any WSGI server.

This adapter only moves bytes: it checks the method and the length, passes the body to
:meth:`Receiver.handle_push <smsgate.receiver.Receiver.handle_push>`, writes the reply and runs
the dispatch the receiver left for after the reply from the response's ``close()``, which WSGI
servers call once the reply has been written. Every decision is the receiver's.
"""

from __future__ import annotations

import urllib.parse
import wsgiref.util
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

from smsgate.receiver._limits import app_max_body
from smsgate.receiver._security import PushRequest

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Receiver

__all__ = ["WSGIApp", "wsgi_app"]

StartResponse: TypeAlias = Callable[..., Any]
#: A WSGI application callable.
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _ThenRun:
    """Response body whose ``close()`` (called by the server once the reply is sent) runs ``after``."""

    def __init__(self, body: bytes, after: Callable[[], Any]) -> None:
        self._body = body
        self._after = after

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        self._after()


def _plain(
    start_response: StartResponse, status: str, body: bytes, extra: list[tuple[str, str]]
) -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def _refusal(
    environ: dict[str, Any], start_response: StartResponse, max_body: int, *, token_path: bool
) -> list[bytes] | None:
    """The HTTP-level refusal of a request that is not a push, or None for a push to handle."""
    path = environ.get("PATH_INFO", "")
    if path not in ("", "/") and (not token_path or path.count("/") > 1):
        return _plain(start_response, "404 Not Found", b"not found", [])
    if environ.get("REQUEST_METHOD") != "POST":
        return _plain(start_response, "405 Method Not Allowed", b"POST only", [("Allow", "POST")])
    length = _length(environ)
    if length < 0:
        return _plain(start_response, "400 Bad Request", b"bad Content-Length", [])
    if length > max_body:
        return _plain(start_response, "413 Content Too Large", b"body too large", [])
    return None


def _length(environ: dict[str, Any]) -> int:
    """The declared body length (0 when absent), or -1 when it is not a number."""
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return -1


def _push_request(environ: dict[str, Any]) -> PushRequest:
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    segment = environ.get("PATH_INFO", "").strip("/")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    token = urllib.parse.unquote(segment) if segment else (query.get("token") or [None])[0]
    return PushRequest(
        peer=environ.get("REMOTE_ADDR"), headers=headers, token=token, url=wsgiref.util.request_uri(environ)
    )


def wsgi_app(receiver: Receiver, *, max_body: int | None = None) -> WSGIApp:
    """POST at ``/`` (and ``/<token>`` with a guard token; relative to where it is mounted),
    served by ``receiver``.

    Bodies over ``max_body`` bytes (default 1 MiB) get 413; a push the receiver's
    :meth:`~smsgate.receiver.Receiver.admit` refuses gets its 4xx and is never parsed. With
    ``receiver.ack_before_dispatch`` the handler runs in the response's ``close()``, which
    WSGI servers call after the reply is written. Body-read timeouts are the WSGI server's
    (see ``docs/receiver.md``).

    :raises ConfigurationError: ``receiver`` is no :class:`~smsgate.receiver.Receiver`, its
        provider does not declare the ``callbacks`` capability, or ``max_body`` is not a
        positive whole number.
    """
    cap = app_max_body(receiver, max_body, None)  # before anything is built

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refused = _refusal(environ, start_response, cap, token_path=receiver.guard.token is not None)
        if refused is not None:
            return refused
        length = _length(environ)
        body = environ["wsgi.input"].read(length) if length else b""
        refusal = receiver.admit(_push_request(environ), body)
        if refusal is not None:
            status = f"{refusal.status_code} {_REASONS.get(refusal.status_code, 'Refused')}"
            return _plain(start_response, status, b"refused", list(refusal.headers))
        result = receiver.handle_push(body, environ.get("CONTENT_TYPE"))
        reply = result.reply
        status = f"{reply.status_code} {_REASONS.get(reply.status_code, 'Status')}"
        start_response(status, [("Content-Type", reply.media_type), ("Content-Length", str(len(reply.body)))])
        if result.after_reply is not None:
            return _ThenRun(reply.body, result.after_reply)
        return [reply.body]

    return app
