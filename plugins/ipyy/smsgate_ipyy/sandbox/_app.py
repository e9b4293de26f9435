"""The sandbox's ASGI application: the routes of every endpoint of the ipyy document (the
handlers live in :mod:`.endpoints`, one module per family) and the admin API under
``/_sandbox/``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ._config import SandboxConfig
from ._paths import CollapseSlashes
from ._state import SandboxState
from .endpoints import admin, batch, encrypted, mms, password, plain, pulls, soap
from .endpoints._common import Handler

__all__ = ["create_app"]

#: Gateway endpoints by lower-cased path (spec paths are matched case-insensitively).
_ENDPOINTS: dict[str, Handler] = {
    "/sms.aspx": plain.sender("sms.aspx", "xml"),
    "/smsgbk.aspx": plain.sender("smsGBK.aspx", "gbk"),
    "/smsjson.aspx": plain.sender("smsJson.aspx", "json"),
    "/ensms.ashx": encrypted.handle,
    "/batchsms.ashx": batch.handle,
    "/mms.aspx": mms.handle,
    "/statusapi.aspx": pulls.puller("statusApi.aspx", "xml", "report"),
    "/statusjsonapi.aspx": pulls.puller("statusJsonApi.aspx", "json", "report"),
    "/callapi.aspx": pulls.puller("callApi.aspx", "xml", "inbound"),
    "/calljsonapi.aspx": pulls.puller("callJsonApi.aspx", "json", "inbound"),
    "/pwd.aspx": password.handle,
    "/webservice.asmx": soap.handle,
}

_NOT_FOUND = (
    b"<html><body><h1>Server Error in '/' Application.</h1><p>The resource cannot be found.</p></body></html>"
)


async def _gateway(request: Request) -> Response:
    handler = _ENDPOINTS.get(request.url.path.lower())
    if handler is None:
        return Response(_NOT_FOUND, status_code=404, media_type="text/html; charset=utf-8")
    state: SandboxState = request.app.state.sandbox
    return await handler(request, state)


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
        POST   /_sandbox/reset           back to the configured state
    """
    if state is None:
        state = SandboxState(config)
    app = Starlette(
        routes=[
            Mount("/_sandbox", routes=admin.routes()),
            Route("/{path:path}", _gateway, methods=["GET", "POST"]),
        ],
        # IIS serves //smsGBK.aspx as /smsGBK.aspx, and white-label clients ask for it so.
        middleware=[Middleware(CollapseSlashes)],
    )
    app.state.sandbox = state
    return app
