"""The receiver's durable journal: every pushed event is written here before it is acknowledged.

:class:`SQLiteJournal` is the default: one SQLite file in WAL mode, one table, one row per
event keyed by a stable hash (:func:`event_key`), so a provider's re-delivery of the same push
is recognised and not dispatched twice. Each row carries the dispatch state of its event
(``pending`` → ``done``, or ``failed`` with the handler's error text) so events whose handler
failed, or that were stored just before a crash, can be dispatched again (:meth:`pending`).

Any object with the methods of :class:`Journal` can replace it (a database table of the
application's own, for example).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import hashlib
import json
import numbers
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, TypeAlias, runtime_checkable

import attrs

from smsgate._models import DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.exceptions import ConfigurationError, JournalError, ValidationError
from smsgate.receiver._limits import is_seconds
from smsgate.receiver._unreadable import (
    UnreadablePush,
    check_bound,
    check_key,
    keyed_unreadable,
    storable,
)

__all__ = [
    "ClaimingJournal",
    "Event",
    "EventState",
    "Journal",
    "JournalEntry",
    "JournalError",
    "SQLiteJournal",
    "event_key",
]

#: What a provider pushes: a delivery report or an inbound message.
Event: TypeAlias = DeliveryReport | InboundMessage


class EventState(enum.StrEnum):
    """Where an event is in its dispatch to the application's handler."""

    PENDING = "pending"  #: stored, not yet handed to the handler (or crashed meanwhile)
    DONE = "done"  #: the handler returned normally
    FAILED = "failed"  #: the handler raised; ``error`` says what


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One stored event and its dispatch state.

    :ivar key: the event's dedupe key (:func:`event_key`).
    :ivar event: the event, rebuilt from storage (``raw`` comes back as decoded JSON).
    :ivar state: pending, done or failed.
    :ivar error: the handler's error (class and message) when ``state`` is failed.
    :ivar attempts: how many times the handler was called for it.
    :ivar stored_at: when the journal first stored it (UTC).
    """

    key: str
    event: Event
    state: EventState
    error: str | None = None
    attempts: int = 0
    stored_at: dt.datetime


def _kind(event: Event) -> str:
    return "report" if isinstance(event, DeliveryReport) else "inbound"


#: The key in an event's ``raw`` mapping that numbers the repeats of one inbound message within
#: one push (1 for the second identical item, 2 for the third …); see :func:`number_repeats`.
OCCURRENCE = "smsgate_occurrence"


def event_key(event: Event) -> str:
    """A stable identity for an event, the same across re-deliveries of one push.

    SHA-256 over provider, kind, mobile, task id, time received, and the vendor code (or the
    status when there is none) for a report, or the text for an inbound message; then the
    extension number (``ext``) when there is one, and the repeat number within the push
    (``raw["smsgate_occurrence"]``) when there is one. Two events that differ in none of these
    cannot be told apart (see ``docs/receiver.md``, "duplicates").
    """
    try:
        return _key(event, _iso(event.received_at) if event.received_at else "")
    except AttributeError:
        raise not_an_event(event) from None


#: The last receive time :func:`_iso` spelled, and its spelling (one tuple: swapped whole). The
#: events of a push, and of the pushes that arrive together, mostly share one receive time
#: (ipyy's are to the second), and ``isoformat`` with a time zone costs about what the hash does.
_LAST_WHEN: tuple[dt.datetime | None, str] = (None, "")


def _iso(when: dt.datetime) -> str:
    """``when.isoformat()``; the last text made again when ``when`` equals the last datetime
    spelled, in the same time zone object and fold (then every field of the text is the same)."""
    global _LAST_WHEN  # noqa: PLW0603 - a cache replaced whole, safe across threads
    last, text = _LAST_WHEN
    if (
        type(when) is dt.datetime
        and last is not None
        and when.tzinfo is last.tzinfo
        and when == last
        and when.fold == last.fold
    ):
        return text
    text = when.isoformat()
    if type(when) is dt.datetime:
        _LAST_WHEN = (when, text)
    return text


def not_an_event(value: object) -> JournalError:
    """The error for ``value`` given to a journal as an event when it is none (it is not
    quoted: it may be large, or hold a phone number)."""
    return JournalError(
        "a journal stores smsgate.DeliveryReport and smsgate.InboundMessage events, "
        f"not {type(value).__name__}"
    )


def _key(event: Event, when: str) -> str:
    """:func:`event_key`, given the event's ``received_at`` in ISO form (``""`` when none)."""
    if isinstance(event, DeliveryReport):
        kind = "report"
        detail = event.vendor_code if event.vendor_code is not None else str(event.status)
    else:
        kind = "inbound"
        detail = event.text
    fields = [event.provider, kind, event.mobile, event.task_id or "", when, detail]
    # Appended only when present, so the keys of events without them are the ones stored before.
    if event.ext:
        fields.append(f"ext={event.ext}")
    raw = event.raw
    # A dict is a Mapping: checked first, as the ABC check is slow and this runs per event.
    occurrence = raw.get(OCCURRENCE) if type(raw) is dict or isinstance(raw, Mapping) else None
    if occurrence:
        fields.append(f"occurrence={occurrence}")
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def number_repeats(events: Sequence[Event]) -> list[Event]:
    """``events`` with each repeat of an identical inbound message numbered in its ``raw``.

    Within one push, two identical items are two messages (a re-delivery repeats the whole
    push, so the numbers repeat too); numbering them gives each its own :func:`event_key`.
    Identical delivery reports are left alone: one report twice says nothing more.
    """
    seen: dict[str, int] = {}
    out: list[Event] = []
    for event in events:
        if isinstance(event, DeliveryReport):
            out.append(event)
            continue
        key = event_key(event)
        count = seen.get(key, 0)
        seen[key] = count + 1
        if count:
            raw = dict(event.raw) if isinstance(event.raw, Mapping) else {"raw": event.raw}
            out.append(attrs.evolve(event, raw={**raw, OCCURRENCE: count}))
        else:
            out.append(event)
    return out


def _dump(event: Event, when: str | None) -> str:
    """The stored JSON of ``event`` (``when``: its ``received_at`` in ISO form, or None): the
    text of ``json.dumps(…, ensure_ascii=False, default=str)`` over :func:`_data`'s dict."""
    try:
        return _plain_json(event, when)
    except _NotPlain:  # a field or a raw value other than str or None: json's own encoder
        return _json(_data(event, when))


#: How json spells a str with ``ensure_ascii=False`` (its C encoder calls the same function).
_QUOTE = json.encoder.encode_basestring


class _NotPlain(Exception):
    """A value :func:`_plain_json` leaves to json's encoder (neither a str nor None)."""


def _q(value: object) -> str:
    """``value``, a str or None, as JSON (:class:`_NotPlain` for anything else)."""
    if type(value) is str:
        return _QUOTE(value)
    if value is None:
        return "null"
    raise _NotPlain


def _raw_json(raw: object) -> str:
    """``raw`` as JSON when it is None or a dict of str keys and str (or None) values, as
    providers parse a push (:class:`_NotPlain` for anything else)."""
    if type(raw) is not dict:
        if raw is None:
            return "null"
        raise _NotPlain
    items: list[str] = []
    for key, value in raw.items():
        if type(key) is not str:
            raise _NotPlain
        items.append(f"{_QUOTE(key)}: {_QUOTE(value) if type(value) is str else _q(value)}")
    return "{" + ", ".join(items) + "}"


def _plain_json(event: Event, when: str | None) -> str:
    """:func:`_dump`'s text spelled field by field, for an event whose fields are str or None
    and whose ``raw`` is a flat dict of str (nearly every push): about a third of the work
    of json's encoder, which goes through a dict of the fields and a list of their pieces."""
    mobile, task_id = event.mobile, event.task_id
    head = (
        f'{{"provider": {_q(event.provider)}, '
        f'"mobile": {_QUOTE(mobile) if type(mobile) is str else _q(mobile)}, '
        f'"task_id": {_QUOTE(task_id) if type(task_id) is str else _q(task_id)}, '
        f'"received_at": {_QUOTE(when) if when is not None else "null"}, "ext": {_q(event.ext)}, '
        f'"raw": {_raw_json(event.raw)}, '
    )
    if not isinstance(event, DeliveryReport):
        return f'{head}"text": {_q(event.text)}}}'
    tail = f'"status": {_QUOTE(str(event.status))}, "vendor_code": {_q(event.vendor_code)}'
    if event.reference is not None:
        return f'{head}{tail}, "reference": {_q(event.reference)}}}'
    return f"{head}{tail}}}"


def _data(event: Event, when: str | None) -> dict[str, Any]:
    """The fields :func:`_dump` stores, as a dict in their stored order."""
    data: dict[str, Any] = {
        "provider": event.provider,
        "mobile": event.mobile,
        "task_id": event.task_id,
        "received_at": when,
        "ext": event.ext,
        "raw": event.raw,
    }
    if isinstance(event, DeliveryReport):
        data["status"] = str(event.status)
        data["vendor_code"] = event.vendor_code
        if event.reference is not None:
            data["reference"] = event.reference
    else:
        data["text"] = event.text
    # raw is whatever the provider parsed; anything JSON cannot hold is kept as its str().
    return data


#: ``json.dumps(..., ensure_ascii=False, default=str)``, its encoder made once (it keeps no
#: state between calls).
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)


def _json(data: dict[str, Any]) -> str:
    """``_JSON.encode(data)``: the same text, made by the C encoder json itself uses for it,
    without the pure-Python steps around it (a fresh circular-reference record each time)."""
    if _C_ENCODER is None:
        return _JSON.encode(data)
    encoder = _C_ENCODER({}, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return "".join(encoder(data, 0))


def _load(kind: str, payload: str) -> Event:
    data = json.loads(payload)
    when = dt.datetime.fromisoformat(data["received_at"]) if data["received_at"] else None
    if kind == "report":
        return DeliveryReport(
            provider=data["provider"],
            mobile=data["mobile"],
            task_id=data["task_id"],
            status=DeliveryStatus(data["status"]),
            received_at=when,
            vendor_code=data["vendor_code"],
            ext=data["ext"],
            reference=data.get("reference"),  # absent from entries written before it existed
            raw=data["raw"],
        )
    return InboundMessage(
        provider=data["provider"],
        mobile=data["mobile"],
        text=data["text"],
        received_at=when,
        ext=data["ext"],
        task_id=data["task_id"],
        raw=data["raw"],
    )


def encode(events: Sequence[Event]) -> list[tuple[str, str, str]]:
    """``(key, kind, payload)`` for each event, as every journal stores them.

    :raises JournalError: an event's ``raw`` cannot be encoded as JSON (circular), or an item
        of ``events`` is no event.
    """
    rows: list[tuple[str, str, str]] = []
    event: object = None
    try:
        for event in events:
            when = _iso(event.received_at) if event.received_at else None
            rows.append((_key(event, when or ""), _kind(event), _dump(event, when)))
    except AttributeError:
        raise not_an_event(event) from None
    except (ValueError, TypeError) as exc:
        raise JournalError(f"journal write failed ({type(exc).__name__}: {exc})") from exc
    return rows


def entry(row: Sequence[Any]) -> JournalEntry:
    """A :class:`JournalEntry` from ``(key, kind, payload, state, error, attempts, stored_at)``;
    ``stored_at`` is a datetime or its ISO text."""
    key, kind, payload, state, error, attempts, stored = row
    when = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(stored)
    return JournalEntry(
        key=key,
        event=_load(kind, payload),
        state=EventState(state),
        error=error,
        attempts=attempts,
        stored_at=when,
    )


@runtime_checkable
class Journal(Protocol):
    """What the receiver needs from a journal. All methods are blocking; the receiver calls
    them from a worker thread in async code, so implementations must be thread-safe."""

    def record(self, events: Sequence[Event]) -> list[Event]:
        """Store ``events`` atomically; return those not seen before, in order."""
        ...

    def mark_done(self, event: Event) -> None:
        """The handler processed ``event``."""
        ...

    def mark_failed(self, event: Event, error: str) -> None:
        """The handler raised on ``event``; keep it for :meth:`pending`."""
        ...

    def state(self, event: Event) -> EventState | None:
        """The dispatch state of ``event``, or None if it was never stored."""
        ...

    def pending(self) -> list[Event]:
        """Stored events not yet done (pending or failed), oldest first."""
        ...

    def close(self) -> None:
        """Release the storage."""
        ...


@runtime_checkable
class ClaimingJournal(Journal, Protocol):
    """A journal several receiver processes share: it also says who dispatches an event now.

    The receiver claims each event before handing it to the handler and releases it after;
    an event claimed by another process (or another receiver object) is skipped, so no event
    is dispatched twice at once across instances. A claim expires after a lease unless its
    holder is alive, so a killed process's events come back to :meth:`Journal.pending`.
    """

    def claim(self, event: Event) -> bool:
        """Take ``event`` for dispatch; False when it is done or another holder has it."""
        ...

    def release(self, event: Event) -> None:
        """Give back this holder's claim on ``event`` (a no-op when it holds none)."""
        ...


#: The columns every SQL journal's ``smsgate_events`` table has, as :class:`TableJournal`
#: reads them; each dialect adds its own sequence, time and claim columns.
EVENT_COLUMNS = (
    "key        TEXT NOT NULL UNIQUE",
    "kind       TEXT NOT NULL",
    "payload    TEXT NOT NULL",
    "state      TEXT NOT NULL DEFAULT 'pending'",
    "error      TEXT",
    "attempts   INTEGER NOT NULL DEFAULT 0",
)


def inserted(
    events: Sequence[Event], rows: Sequence[Sequence[Any]], insert: Callable[[Sequence[Any]], bool]
) -> list[Event]:
    """The events whose row ``insert`` stored (it answers False for a key already there)."""
    return [event for event, row in zip(events, rows, strict=True) if insert(row)]


def events_table(seq: str, *more: str) -> str:
    """The ``CREATE TABLE`` statement of ``smsgate_events`` in one SQL dialect: its ``seq``
    column, the shared :data:`EVENT_COLUMNS`, then the dialect's ``more`` columns."""
    columns = ",\n    ".join((f"seq        {seq}", *EVENT_COLUMNS, *more))
    return f"CREATE TABLE IF NOT EXISTS smsgate_events (\n    {columns}\n)"


#: A new journal's table. Its ``seq`` is the rowid without ``AUTOINCREMENT``: the journal never
#: deletes a row, so the next row's rowid (the largest + 1) is the number AUTOINCREMENT gave,
#: without its ``sqlite_sequence`` row, one more page written by every commit (one WAL frame
#: of ~18, and its statements). Journals made before keep their ``AUTOINCREMENT`` column and
#: are read and written the same way.
_SCHEMA = events_table("INTEGER PRIMARY KEY", "stored_at  TEXT NOT NULL", "updated_at TEXT NOT NULL")


def unreadable_table(seq: str, body: str, when: str) -> str:
    """The ``CREATE TABLE`` statement of ``smsgate_unreadable`` (the pushes the provider could
    not read) in one SQL dialect: its ``seq`` column and its types for the body and times.
    ``IF NOT EXISTS``: a journal made before it existed gets it when opened."""
    columns = (
        f"seq          {seq}",
        "key          TEXT NOT NULL UNIQUE",
        "provider     TEXT NOT NULL",
        "content_type TEXT",
        f"body         {body} NOT NULL",
        "error        TEXT NOT NULL",
        f"first_seen   {when} NOT NULL",
        f"last_seen    {when} NOT NULL",
        "deliveries   INTEGER NOT NULL DEFAULT 1",
    )
    return "CREATE TABLE IF NOT EXISTS smsgate_unreadable (\n    " + ",\n    ".join(columns) + "\n)"


#: The unreadable pushes' table of a SQLite journal (times as ISO text, in UTC).
_UNREADABLE_SCHEMA = unreadable_table("INTEGER PRIMARY KEY", "BLOB", "TEXT")

#: The running totals of ``smsgate_unreadable`` (how many pushes, how many bytes of bodies), in
#: one row that triggers keep: the bound on what is kept is checked without a scan. Triggers
#: first, then the row (counted once, for a journal made before it; skipped when it is there):
#: a push kept in between is counted by the scan, one kept after it by the triggers.
_UNREADABLE_TOTALS = (
    "CREATE TABLE IF NOT EXISTS smsgate_unreadable_totals (\n"
    "    id     INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "    pushes INTEGER NOT NULL,\n"
    "    bytes  INTEGER NOT NULL\n)",
    "CREATE TRIGGER IF NOT EXISTS smsgate_unreadable_kept AFTER INSERT ON smsgate_unreadable BEGIN "
    "UPDATE smsgate_unreadable_totals SET pushes = pushes + 1, bytes = bytes + length(NEW.body) "
    "WHERE id = 1; END",
    "CREATE TRIGGER IF NOT EXISTS smsgate_unreadable_gone AFTER DELETE ON smsgate_unreadable BEGIN "
    "UPDATE smsgate_unreadable_totals SET pushes = pushes - 1, bytes = bytes - length(OLD.body) "
    "WHERE id = 1; END",
    "INSERT OR IGNORE INTO smsgate_unreadable_totals (id, pushes, bytes) "
    "SELECT 1, count(*), coalesce(sum(length(body)), 0) FROM smsgate_unreadable "
    "WHERE NOT EXISTS (SELECT 1 FROM smsgate_unreadable_totals)",
)

#: The totals row counted again when it is missing (a journal made before it, a row deleted by
#: hand); nothing when it is there.
_RECOUNT_UNREADABLE = _UNREADABLE_TOTALS[-1]

#: Keep an unreadable push: one more delivery of a body kept before, or a new row when the
#: totals leave room for it (?7: the most pushes, ?8: the most bytes, NULL: no bound; ?9: the
#: body's size). Nothing written: not kept (the store is full).
_KEEP_UNREADABLE = (
    "INSERT INTO smsgate_unreadable (key, provider, content_type, body, error, first_seen, last_seen) "
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6 "
    "WHERE EXISTS (SELECT 1 FROM smsgate_unreadable WHERE key = ?1) "
    "OR EXISTS (SELECT 1 FROM smsgate_unreadable_totals WHERE id = 1 "
    "AND (?7 IS NULL OR pushes < ?7) AND (?8 IS NULL OR bytes + ?9 <= ?8)) "
    "ON CONFLICT (key) DO UPDATE SET "
    "deliveries = deliveries + 1, last_seen = excluded.last_seen, "
    "content_type = excluded.content_type, error = excluded.error"
)

#: What the unreadable pushes kept take: how many, how many bytes of bodies.
UNREADABLE_USAGE = "SELECT pushes, bytes FROM smsgate_unreadable_totals WHERE id = 1"


#: The last whole second :func:`now_iso` spelled, and its spelling (one tuple: swapped whole).
_SECOND: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """``datetime.now(UTC).isoformat()``, the same text (microseconds, ``+00:00``), at a
    fraction of its cost: the date and time of day are spelled once a second. A journal
    stamps every stored event and every outcome with it."""
    global _SECOND  # noqa: PLW0603 - a cache replaced whole, safe across threads
    ns = time.time_ns()
    second, rest = divmod(ns, 1_000_000_000)
    cached = _SECOND
    if cached[0] != second:
        spelled = dt.datetime.fromtimestamp(second, dt.UTC).isoformat()[:-6]  # no "+00:00"
        cached = _SECOND = (second, spelled)
    micro = rest // 1000
    return f"{cached[1]}.{micro:06d}+00:00" if micro else f"{cached[1]}+00:00"


def _savepoint(conn: sqlite3.Connection, write: _Write) -> tuple[Any, JournalError | None]:
    """Run one write of a group in its own savepoint: its failure undoes it alone."""
    conn.execute("SAVEPOINT one_write")
    try:
        result = write.run(conn)
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO one_write")
        conn.execute("RELEASE one_write")
        return None, JournalError(f"journal write failed ({type(exc).__name__}: {exc})")
    conn.execute("RELEASE one_write")
    return result, None


_INSERT = "INSERT OR IGNORE INTO smsgate_events (key, kind, payload, stored_at, updated_at) VALUES "


@functools.cache
def _insert_rows(count: int) -> str:
    """:data:`_INSERT` for ``count`` rows of ``(key, kind, payload, stamp)``: the stamp is
    bound once and stored as both ``stored_at`` and ``updated_at``."""
    marks = (f"(?{4 * n + 1}, ?{4 * n + 2}, ?{4 * n + 3}, ?{4 * n + 4}, ?{4 * n + 4})" for n in range(count))
    return _INSERT + ", ".join(marks)


_UPDATE = (
    "UPDATE smsgate_events SET state = ?, error = ?, attempts = attempts + 1, updated_at = ? WHERE key = ?"
)
#: Rows per bulk statement: 4 parameters each, under SQLite's oldest limit of 999 parameters.
_CHUNK = 150
#: Several outcomes in one statement (``UPDATE … FROM``, SQLite 3.33+): one step of the
#: database rather than one per outcome, and so one release of the GIL, not one per outcome.
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
_UPDATE_MANY = (
    "UPDATE smsgate_events SET state = v.column1, error = v.column2, attempts = attempts + 1, "
    "updated_at = v.column3 FROM (VALUES {rows}) AS v WHERE smsgate_events.key = v.column4"
)
#: Several outcomes of one kind (the same state and error: a group's "done" marks, as a rule)
#: in one statement with one stamp, the latest of theirs: a key list costs SQLite less than
#: the join of ``UPDATE … FROM`` (~100 against ~150 µs for 8 outcomes on this disk).
_UPDATE_IN = (
    "UPDATE smsgate_events SET state = ?, error = ?, attempts = attempts + 1, updated_at = ? "
    "WHERE key IN ({marks})"
)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class _NotAllNew(Exception):
    """Some rows of a group's optimistic insert were there already (:func:`_bulk`)."""


def _bulk(conn: sqlite3.Connection, group: Sequence[_Write], *, optimistic: bool = True) -> list[Any]:
    """Make every write of ``group`` (each storing events or setting a state) in a few
    statements: one multi-row ``INSERT OR IGNORE``, the updates. Returns each write's result:
    the events it stored first (in order), or ``None`` for an update.

    ``optimistic``: insert first and count the rows stored; when one was not (a re-delivery,
    a repeat within the group) raise :class:`_NotAllNew`, and the caller rolls back and asks
    again with ``optimistic=False``, which reads which keys exist first. Pushes are almost
    always new, so the read is almost never made.
    """
    rows = [row for write in group if write.rows is not None for row in write.rows]
    seen: set[str] = set()
    if not optimistic:
        for chunk in _chunks([row[0] for row in rows], 5 * _CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT key FROM smsgate_events WHERE key IN ({marks})"  # noqa: S608 - marks only
            seen.update(key for (key,) in conn.execute(sql, chunk))
    before = conn.total_changes
    for chunk in _chunks(rows, _CHUNK):
        conn.execute(_insert_rows(len(chunk)), [v for row in chunk for v in row])
    if optimistic and conn.total_changes - before != len(rows):
        raise _NotAllNew
    updates = [update for write in group if write.updates is not None for update in write.updates]
    if len(updates) > 1 and len({update[3] for update in updates}) == len(updates):
        _update_each(conn, updates)
    elif updates:  # one, or two for one event (in order): one statement each
        conn.executemany(_UPDATE, updates)
    if optimistic:  # every row was new: each write stored all of its events
        return [None if write.rows is None else list(write.events) for write in group]
    return [_first_seen(write, seen) for write in group]


def _update_each(conn: sqlite3.Connection, updates: Sequence[tuple[Any, ...]]) -> None:
    """Set the outcomes ``updates`` (:data:`_UPDATE`'s parameters, one key each) in a few
    statements: one per chunk when they share their state and error, else ``UPDATE … FROM``
    (or one statement each before SQLite 3.33)."""
    state, error = updates[0][0], updates[0][1]
    if all(update[0] == state and update[1] == error for update in updates):
        stamp = max(update[2] for update in updates)
        for chunk in _chunks(updates, 5 * _CHUNK):  # 1 parameter each, and 3
            sql = _UPDATE_IN.format(marks=",".join("?" * len(chunk)))
            conn.execute(sql, [state, error, stamp, *(update[3] for update in chunk)])
    elif _UPDATE_FROM:
        for chunk in _chunks(updates, _CHUNK):  # 4 parameters each
            sql = _UPDATE_MANY.format(rows=",".join(["(?, ?, ?, ?)"] * len(chunk)))
            conn.execute(sql, [v for update in chunk for v in update])
    else:
        conn.executemany(_UPDATE, updates)


def _first_seen(write: _Write, seen: set[str]) -> list[Event] | None:
    """The events of ``write`` whose key is not in ``seen`` (adding them): those it stored."""
    if write.rows is None:
        return None
    new: list[Event] = []
    for event, row in zip(write.events, write.rows, strict=True):
        if row[0] not in seen:
            seen.add(row[0])
            new.append(event)
    return new


def _nothing(conn: sqlite3.Connection) -> None:
    """The job of a write that failed before it was queued."""


class _Write:
    """One caller's write, waiting for the group commit that makes it durable.

    :meth:`run` makes it alone (in its own savepoint): ``job``, else its rows or its updates. A
    write that stores events (``events`` with their ``rows``, no ``job``) or sets events' states
    (``updates``: the parameters of :data:`_UPDATE` for each, in order, no ``job``) can also be made
    together with others in a few statements (:func:`_bulk`), which is how a group made only
    of such writes is committed.
    """

    __slots__ = ("done", "error", "events", "job", "result", "rows", "unwaited", "updates")

    def __init__(
        self,
        job: Callable[[sqlite3.Connection], Any] | None,
        *,
        events: Sequence[Event] = (),
        rows: Sequence[tuple[Any, ...]] | None = None,
        updates: Sequence[tuple[Any, ...]] | None = None,
        unwaited: bool = False,
    ) -> None:
        self.job = job
        self.events, self.rows, self.updates = events, rows, updates
        #: Queued by :meth:`SQLiteJournal._set_soon`: nobody waits for it, so a commit that
        #: fails queues it again rather than finishing it with the error.
        self.unwaited = unwaited
        self.done = False
        self.result: Any = None
        self.error: JournalError | None = None

    def run(self, conn: sqlite3.Connection) -> Any:
        """Make this write alone on ``conn`` (inside the caller's transaction)."""
        if self.job is not None:
            return self.job(conn)
        if self.rows is not None:  # the events it stores, one row each: those stored first
            sql = _insert_rows(1)
            return inserted(self.events, self.rows, lambda row: conn.execute(sql, row).rowcount == 1)
        return conn.executemany(_UPDATE, self.updates or ())

    def finish(self, result: Any = None, error: JournalError | None = None) -> None:
        self.result, self.error, self.done = result, error, True

    def outcome(self) -> Any:
        """The job's result once committed, or its error."""
        if self.error is not None:
            raise self.error
        return self.result


class TableJournal:
    """What the SQL journals share (SQLite, PostgreSQL): one ``smsgate_events`` table, read the
    same way. A subclass provides :meth:`_run` (one statement, its rows), :meth:`_set` (write
    an outcome) and the parameter mark of its driver (:attr:`_MARK`)."""

    _MARK: ClassVar[str] = "?"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the storage."""
        raise NotImplementedError

    def _run(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _set(self, event: Event, state: EventState, error: str | None) -> None:
        raise NotImplementedError

    def mark_done(self, event: Event) -> None:
        """Record that the handler processed ``event``."""
        self._set(event, EventState.DONE, None)

    def mark_failed(self, event: Event, error: str) -> None:
        """Record that the handler raised on ``event`` (``error`` is kept as given).

        :raises ConfigurationError: ``error`` is no str (it would be stored as a number, or
            not at all).
        """
        if not isinstance(error, str):
            raise ConfigurationError(f"mark_failed's error must be a str, not {type(error).__name__}")
        self._set(event, EventState.FAILED, error)

    def state(self, event: Event) -> EventState | None:
        """The dispatch state of ``event``, or None if it was never stored."""
        sql = f"SELECT state FROM smsgate_events WHERE key = {self._MARK}"  # noqa: S608 - the mark is a class constant
        rows = self._run("read", sql, (event_key(event),))
        return EventState(rows[0][0]) if rows else None

    def pending(self) -> list[Event]:
        """Events stored but not yet done (pending or failed), oldest first."""
        rows = self._run(
            "read", "SELECT kind, payload FROM smsgate_events WHERE state <> 'done' ORDER BY seq"
        )
        return [_load(kind, payload) for kind, payload in rows]

    def entries(self, state: EventState | str | None = None) -> list[JournalEntry]:
        """Every stored event with its dispatch state, oldest first (optionally one state only).

        :raises ConfigurationError: ``state`` is neither None nor an :class:`EventState` (or
            its value: ``"pending"``, ``"done"``, ``"failed"``).
        """
        sql = "SELECT key, kind, payload, state, error, attempts, stored_at FROM smsgate_events"
        params: tuple[str, ...] = ()
        if state is not None:
            sql += f" WHERE state = {self._MARK}"
            params = (str(_event_state(state)),)
        return [entry(row) for row in self._run("read", sql + " ORDER BY seq", params)]

    # --- unreadable pushes (UnreadableStore) ----------------------------------------------------

    def _change(self, what: str, sql: str, params: Sequence[Any]) -> int:
        """Run one writing statement, durably; how many rows it changed."""
        raise NotImplementedError

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
        """Store (or count one more delivery of) the unreadable push ``key``, durably; False
        when it is new and ``bound`` (the most pushes, the most bytes) leaves no room."""
        raise NotImplementedError

    def record_unreadable(
        self,
        provider: str,
        body: bytes,
        content_type: str | None,
        error: str,
        *,
        max_pushes: int | None = None,
        max_bytes: int | None = None,
    ) -> str | None:
        """Keep a push ``provider`` could not read; return its key
        (:func:`~smsgate.receiver._unreadable.unreadable_key`: SHA-256 over provider and body).

        Another delivery of the same body is the same record: its ``deliveries`` count one
        more, ``last_seen``, ``content_type`` and ``error`` are the new ones. Returns once the
        record is as durable as a stored event.

        A new body is not kept, and ``None`` returned, when the journal would then keep more
        than ``max_pushes`` pushes or ``max_bytes`` bytes of bodies (``None``: no bound). The
        totals are kept in one row by triggers, so the check is one indexed read. Between
        processes sharing a PostgreSQL journal the bound may be passed by the pushes kept at
        the same moment (each checks the totals before the others' commit); in SQLite, whose
        writers take turns, it holds exactly.

        :raises ValidationError: ``provider`` is no non-empty text, ``body`` no bytes (a
            ``bytearray`` or ``memoryview`` is read as its bytes), ``content_type`` neither
            text nor ``None``, ``error`` no text, or a bound neither a whole number >= 0 nor
            ``None``; nothing is kept.
        :raises JournalError: the record could not be written.
        """
        key, provider, body, content_type, error = keyed_unreadable(provider, body, content_type, error)
        bound = (
            check_bound("record_unreadable", "max_pushes", max_pushes, ValidationError),
            check_bound("record_unreadable", "max_bytes", max_bytes, ValidationError),
        )
        return key if self._keep_unreadable(key, provider, body, content_type, error, bound=bound) else None

    def unreadable_usage(self) -> tuple[int, int]:
        """What the kept unreadable pushes take: how many, and how many bytes of bodies (the
        running totals the bound is checked against; one indexed read)."""
        rows = self._run("read", UNREADABLE_USAGE)
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def unreadable(self) -> list[UnreadablePush]:
        """Every kept unreadable push, oldest first (by first delivery)."""
        rows = self._run(
            "read",
            "SELECT key, provider, content_type, body, error, first_seen, last_seen, deliveries "
            "FROM smsgate_unreadable ORDER BY seq",
        )
        return [_unreadable_push(row) for row in rows]

    def discard_unreadable(self, key: str) -> bool:
        """Forget the kept push ``key`` (its :attr:`UnreadablePush.key`); False when none has it.

        :raises ValidationError: ``key`` is no text.
        """
        key = check_key(key, "discard_unreadable")
        sql = f"DELETE FROM smsgate_unreadable WHERE key = {self._MARK}"  # noqa: S608 - the mark is a class constant
        return self._change("write", sql, (key,)) > 0

    def update_unreadable(self, key: str, error: str) -> bool:
        """Set the error of the kept push ``key`` (read again, and still unreadable) without
        counting a delivery; False when none has that key.

        :raises ValidationError: ``key`` or ``error`` is no text.
        """
        key = check_key(key, "update_unreadable")
        if not isinstance(error, str):
            raise ValidationError(
                f"update_unreadable's error is text, not {type(error).__name__}", field="error"
            )
        sql = f"UPDATE smsgate_unreadable SET error = {self._MARK} WHERE key = {self._MARK}"  # noqa: S608 - the marks are class constants
        return self._change("write", sql, (storable(error), key)) > 0


def _unreadable_push(row: Sequence[Any]) -> UnreadablePush:
    """An :class:`UnreadablePush` from a row of ``smsgate_unreadable`` (times as datetimes or
    their ISO text).

    :raises JournalError: the row is not one the journal wrote (edited by hand, a column's type
        changed): it names the row's key (discard it with it), never a value (it may be a body).
    """
    key, provider, content_type, body, error, first, last, deliveries = row
    damaged = _damaged_column(row)
    if damaged is not None:
        shown = key if isinstance(key, str) else "(no key)"
        raise JournalError(
            f"the kept unreadable push {shown} is damaged: its {damaged} is not what the journal "
            "writes (edited by hand?); discard it (discard_unreadable, smsgate unreadable --discard)"
        )
    return UnreadablePush(
        key=key,
        provider=provider,
        content_type=content_type,
        body=bytes(body),
        error=error,
        first_seen=_utc(first),
        last_seen=_utc(last),
        deliveries=deliveries,
    )


def _damaged_column(row: Sequence[Any]) -> str | None:
    """The first column of a ``smsgate_unreadable`` row whose value is of no type the journal
    writes there (``None``: every one is)."""
    key, provider, content_type, body, error, first, last, deliveries = row
    kinds: tuple[tuple[str, bool], ...] = (
        ("key", isinstance(key, str)),
        ("provider", isinstance(provider, str)),
        ("content_type", content_type is None or isinstance(content_type, str)),
        ("body", isinstance(body, bytes | bytearray | memoryview)),
        ("error", isinstance(error, str)),
        ("first_seen", _is_time(first)),
        ("last_seen", _is_time(last)),
        ("deliveries", type(deliveries) is int),
    )
    return next((name for name, fits in kinds if not fits), None)


def _is_time(value: object) -> bool:
    """Whether ``value`` is a stored time: a datetime, or ISO text."""
    if isinstance(value, dt.datetime):
        return True
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _utc(when: dt.datetime | str) -> dt.datetime:
    """A stored time, in UTC."""
    stamp = when if isinstance(when, dt.datetime) else dt.datetime.fromisoformat(when)
    return stamp.astimezone(dt.UTC)


def _event_state(state: EventState | str) -> EventState:
    """``state`` as an :class:`EventState`; anything else is a :class:`ConfigurationError`."""
    try:
        return EventState(state)
    except (ValueError, TypeError):
        known = ", ".join(repr(str(known)) for known in EventState)
        raise ConfigurationError(f"entries' state must be one of {known} (or None), not {state!r}") from None


def seconds(owner: str, name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as a float: a finite number of seconds (any real number, not a bool), positive
    (or ``0`` too when ``zero``); anything else is a :class:`ConfigurationError` naming
    ``owner``'s argument ``name``. NaN passes every comparison, so it is refused here."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{owner}'s {name} must be a number of seconds, not {value!r}")
    if not is_seconds(value, zero=zero):
        least = "non-negative" if zero else "positive"
        raise ConfigurationError(
            f"{owner}'s {name} must be a {least}, finite number of seconds, not {value!r}"
        )
    return float(value)


#: How a PostgreSQL URL begins, also once a :class:`~pathlib.Path` has made its ``//`` one ``/``.
_POSTGRES_PREFIXES = ("postgresql:/", "postgres:/")


def _sqlite_path(path: object) -> str:
    """The text path of a :class:`SQLiteJournal`'s file; a path that is no non-empty text path
    (``str`` or :class:`os.PathLike`), or a PostgreSQL URL, is a :class:`ConfigurationError`."""
    if not isinstance(path, str | os.PathLike):
        raise ConfigurationError(
            f"SQLiteJournal's path must be a str or an os.PathLike, not {type(path).__name__} {path!r}"
        )
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\0" in text:
        # "" would open a temporary database that vanishes at close: nothing durable.
        raise ConfigurationError(f"SQLiteJournal's path must be a non-empty text path (no NUL), not {path!r}")
    if text.startswith(_POSTGRES_PREFIXES):  # the URL may hold a password: never in the message
        raise ConfigurationError(
            "SQLiteJournal's path is a PostgreSQL URL (not shown: it may hold a password): open "
            "it with smsgate.receiver.PostgresJournal(url); SQLiteJournal's path names a SQLite file"
        )
    return text


class SQLiteJournal(TableJournal):
    """A journal in one SQLite file (WAL mode), safe to share between threads.

    :param path: the database file; created with its table if missing. ``":memory:"`` works
        for experiments but is not durable.
    :param timeout: seconds to wait for a lock held by another process using the same file
        (``0``: do not wait).
    :raises ConfigurationError: before anything is opened, a ``path`` that is no non-empty
        text path (``str`` or :class:`os.PathLike`; bytes are refused) or is a PostgreSQL URL
        (open it with :class:`~smsgate.receiver.PostgresJournal`), or a ``timeout`` that is no
        non-negative, finite number of seconds.
    :raises JournalError: the file cannot be opened or is no journal.

    One connection is shared under a lock: SQLite serialises writers anyway. Writes are
    **group-committed**: the writes of threads that arrive while a commit is being made
    go together in the next transaction, each in its own savepoint, so concurrent pushes
    share one fsync. A write returns only once the transaction holding it is committed with
    ``synchronous=FULL``: an acknowledged event survives a power cut. Every sqlite3 error is
    raised as :class:`JournalError` (with the original as ``__cause__``).
    """

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        # Checked before anything is opened: a wrong argument creates no file.
        path = _sqlite_path(path)
        timeout = seconds("SQLiteJournal", "timeout", timeout, zero=True)
        self.path = Path(path) if path != ":memory:" else None
        self._lock = threading.Lock()  # the connection; held by whoever commits a group
        self._queue_lock = threading.Lock()
        self._queue: list[_Write] = []  # writes waiting for the next group commit
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: an acknowledged event must survive a power cut, not only a process crash.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_UNREADABLE_SCHEMA)
            *schema, count = _UNREADABLE_TOTALS
            for statement in schema:
                self._conn.execute(statement)
            if not self._conn.execute(UNREADABLE_USAGE).fetchall():  # counted once, not at each opening
                self._conn.execute(count)
        except sqlite3.Error as exc:
            if self._conn is not None:  # opened, then failed (not a database, locked …)
                self._conn.close()
                self._conn = None
            raise JournalError(f"cannot open the journal {path!r} ({type(exc).__name__}: {exc})") from exc

    def __repr__(self) -> str:
        # Never raises, not even for an object whose __init__ failed half-way (a traceback
        # rendered with its frames' locals shows that ``self``).
        path = getattr(self, "path", "(not opened)")
        return f"<SQLiteJournal {str(path) if path else ':memory:'}>"

    def _run(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            if self._conn is None:
                raise JournalError("the journal is closed")
            if self._queue:  # a dispatch outcome queued by _set_soon: read what was written
                self._commit_group()
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"journal {what} failed ({type(exc).__name__}: {exc})") from exc

    def _write(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``job`` in the next group commit; return its result once it is durable."""
        return self._write_all([_Write(job)])[0].outcome()

    def _write_all(self, writes: Sequence[_Write]) -> Sequence[_Write]:
        """Queue ``writes`` for the next group commit; return them once each is durable
        (committed with the others, or finished with its error)."""
        with self._queue_lock:
            self._queue.extend(writes)
        with self._lock:
            if not all(write.done for write in writes):  # no other thread's commit took them
                self._commit_group()
        return writes

    def _commit_group(self) -> JournalError | None:
        """Commit every waiting write in one transaction (the caller holds ``_lock``); the
        transaction's error, if it failed (its unwaited writes are queued again)."""
        with self._queue_lock:
            group, self._queue = self._queue, []
        try:
            if self._conn is None:
                raise JournalError("the journal is closed")
            self._transaction(self._conn, group)
        except JournalError as exc:
            for write in group:
                if not write.unwaited:
                    write.finish(error=exc)
            return exc
        finally:
            self._requeue_unwaited(group)
            # Interrupted (KeyboardInterrupt …): no waiting write is left without an outcome.
            for write in group:
                if not write.done:
                    write.finish(error=JournalError("journal write interrupted"))
        return None

    def _requeue_unwaited(self, group: Sequence[_Write]) -> None:
        """Queue again, ahead of anything queued since, the writes of ``group`` that nobody
        waits for and that were not committed (the transaction failed, or that write alone
        did): a dispatch outcome lands with the next commit that succeeds, never dropped.
        Nothing of a failed write was written, so none is applied twice."""
        retry = [write for write in group if write.unwaited and (not write.done or write.error is not None)]
        if not retry:
            return
        for write in retry:
            write.done, write.error = False, None
        with self._queue_lock:
            self._queue[:0] = retry

    @staticmethod
    def _transaction(conn: sqlite3.Connection, group: Sequence[_Write]) -> None:
        outcomes: list[tuple[Any, JournalError | None]] = []
        bulk = all(write.rows is not None or write.updates is not None for write in group)
        if bulk and SQLiteJournal._bulk_transaction(conn, group):
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [_savepoint(conn, write) for write in group]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed ({type(exc).__name__}: {exc})") from exc
        for write, (result, error) in zip(group, outcomes, strict=True):  # durable now
            write.finish(result, error)

    @staticmethod
    def _bulk_transaction(conn: sqlite3.Connection, group: Sequence[_Write]) -> bool:
        """Commit ``group`` with :func:`_bulk`; False (nothing written) when a statement
        fails: the caller then makes each write in its own savepoint, so that one failing
        write is undone alone."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return False
        try:
            try:
                results = _bulk(conn, group)
            except _NotAllNew:  # a row was there already: again, reading which keys exist first
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = _bulk(conn, group, optimistic=False)
            conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return False
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for write, result in zip(group, results, strict=True):  # durable now
            write.finish(result)
        return True

    def record(self, events: Sequence[Event]) -> list[Event]:
        """Store ``events`` in one transaction; return the ones not stored before, in order.

        A duplicate within ``events`` itself counts once. Either every event is stored or,
        on error, none is (and :class:`JournalError` is raised). Returns once the events
        are on disk (group-committed with concurrent writes).
        """
        new: list[Event] = self._write_all([self._insert(events, now_iso())])[0].outcome()
        return new

    def record_each(self, pushes: Sequence[Sequence[Event]]) -> list[list[Event] | JournalError]:
        """Store several pushes in one transaction, each atomically on its own: for each,
        the events not stored before (as :meth:`record` returns them) or its
        :class:`JournalError` (that push alone is not stored). Returns once they are on disk.

        The async receiver's intake thread stores every push handed over while its last
        commit was on disk this way, in two halves (:meth:`_prepare_each`, then
        :meth:`_commit_each`): one fsync, and one wake-up of the loop, for all of them.
        """
        return self._commit_each(self._prepare_each(pushes))

    def _prepare_each(self, pushes: Sequence[Sequence[Event]]) -> list[_Write]:
        """The writes :meth:`record_each` makes, encoded now, without touching the database: a
        push that cannot be encoded gets a write finished with its :class:`JournalError`."""
        now = now_iso()
        writes: list[_Write] = []
        for events in pushes:
            try:
                writes.append(self._insert(events, now))
            except JournalError as exc:  # an event JSON cannot hold: this push only
                failed = _Write(_nothing)
                failed.finish(error=exc)
                writes.append(failed)
        return writes

    def _commit_each(self, writes: Sequence[_Write]) -> list[list[Event] | JournalError]:
        """Commit the writes :meth:`_prepare_each` made, in one transaction with whatever else
        is queued; each one's outcome once it is on disk (as :meth:`record_each` returns them)."""
        pending = [write for write in writes if not write.done]
        if pending:
            self._write_all(pending)
        return [write.error if write.error is not None else write.result for write in writes]

    @staticmethod
    def _insert(events: Sequence[Event], now: str) -> _Write:
        """The write storing ``events`` (encoded now: :class:`JournalError` when one cannot be)."""
        return _Write(None, events=events, rows=[(*encoded, now) for encoded in encode(events)])

    @staticmethod
    def _keys(write: _Write, events: Sequence[Event]) -> list[str | None]:
        """The keys ``write`` stores ``events`` under (``None`` for one it does not store)."""
        rows = write.rows or ()
        if len(events) == len(rows) and (
            events is write.result  # what the commit answered: every event it was given
            or all(a is b for a, b in zip(events, write.events, strict=True))
        ):
            return [row[0] for row in rows]  # all of them (a push is almost always new)
        known = {id(event): row[0] for event, row in zip(write.events, rows, strict=True)}
        return [known.get(id(event)) for event in events]

    def _set(self, event: Event, state: EventState, error: str | None) -> None:
        self._write_all([self._update(event, state, error)])[0].outcome()

    @staticmethod
    def _update(event: Event, state: EventState, error: str | None, key: str | None = None) -> _Write:
        """The write setting ``event``'s state (``key``: its :func:`event_key`, when known)."""
        key = key if key is not None else event_key(event)
        return _Write(None, updates=[(state.value, error, now_iso(), key)])

    def _set_soon(self, event: Event, state: EventState, error: str | None, key: str | None = None) -> None:
        """Queue the outcome for the next group commit, without waiting for it.

        For dispatch outcomes only: until it is committed, a crash leaves the event pending
        (dispatched again: at least once). Readers of this journal see it at once (every
        read commits what is queued first); :meth:`_flush`, :meth:`close` or the next write
        makes it durable.
        """
        write = self._update(event, state, error, key)
        write.unwaited = True
        with self._queue_lock:
            self._queue.append(write)

    def _set_done_soon(self, keys: Sequence[str]) -> None:
        """:meth:`_set_soon` for several events the handler processed, given by their keys:
        one queued write (and one time stamp) for all of them."""
        if not keys:
            return
        now = now_iso()
        write = _Write(None, updates=[(EventState.DONE.value, None, now, key) for key in keys], unwaited=True)
        with self._queue_lock:
            self._queue.append(write)

    def _change(self, what: str, sql: str, params: Sequence[Any]) -> int:
        return int(self._write(lambda conn: conn.execute(sql, params).rowcount))

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
        write = self._unreadable_write(key, provider, body, content_type, error, bound=bound)
        return self._write_all([write])[0].outcome() is not None

    @staticmethod
    def _unreadable_write(
        key: str,
        provider: str,
        body: bytes,
        content_type: str | None,
        error: str,
        *,
        bound: tuple[int | None, int | None] = (None, None),
    ) -> _Write:
        """The write keeping an unreadable push (checked arguments) within ``bound`` (the most
        pushes, the most bytes; ``None``: no bound), for the next group commit: the async
        receiver's intake thread commits it with the events of its batch. Its result is
        ``key``, or ``None`` when the push is new and the bound leaves no room for it."""
        params = (key, provider, content_type, body, error, now_iso(), *bound, len(body))

        def keep(conn: sqlite3.Connection) -> str | None:
            if conn.execute(_KEEP_UNREADABLE, params).rowcount:
                return key
            # Not kept: the bound, or a totals row deleted by hand (then no push would ever be
            # kept again): that row counted again, and the push tried once more.
            # The row looked up first: the count scans every body, and a push refused at the
            # bound must cost no more than its check.
            if (
                conn.execute(UNREADABLE_USAGE).fetchone() is None
                and conn.execute(_RECOUNT_UNREADABLE).rowcount
            ):
                return key if conn.execute(_KEEP_UNREADABLE, params).rowcount else None
            return None

        return _Write(keep)

    def _flush(self) -> None:
        """Commit the writes queued so far (returns once they are durable)."""
        with self._lock:
            if self._queue and self._conn is not None:
                self._commit_group()

    def close(self) -> None:
        """Commit what is queued, then close the database; later calls raise
        :class:`JournalError`. Idempotent.

        :raises JournalError: the dispatch outcomes queued for the next commit could not be
            committed (the database is locked by another process, the disk is full …). The
            journal then stays open with them still queued, and says how many: call
            :meth:`close` again to retry. Until they are committed their events are pending
            (a process that ends now dispatches them again at its next start: at least once).
        """
        with self._lock:
            if self._conn is None:
                return
            if self._queue:
                error = self._commit_group()
                kept = sum(len(write.updates or ()) for write in self._queue if write.unwaited)
                if error is not None and kept:
                    raise JournalError(
                        f"journal not closed: {kept} dispatch outcome(s) could not be recorded "
                        f"({error}); they stay queued, and close() again retries"
                    ) from error
            self._conn.close()
            self._conn = None
