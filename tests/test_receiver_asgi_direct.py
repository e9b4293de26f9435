"""The ASGI adapter serves its push route straight from the scope (issue 11, speed); these tests
check that every reply is what the adapter gave when each push went through a Starlette
endpoint: the same status line, headers and body for a good push, a re-delivery, garbage,
another method or path, bodies over the cap (declared and chunked), a body too slow, a body
cut off, guard refusals (token, Basic, source), a redirect, an error inside the receiver.
Over real sockets: uvicorn via ServerThread, raw HTTP/1.1 bytes on loopback."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from smsgate._provider import CallbackReply
from smsgate.receiver import PushGuard, PushRequest, Receiver, ServerLimits, ServerThread, SQLiteJournal
from smsgate.testing import InMemoryProvider
from tests.test_receiver import push_body
from tests.test_receiver_apps import wait_for

pytestmark = pytest.mark.e2e

LIMITS = ServerLimits(max_body=2000, body_timeout=0.5)
AUTH = "Basic " + base64.b64encode(b"user:pass").decode()


# --- the adapter as it was: a Starlette endpoint building Request and Response objects -------------


class _TooLarge(Exception):
    pass


async def _reference_read(request: Request, max_body: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise _TooLarge
    return bytes(body)


async def _reference_body(request: Request, max_body: int, seconds: float) -> bytes | Response:
    try:
        async with asyncio.timeout(seconds):
            return await _reference_read(request, max_body)
    except _TooLarge:
        return Response(b"body too large", status_code=413)
    except TimeoutError:
        return Response(b"body too slow", status_code=408, headers={"Connection": "close"})
    except ClientDisconnect:
        return Response(b"body cut off", status_code=400)


def reference_app(receiver: Receiver, limits: ServerLimits) -> Starlette:
    """The ASGI adapter before its push route was served from the scope."""

    async def push(request: Request) -> Response:
        body = await _reference_body(request, limits.max_body, limits.body_timeout)
        if isinstance(body, Response):
            return body
        scope = request.scope
        query_token = request.query_params.get("token") if scope.get("query_string") else None
        client = scope.get("client")
        seen = PushRequest(
            peer=client[0] if client else None,
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            token=request.path_params.get("token", query_token),
            url=str(request.url),
        )
        refusal = receiver.admit(seen, body)
        if refusal is not None:
            return Response(b"refused", status_code=refusal.status_code, headers=dict(refusal.headers))
        result = await receiver._aserve_push(body, request.headers.get("content-type"))
        reply = result.reply
        task = BackgroundTask(result.after_reply) if result.after_reply is not None else None
        return Response(
            reply.body, status_code=reply.status_code, media_type=reply.media_type, background=task
        )

    routes = [Route("/", push, methods=["POST"])]
    if receiver.guard.token is not None:
        routes.append(Route("/{token}", push, methods=["POST"]))
    return Starlette(routes=routes)


# --- raw HTTP over loopback ----------------------------------------------------------------------


def post(path: str, body: bytes, *extra: str, method: str = "POST", length: bool = True) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *extra]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def chunked(path: str, body: bytes, *extra: str, size: int = 500) -> bytes:
    chunks = b"".join(
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    )
    return post(path, chunks + b"0\r\n\r\n", "Transfer-Encoding: chunked", *extra, length=False)


def exchange(port: int, data: bytes, *, shut: bool = False, later: bytes = b"") -> bytes:
    """Send ``data`` on a new connection; what the server wrote until it closed, its Date and
    Server headers left out (``shut``: end our side after ``data``; ``later``: sent 0.1 s
    after ``data``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if later:
            time.sleep(0.1)
            sock.sendall(later)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith((b"date:", b"server:"))]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@contextmanager
def both(
    tmp_path: Path,
    guard: PushGuard | None = None,
    provider: Callable[[], InMemoryProvider] = lambda: InMemoryProvider(name="mem"),
    wrap: Callable[[Starlette], Any] = lambda app: app,
) -> Iterator[tuple[int, int]]:
    """The ports of this adapter and of the reference, each with its own receiver and journal."""
    with (
        Receiver(provider(), journal=tmp_path / "ours.sqlite3", guard=guard) as ours,
        Receiver(provider(), journal=tmp_path / "theirs.sqlite3", guard=guard) as theirs,
        ServerThread(wrap(ours.asgi_app(limits=LIMITS))) as our_server,
        ServerThread(wrap(reference_app(theirs, LIMITS))) as reference_server,
    ):
        yield our_server.port, reference_server.port


def same_replies(ports: tuple[int, int], requests: list[bytes], **options: Any) -> list[bytes]:
    """Each request's reply, checked equal from both servers."""
    replies = []
    for request in requests:
        ours, theirs = (exchange(port, request, **options) for port in ports)
        assert ours == theirs, request
        replies.append(ours)
    return replies


def status(reply: bytes) -> bytes:
    return reply.split(b"\r\n", 1)[0]


def stored(tmp_path: Path, name: str) -> int:
    with SQLiteJournal(tmp_path / f"{name}.sqlite3") as journal:
        return len(journal.entries())


# --- the tests ----------------------------------------------------------------------------------


def test_pushes_methods_paths_and_body_caps_get_the_same_replies(tmp_path: Path) -> None:
    good = push_body("13800138000", "13900139000")
    requests = [
        post("/", good, "Content-Type: text/xml"),
        post("/", good),  # a re-delivery
        post("/", b"<<garbage>>"),
        post("/?token=nothing-asked", push_body("13800000001")),
        post("/", push_body("13800000002"), "Content-Type: application/json", "Content-Type: text/plain"),
        post("/", b"", method="GET"),
        post("/", good, method="PUT"),
        post("/", b"", method="HEAD"),
        post("/other", good),
        post("/a/b", good),
        post("/", b"x" * 2001),  # one byte over, declared
        post("/", b"x" * 2000),  # at the cap: read, then not parsable
        chunked("/", b"x" * 3000),  # over, streamed without a length
        chunked("/", push_body("13800000003"), size=7),
    ]
    with both(tmp_path) as ports:
        replies = same_replies(ports, requests)
    assert [status(reply) for reply in replies] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 413 Request Entity Too Large",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 413 Request Entity Too Large",
        b"HTTP/1.1 200 OK",
    ]
    assert replies[0].endswith(b"\r\n\r\nok")
    assert b"allow: POST" in replies[5]
    assert stored(tmp_path, "ours") == stored(tmp_path, "theirs") == 5


def test_a_slow_body_gets_408_a_late_one_is_read_and_one_cut_off_gets_no_reply(tmp_path: Path) -> None:
    whole = post("/", push_body("13800138000"))
    head = whole.index(b"\r\n\r\n") + 4
    with both(tmp_path) as ports:
        (slow,) = same_replies(ports, [whole[:-10]])  # the last 10 bytes never come
        (none,) = same_replies(ports, [whole[:head]])  # no byte of the body comes
        assert same_replies(ports, [whole[:-10]], shut=True) == [b"\r\n\r\n"]
        assert stored(tmp_path, "ours") == 0
        (late,) = same_replies(ports, [whole[:head]], later=whole[head:])  # within the deadline
        (split,) = same_replies(ports, [whole[: head + 5]], later=whole[head + 5 :])
    assert status(slow) == status(none) == b"HTTP/1.1 408 Request Timeout"
    assert b"connection: close" in slow.lower()
    assert slow.endswith(b"body too slow")
    assert status(late) == status(split) == b"HTTP/1.1 200 OK"
    assert stored(tmp_path, "ours") == stored(tmp_path, "theirs") == 1


def test_guard_refusals_and_the_token_routes_get_the_same_replies(tmp_path: Path) -> None:
    guard = PushGuard(token="tok-9f8e7d", basic=("user", "pass"), allow=["127.0.0.0/8"])
    body = push_body("13800138000")
    requests = [
        post("/", body, f"Authorization: {AUTH}"),  # no token
        post("/tok-9f8e7d", body),  # no credentials
        post("/tok-9f8e7d", body, "Authorization: Basic bm9wZQ=="),
        post("/wrong", body, f"Authorization: {AUTH}"),
        post("/tok-9f8e7d", body, f"Authorization: {AUTH}"),
        post("/?token=tok-9f8e7d", push_body("13800000001"), f"Authorization: {AUTH}"),
        post("/tok-9f8e7d/", body, f"Authorization: {AUTH}"),  # Starlette's redirect
        post("/tok-9f8e7d", b"", method="GET"),
        post("/tok-9f8e7d", b"x" * 3000, f"Authorization: {AUTH}"),  # too large before the guard
    ]
    with both(tmp_path, guard) as ports:
        replies = same_replies(ports, requests)
    assert [status(reply) for reply in replies] == [
        b"HTTP/1.1 403 Forbidden",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.1 403 Forbidden",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 307 Temporary Redirect",
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 413 Request Entity Too Large",
    ]
    assert b'www-authenticate: Basic realm="smsgate"' in replies[1]
    assert stored(tmp_path, "ours") == stored(tmp_path, "theirs") == 2


def test_a_source_outside_the_allow_list_is_refused_alike(tmp_path: Path) -> None:
    with both(tmp_path, PushGuard(allow=["10.0.0.0/8"])) as ports:
        (reply,) = same_replies(ports, [post("/", push_body("13800138000"))])
    assert status(reply) == b"HTTP/1.1 403 Forbidden"
    assert reply.endswith(b"refused")


VERIFIED_URLS: list[str] = []


class _Signing(InMemoryProvider):
    """Accepts a push only when it was posted to the URL it expects (the URL the guard saw)."""

    def verify_push(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        VERIFIED_URLS.append(url)
        return url.endswith("/callbacks/acme/?sig=1")


def test_mounted_the_url_given_to_the_provider_and_the_replies_are_the_same(tmp_path: Path) -> None:
    VERIFIED_URLS.clear()
    with both(
        tmp_path,
        provider=lambda: _Signing(name="mem"),
        wrap=lambda app: Starlette(routes=[Mount("/callbacks/acme", app=app)]),
    ) as ports:
        replies = same_replies(
            ports,
            [
                post("/callbacks/acme/?sig=1", push_body("13800138000")),
                post("/callbacks/acme/", push_body("13800000001")),
                post("/callbacks/acme", push_body("13800000002")),
            ],
        )
    assert [status(reply) for reply in replies] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 403 Forbidden",
        b"HTTP/1.1 307 Temporary Redirect",
    ]
    # Both adapters gave verify_push the same URL, twice each.
    assert (
        VERIFIED_URLS[0::2]
        == VERIFIED_URLS[1::2]
        == [
            "http://127.0.0.1/callbacks/acme/?sig=1",
            "http://127.0.0.1/callbacks/acme/",
        ]
    )


class _Broken(InMemoryProvider):
    def callback_reply(self, ok: bool) -> CallbackReply:
        raise RuntimeError("reply wording failed")


def test_an_error_inside_the_receiver_gets_starlette_s_500(tmp_path: Path) -> None:
    with both(tmp_path, provider=lambda: _Broken(name="mem")) as ports:
        (reply,) = same_replies(ports, [post("/", push_body("13800138000"))])
    assert status(reply) == b"HTTP/1.1 500 Internal Server Error"
    assert reply.endswith(b"Internal Server Error")


def test_middleware_added_to_the_app_sees_every_push(tmp_path: Path) -> None:
    seen: list[str] = []

    class Tag:
        def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.app(scope, receive, send)

    with Receiver(InMemoryProvider(name="mem"), journal=tmp_path / "j.sqlite3") as receiver:
        app = receiver.asgi_app()
        app.add_middleware(Tag)
        with ServerThread(app) as server:
            reply = exchange(server.port, post("/", push_body("13800138000")))
    assert status(reply) == b"HTTP/1.1 200 OK"
    assert seen == ["/"]


def test_a_handler_replaced_by_a_coroutine_function_is_awaited(tmp_path: Path) -> None:
    """The adapter's path depends on whether the handler is a coroutine function, which the
    receiver remembers per handler: a handler replaced later is still called and awaited."""
    called: list[str] = []

    async def later(event: object) -> None:
        called.append("async")

    with Receiver(
        InMemoryProvider(name="mem"), lambda event: called.append("sync"), journal=tmp_path / "j.sqlite3"
    ) as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            assert status(exchange(server.port, post("/", push_body("13800138000")))).endswith(b"200 OK")
            wait_for(lambda: called == ["sync"])
            receiver.handler = later
            assert status(exchange(server.port, post("/", push_body("13900139000")))).endswith(b"200 OK")
            wait_for(lambda: called == ["sync", "async"])
