"""Loopback HTTP/1.1 servers in threads for the transport tests (``test_sync_transport``,
``test_async_transport``, ``test_audit_httpclient``, ``test_audit_async_transport``), the
factory fixture body that closes them, a self-signed certificate, the sync gateway factory
fixture body, and the helpers that catch what a call raises.

:class:`LoopbackServer` listens on 127.0.0.1 (port 0), accepts in a thread and serves each
connection in its own thread: it reads each request's head and ``Content-Length`` body and
hands them to :meth:`LoopbackServer._request`, which a test module's server answers as its
tests need. :meth:`LoopbackServer.close` returns at once: it wakes the blocking ``accept``
with a connection of its own instead of polling for the end every 0.1 s.

Test modules import what they use (``from tests.loopback_support import …``) and take the
certificate as the ``self_signed`` fixture (registered in ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import pytest

import smsgate


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1; subclasses answer in :meth:`_request`.

    ``connections`` counts the connections accepted; ``stop`` is set by :meth:`close` (a
    handler that waits should wait on it); with ``tls`` each connection is wrapped first.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self._tls = tls
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` (``https`` with TLS)."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self.stop.is_set():  # the wake-up connection of close()
                conn.close()
                return
            with self.lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
                with self.lock:
                    self._open.append(conn)
            with conn:
                self._requests(conn)
        except OSError:  # a client hanging up, a refused handshake, or the test ending
            return

    def _requests(self, conn: socket.socket) -> None:
        """Read requests off ``conn`` until :meth:`_request` says the connection is done."""
        buffer = b""
        while not self.stop.is_set():
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            if not self._welcome(head):
                return
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            body, buffer = buffer[:length], buffer[length:]
            if not self._request(conn, lines, headers, body):
                return

    def _welcome(self, head: bytes) -> bool:
        """Whether to read the request with this head (False: close the connection)."""
        return True

    def _request(self, conn: socket.socket, lines: list[str], headers: dict[str, str], body: bytes) -> bool:
        """Answer one request (head ``lines``, lower-cased ``headers``, ``body``); return
        whether the connection serves another."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop accepting, end every connection, and join the accepting thread."""
        self.stop.set()
        with contextlib.suppress(OSError):  # wakes the blocking accept()
            socket.create_connection(self._listener.getsockname()[:2], timeout=5).close()
        self._thread.join(timeout=5)
        self._listener.close()
        with self.lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()


S = TypeVar("S", bound=LoopbackServer)


class Servers(Generic[S]):
    """Starts servers of one kind for a test (call it with the server's arguments) and closes
    them all in :meth:`close`."""

    def __init__(self, kind: Callable[..., S]) -> None:
        self.kind = kind
        self.started: list[S] = []

    def __call__(self, *args: Any, **kwargs: Any) -> S:
        self.started.append(self.kind(*args, **kwargs))
        return self.started[-1]

    def close(self) -> None:
        """Close every server started, newest first."""
        for server in reversed(self.started):
            server.close()


def serving(kind: Callable[..., S]) -> Iterator[Servers[S]]:
    """The body of a test module's server factory fixture: ``yield from serving(Server)``."""
    servers = Servers(kind)
    try:
        yield servers
    finally:
        servers.close()


def gateways(client: Callable[[], httpx.Client] | None = None) -> Iterator[Callable[..., smsgate.Gateway]]:
    """The body of a module's sync gateway factory fixture: ``make(providers, **options)``
    builds a ``Gateway`` whose retries do not wait, with a new ``client()`` when one is given
    (else its own default client); everything is closed at the end, given clients too."""
    opened: list[smsgate.Gateway] = []

    def make(providers: list[smsgate.Provider], **options: Any) -> smsgate.Gateway:
        if client is not None:
            options["client"] = client()
        options.setdefault("sleep", lambda _seconds: None)
        opened.append(smsgate.Gateway(providers, **options))
        return opened[-1]

    try:
        yield make
    finally:
        for gw in opened:
            gw.close()
            if not gw._owns_client:
                gw.client.close()


def raised(call: Callable[[], object]) -> Exception:
    """The exception ``call`` raised (its traceback ends in this frame, not in the test's)."""
    try:
        call()
    except Exception as exc:
        return exc
    pytest.fail("nothing was raised")


async def araised(call: Callable[[], Awaitable[object]]) -> Exception:
    """The exception awaiting ``call()`` raised (its traceback ends in this frame)."""
    try:
        await call()
    except Exception as exc:
        return exc
    pytest.fail("nothing was raised")


class Certificate:
    """A self-signed certificate for 127.0.0.1 (RSA 2048, one day) in ``cert`` / ``key``."""

    def __init__(self, directory: Path) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("needs the openssl command")
        self.key, self.cert = directory / "key.pem", directory / "cert.pem"
        subprocess.run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-keyout", str(self.key), "-out", str(self.cert)),
                *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )

    def server_context(self) -> ssl.SSLContext:
        """A fresh server TLS context presenting the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """The session's self-signed certificate: generating an RSA key takes seconds on a busy
    machine, and no test changes the files."""
    return Certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def self_signed(certificate: Certificate) -> ssl.SSLContext:
    """A server TLS context of its own for each test, with the session's certificate."""
    return certificate.server_context()
