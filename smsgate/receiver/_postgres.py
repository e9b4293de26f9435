"""A receiver journal in PostgreSQL (psycopg 3) that several receiver instances share.

Same table shape and guarantees as :class:`~smsgate.receiver.SQLiteJournal` (stored before
acknowledged, de-duplicated by key, at-least-once dispatch), plus **claims**: before
dispatching an event an instance takes it with one atomic ``UPDATE … WHERE`` (not done, not
claimed or claim expired); the claim carries a lease that the holder renews while it lives, so
two instances never dispatch one event at once, and the events of an instance killed mid-dispatch
come back after the lease. psycopg is imported when a journal is opened (``smsgate[postgres]``).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

from smsgate.exceptions import JournalError
from smsgate.receiver._journal import (
    Event,
    EventState,
    TableJournal,
    encode,
    event_key,
    events_table,
    inserted,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal", "is_postgres_url", "safe_url"]

_T = TypeVar("_T")

_SCHEMA = (
    events_table(
        "BIGSERIAL PRIMARY KEY",
        "stored_at     TIMESTAMPTZ NOT NULL DEFAULT now()",
        "updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()",
        "claimed_by    TEXT",
        "claimed_until TIMESTAMPTZ",
    )
    + ";\nCREATE INDEX IF NOT EXISTS smsgate_events_undone ON smsgate_events (seq) WHERE state <> 'done'"
)

#: Any constant: instances creating the table at the same time take turns on this lock.
_SCHEMA_LOCK = 0x5D5_6A7E

_CLAIM = (
    "UPDATE smsgate_events SET claimed_by = %s, claimed_until = now() + make_interval(secs => %s) "
    "WHERE key = %s AND state <> 'done' AND (claimed_until IS NULL OR claimed_until <= now()) "
    "RETURNING key"
)
_RENEW = (
    "UPDATE smsgate_events SET claimed_until = now() + make_interval(secs => %s) "
    "WHERE claimed_by = %s AND state <> 'done'"
)


def is_postgres_url(value: str) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URL (a journal to open in PostgreSQL)."""
    return value.startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """``url`` without its password, for reprs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresJournal(TableJournal):
    """A journal in a PostgreSQL table, shared by any number of receiver instances.

    :param url: a libpq connection URL (``postgresql://user@host:5432/db``); a password in it
        never appears in reprs or errors.
    :param lease: seconds a claim lasts unless renewed. The holder renews its claims every
        ``lease / 3`` seconds while it runs, so only a dead (or frozen) holder loses them; the
        other instances dispatch its events once the lease has run out.
    :param connect_timeout: seconds to wait for the server when connecting.

    One connection is shared under a lock; a broken connection is replaced on the next call.
    Every database error is raised as :class:`JournalError` (with the original as
    ``__cause__``). Needs ``smsgate[postgres]`` (psycopg 3).
    """

    _MARK: ClassVar[str] = "%s"

    def __init__(self, url: str, *, lease: float = 30.0, connect_timeout: float = 10.0) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        try:
            import psycopg  # noqa: PLC0415 - an optional dependency, needed only here
        except ImportError as exc:
            raise JournalError("a PostgreSQL journal needs psycopg: pip install 'smsgate[postgres]'") from exc
        self._psycopg = psycopg
        self._url = url
        self._shown = safe_url(url)
        self.lease = lease
        self._connect_timeout = connect_timeout
        #: Who this journal object claims as: host, process and a random part.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = threading.Event()
        self._call("open", self._create)
        self._renewer = threading.Thread(target=self._renew_loop, name="smsgate-journal-lease", daemon=True)
        self._renewer.start()

    def __repr__(self) -> str:
        # Never raises, not even for an object whose __init__ failed half-way (a traceback
        # rendered with its frames' locals shows that ``self``).
        return f"<PostgresJournal {getattr(self, '_shown', '(not opened)')}>"

    # --- plumbing ----------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._psycopg.connect(self._url, connect_timeout=int(max(1, self._connect_timeout)))
        return self._conn

    def _call(self, what: str, job: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``job`` in one transaction (committed when it returns); errors as JournalError."""
        with self._lock:
            if self._closed.is_set():
                raise JournalError("the journal is closed")
            try:
                conn = self._connection()
                with conn.transaction():
                    return job(conn)
            except self._psycopg.Error as exc:
                # Only the class: a libpq message can quote the connection string.
                raise JournalError(
                    f"journal {what} failed on {self._shown} ({type(exc).__name__}: {_first_line(exc)})"
                ) from exc

    def _run(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._call(what, lambda conn: conn.execute(sql, params).fetchall())

    @staticmethod
    def _create(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA.split(";"):
            conn.execute(statement)  # a constant: the two statements of _SCHEMA

    def _renew_loop(self) -> None:
        while not self._closed.wait(self.lease / 3):
            try:
                self._call("lease renewal", lambda conn: conn.execute(_RENEW, (self.lease, self.holder)))
            except JournalError:
                continue  # the server is away: try again; claims may lapse meanwhile (at least once)

    # --- the Journal protocol ----------------------------------------------------------------

    def record(self, events: Sequence[Event]) -> list[Event]:
        """Store ``events`` in one transaction; return the ones not stored before, in order.

        A duplicate within ``events`` counts once; an event another instance is storing at the
        same moment counts for whichever commits first. All or nothing; returns once committed.
        """
        rows = encode(events)

        def insert(conn: psycopg.Connection[Any]) -> list[Event]:
            sql = (
                "INSERT INTO smsgate_events (key, kind, payload) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO NOTHING RETURNING seq"
            )
            return inserted(events, rows, lambda row: conn.execute(sql, row).fetchone() is not None)

        return self._call("write", insert)

    def _set(self, event: Event, state: EventState, error: str | None) -> None:
        params = (str(state), error, event_key(event))
        self._call(
            "write",
            lambda conn: conn.execute(
                "UPDATE smsgate_events SET state = %s, error = %s, attempts = attempts + 1, "
                "updated_at = now(), claimed_by = NULL, claimed_until = NULL WHERE key = %s",
                params,
            ),
        )

    # --- claims (ClaimingJournal) ------------------------------------------------------------

    def claim(self, event: Event) -> bool:
        """Take ``event`` for dispatch for :attr:`lease` seconds (renewed while this journal is
        open); False when it is done, unknown, or claimed by a holder whose lease runs."""
        params = (self.holder, self.lease, event_key(event))
        row = self._call("claim", lambda conn: conn.execute(_CLAIM, params).fetchone())
        return row is not None

    def release(self, event: Event) -> None:
        """Give back this journal's claim on ``event`` (a no-op when it holds none)."""
        params = (event_key(event), self.holder)
        self._call(
            "release",
            lambda conn: conn.execute(
                "UPDATE smsgate_events SET claimed_by = NULL, claimed_until = NULL "
                "WHERE key = %s AND claimed_by = %s",
                params,
            ),
        )

    def close(self) -> None:
        """Stop renewing claims and close the connection; later calls raise JournalError.

        Claims still held lapse after the lease. Idempotent.
        """
        self._closed.set()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
