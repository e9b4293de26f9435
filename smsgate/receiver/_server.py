"""Serve any ASGI app with uvicorn in a background thread: the receiver CLI, the demo, the
sandbox and tests all use this one class, so they all run on the same server settings.

Needs the ``receiver`` extra (uvicorn), imported only when a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import numbers
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from smsgate.exceptions import ConfigurationError
from smsgate.receiver._limits import RateLimiter, ServerLimits, is_seconds

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ServerThread"]

#: Seconds to wait for the server to listen, and for its thread to end after a stop request.
DEFAULT_TIMEOUT = 10.0
#: Seconds uvicorn lets requests in flight finish at shutdown before cancelling them.
DEFAULT_GRACEFUL_SHUTDOWN = 3.0


#: One line per kind of event-loop error (``socket.accept() out of system resource`` …) per 10 s.
_LOOP_ERRORS = RateLimiter(10.0)


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's default handler, rate-limited: a flood of ``accept()`` errors (the file limit
    reached) writes one line per interval, not one per try."""
    message = str(context.get("message", "event loop error"))
    suppressed = _LOOP_ERRORS.allow(message)
    if suppressed is None:
        return
    if suppressed:
        context = {**context, "message": f"{message} [{suppressed} similar line(s) suppressed]"}
    loop.default_exception_handler(context)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    asyncio.get_running_loop().set_exception_handler(_loop_exception_handler)
    await server.serve(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says
    # TCP; without it each keep-alive reply (head and body written apart) waited ~40 ms for
    # the client's delayed ACK: 23 requests/s on one connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _limit_options(limits: ServerLimits | None) -> dict[str, Any]:
    """uvicorn settings for ``limits`` (none: uvicorn's defaults)."""
    if limits is None:
        return {}
    from smsgate.receiver._protocol import limited_protocol  # noqa: PLC0415 - imports uvicorn

    return {
        "http": limited_protocol(limits),
        # A backstop only: the protocol keeps connections at max_connections by closing idle ones.
        "limit_concurrency": limits.max_connections + 1,
        "timeout_keep_alive": max(1, round(limits.keep_alive)),
        "backlog": limits.backlog,
    }


_LIFESPANS = ("auto", "on", "off")
_MAX_PORT = 65535


def _port(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return False
    return 0 <= int(value) <= _MAX_PORT


#: Each argument of :class:`ServerThread`: whether a value is right, and what it must be.
_ARGUMENTS: dict[str, tuple[Callable[[object], bool], str]] = {
    "app": (callable, "an ASGI application (a callable)"),
    "host": (lambda v: isinstance(v, str) and bool(v), "a non-empty string (an address)"),
    "port": (_port, "a whole number from 0 to 65535"),
    "lifespan": (lambda v: v in _LIFESPANS, "'auto', 'on' or 'off'"),
    "start_timeout": (is_seconds, "a positive, finite number of seconds"),
    "graceful_shutdown": (
        lambda v: is_seconds(v, zero=True),
        "a finite number of seconds, not negative",
    ),
    "name": (lambda v: v is None or isinstance(v, str), "a string or None"),
    "limits": (
        lambda v: v is None or isinstance(v, ServerLimits),
        "a smsgate.receiver.ServerLimits or None",
    ),
}


def _check_arguments(given: dict[str, object]) -> None:
    """:class:`ServerThread`'s arguments, each refused with a :class:`ConfigurationError`
    naming it (they failed at :meth:`ServerThread.start`, some with a bare ``TypeError`` or
    ``OverflowError``, or never: a NaN timeout)."""
    for field, value in given.items():
        valid, expected = _ARGUMENTS[field]
        if not valid(value):
            shown = type(value).__name__ if field == "app" else repr(value)
            raise ConfigurationError(f"ServerThread's {field} must be {expected}, not {shown}")


class ServerThread:
    """Serve an ASGI app with uvicorn in a daemon thread, on loopback by default.

    ::

        with ServerThread(receiver.asgi_app()) as server:
            give_the_provider(server.url)       # e.g. http://127.0.0.1:50123/

    :param app: the ASGI application.
    :param host: the address to bind (an IPv6 address without brackets works too).
    :param port: the port to bind; ``0`` (default) picks a free one: read :attr:`port`
        once started.
    :param lifespan: uvicorn's lifespan mode: ``"auto"`` (default) runs the app's startup and
        shutdown events when it has them; ``"on"`` requires them; ``"off"`` skips them.
    :param start_timeout: seconds :meth:`start` waits for the server to listen.
    :param graceful_shutdown: seconds requests in flight get to finish when :meth:`stop`
        is called, before they are cancelled.
    :param name: the thread's name (default ``smsgate-server-<port>``).
    :param limits: :class:`~smsgate.receiver.ServerLimits` for a server exposed to untrusted
        clients (connections held, time to send a request head, keep-alive, backlog); ``None``
        (default) keeps uvicorn's defaults, which let slow clients hold connections forever.
        The body-side limits (``body_timeout``, ``max_body``) are the app's: pass the same
        object to :meth:`Receiver.asgi_app <smsgate.receiver.Receiver.asgi_app>`.

    :meth:`start` returns once the socket listens and raises ``RuntimeError`` when the server
    cannot start (the port is taken, the app's startup fails …). :meth:`stop` shuts the server
    down gracefully, joins its thread and closes the socket; it is idempotent. A stopped
    server may be started again. The application's logging configuration is left alone.

    :raises ConfigurationError: an argument of the wrong type or out of range (a port outside
        0–65535, a negative or NaN timeout, an unknown lifespan …), before anything is bound.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "auto",
        start_timeout: float = DEFAULT_TIMEOUT,
        graceful_shutdown: float = DEFAULT_GRACEFUL_SHUTDOWN,
        name: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        _check_arguments(
            {
                "app": app,
                "host": host,
                "port": port,
                "lifespan": lifespan,
                "start_timeout": start_timeout,
                "graceful_shutdown": graceful_shutdown,
                "name": name,
                "limits": limits,
            }
        )
        self.app = app
        self.limits = limits
        self.host = host
        self.requested_port = port
        self.lifespan = lifespan
        self.start_timeout = start_timeout
        self.graceful_shutdown = graceful_shutdown
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        # Never raises, not even for an object whose __init__ failed half-way (a traceback
        # rendered with its frames' locals shows that ``self``).
        where = self.url if getattr(self, "_socket", None) is not None else "stopped"
        return f"<ServerThread {where}>"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> ServerThread:
        """Serve in a new thread; return once the socket listens (within ``timeout`` seconds,
        default ``start_timeout``).

        :raises RuntimeError: already running, or the server could not start in time.
        """
        import uvicorn  # noqa: PLC0415 - the receiver extra, needed only here

        if self._thread is not None:
            raise RuntimeError("this server is already running")
        try:
            sock = _bind(self.host, self.requested_port)
        except OSError as exc:
            raise RuntimeError(
                f"the server could not start on {self.host}:{self.requested_port}: {exc}"
            ) from exc
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            log_config=None,  # leave the application's logging configuration alone
            access_log=False,
            lifespan=self.lifespan,
            ws="none",
            # The app sees the socket's peer: X-Forwarded-For is for PushGuard to judge, with
            # its own list of trusted proxies (uvicorn would believe any from 127.0.0.1).
            proxy_headers=False,
            timeout_graceful_shutdown=round(self.graceful_shutdown),
            **_limit_options(self.limits),
        )
        port = sock.getsockname()[1]
        self._error = None
        self._socket, self._server = sock, uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run,
            args=(self._server, sock),
            name=self.name or f"smsgate-server-{port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_started(self.start_timeout if timeout is None else timeout)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(_serve(server, sock))
        except SystemExit:
            # uvicorn ends a failed startup with sys.exit(); start() reports it.
            self._error = RuntimeError("the application's startup failed")
        except BaseException as exc:  # reported by start()
            self._error = exc

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._started():
            if self._thread is None or not self._thread.is_alive():
                why = "the application's startup failed" if self._error is None else repr(self._error)
                self.stop()
                raise RuntimeError(f"the server could not start on {self.host}:{self.requested_port}: {why}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {timeout:g} seconds")
            time.sleep(0.005)

    def _started(self) -> bool:
        return self._server is not None and self._server.started

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Shut down gracefully, join the thread (forcing the exit after ``timeout`` seconds)
        and close the socket. Idempotent."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None and thread.is_alive():
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- where it listens -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the server thread runs (False before :meth:`start`, after :meth:`stop`,
        and when the server ended on its own)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound port (the free one picked for ``port=0``).

        :raises RuntimeError: the server is not running.
        """
        if self._socket is None:
            raise RuntimeError("the server is not running; call start() first")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The server's base URL with a trailing slash, e.g. ``http://127.0.0.1:50123/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """The same as :attr:`url`."""
        return self.url
