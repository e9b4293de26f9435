"""The receiver as an ASGI app (Starlette): mount it in Starlette, FastAPI or any ASGI server.

This adapter only moves bytes: it reads the body (refusing one over ``max_body``), passes it to
the receiver (:meth:`Receiver.ahandle_push <smsgate.receiver.Receiver.ahandle_push>`, or its
variant that starts a sync handler's dispatch as soon as the push is durable), writes the reply
and runs the dispatch the receiver left for after the reply. Every decision is the receiver's.
Needs the ``receiver`` extra (starlette).

The app is a :class:`~starlette.applications.Starlette` whose push route is also served
straight from the ASGI scope: a POST to ``/`` (or ``/<token>``) skips the router, the
middleware and the request and response objects, while every other request (another method,
another path, the lifespan) goes through Starlette. The replies are the same either way; an
app given middleware or exception handlers after it was made sends every request through them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import URL, QueryParams
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from smsgate.receiver._limits import ServerLimits, app_max_body
from smsgate.receiver._security import PushRequest
from smsgate.receiver._workers import running_loop

if TYPE_CHECKING:
    from smsgate._provider import CallbackReply
    from smsgate.receiver._receiver import PushResult, Receiver

__all__ = ["asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Entries kept by the small caches below (URLs pushes were made to, reply heads): a client
#: varying its Host header or path empties them, never grows them.
_CACHE_SIZE = 64


class _TooLarge(Exception):
    pass


async def _read(receive: Receive, max_body: int) -> bytes:
    """The request body; :class:`_TooLarge` over ``max_body`` bytes (streamed),
    ``ClientDisconnect`` when the client left. Gathered in a bytearray: a body sent in many
    small chunks costs no more than one sent whole."""
    body = bytearray()
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            body += message.get("body", b"")
            if len(body) > max_body:
                raise _TooLarge
            if not message.get("more_body", False):
                return bytes(body)
        elif kind == "http.disconnect":
            raise ClientDisconnect


class _Deadlines:
    """The body deadlines of the pushes one event loop is reading: one timer for all of them
    rather than an :func:`asyncio.timeout` (a timer handle, its heap entry and its cancel)
    per push, which cost about a third of the push route's own work.

    Every push here gets the same number of seconds, so the order pushes start in is the
    order their deadlines fall in: the timer waits for the first one only, and when it fires
    it cancels the reads whose deadline passed (:meth:`read` turns that into
    :class:`TimeoutError`) and waits again for the first one left.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = loop
        self._seconds = seconds
        self._due: dict[asyncio.Task[Any], float] = {}  # in the order of their deadlines
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def read(self, receive: Receive, max_body: int) -> bytes:
        """:func:`_read` within the deadline: :class:`TimeoutError` once it passed."""
        task = asyncio.current_task(self.loop)
        if task is None:  # not in a task (a bare coroutine driven by hand): no other way
            async with asyncio.timeout(self._seconds):
                return await _read(receive, max_body)
        cancelling = task.cancelling()
        when = self.loop.time() + self._seconds
        self._due[task] = when
        if self._timer is None:
            self._timer = self.loop.call_at(when, self._expire)
        try:
            return await _read(receive, max_body)
        except asyncio.CancelledError:
            # Ours (the deadline passed) unless someone else cancelled the task as well.
            if task in self._expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._expired.discard(task)
            self._due.pop(task, None)

    def _expire(self) -> None:
        """Cancel the reads whose deadline passed; wait for the next one."""
        self._timer = None
        now = self.loop.time()
        while self._due:
            task, when = next(iter(self._due.items()))
            if when > now:
                self._timer = self.loop.call_at(when, self._expire)
                return
            del self._due[task]
            self._expired.add(task)
            task.cancel()


async def _read_in_time(
    receive: Receive, declared: str | None, max_body: int, deadlines: _Deadlines | float
) -> bytes | Response:
    """The body, or the response refusing it: 413 too large, 408 too slow, 400 cut off.
    ``deadlines``: the running loop's, or (under another event loop) the seconds allowed."""
    try:
        if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > max_body:
            raise _TooLarge
        if isinstance(deadlines, _Deadlines):
            return await deadlines.read(receive, max_body)
        with anyio.fail_after(deadlines):
            return await _read(receive, max_body)
    except _TooLarge:
        return Response(b"body too large", status_code=413)
    except TimeoutError:
        return Response(b"body too slow", status_code=408, headers={"Connection": "close"})
    except ClientDisconnect:
        return Response(b"body cut off", status_code=400)


class _Push:
    """The push endpoint, an ASGI app: Starlette's route calls it, and so does
    :class:`_ReceiverApp` straight from the scope."""

    def __init__(self, receiver: Receiver, max_body: int, body_timeout: float) -> None:
        self.receiver = receiver
        self.max_body = max_body
        self.body_timeout = body_timeout
        self._urls: dict[tuple[Any, ...], str] = {}
        self._heads: dict[tuple[int, str | None, bytes], list[tuple[bytes, bytes]]] = {}
        # The body deadlines of each event loop serving this app (the last one's kept at hand).
        self._deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = (
            weakref.WeakKeyDictionary()
        )
        self._last_deadlines: _Deadlines | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a push Starlette routed here (the token, if any, is a path parameter)."""
        answer = await self.answer(scope, receive, scope.get("path_params", {}).get("token"))
        await self.write(answer, scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, token: str | None) -> Response | PushResult:
        """Read the push and ask the receiver: the response refusing it, or the receiver's result."""
        raw = scope["headers"]
        if not isinstance(raw, list):
            raw = list(raw)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        # Starlette reads a repeated header's first value; the guard sees the last, as before.
        first = (
            headers
            if len(headers) == len(raw)
            else {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(raw)}
        )
        # Asked once: under Python 3.11 each question to asyncio about its loop is a getpid().
        loop = running_loop()
        declared = first.get("content-length")
        body = await _read_in_time(receive, declared, self.max_body, self._deadlines_here(loop))
        if isinstance(body, Response):
            return body
        receiver = self.receiver
        refusal = (
            None
            if receiver._admits_all()  # nothing to check: the guard's view of the request unbuilt
            else receiver.admit(self._push_request(scope, headers, first.get("host"), token), body)
        )
        if refusal is not None:
            return Response(b"refused", status_code=refusal.status_code, headers=dict(refusal.headers))
        return await receiver._aserve_push(body, first.get("content-type"), loop)

    async def write(self, answer: Response | PushResult, scope: Scope, receive: Receive, send: Send) -> None:
        """Send ``answer``, then run what the receiver left for after the reply."""
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        reply = answer.reply
        await send({"type": "http.response.start", "status": reply.status_code, "headers": self._head(reply)})
        await send({"type": "http.response.body", "body": reply.body})
        if answer.after_reply is not None:
            await BackgroundTask(answer.after_reply)()

    def _deadlines_here(self, loop: asyncio.AbstractEventLoop | None) -> _Deadlines | float:
        """The running loop's :class:`_Deadlines` (``loop``: it, or ``None`` under another event
        loop, trio through anyio), or there the seconds allowed."""
        if loop is None:
            return self.body_timeout
        deadlines = self._last_deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines.get(loop)
            if deadlines is None:
                deadlines = self._deadlines[loop] = _Deadlines(loop, self.body_timeout)
            self._last_deadlines = deadlines
        return deadlines

    def _push_request(
        self, scope: Scope, headers: dict[str, str], host: str | None, token: str | None
    ) -> PushRequest:
        """What the receiver's guard checks, read from the ASGI scope."""
        if token is None and scope.get("query_string"):
            token = QueryParams(scope["query_string"]).get("token")
        client = scope.get("client")
        return PushRequest(
            peer=client[0] if client else None, headers=headers, token=token, url=self._url(scope, host)
        )

    def _url(self, scope: Scope, host: str | None) -> str:
        """The request's URL as Starlette spells it (``str(request.url)``; ``host``: the first
        Host header), kept for the next push to the same place."""
        key = (scope.get("scheme"), scope.get("server"), scope["path"], scope.get("query_string"), host)
        url = self._urls.get(key)
        if url is None:
            url = str(URL(scope=scope))
            if len(self._urls) >= _CACHE_SIZE:
                self._urls.clear()
            self._urls[key] = url
        return url

    def _head(self, reply: CallbackReply) -> list[tuple[bytes, bytes]]:
        """The reply's headers, as a Starlette ``Response`` of it has them."""
        key = (reply.status_code, reply.media_type, reply.body)
        head = self._heads.get(key)
        if head is None:
            head = Response(
                reply.body, status_code=reply.status_code, media_type=reply.media_type
            ).raw_headers
            if len(self._heads) >= _CACHE_SIZE:
                self._heads.clear()
            self._heads[key] = head
        return list(head)


def _route_path(scope: Scope) -> str:
    """The path after the app's mount point (as Starlette's router matches it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


class _ReceiverApp(Starlette):
    """A Starlette app that serves its push route straight from the scope while nothing was
    added to it that such a request would have gone through."""

    def __init__(self, push: _Push, routes: list[Route], *, token_route: bool) -> None:
        super().__init__(routes=routes)
        self._push = push
        self._own_routes = list(routes)
        self._token_route = token_route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a POST to the push route directly; hand anything else to Starlette."""
        if scope["type"] == "http" and scope["method"] == "POST" and self._untouched():
            path = _route_path(scope)
            if path == "/":
                await self._direct(scope, receive, send, None)
                return
            if (
                self._token_route
                and path[:1] == "/"
                and len(path) > 1
                and "/" not in path[1:]
                and "\n" not in path
            ):
                await self._direct(scope, receive, send, path[1:])
                return
        await super().__call__(scope, receive, send)

    def _untouched(self) -> bool:
        """True while no middleware, exception handler, debug page, body limit or earlier
        route was added: a push would meet only this app's own route."""
        return (
            not self.user_middleware
            and not self.exception_handlers
            and not self.debug
            and getattr(self, "max_body_size", None) is None
            and self.router.routes[: len(self._own_routes)] == self._own_routes
        )

    async def _direct(self, scope: Scope, receive: Receive, send: Send, token: str | None) -> None:
        """The push, with Starlette's answer to an error (500, then raised for the server's log)."""
        scope["app"] = self
        try:
            answer = await self._push.answer(scope, receive, token)
        except Exception:
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        await self._push.write(answer, scope, receive, send)


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

    :raises ConfigurationError: ``receiver`` is no :class:`~smsgate.receiver.Receiver`, its
        provider does not declare the ``callbacks`` capability, ``max_body`` is not a positive
        whole number, or ``limits`` is no :class:`~smsgate.receiver.ServerLimits`.
    """
    cap = app_max_body(receiver, max_body, limits)  # before anything is built
    limits = limits if limits is not None else ServerLimits()
    push = _Push(receiver, cap, limits.body_timeout)
    routes = [Route("/", push, methods=["POST"])]
    token_route = receiver.guard.token is not None
    if token_route:  # the token as the URL's last segment
        routes.append(Route("/{token}", push, methods=["POST"]))
    return _ReceiverApp(push, routes, token_route=token_route)
