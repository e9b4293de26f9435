"""The sandbox's ASGI application: the routes of every endpoint of the ipyy document (the
handlers live in :mod:`.endpoints`, one module per family), the admin API under
``/_sandbox/``, and the logging of the requests the app does not answer itself (a fault's
reply, see :func:`fault_logger`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route, request_response
from starlette.types import Message, Receive, Scope, Send

from ._config import SandboxConfig
from ._faults import FaultLog
from ._log import INJECTED_KEY, Injected, Outcome
from ._paths import CollapseSlashes, collapse_slashes
from ._state import SandboxState
from .endpoints import admin, batch, encrypted, mms, password, plain, pulls, soap
from .endpoints._common import Call, Handler, Reply, ReplyFormat, form_params

__all__ = ["SandboxApp", "create_app", "fault_logger"]

#: Gateway endpoints by path as the spec spells it (each logs itself under that name).
_ROUTES: dict[str, Handler] = {
    "/sms.aspx": plain.sender("sms.aspx", "xml"),
    "/smsGBK.aspx": plain.sender("smsGBK.aspx", "gbk"),
    "/smsJson.aspx": plain.sender("smsJson.aspx", "json"),
    "/ensms.ashx": encrypted.handle,
    "/BatchSms.ashx": batch.handle,
    "/mms.aspx": mms.handle,
    "/statusApi.aspx": pulls.puller("statusApi.aspx", "xml", "report"),
    "/statusJsonApi.aspx": pulls.puller("statusJsonApi.aspx", "json", "report"),
    "/callApi.aspx": pulls.puller("callApi.aspx", "xml", "inbound"),
    "/callJsonApi.aspx": pulls.puller("callJsonApi.aspx", "json", "inbound"),
    "/pwd.aspx": password.handle,
    "/WebService.asmx": soap.handle,
}
#: The same by lower-cased path (spec paths are matched case-insensitively), and their names.
_ENDPOINTS: dict[str, Handler] = {path.lower(): handler for path, handler in _ROUTES.items()}
_NAMES: dict[str, str] = {path.lower(): path[1:] for path in _ROUTES}
#: The plain endpoints (by lower-cased path) served straight from the scope: name, reply format.
_PLAIN: dict[str, tuple[str, ReplyFormat]] = {
    "/sms.aspx": ("sms.aspx", "xml"),
    "/smsgbk.aspx": ("smsGBK.aspx", "gbk"),
    "/smsjson.aspx": ("smsJson.aspx", "json"),
}
#: The same by path as the spec spells it.
_PLAIN_SPELLED: dict[str, tuple[str, ReplyFormat]] = {
    f"/{name}": (name, fmt) for name, fmt in _PLAIN.values()
}
_NOT_FOUND_OUTCOME = Outcome("HTTP 404", None, "The resource cannot be found.")

_NOT_FOUND = (
    b"<html><body><h1>Server Error in '/' Application.</h1><p>The resource cannot be found.</p></body></html>"
)


async def _gateway(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    # The scope's path is what request.url.path gives for every gateway path (it differs only
    # in escaping "?", "#" and "\\"), without building the URL.
    handler = _ENDPOINTS.get(request.scope["path"].lower())
    if handler is None:
        # logged too: a client with a wrong path should see its requests in the log
        call = await _call_of(request, state, request.url.path.lstrip("/"))
        call.log(_NOT_FOUND_OUTCOME)
        return Response(_NOT_FOUND, status_code=404, media_type="text/html; charset=utf-8")
    return await handler(request, state)


_GATEWAY = request_response(_gateway)


class _GatewayRoute(BaseRoute):
    """The gateway's own paths, found with one lookup of the lower-cased path (what
    :func:`_gateway` looks up) instead of two regular expressions per request; any other path
    goes on to the admin routes and the catch-all route (its 404s and 405s)."""

    _METHODS = frozenset({"GET", "HEAD", "POST"})  # as Route(methods=["GET", "POST"]) allows

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A full match for a gateway path asked for with a method the gateway serves."""
        if (
            scope["type"] == "http"
            and scope["method"] in self._METHODS
            and scope["path"].lower() in _ENDPOINTS
        ):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with :func:`_gateway`."""
        await _GATEWAY(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """No URL is built for it."""
        raise NoMatchFound(name, path_params)


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` giving ``body`` (already read by the fault middleware) once."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    return receive


async def _call_of(request: Request, state: SandboxState, endpoint: str, encoding: str = "utf-8") -> Call:
    """The call of a request no handler answers, to log it; a body that cannot be read (a
    broken multipart form) gives a call with encoding ``unreadable`` and no parameters."""
    try:
        call, _ = await Call.read(request, state, endpoint, encoding)
    except (ValueError, HTTPException, MultiPartException):
        return Call(state, endpoint, request.method, "unreadable")
    return call


async def _faulted_call(request: Request, state: SandboxState) -> Call:
    """The call of a request a fault answered: what the endpoint would have read of it."""
    path = collapse_slashes(request.url.path)
    lowered = path.lower()
    endpoint = _NAMES.get(lowered, path.lstrip("/"))
    if lowered == "/webservice.asmx" and request.method == "POST":
        soap12 = request.headers.get("content-type", "").lower().startswith("application/soap+xml")
        return Call(state, endpoint, request.method, "soap1.2" if soap12 else "soap1.1")
    return await _call_of(request, state, endpoint, "gbk" if lowered == "/smsgbk.aspx" else "utf-8")


def fault_logger(state: SandboxState) -> FaultLog:
    """What the fault middleware calls to log a request it answered instead of the app: the
    entry has what the endpoint would have read (account, action, how the parameters came)."""

    async def log(scope: dict[str, Any], body: bytes, injected: Injected, outcome: Outcome) -> None:
        call = await _faulted_call(Request(scope, _replay(body)), state)
        call.injected = injected
        call.log(outcome)

    return log


class SandboxApp(Starlette):
    """The sandbox's Starlette app, serving a plain send (sms.aspx, smsGBK.aspx, smsJson.aspx
    by GET or by an urlencoded POST) straight from the scope while nothing was added to the
    app that such a request would have gone through: the same parameters, handler, log entry
    and reply as the routed request, without Starlette's request objects, routing and
    exception layers (two thirds of the app's time on a send went there). Anything else, and
    any request whose body does not arrive whole, goes through Starlette."""

    def __init__(self, routes: list[BaseRoute], middleware: list[Middleware]) -> None:
        super().__init__(routes=routes, middleware=middleware)
        self._own_routes = list(routes)
        self._own_middleware = list(self.user_middleware)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a plain send directly; hand anything else to Starlette."""
        plain = self.plain_route(scope)
        if plain is not None:
            await self.serve_plain(scope, receive, send, plain[0], plain[1])
            return
        await super().__call__(scope, receive, send)

    def plain_route(self, scope: Scope) -> tuple[str, ReplyFormat] | None:
        """The plain endpoint (its name and reply format) this app serves ``scope`` from
        directly (see :meth:`serve_plain`), or ``None`` when Starlette answers it."""
        if scope["type"] == "http" and scope["method"] in ("POST", "GET"):
            path: str = scope["path"]
            plain = _PLAIN_SPELLED.get(path)  # as clients spell the path: nothing to lower-case
            if plain is None:
                plain = _PLAIN.get((collapse_slashes(path) if "//" in path else path).lower())
            if plain is not None and self._untouched():
                return plain
        return None

    def _untouched(self) -> bool:
        """True while no middleware, exception handler, debug page, body limit or route
        ahead of the gateway's was added: a plain send would meet only this app's own layers."""
        return (
            self.user_middleware == self._own_middleware
            and not self.exception_handlers
            and not self.debug
            and getattr(self, "max_body_size", None) is None
            # the gateway route first: a plain path never reaches the routes after it
            and bool(self.router.routes)
            and self.router.routes[0] is self._own_routes[0]
        )

    async def serve_plain(
        self, scope: Scope, receive: Receive, send: Send, endpoint: str, fmt: ReplyFormat
    ) -> None:
        """Answer one plain send of the ``endpoint`` :meth:`plain_route` named for ``scope``
        (``fmt`` its reply format), with Starlette's answer to an error (500, then raised for
        the server's log). A multipart form, or a body that does not arrive whole (a
        disconnect), goes through Starlette with what was read of it."""
        body, starlette = b"", None
        try:
            if scope["method"] == "POST":
                if _content_type(scope).startswith(b"multipart/form-data"):
                    starlette = receive
                else:
                    message = await receive()
                    if message["type"] == "http.request" and not message.get("more_body", False):
                        body = message.get("body", b"")  # the whole body in one message: the usual case
                    else:
                        body, starlette = await _whole_body(receive, message)
            if starlette is None:
                response = _answer(self, scope, body, endpoint, fmt)
        except Exception:
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        if starlette is not None:
            await super().__call__(scope, starlette, send)
            return
        # Nothing was sent before: an error while sending is only raised, as Starlette does
        # once a response has started. A reply of the sends' own kind is sent as Starlette's
        # Response.__call__ sends it (the same two messages), without its frame.
        if type(response) is Reply:
            await send({"type": "http.response.start", "status": 200, "headers": response.raw_headers})
            await send({"type": "http.response.body", "body": response.body})
            return
        await response(scope, receive, send)


def _answer(app: Starlette, scope: Scope, body: bytes, endpoint: str, fmt: ReplyFormat) -> Response:
    """The plain endpoint's answer to the request's parameters (it is logged)."""
    scope["app"] = app
    params, style = form_params(body, scope.get("query_string", b""), "gbk" if fmt == "gbk" else "utf-8")
    call = Call.of(
        _sandbox_of(app), endpoint, scope["method"], params, style=style, injected=scope.get(INJECTED_KEY)
    )
    return plain.answer(call, params, fmt)


def _sandbox_of(app: Starlette) -> SandboxState:
    """``app.state.sandbox``, read from the dict Starlette's ``State`` keeps its values in:
    asked of the ``State``, the attribute is first looked for as its own, which makes and
    drops an AttributeError before ``State.__getattr__`` finds it. (A ``State`` made
    otherwise, or none, is asked as usual.)"""
    try:
        state = app.state._state["sandbox"]
    except (AttributeError, KeyError, TypeError):
        state = None
    if isinstance(state, SandboxState):
        return state
    found: SandboxState = app.state.sandbox
    return found


def _content_type(scope: Scope) -> bytes:
    """The first Content-Type header, as Starlette's ``request.headers.get`` finds it (not
    decoded: Latin-1 text starts with an ASCII prefix exactly where its bytes do)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            raw: bytes = value
            return raw
    return b""


async def _whole_body(receive: Receive, first: Message) -> tuple[bytes, Receive | None]:
    """The request body, read to its end from the ``first`` message ``receive`` gave; or,
    when something else than a body part arrives (a disconnect), a ``receive`` that gives
    again what arrived and then goes on with ``receive``, for Starlette to answer the request
    as it would have."""
    arrived: list[Message] = []
    chunks: list[bytes] = []
    message = first
    while True:
        if arrived:
            message = await receive()
        arrived.append(message)
        if message["type"] != "http.request":
            return b"", _replay_then(arrived, receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), None


def _replay_then(messages: list[Message], receive: Receive) -> Receive:
    """An ASGI ``receive`` giving ``messages`` once, then what ``receive`` gives."""
    pending = list(reversed(messages))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def create_app(config: SandboxConfig | None = None, *, state: SandboxState | None = None) -> Starlette:
    """The sandbox as a Starlette ASGI app.

    Pass a ``config`` (default :meth:`SandboxConfig.default`) or a ready ``state`` (to share
    it, or to inject a clock). The state is ``app.state.sandbox``. Gateway paths are matched
    case-insensitively, repeated slashes collapsed; the admin API lives under ``/_sandbox/``::

        GET    /_sandbox/requests        what each request meant (no passwords)
        DELETE /_sandbox/requests        clear that log
        GET    /_sandbox/accounts        balances and settings
        PUT    /_sandbox/accounts/{a}    change (or create) an account: JSON settings
        POST   /_sandbox/inbound         inject an inbound message: account, mobile, text, ext
        POST   /_sandbox/reports/flush   make every pending report due now
        GET    /_sandbox/pushes          outcomes of pushes to callback URLs
        GET    /_sandbox/dropped         reports and inbound messages dropped over report_limit
        POST   /_sandbox/reset           back to the configured state
    """
    if state is None:
        state = SandboxState(config)
    app = SandboxApp(
        routes=[
            _GatewayRoute(),
            Mount("/_sandbox", routes=admin.routes()),
            Route("/{path:path}", _gateway, methods=["GET", "POST"]),
        ],
        # IIS serves //smsGBK.aspx as /smsGBK.aspx, and white-label clients ask for it so.
        middleware=[Middleware(CollapseSlashes)],
    )
    app.state.sandbox = state
    return app
