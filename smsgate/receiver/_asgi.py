"""The receiver as an ASGI app (Starlette), and a small helper to serve one in a thread."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from smsgate.receiver._receiver import Receiver

__all__ = ["ServerThread", "build_asgi_app"]


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


class ServerThread:
    """Serve an ASGI app with uvicorn in a background thread, on loopback by default.

    :param app: the ASGI application.
    :param host: address to bind; ``port=0`` picks a free port (read :attr:`port` after start).

    ``start()`` returns once the server listens; ``stop()`` shuts it down and joins the
    thread. Also a context manager. Used by ``smsgate demo`` and by tests.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn  # noqa: PLC0415 - optional dependency, needed only here

        self.host = host
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"smsgate-server-{self.port}", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL of the server, with a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> ServerThread:
        """Start serving; return once the server accepts connections."""
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._error!r}")
            if waited > timeout:
                self.stop()
                raise RuntimeError("the server did not start in time")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit, wait for its thread, close the socket. Idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
