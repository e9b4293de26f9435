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
import re
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import unquote

from smsgate._secret import Secret
from smsgate.exceptions import ConfigurationError, JournalError, SmsGateError
from smsgate.receiver._journal import (
    UNREADABLE_USAGE,
    Event,
    EventState,
    TableJournal,
    encode,
    event_key,
    events_table,
    inserted,
    seconds,
    unreadable_table,
)
from smsgate.settings import cut_traceback

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal", "is_postgres_url", "safe_url"]

_T = TypeVar("_T")

#: The statements creating the tables (one by one: a function body holds semicolons).
_SCHEMA = (
    events_table(
        "BIGSERIAL PRIMARY KEY",
        "stored_at     TIMESTAMPTZ NOT NULL DEFAULT now()",
        "updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()",
        "claimed_by    TEXT",
        "claimed_until TIMESTAMPTZ",
    ),
    "CREATE INDEX IF NOT EXISTS smsgate_events_undone ON smsgate_events (seq) WHERE state <> 'done'",
    unreadable_table("BIGSERIAL PRIMARY KEY", "BYTEA", "TIMESTAMPTZ"),
    # The running totals of smsgate_unreadable (pushes, bytes of bodies) in one row a trigger
    # keeps, made once (under the schema lock): the trigger first, then the row, counted in
    # the same transaction, whose trigger creation waits for the inserts under way.
    """DO $do$ BEGIN
IF to_regclass('smsgate_unreadable_totals') IS NULL THEN
    CREATE TABLE smsgate_unreadable_totals (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        pushes BIGINT NOT NULL,
        bytes  BIGINT NOT NULL
    );
    CREATE OR REPLACE FUNCTION smsgate_unreadable_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE smsgate_unreadable_totals
            SET pushes = pushes + 1, bytes = bytes + octet_length(NEW.body) WHERE id = 1;
        ELSE
            UPDATE smsgate_unreadable_totals
            SET pushes = pushes - 1, bytes = bytes - octet_length(OLD.body) WHERE id = 1;
        END IF;
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER smsgate_unreadable_count AFTER INSERT OR DELETE ON smsgate_unreadable
        FOR EACH ROW EXECUTE FUNCTION smsgate_unreadable_count();
    INSERT INTO smsgate_unreadable_totals (id, pushes, bytes)
        SELECT 1, count(*), coalesce(sum(octet_length(body)), 0) FROM smsgate_unreadable;
END IF;
END $do$""",
)

#: Keep an unreadable push: one more delivery of a body kept before, or a new row when the
#: totals leave room for it (NULL bounds: none). Nothing written: not kept (the store is full).
_KEEP_UNREADABLE = (
    "INSERT INTO smsgate_unreadable (key, provider, content_type, body, error, first_seen, last_seen) "
    "SELECT %(key)s, %(provider)s, %(content_type)s::text, %(body)s, %(error)s, now(), now() "
    "WHERE EXISTS (SELECT 1 FROM smsgate_unreadable WHERE key = %(key)s) "
    "OR EXISTS (SELECT 1 FROM smsgate_unreadable_totals WHERE id = 1 "
    "AND (%(pushes)s::bigint IS NULL OR pushes < %(pushes)s::bigint) "
    "AND (%(bytes)s::bigint IS NULL OR bytes + %(size)s::bigint <= %(bytes)s::bigint)) "
    "ON CONFLICT (key) DO UPDATE SET "
    "deliveries = smsgate_unreadable.deliveries + 1, last_seen = EXCLUDED.last_seen, "
    "content_type = EXCLUDED.content_type, error = EXCLUDED.error"
)

#: The totals row counted again when it is missing (deleted by hand); nothing when it is there.
_RECOUNT_UNREADABLE = (
    "INSERT INTO smsgate_unreadable_totals (id, pushes, bytes) "
    "SELECT 1, count(*), coalesce(sum(octet_length(body)), 0) FROM smsgate_unreadable "
    "WHERE NOT EXISTS (SELECT 1 FROM smsgate_unreadable_totals) ON CONFLICT (id) DO NOTHING"
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
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """``url`` without its password, for reprs and messages.

    The password in the user part (``user:password@``) and a ``password`` query parameter
    (its name percent-decoded, as libpq reads it) become ``***``. A URL libpq would not read as
    intended (a ``/``, ``?`` or ``@`` left unencoded in the password) is masked generously:
    everything between ``user:`` and the last ``@``. A ``key=value`` connection string (no
    URL) keeps its keys, each ``password`` value masked.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    head, mark, query = rest.partition("?")
    if mark:
        params = [_masked_param(param) for param in query.split("&")]
        rest = f"{head}?{'&'.join(params)}"
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:***@{host}"
    return f"{scheme}://{rest}"


#: A ``password=value`` pair of a ``key=value`` connection string (quoted or not).
_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)


def _masked_param(param: str) -> str:
    """One ``key=value`` of a URL's query, its value masked when the key says password."""
    key, _, _ = param.partition("=")
    return f"{key}=***" if unquote(key).strip().lower() == "password" else param


#: The longest lease or connect timeout, in seconds (about 68 years): libpq reads a timeout as
#: an int, and ``lease / 3`` must stay a wait :mod:`threading` can make.
_LONGEST = 2**31 - 1


def _check_arguments(
    url: Secret | None, kind: str, lease: object, connect_timeout: object
) -> tuple[Secret, float, float]:
    """:class:`PostgresJournal`'s arguments, each refused with a :class:`ConfigurationError`
    naming it (never quoting the URL, which may hold a password); ``url`` is None when the
    URL given is no str, of type ``kind``."""
    if url is None:
        raise ConfigurationError(f"PostgresJournal's url must be a postgresql:// URL (a str), not {kind}")
    if not is_postgres_url(url.value):
        raise ConfigurationError(
            "PostgresJournal's url must be a postgresql:// (or postgres://) URL (not shown: it may "
            "hold a password); a SQLite journal is a smsgate.receiver.SQLiteJournal(path)"
        )
    checked = []
    for name, value in (("lease", lease), ("connect_timeout", connect_timeout)):
        number = seconds("PostgresJournal", name, value)
        if number > _LONGEST:
            raise ConfigurationError(
                f"PostgresJournal's {name} must be at most {_LONGEST} seconds, not {value!r}"
            )
        checked.append(number)
    return url, checked[0], checked[1]


class PostgresJournal(TableJournal):
    """A journal in a PostgreSQL table, shared by any number of receiver instances.

    :param url: a libpq connection URL (``postgresql://user@host:5432/db``); a password in it
        never appears in reprs or errors.
    :param lease: seconds a claim lasts unless renewed. The holder renews its claims every
        ``lease / 3`` seconds while it runs, so only a dead (or frozen) holder loses them; the
        other instances dispatch its events once the lease has run out.
    :param connect_timeout: seconds to wait for the server when connecting.
    :raises ConfigurationError: before anything is connected, a ``url``
        that is no ``postgresql://`` (or ``postgres://``) URL (a ``key=value`` connection
        string included) or that libpq cannot read, a ``lease`` or ``connect_timeout`` that is
        no positive, finite number of seconds (at most ``2**31 - 1``); the URL is never quoted.
    :raises JournalError: psycopg is not installed, or the journal cannot be opened (the
        server cannot be reached, refuses the login …).

    One connection is shared under a lock; a broken connection is replaced on the next call.
    Every database error is raised as :class:`JournalError` (with the original as
    ``__cause__``). Needs ``smsgate[postgres]`` (psycopg 3).
    """

    _MARK: ClassVar[str] = "%s"

    def __init__(self, url: str, *, lease: float = 30.0, connect_timeout: float = 10.0) -> None:
        outer = sys.exception()
        # The URL may hold a password: no frame of an error raised here keeps it as a local
        # (error reporters record them), and the tracebacks below this one are cut.
        secret = Secret(url) if isinstance(url, str) else None
        kind = type(url).__name__
        del url
        try:
            self._open(secret, kind, lease, connect_timeout)
        except SmsGateError as error:
            cut_traceback(error, outer=outer)
            raise error  # again, from a frame without the password

    def _open(self, url: Secret | None, kind: str, lease: object, connect_timeout: object) -> None:
        """:meth:`__init__`: ``url`` is the URL, or None when it is no str (a ``kind``)."""
        secret, self.lease, self._connect_timeout = _check_arguments(url, kind, lease, connect_timeout)
        try:
            import psycopg  # noqa: PLC0415 - an optional dependency, needed only here
        except ImportError as exc:
            raise JournalError("a PostgreSQL journal needs psycopg: pip install 'smsgate[postgres]'") from exc
        self._psycopg = psycopg
        self._url = secret
        self._password = Secret(_password(psycopg, secret.value))
        shown = safe_url(secret.value)
        # A URL libpq reads otherwise than safe_url could still show (part of) the password.
        hidden = self._password.value and self._password.value in shown
        self._shown = "(a PostgreSQL URL, not shown)" if hidden else shown
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
            self._conn = self._psycopg.connect(
                self._url.value, connect_timeout=int(max(1, self._connect_timeout))
            )
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
                error = JournalError(
                    f"journal {what} failed on {self._shown} ({type(exc).__name__}: {self._scrub(exc)})"
                )
                # psycopg's frames below hold the URL (connect's conninfo): only their error is kept.
                cut_traceback(exc)
                raise error from exc

    def _scrub(self, exc: BaseException) -> str:
        """The first line of ``exc``'s message, the URL and its password never in it."""
        detail = _first_line(exc).replace(self._url.value, self._shown)
        return detail.replace(self._password.value, "***") if self._password.value else detail

    def _run(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._call(what, lambda conn: conn.execute(sql, params).fetchall())

    @staticmethod
    def _create(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA:
            conn.execute(statement)  # a constant: the statements of _SCHEMA

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

    # --- unreadable pushes (UnreadableStore) --------------------------------------------------

    def _change(self, what: str, sql: str, params: Sequence[Any]) -> int:
        return self._call(what, lambda conn: conn.execute(sql, params).rowcount)

    def _keep_unreadable(
        self,
        key: str,
        provider: str,
        body: bytes,
        content_type: str | None,
        error: str,
        *,
        bound: tuple[int | None, int | None],
    ) -> bool:
        params = {
            "key": key,
            "provider": provider,
            "content_type": content_type,
            "body": body,
            "error": error,
            "pushes": bound[0],
            "bytes": bound[1],
            "size": len(body),
        }

        def keep(conn: psycopg.Connection[Any]) -> bool:
            if conn.execute(_KEEP_UNREADABLE, params).rowcount:
                return True
            # Not kept: the bound, or a totals row deleted by hand (then no push would ever be
            # kept again): that row counted again, and the push tried once more.
            # The row looked up first: the count scans every body, and a push refused at the
            # bound must cost no more than its check.
            if (
                conn.execute(UNREADABLE_USAGE).fetchone() is None
                and conn.execute(_RECOUNT_UNREADABLE).rowcount
            ):
                return bool(conn.execute(_KEEP_UNREADABLE, params).rowcount)
            return False

        return bool(self._call("write", keep))

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


def _password(psycopg: Any, url: str) -> str:
    """The password libpq reads in ``url`` ("" when none), to keep it out of messages;
    a URL libpq cannot read is a :class:`ConfigurationError` that quotes none of it."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        # Not chained: libpq's message quotes the part of the URL it could not read.
        raise ConfigurationError(
            f"PostgresJournal's url cannot be read by libpq ({type(exc).__name__}; the URL is not "
            "shown: it may hold a password): check its syntax, and percent-encode / ? @ : # in "
            "the user name and password"
        ) from None
    ports = str(params.get("port") or "")
    if any(
        not (port.isdigit() and port.isascii() and int(port) <= 65535) for port in ports.split(",") if port
    ):
        # libpq finds it only when connecting; a port may also be a misread part of a password.
        raise ConfigurationError(
            "PostgresJournal's url has a port that is no number from 0 to 65535 (the URL is not "
            "shown: it may hold a password; percent-encode / ? @ : # in the user name and password)"
        )
    password = params.get("password")
    return password if isinstance(password, str) else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
