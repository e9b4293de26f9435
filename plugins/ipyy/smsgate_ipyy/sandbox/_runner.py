"""Run the sandbox under a real uvicorn server in a background thread (:class:`Sandbox`), or in
the foreground for the ``smsgate sandbox`` command (:func:`serve`)."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import threading
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from smsgate.receiver import ServerThread

from ._app import SandboxApp, create_app, fault_logger
from ._config import SandboxConfig
from ._faults import FaultMiddleware, FaultRule, FaultSet
from ._push import PushWorker
from ._state import SandboxState

__all__ = ["Credentials", "Sandbox", "ServerThread", "serve"]

# Seconds uvicorn waits for requests in flight at shutdown before cancelling them.
_GRACEFUL_SHUTDOWN: Final = 3.0


@attrs.frozen
class Credentials:
    """The sandbox's default account, as a client needs it (``smsgate.get_provider("ipyy",
    account=…, password=…, userid=…, base_url=…)``). The password stays out of the repr."""

    account: str
    password: str = attrs.field(repr=False)
    userid: str


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and every loopback address (127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Lifespan:
    """Outermost ASGI layer: owns the lifespan so the push worker runs exactly while the
    server does, and passes everything else to the fault middleware.

    A plain send the fault middleware passes on untouched and the app serves directly (see
    :meth:`SandboxApp.plain_route`) is served from here as the two layers would serve it,
    without a coroutine of each (every send is served so)."""

    def __init__(self, inner: FaultMiddleware, worker: PushWorker) -> None:
        self.inner = inner
        self.worker = worker

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            inner = self.inner
            app = inner.app
            # With no fault rule set the fault middleware passes a request on untouched (a
            # plain path has no "_": it is never the middleware's own /_sandbox/ path).
            plain = app.plain_route(scope) if type(app) is SandboxApp and not inner.faults._rules else None
            if plain is None:
                await inner(scope, receive, send)
            else:
                await app.serve_plain(scope, receive, send, plain[0], plain[1])
            return
        if scope["type"] != "lifespan":
            await self.inner(scope, receive, send)
            return

        async def on_receive() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.worker.stop()
            return message

        async def on_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.inner.attach()
                self.worker.start()
            await send(message)

        # The wrapped app keeps its own lifespan handlers (if any): both run.
        await self.inner(scope, on_receive, on_send)


class Sandbox:
    """A local ipyy gateway on a real loopback socket, served by uvicorn in a background thread.

    ::

        with Sandbox() as sandbox:
            provider = smsgate.get_provider("ipyy", base_url=sandbox.base_url,
                                            **attrs.asdict(sandbox.credentials))
            ...
            sandbox.requests()      # what the sandbox understood from each request

    ``config`` defaults to :meth:`SandboxConfig.default`; ``port=0`` picks a free port (see
    :attr:`base_url`). A host that is not a loopback address is refused unless
    ``allow_public=True``: the sandbox has well-known passwords and an unauthenticated admin API.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_public: bool = False,
    ) -> None:
        if not allow_public and not is_loopback_host(host):
            raise ValueError(
                f"refusing to serve the sandbox on non-loopback host {host!r}: it has well-known "
                "passwords and an open admin API; pass allow_public=True to do it anyway"
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, got {port!r}")
        self.config: SandboxConfig = config if config is not None else SandboxConfig.default()
        # "localhost" with port 0 could bind 127.0.0.1 and ::1 on two different ports.
        self.host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
        self._requested_port = port
        self.app = create_app(self.config)
        self.state: SandboxState = self.app.state.sandbox
        self.faults = FaultSet(self.config.faults, seed=self.config.seed)
        self._middleware = FaultMiddleware(self.app, self.faults, fault_logger(self.state))
        self._worker = PushWorker(self.state, content_type=self.config.push_content_type)
        self._asgi = _Lifespan(self._middleware, self._worker)
        self._server: ServerThread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving; returns once the socket listens. Raises ``RuntimeError`` when the
        server cannot start (for example the port is taken)."""
        if self._server is not None:
            raise RuntimeError("this sandbox is already running")
        # lifespan "on": the push worker and the fault middleware start with the server.
        server = ServerThread(
            self._asgi,
            host=self.host,
            port=self._requested_port,
            lifespan="on",
            graceful_shutdown=_GRACEFUL_SHUTDOWN,
            name="smsgate-sandbox-server",
        )
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Shut down gracefully and join the thread; the socket is closed on return. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            self._middleware.release_hung()
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<Sandbox {where}>"

    def _alive(self) -> bool:
        return self._server is not None and self._server.alive

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    def _running_server(self) -> ServerThread:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._server

    @property
    def port(self) -> int:
        """The port the sandbox listens on (the free one picked for ``port=0``)."""
        return self._running_server().port

    @property
    def base_url(self) -> str:
        """The gateway base URL to give the client, e.g. ``http://127.0.0.1:50123/``."""
        return self._running_server().url

    @property
    def credentials(self) -> Credentials:
        """The default (first) account of the config: account, plain password, userid."""
        account = self.config.accounts[0]
        return Credentials(account=account.account, password=account.password, userid=account.userid)

    # --- helpers for tests and the demo -------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """What the sandbox understood from each request, oldest first (see ``SandboxState.requests``)."""
        return self.state.requests()

    def dropped(self) -> dict[str, int]:
        """How many reports and inbound messages were dropped over ``config.report_limit``
        (see ``SandboxState.dropped``)."""
        return self.state.dropped()

    def inject_inbound(
        self, mobile: str, text: str, *, account: str | None = None, ext: str = "", task_id: str = ""
    ) -> None:
        """Queue an inbound (mobile-originated) message for ``account`` (default: the default
        account); it is pulled through callApi.aspx or pushed to the account's callback URL."""
        self.state.inject_inbound(
            account if account is not None else self.credentials.account, mobile, text, ext, task_id
        )

    def set_fault(self, rule: FaultRule | Mapping[str, Any] | None = None, /, **fields: Any) -> FaultRule:
        """Add a fault rule: ``set_fault(kind="status", path="/sms.aspx", status=503, times=1)``
        (or a :class:`FaultRule` / mapping). See :mod:`smsgate_ipyy.sandbox._faults` for the format."""
        if rule is None:
            return self.faults.add(fields)
        if fields:
            raise TypeError("pass either a rule or keyword fields, not both")
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every fault rule (the seeded random sequence starts over)."""
        self.faults.clear()

    def reset(self) -> None:
        """Back to the config's initial state: accounts, queues, request log; faults cleared and
        the config's own ``[[faults]]`` rules put back."""
        self.state.reset()
        self.faults.reset()


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    config_path: str | Path | None = None,
    *,
    allow_public: bool = False,
    on_ready: Callable[[Sandbox], None] | None = None,
    until: threading.Event | None = None,
) -> None:
    """Serve a sandbox in the foreground until interrupted (Ctrl-C or SIGTERM) — the
    ``smsgate sandbox`` command.

    ``config_path`` is a TOML file (:meth:`SandboxConfig.from_toml`); without one the default
    accounts are used. ``on_ready`` is called once the socket listens, with the running
    :class:`Sandbox` (``base_url``, ``credentials``): the caller prints them. Nothing is printed here.
    Setting the ``until`` event also stops it (for callers that run this in a thread).
    """
    config = SandboxConfig.from_toml(config_path) if config_path is not None else SandboxConfig.default()
    sandbox = Sandbox(config, host=host, port=port, allow_public=allow_public)
    stop = until if until is not None else threading.Event()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with sandbox:
            if on_ready is not None:
                on_ready(sandbox)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.2):
                    if not sandbox._alive():
                        raise RuntimeError("the sandbox server stopped unexpectedly")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
