"""A real PostgreSQL server for the tests: one per test session, on 127.0.0.1 only.

Started from the PostgreSQL binaries in the directory named by ``SMSGATE_PG_BIN``, else the
machine's (``/usr/lib/postgresql/*/bin``), else those the PyPI package ``pgserver`` (in the
``dev`` extra) ships in its wheel, so a fresh machine needs no system package. The cluster
lives in a temporary data directory (in memory, ``/dev/shm``, where the machine has it), with
trust authentication for 127.0.0.1 only; it is stopped (``pg_ctl stop -m immediate``: it is
thrown away) and removed at the end. PostgreSQL refuses to run as root, so when the tests run
as root the server runs as the ``postgres`` system user, or ``nobody`` where there is none
(``runuser``). Missing binaries fail the tests that need the server, with
the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_support import free_port, running

_HELP = (
    "the PostgreSQL journal tests need a PostgreSQL server's binaries (initdb, pg_ctl, postgres): "
    "install the Debian package postgresql (apt-get install postgresql), or point SMSGATE_PG_BIN "
    "at the directory that holds them"
)


def pg_bin() -> Path:
    """The directory of ``initdb`` / ``pg_ctl``; fails the test with how to get them."""
    candidates = [os.environ.get("SMSGATE_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("pg_ctl")
    candidates.append(str(Path(found).parent) if found else "")
    candidates.append(_bundled_bin())
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    pytest.fail(_HELP, pytrace=False)


def _bundled_bin() -> str:
    """The binaries inside the ``pgserver`` wheel, or "" when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # located, not imported: importing it makes dirs
    if spec is None or spec.origin is None:
        return ""
    return str(Path(spec.origin).parent / "pginstall" / "bin")


def _server_user() -> str:
    """The system user a root test run starts PostgreSQL as."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "nobody"
    return "postgres"


def _scratch_dir() -> str | None:
    """Where the cluster lives: in memory (``/dev/shm``) where there is such a file system, so
    the databases the tests create (one each) cost no disk writes and the whole cluster is
    removed in a blink at the end; else the default temporary directory."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class PostgresServer:
    """One throwaway PostgreSQL cluster; :meth:`database` gives each test its own database."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="smsgate-pg-", dir=_scratch_dir()))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.user = _server_user() if self.as_root else ""
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_root:  # PostgreSQL will not run as root
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(
                f"{what} failed ({result.returncode}): {result.stderr}{result.stdout}\n{log}", pytrace=False
            )

    def start(self) -> None:
        """initdb, then start the server listening on 127.0.0.1:``port`` only."""
        self.sockets.mkdir()
        self.log.touch()
        if self.as_root:
            shutil.chown(self.root, self.user)
            for path in (self.sockets, self.log):
                shutil.chown(path, self.user)
        self._check(
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--no-sync", "-A", "reject"
            ),
            "initdb",
        )
        # Trust for 127.0.0.1 only: no socket, no other address.
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.sockets} "
            # The tests kill receivers, never the server: no fsync keeps them quick.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._check(
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "start",
            ),
            "pg_ctl start",
        )
        self.started = True

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """Create a fresh, empty database; return its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # PostgreSQL 15+ would copy the template through the WAL by default: twice the
            # time, and hundreds of MB of WAL to delete at the end of a run.
            copy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f"CREATE DATABASE {name}{copy}")  # type: ignore[call-overload]  # name is ours
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its directory.

        Immediate mode: the cluster is thrown away, so the shutdown checkpoint a fast stop
        writes (every database the tests created, tens of seconds by the end of a run) is
        work for nothing."""
        if self.started:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use."""
    yield from running(PostgresServer())


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database on the session's server."""
    return postgres_server.database()
