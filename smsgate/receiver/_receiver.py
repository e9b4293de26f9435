"""The vendor-neutral receiver of provider pushes (delivery reports and inbound messages).

Order of work for each push, and why:

1. parse the body with the provider (``provider.parse_callback``); unparsable → the body is
   kept in the journal as an unreadable push (a dead letter, :meth:`Receiver.unreadable`),
   then a "retry" reply;
2. store every event in the journal, de-duplicated, in one transaction; failure → "retry"
   reply, so the provider delivers again and nothing is lost;
3. acknowledge (``provider.callback_reply(True)``);
4. dispatch the *new* events: observation hooks, then the application's handler; the
   outcome is written back to the journal (done / failed) so failures can be dispatched again.

With ``ack_before_dispatch=False`` steps 3 and 4 swap: the handler runs first and a handler
failure turns the reply into "retry"; the provider's re-delivery then re-dispatches the events
of that push that are not done yet.

Web frameworks reach the receiver through one method, :meth:`Receiver.handle_push` (and its
async twin): it returns the reply and, in ack-first mode, the dispatch to run once the reply
is sent. The adapters :mod:`smsgate.receiver.asgi` and :mod:`smsgate.receiver.wsgi` only move
bytes; this module never imports them (``asgi_app()`` / ``wsgi_app()`` import them lazily).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import functools
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import anyio.to_thread
import attrs

from smsgate import _plugins
from smsgate._models import DeliveryReport, InboundMessage, mask_mobile
from smsgate._provider import CallbackReply, Provider
from smsgate.exceptions import ConfigurationError, JournalError, ValidationError
from smsgate.receiver._journal import (
    ClaimingJournal,
    Event,
    EventState,
    Journal,
    SQLiteJournal,
    event_key,
    number_repeats,
)
from smsgate.receiver._limits import RateLimiter, ServerLimits
from smsgate.receiver._postgres import is_postgres_url
from smsgate.receiver._security import PushGuard, PushRequest, Refusal
from smsgate.receiver._unreadable import (
    DEFAULT_MAX_UNREADABLE,
    DEFAULT_MAX_UNREADABLE_BYTES,
    UnreadablePush,
    UnreadableStore,
    check_bound,
    check_key,
    keyed_unreadable,
    unreadable_error,
)
from smsgate.receiver._workers import Batches, Workers, running_loop

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from smsgate.receiver.wsgi import WSGIApp

__all__ = ["DEFAULT_JOURNAL", "Handler", "Intake", "PushResult", "Receiver"]

log = logging.getLogger("smsgate.receiver")

#: The journal file a :class:`Receiver` uses when given none (relative to the working directory).
DEFAULT_JOURNAL = Path("smsgate-journal.sqlite3")

#: The application's callback: called once per new event; may be a coroutine function.
Handler: TypeAlias = Callable[[Event], None] | Callable[[Event], Awaitable[None]]


@attrs.frozen(kw_only=True)
class Intake:
    """The result of parsing and storing one push, before dispatch.

    :ivar reply: what to answer the provider.
    :ivar stored: True when every event of the push is in the journal.
    :ivar events: every event of the push, in order (duplicates included).
    :ivar new: the events not seen before: the ones to dispatch.
    """

    reply: CallbackReply
    stored: bool
    events: tuple[Event, ...] = ()
    new: tuple[Event, ...] = ()


@attrs.frozen(kw_only=True)
class PushResult:
    """What :meth:`Receiver.handle_push` decided for one push: the reply, and what to run after it.

    :ivar reply: the answer to send the provider now.
    :ivar after_reply: ``None``, or the dispatch of the push's new events, to call once
        ``reply`` has been written (ack-first mode). From :meth:`Receiver.handle_push` it is a
        plain function; from :meth:`Receiver.ahandle_push` a coroutine function. Either
        returns how many events the handler completed.
    """

    reply: CallbackReply
    after_reply: Callable[[], Any] | None = None


#: A push for the intake thread: body, content type, and the loop whose handler threads
#: dispatch its new events once they are stored (``None``: the caller dispatches them).
_Push: TypeAlias = tuple[bytes, str | None, asyncio.AbstractEventLoop | None]


class _Unread:
    """A push the provider could not read, on its way through the intake thread: its body,
    content type and the parser's error; ``kept``: already kept (or not) by its journal, so
    that it has no write in the batch's commit."""

    __slots__ = ("body", "content_type", "error", "kept")

    def __init__(self, body: bytes, content_type: str | None, error: Exception) -> None:
        self.body, self.content_type, self.error = body, content_type, error
        self.kept = False


#: A push parsed and encoded, waiting for its commit: its events (an :class:`_Unread`:
#: unreadable), the journal's write storing them (or keeping the unreadable push), and the
#: push's loop.
_Parsed: TypeAlias = tuple[list[Event] | _Unread, Any, asyncio.AbstractEventLoop | None]


#: The INFO line of a stored push (never its events: they hold phone numbers and text).
_STORED = "push to %s stored: %d event(s), %d new"
#: The WARNING of an unreadable push (never its body: it holds phone numbers and text).
_REJECTED = "push to %s rejected: %s (%d bytes); asking the provider to retry"
#: The WARNING of an unreadable push the journal kept (the start of its key).
_KEPT = "push to %s rejected: %s (%d bytes); kept as unreadable push %s…; asking the provider to retry"
#: The INFO line of a kept push read again (the start of its key, never its body).
_READ_AGAIN = "unreadable push %s… to %s read: %d event(s), %d new"
#: The ERROR of an unreadable push the journal could not keep.
_NOT_KEPT = "push to %s rejected: %s (%d bytes) and not kept (%s); asking the provider to retry"
#: The WARNING of an unreadable push not kept because the kept ones are at their bound.
_FULL = (
    "push to %s rejected: %s (%d bytes) and not kept (the unreadable pushes kept are at their "
    "bound); asking the provider to retry"
)
#: The ERROR starting a period when the kept unreadable pushes are at their bound.
_FULL_ERROR = (
    "unreadable pushes to %s are no longer kept: the journal's are at their bound "
    "(max_unreadable=%s pushes, max_unreadable_bytes=%s); this one (%s, %d bytes) and the next "
    'new ones are only answered "retry", and lost once the provider stops delivering them. Read '
    "the kept ones again (reparse_unreadable) or discard them (smsgate unreadable --journal …)"
)
#: The WARNING ending that period.
_ROOM_AGAIN = "unreadable pushes to %s are kept again (%d not kept while at the bound)"


class _When(enum.Enum):
    """When the new events of a push are dispatched, relative to the reply."""

    NEVER = "never"  # not stored, or nothing new
    BEFORE_REPLY = "before"  # dispatch-first, or the caller cannot run work after replying
    AFTER_REPLY = "after"  # ack-first


def _describe(event: Event) -> str:
    kind = "report" if isinstance(event, DeliveryReport) else "inbound"
    return f"{kind} from {mask_mobile(event.mobile)} (task {event.task_id or '-'})"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Receiver:
    """Receives a provider's pushes, stores them durably, then hands them to ``handler``.

    :param provider: the provider whose pushes arrive here (it parses bodies and words replies).
    :param handler: called once per new event (:class:`~smsgate.DeliveryReport` or
        :class:`~smsgate.InboundMessage`); a plain function or a coroutine function.
        ``None`` stores events without dispatching them (read them from the journal).
    :param journal: a :class:`~smsgate.receiver.Journal`, or a path for a
        :class:`~smsgate.receiver.SQLiteJournal`; default :data:`DEFAULT_JOURNAL`. A journal
        given as an object is not closed by :meth:`close`.
    :param ack_before_dispatch: True (default): acknowledge once stored, then dispatch; a
        handler failure leaves the event ``failed`` for :meth:`redispatch`. False: dispatch
        first and ask the provider to retry when the handler fails.
    :param guard: a :class:`~smsgate.receiver.PushGuard`: who may post (token in the URL,
        source networks, HTTP Basic). The adapters ask :meth:`admit` before the body is
        parsed; a refused push gets a 4xx and is never journaled.
    :param max_unreadable: how many unreadable pushes the journal keeps at most
        (:meth:`unreadable`; default 10,000; ``0`` keeps none, ``None`` sets no bound). A new
        one beyond it is only answered "retry" (a re-delivery of a kept one still counts), and
        an ERROR says so once per period the bound is met. Anyone who can post could otherwise
        fill the disk with distinct garbage bodies.
    :param max_unreadable_bytes: how many bytes of bodies the kept unreadable pushes take at
        most (default 64 MiB; ``None``: no bound). Both bounds are read from running totals in
        the journal, shared by the receivers of one journal (in PostgreSQL the pushes kept at
        the same moment by several processes may pass it by a few).
    :raises ConfigurationError: an argument of the wrong kind, before any file is created:
        ``provider`` no :class:`~smsgate.Provider` (a provider's name included: build it with
        :func:`smsgate.get_provider`), ``handler`` neither callable nor ``None``, ``journal``
        none of the above (or a PostgreSQL URL: pass a
        :class:`~smsgate.receiver.PostgresJournal`), ``ack_before_dispatch`` not a bool,
        ``guard`` no :class:`~smsgate.receiver.PushGuard`, ``max_unreadable`` or
        ``max_unreadable_bytes`` neither a whole number >= 0 nor ``None``.

    A provider without the ``callbacks`` capability is accepted: such a receiver stores and
    dispatches what a pull returned (:meth:`store_pulled`); :meth:`asgi_app` and
    :meth:`wsgi_app` refuse it, since every push they served would be answered "retry", and
    :meth:`handle` (with every method handed a push) and :meth:`admit` refuse a push with a
    :class:`ConfigurationError` for the same reason.

    A call given a wrong argument (a push body that is no bytes, a ``content_type`` that is no
    text, a request that is no :class:`~smsgate.receiver.PushRequest`, events that are no
    events) raises :class:`~smsgate.exceptions.ValidationError` naming it, before anything is
    stored: never a "retry" reply, which would fail the same way on every delivery.

    Guarantees: an acknowledged event is in the journal; an event is dispatched once per
    successful storage (re-deliveries are recognised), so the handler sees each event at least
    once, and exactly once unless the process dies between dispatch and marking it done. A push
    the provider cannot parse is kept by the journal (:meth:`unreadable`; a journal with
    :class:`~smsgate.receiver.UnreadableStore`) before it is answered "retry", to be read again
    with :meth:`reparse_unreadable`.
    """

    def __init__(
        self,
        provider: Provider,
        handler: Handler | None = None,
        *,
        journal: Journal | str | Path | None = None,
        ack_before_dispatch: bool = True,
        guard: PushGuard | None = None,
        max_unreadable: int | None = DEFAULT_MAX_UNREADABLE,
        max_unreadable_bytes: int | None = DEFAULT_MAX_UNREADABLE_BYTES,
    ) -> None:
        # Every argument is checked before anything is built: a wrong one must not leave
        # a journal file behind, nor be found at the first push.
        path = _check_arguments(provider, handler, journal, ack_before_dispatch, guard)
        #: The bound on the unreadable pushes kept: the most pushes, the most bytes of bodies.
        self._unreadable_bound = (
            check_bound("Receiver", "max_unreadable", max_unreadable, ConfigurationError),
            check_bound("Receiver", "max_unreadable_bytes", max_unreadable_bytes, ConfigurationError),
        )
        self.provider = provider
        self.handler = handler
        # A provider without the callbacks capability cannot parse a push: such a receiver
        # stores pulls only, and handle() / admit() refuse a push rather than answer "retry".
        self._takes_pushes = bool(provider.capabilities.callbacks)
        self.ack_before_dispatch = ack_before_dispatch
        self._handler_kind: tuple[Handler | None, bool] = (handler, inspect.iscoroutinefunction(handler))
        self.guard = guard if guard is not None else PushGuard()
        self._refusals = RateLimiter(10.0)
        # Keys of the events being dispatched right now: a concurrent re-delivery (the
        # provider timed out on a slow handler) or redispatch() must not run them twice.
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        # Set by close(): a dispatch loop (a replay in a background thread) stops between events.
        self._closing = threading.Event()
        if path is not None:
            self.journal: Journal = SQLiteJournal(path)
            self._owns_journal = True
        else:
            self.journal = cast(Journal, journal)
            self._owns_journal = False
        # A journal other instances share (PostgreSQL) also holds claims: an event another
        # instance is dispatching is skipped here too.
        self._shared = isinstance(self.journal, ClaimingJournal)
        self._workers = Workers(provider.name)
        # A journal that stores several pushes in one transaction gets them in batches, and
        # the async dispatch queues its outcomes for the next commit; a subclass that changes
        # how a push or an outcome is written keeps the one-by-one path for it.
        self._batched = _inherits(self.journal, "record", "record_each")
        # A journal that keeps unreadable pushes (dead letters); the batched one keeps them in
        # the commit of their batch. Without one, a WARNING says so once.
        self._keeps_unreadable = isinstance(self.journal, UnreadableStore)
        self._unreadable_batched = self._batched and _inherits(
            self.journal, "record_unreadable", "_keep_unreadable"
        )
        self._unkept_said = False  # the WARNING that this journal keeps none: once
        self._unkept_lock = threading.Lock()
        # At the bound: None, or how many new unreadable pushes were not kept since it was met
        # (an ERROR when it is met, a WARNING when there is room again).
        self._full: int | None = None
        self._bounded = self._keeps_unreadable and _takes_bound(self.journal)
        if self._keeps_unreadable and not self._bounded and self._unreadable_bound != (None, None):
            log.warning(
                "the journal of the receiver for %s (%s) keeps unreadable pushes without a bound "
                "(its record_unreadable takes no max_pushes / max_bytes)",
                provider.name,
                type(self.journal).__name__,
            )
        self._outcomes_soon = _inherits(self.journal, "mark_done", "mark_failed", "_set")
        # One thread parses, encodes and commits every push handed over while its last
        # commit was on disk (with the outcomes queued meanwhile), then wakes the loop once.
        # The last result _aserve_push made (frozen: the pushes answered with one reply share it).
        self._last_result: PushResult | None = None
        self._intake_batches: Batches[_Push, Intake] = Batches(
            f"smsgate-{provider.name}-intake", self._intake_each, idle=self._flush_outcomes
        )

    def __repr__(self) -> str:
        # Never raises, not even for an object whose __init__ failed half-way (a traceback
        # rendered with its frames' locals shows that ``self``).
        provider, journal = getattr(self, "provider", None), getattr(self, "journal", None)
        if provider is None or journal is None:
            return "<Receiver (not built)>"
        return f"<Receiver provider={provider.name!r} journal={journal!r}>"

    def close(self) -> None:
        """Stop dispatch loops between events and close the journal if this receiver opened it.

        Events a stopped loop did not reach stay pending, for the next :meth:`redispatch`.

        :raises JournalError: the journal could not record the dispatch outcomes still queued
            (:meth:`SQLiteJournal.close <smsgate.receiver.SQLiteJournal.close>`); it stays open
            with them, and calling :meth:`close` again retries.
        """
        self._closing.set()
        self._workers.close()
        self._intake_batches.close()
        if self._owns_journal:
            self.journal.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- step 0: who may post ---------------------------------------------------------------

    def admit(self, request: PushRequest, body: bytes) -> Refusal | None:
        """``None`` when the push may be handled, else its :class:`~smsgate.receiver.Refusal`.

        Checks the :attr:`guard` (token, source network, credentials), then the provider's
        :meth:`~smsgate.Provider.verify_push` (signed pushes). A refusal is logged without
        the body, at most once per 10 seconds per reason (the next line counts the others).

        :raises ValidationError: ``request`` is no :class:`~smsgate.receiver.PushRequest`, or
            ``body`` no bytes (a ``bytearray`` or ``memoryview`` is read as its bytes).
        :raises ConfigurationError: the provider cannot parse pushes (it does not declare the
            ``callbacks`` capability): this receiver stores pulls only.
        """
        if type(request) is not PushRequest or type(body) is not bytes or not self._takes_pushes:
            body = self._admit_arguments(request, body)
        refusal = self.guard.check(request)
        if refusal is None:
            url = self.guard.public_url or request.url
            try:
                verified = self.provider.verify_push(request.headers, body, url)
            except Exception as exc:
                refusal = Refusal(403, f"signature check failed ({type(exc).__name__})", "signature")
            else:
                refusal = None if verified else Refusal(403, "signature not verified", "signature")
        if refusal is not None:
            self._log_refusal(refusal)
        return refusal

    def _admit_arguments(self, request: object, body: object) -> bytes:
        """:meth:`admit`'s arguments when one is not of the usual type: ``body`` as bytes, or
        the error refusing them."""
        self._check_takes_pushes()
        if not isinstance(request, PushRequest):
            raise ValidationError(
                f"Receiver.admit needs a smsgate.receiver.PushRequest, not {type(request).__name__}",
                field="request",
                provider=self.provider.name,
            )
        return _push_body(body, self.provider.name)

    def _push_arguments(self, body: object, content_type: object) -> bytes:
        """A push's arguments (:meth:`receive` and the methods built on it) when one is not of
        the usual type: ``body`` as bytes, or the error refusing them (raised to the caller:
        a "retry" reply would fail the same way on every delivery)."""
        self._check_takes_pushes()
        data = _push_body(body, self.provider.name)
        if content_type is not None and not isinstance(content_type, str):
            raise ValidationError(
                f"a push's content_type is the request's Content-Type as text (or None), "
                f"not {type(content_type).__name__}",
                field="content_type",
                provider=self.provider.name,
            )
        return data

    def _check_takes_pushes(self) -> None:
        if not self._takes_pushes:
            name = self.provider.name
            raise ConfigurationError(
                f"provider {name!r} does not declare the callbacks capability: it cannot parse "
                "pushes, so this receiver stores pulls only (store_pulled, dispatch)",
                provider=name,
            )

    def _admits_all(self) -> bool:
        """True when :meth:`admit` cannot refuse a push: no check is configured in the guard,
        the provider's :meth:`~smsgate.Provider.verify_push` is the default one (it accepts
        every push) and :meth:`admit` is this class's. The adapters then skip building the
        request's view for it (about a fifth of the push route's own work)."""
        guard = self.guard
        provider = self.provider
        return (
            type(guard) is PushGuard
            and guard.token is None
            and not guard.allow
            and guard.basic is None
            and type(self).admit is Receiver.admit
            and type(provider).verify_push is Provider.verify_push
            and "verify_push" not in getattr(provider, "__dict__", ())
        )

    def _log_refusal(self, refusal: Refusal) -> None:
        suppressed = self._refusals.allow(refusal.kind)
        if suppressed is not None:
            more = f" ({suppressed} similar refusal(s) not logged)" if suppressed else ""
            log.warning(
                "push to %s refused with %d: %s%s",
                self.provider.name,
                refusal.status_code,
                refusal.reason,
                more,
            )

    # --- steps 1-3: parse, store, decide the reply ------------------------------------------

    def _parse(self, body: bytes, content_type: str | None) -> list[Event] | Exception:
        """The events of a push, or the provider's reason it cannot read it."""
        try:
            return number_repeats(list(self.provider.parse_callback(body, content_type)))
        except Exception as exc:
            return exc

    def _unreadable_intake(self, body: bytes, content_type: str | None, exc: Exception) -> Intake:
        """A push the provider could not read: kept by the journal (when it can), then
        answered "retry"."""
        self._keep(body, content_type, exc)
        return Intake(reply=self.provider.callback_reply(False), stored=False)

    def _keep(self, body: bytes, content_type: str | None, exc: Exception) -> None:
        """Keep an unreadable push in the journal, durably, and log it (never the body)."""
        if not self._keeps_unreadable:
            self._log_rejected(body, exc)
            return
        store = cast(UnreadableStore, self.journal)
        error = unreadable_error(exc, body)
        key: str | Exception | None
        try:
            if self._bounded:
                most, size = self._unreadable_bound
                key = store.record_unreadable(
                    self.provider.name, body, content_type, error, max_pushes=most, max_bytes=size
                )
            else:  # a store of an application's own that takes no bound
                key = store.record_unreadable(self.provider.name, body, content_type, error)
        except Exception as journal_exc:
            key = journal_exc
        self._log_unreadable(body, exc, key)

    def _log_rejected(self, body: bytes, exc: Exception) -> None:
        """The WARNING of an unreadable push a journal without :class:`UnreadableStore` cannot
        keep; the first one also says so."""
        log.warning(_REJECTED, self.provider.name, type(exc).__name__, len(body))
        with self._unkept_lock:  # two threads must not both say it
            first, self._unkept_said = not self._unkept_said, True
        if first:
            log.warning(
                "the journal of the receiver for %s (%s) cannot keep unreadable pushes (it has no "
                "record_unreadable: see smsgate.receiver.UnreadableStore): they are only answered "
                '"retry", and lost once the provider stops delivering them again',
                self.provider.name,
                type(self.journal).__name__,
            )

    def _log_unreadable(self, body: bytes, exc: Exception, kept: str | Exception | None) -> None:
        """The log line of an unreadable push: kept (``kept``: its key), not kept for the
        bound (``None``) or for an error (the error)."""
        name, size = self.provider.name, len(body)
        if isinstance(kept, str):
            log.warning(_KEPT, name, type(exc).__name__, size, kept[:12])
            if self._full is not None:
                self._room_again()
        elif kept is None:
            self._at_bound(type(exc).__name__, size)
        else:  # the reason, never the body (a journal's error could quote it)
            log.error(_NOT_KEPT, name, type(exc).__name__, size, unreadable_error(kept, body))

    def _at_bound(self, kind: str, size: int) -> None:
        """An unreadable push not kept, the kept ones being at their bound: an ERROR the first
        time in a period at the bound, a WARNING after."""
        with self._unkept_lock:
            first = self._full is None
            self._full = 1 if first else cast(int, self._full) + 1
        if first:
            log.error(_FULL_ERROR, self.provider.name, *self._unreadable_bound, kind, size)
        else:
            log.warning(_FULL, self.provider.name, kind, size)

    def _room_again(self) -> None:
        """A push was kept while at the bound: a re-delivery (still at the bound), or a new one
        (room again: the period ends). The journal's totals tell, when it has them."""
        usage = getattr(self.journal, "unreadable_usage", None)
        if callable(usage):
            try:
                pushes, size = usage()
            except Exception:  # cannot tell: still at the bound
                return
            most, largest = self._unreadable_bound
            if (most is not None and pushes >= most) or (largest is not None and size >= largest):
                return
        with self._unkept_lock:
            missed, self._full = self._full, None
        if missed is not None:
            log.warning(_ROOM_AGAIN, self.provider.name, missed)

    def _store_failed(self, exc: Exception, events: Sequence[Event]) -> Intake:
        log.error(
            "push to %s not stored (%s); asking the provider to retry",
            self.provider.name,
            _error_text(exc),
        )
        return Intake(reply=self.provider.callback_reply(False), stored=False, events=tuple(events))

    def receive(self, body: bytes, content_type: str | None = None) -> Intake:
        """Parse and store one push without dispatching it (see :meth:`dispatch`).

        Apps use it to answer the provider before running the handler. A push the provider
        cannot parse is kept by the journal (:meth:`unreadable`), then its intake says "retry".

        :raises ValidationError: ``body`` is no bytes (a decoded ``str``, ``None``; a
            ``bytearray`` or ``memoryview`` is read as its bytes), or ``content_type`` is
            neither text nor ``None``: a mistake of the caller's, which a "retry" reply would
            repeat on every delivery. Nothing is stored.
        :raises ConfigurationError: the provider cannot parse pushes (it does not declare the
            ``callbacks`` capability): this receiver stores pulls only.
        """
        if type(body) is not bytes or type(content_type) not in _CONTENT_TYPES or not self._takes_pushes:
            body = self._push_arguments(body, content_type)
        events = self._parse(body, content_type)
        if isinstance(events, Exception):
            return self._unreadable_intake(body, content_type, events)
        try:
            new = self.journal.record(events)
        except Exception as exc:
            return self._store_failed(exc, events)
        return self._intake(events, new)

    def _intake(
        self, events: Sequence[Event], new: Sequence[Event] | Exception, ok: CallbackReply | None = None
    ) -> Intake:
        """The intake of a parsed push the journal answered (its new events, or its error);
        ``ok``: the provider's "stored" reply, when the caller has it."""
        if isinstance(new, Exception):
            return self._store_failed(new, events)
        if not self.ack_before_dispatch:
            try:
                new = self._undone(events, new)
            except Exception as exc:
                return self._store_failed(exc, events)
        return self._stored(events, new, ok)

    def _flush_outcomes(self) -> None:
        """Make the dispatch outcomes queued since the last commit durable (the intake thread
        when idle, or the dispatch itself when no intake thread runs)."""
        try:
            cast(SQLiteJournal, self.journal)._flush()  # _batched checked it
        except Exception as exc:  # they stay queued; the events stay pending meanwhile
            log.error("could not record dispatch outcomes: %s", _error_text(exc))

    def _intake_each(self, pushes: list[_Push]) -> list[Intake]:
        """:meth:`receive` for a batch of pushes, in the intake thread: parse and encode them
        all, then store them in one transaction (each on its own)."""
        return self._commit_each(self._parse_each(pushes))

    def _parse_each(self, pushes: list[_Push]) -> list[_Parsed]:
        """Parse several pushes and encode their journal writes (no I/O): the first half of
        :meth:`_intake_each`."""
        parsed = [self._parse(body, content_type) for body, content_type, _ in pushes]
        journal = cast(SQLiteJournal, self.journal)  # _batched checked it
        writes = iter(journal._prepare_each([events for events in parsed if type(events) is list]))
        return [
            (events, next(writes), push[2])
            if type(events) is list
            else self._unread(push, cast(Exception, events))
            for events, push in zip(parsed, pushes, strict=True)
        ]

    def _unread(self, push: _Push, exc: Exception) -> _Parsed:
        """An unreadable push of a batch, with the write keeping it in the batch's commit (the
        "retry" reply waits for it); a journal that keeps them its own way keeps it now."""
        body, content_type, loop = push
        unread = _Unread(body, content_type, exc)
        if not self._unreadable_batched:
            self._keep(body, content_type, exc)
            unread.kept = True
            return unread, None, loop
        key, name, body, content_type, error = keyed_unreadable(
            self.provider.name, body, content_type, unreadable_error(exc, body)
        )
        write = SQLiteJournal._unreadable_write(
            key, name, body, content_type, error, bound=self._unreadable_bound
        )
        return unread, write, loop

    def _commit_each(self, pushes: list[_Parsed]) -> list[Intake]:
        """The second half: store the parsed pushes in one transaction (each on its own);
        their intakes once on disk.

        The new events of the pushes given a loop are then dispatched together, in order, in
        one of that loop's handler threads: one thread hand-over per batch rather than per
        push (the handler pool bounds how many run at once either way).
        """
        writes = [write for _, write, _ in pushes if write is not None]
        outcomes: Sequence[list[Event] | Exception]
        try:
            outcomes = cast(SQLiteJournal, self.journal)._commit_each(writes) if writes else []
        except Exception as exc:  # the journal as a whole failed (closed …)
            outcomes = [exc] * len(writes)
        intakes, later = self._intakes(pushes, iter(outcomes))
        for loop, (events, keys) in later.items():
            self._workers.detach(self._dispatch_logged, events, loop, keys)
        return intakes

    def _intakes(
        self, pushes: list[_Parsed], answers: Iterator[list[Event] | Exception]
    ) -> tuple[list[Intake], dict[asyncio.AbstractEventLoop, tuple[list[Event], list[str | None]]]]:
        """The intake of each parsed push (``answers``: the commit's, one per push that has a
        write), and the new events of the pushes given a loop, with their keys, by loop."""
        ok = self.provider.callback_reply(True)  # one reply object for the batch's stored pushes
        info = log.isEnabledFor(logging.INFO)  # asked once per batch, not once per push
        intakes: list[Intake] = []
        later: dict[asyncio.AbstractEventLoop, tuple[list[Event], list[str | None]]] = {}
        for events, write, loop in pushes:
            if type(events) is not list:
                intakes.append(self._unread_intake(cast(_Unread, events), write, answers))
                continue
            new = next(answers)
            stored: Sequence[Event]
            if type(new) is list and self.ack_before_dispatch:  # stored (nearly every push)
                if info:
                    log.info(_STORED, self.provider.name, len(events), len(new))
                intake = Intake(reply=ok, stored=True, events=tuple(events), new=tuple(new))
                stored = new  # the list the commit answered: its keys are taken without a walk
            else:
                intake = self._intake(events, new, ok)
                stored = intake.new
            intakes.append(intake)
            if loop is not None and stored:
                dispatch, keys = later.setdefault(loop, ([], []))
                dispatch.extend(stored)
                keys.extend(SQLiteJournal._keys(write, stored))  # not hashed again
        return intakes, later

    def _unread_intake(
        self, unread: _Unread, write: Any, answers: Iterator[list[Event] | Exception]
    ) -> Intake:
        """The intake of an unreadable push of a batch, once the commit keeping it is on disk
        (``answers``: the commit's, from which its own is taken when it had a write)."""
        if not unread.kept and write is not None:
            # The key it is kept under, None (at the bound) or the commit's error.
            kept: object = next(answers)
            if not isinstance(kept, str | Exception | None):
                kept = JournalError("the journal did not say whether it kept the push")
            self._log_unreadable(unread.body, unread.error, kept)
        return Intake(reply=self.provider.callback_reply(False), stored=False)

    async def areceive(self, body: bytes, content_type: str | None = None) -> Intake:
        """Async :meth:`receive`: parsing and the journal run in a worker thread, so a slow
        disk never blocks the event loop. With the SQLite journal, the pushes that arrive while
        one commit is on disk are parsed and stored together by one thread: one fsync and one
        wake-up of the loop for all of them. Its arguments are refused as :meth:`receive`'s."""
        if type(body) is not bytes or type(content_type) not in _CONTENT_TYPES or not self._takes_pushes:
            body = self._push_arguments(body, content_type)
        if self._batched and running_loop() is not None:
            return await self._intake_batches.submit((body, content_type, None))
        return await self._workers.journal(self.receive, body, content_type)

    def store_pulled(self, events: Sequence[Event]) -> list[Event]:
        """Store events a *pull* returned, in one transaction; return the new ones, to
        :meth:`dispatch`. Repeats of one inbound message are numbered as in a push.

        A pull has no sender to ask for a retry: a journal failure is raised
        (:class:`~smsgate.receiver.JournalError`), and the caller then holds the only copy of
        the events (pulls are destructive at most vendors).

        :raises ValidationError: ``events`` is not a sequence (any iterable) of
            :class:`~smsgate.DeliveryReport` and :class:`~smsgate.InboundMessage`; nothing is
            stored.
        """
        pulled = _events_given(events, "store_pulled", self.provider.name)
        new = self.journal.record(number_repeats(pulled))
        log.info("pulled events stored: %d event(s), %d new", len(pulled), len(new))
        return new

    def _undone(self, events: Sequence[Event], new: Sequence[Event]) -> list[Event]:
        # Dispatch-first mode: a re-delivery must re-dispatch what its first delivery failed on.
        out = list(new)
        for event in events:
            if event not in out and self.journal.state(event) is not EventState.DONE:
                out.append(event)
        return out

    def _stored(
        self, events: Sequence[Event], new: Sequence[Event], ok: CallbackReply | None = None
    ) -> Intake:
        log.info(_STORED, self.provider.name, len(events), len(new))
        reply = ok if ok is not None else self.provider.callback_reply(True)
        return Intake(reply=reply, stored=True, events=tuple(events), new=tuple(new))

    # --- step 4: dispatch --------------------------------------------------------------------

    def _record(
        self, event: Event, exc: Exception | None, *, soon: bool = False, key: str | None = None
    ) -> None:
        """Write the handler's outcome on ``event`` (``exc`` None: done) to the journal.

        ``soon`` (async dispatch with the SQLite journal): queue the outcome for the next commit
        (the next pushes' or the intake thread's when idle) instead of waiting for a commit of
        its own. ``key``: the event's key, when the caller has it.
        """
        if exc is not None:
            log.error("handler failed on %s: %s", _describe(event), type(exc).__name__)
            log.debug("handler failure detail", exc_info=exc)
        # The event is stored already; if its state cannot be written it stays "pending" and
        # is dispatched again by redispatch(): at least once, never lost.
        try:
            if soon:
                journal = cast(SQLiteJournal, self.journal)  # _outcomes_soon checked it
                state = EventState.DONE if exc is None else EventState.FAILED
                journal._set_soon(event, state, None if exc is None else _error_text(exc), key)
            elif exc is None:
                self.journal.mark_done(event)
            else:
                self.journal.mark_failed(event, _error_text(exc))
        except Exception as journal_exc:
            log.error("could not record the dispatch of %s: %s", _describe(event), _error_text(journal_exc))

    def _claim(self, event: Event, key: str | None = None) -> str | None:
        """Mark ``event`` as being dispatched; None when another dispatch already has it.
        ``key``: its :func:`~smsgate.receiver.event_key`, when the caller has it."""
        key = key if key is not None else event_key(event)
        with self._in_flight_lock:
            if key in self._in_flight:
                log.info("%s is being dispatched already; skipped here", _describe(event))
                return None
            self._in_flight.add(key)
        if self._shared and not self._claim_shared(event):
            self._release(key)
            return None
        return key

    def _claim_shared(self, event: Event) -> bool:
        """Claim ``event`` in a journal other instances share; False: leave it to them."""
        journal = cast(ClaimingJournal, self.journal)  # _shared checked it
        try:
            taken = journal.claim(event)
        except Exception as exc:  # stays stored and pending: a later redispatch takes it
            log.error("could not claim %s: %s", _describe(event), _error_text(exc))
            return False
        if not taken:
            log.info("%s is done or being dispatched by another instance; skipped here", _describe(event))
        return taken

    def _release(self, key: str, event: Event | None = None) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(key)
        if event is not None and self._shared:
            journal = cast(ClaimingJournal, self.journal)  # _shared checked it
            try:
                journal.release(event)
            except Exception as exc:  # the claim lapses after its lease instead
                log.warning("could not release the claim on %s: %s", _describe(event), _error_text(exc))

    def _due(
        self, events: Sequence[Event], *, recheck: bool = False, keys: Sequence[str | None] = ()
    ) -> Generator[tuple[Event, Handler, str], None, None]:
        """The events to hand to the handler, each with it and its key; the part both dispatch
        twins share.

        Each event is claimed while the caller works on it (released when the caller asks for
        the next one or closes this generator) and the observation hooks see it first. Without
        a handler, events are only observed. ``recheck``: skip an event the journal says is
        done by now (a replay running while pushes arrive). ``keys``: the events' keys, in
        order, when the caller has them (``None`` or missing: computed here).
        """
        for index, event in enumerate(events):
            if self._closing.is_set():
                return
            key = self._claim(event, keys[index] if index < len(keys) else None)
            if key is None:
                continue
            if recheck and self._done_meanwhile(event):
                self._release(key, event)
                continue
            try:
                _plugins.notify_event(event)
                if self.handler is not None:
                    yield event, self.handler, key
            finally:
                self._release(key, event)

    def _done_meanwhile(self, event: Event) -> bool:
        try:
            return self.journal.state(event) is EventState.DONE
        except Exception:
            return False  # cannot tell: dispatch it (at least once)

    def dispatch(self, events: Sequence[Event], *, recheck: bool = False) -> int:
        """Hand ``events`` to the hooks and the handler; return how many the handler completed.

        A coroutine-function handler is run to completion with :func:`anyio.run`. Handler
        errors are recorded in the journal, never raised. An event another thread or task is
        dispatching at this moment is skipped (and not counted as completed).

        :raises ValidationError: ``events`` is not a sequence (any iterable) of
            :class:`~smsgate.DeliveryReport` and :class:`~smsgate.InboundMessage`; none is
            dispatched.
        """
        if not _plain_events(events):
            events = _events_given(events, "dispatch", self.provider.name)
        return self._dispatch(events, recheck, None)

    def _dispatch(
        self,
        events: Sequence[Event],
        recheck: bool,
        loop: asyncio.AbstractEventLoop | None,
        keys: Sequence[str | None] = (),
    ) -> int:
        """:meth:`dispatch`; with ``loop`` (called from a worker thread of that loop), an
        awaitable a sync handler returns is awaited on ``loop``, as :meth:`adispatch` does.
        ``keys``: the events' keys, when the caller has them."""
        done = 0
        soon = loop is not None and self._outcomes_soon
        with contextlib.closing(self._due(events, recheck=recheck, keys=keys)) as due:
            for event, handler, key in due:
                error = _call(handler, event, loop)
                self._record(event, error, soon=soon, key=key)
                done += error is None
        if soon and not self._intake_batches.running:  # no idle intake thread will commit them
            self._flush_outcomes()
        return done

    async def adispatch(self, events: Sequence[Event], *, recheck: bool = False) -> int:
        """Async :meth:`dispatch`: a sync handler and the journal run in worker threads.

        Under asyncio a sync handler (or none) gets one worker thread for the whole dispatch:
        claims, hooks, handler and journal writes, one thread hop in all. Its ``events`` are
        refused as :meth:`dispatch`'s.
        """
        if not _plain_events(events):
            events = _events_given(events, "adispatch", self.provider.name)
        return await self._adispatch(events, recheck)

    async def _adispatch(self, events: Sequence[Event], recheck: bool) -> int:
        """:meth:`adispatch` of events known to be events (a push's own)."""
        loop = running_loop()
        if loop is not None and not inspect.iscoroutinefunction(self.handler):
            return await self._workers.handler(self._dispatch, events, recheck, loop)
        done = 0
        with contextlib.closing(self._due(events, recheck=recheck)) as due:
            for event, handler, key in due:
                error = await _acall(handler, event)
                if self._outcomes_soon and loop is not None:  # queued, not written: no thread
                    self._record(event, error, soon=True, key=key)
                else:
                    await self._workers.journal(self._record, event, error)
                done += error is None
        if self._outcomes_soon and loop is not None and not self._intake_batches.running:
            await self._workers.journal(self._flush_outcomes)
        return done

    # --- the whole exchange ------------------------------------------------------------------

    def _when(self, intake: Intake, *, defer: bool) -> _When:
        """The ack-first / dispatch-first rule, in one place."""
        if not intake.stored or not intake.new:
            return _When.NEVER
        if self.ack_before_dispatch and defer:
            return _When.AFTER_REPLY
        return _When.BEFORE_REPLY

    def _result(self, intake: Intake, when: _When, done: int, later: Callable[[], Any]) -> PushResult:
        if when is _When.AFTER_REPLY:
            return PushResult(reply=intake.reply, after_reply=later)
        if when is _When.BEFORE_REPLY:
            return PushResult(reply=self._final_reply(intake, done))
        return PushResult(reply=intake.reply)

    def handle_push(self, body: bytes, content_type: str | None = None, *, defer: bool = True) -> PushResult:
        """Process one push for a web framework: parse, store, and dispatch now or later.

        In ack-first mode (``ack_before_dispatch=True``, the default) the new events are left
        for :attr:`PushResult.after_reply`, which the caller runs once the reply is written;
        with ``defer=False``, or in dispatch-first mode, they are dispatched before this
        returns and a handler failure turns the reply into "retry" (dispatch-first only).
        ``content_type`` is passed to the provider, which may ignore it. Wrong arguments are
        refused as :meth:`handle`'s.
        """
        intake = self.receive(body, content_type)
        when = self._when(intake, defer=defer)
        # The push's own events: dispatched without dispatch()'s look at its argument.
        done = self._dispatch(intake.new, False, None) if when is _When.BEFORE_REPLY else 0
        return self._result(intake, when, done, functools.partial(self._dispatch, intake.new, False, None))

    async def ahandle_push(
        self, body: bytes, content_type: str | None = None, *, defer: bool = True
    ) -> PushResult:
        """Async :meth:`handle_push`; its ``after_reply`` is a coroutine function."""
        intake, when, done = await self._ahandle(body, content_type, defer)
        return self._result(intake, when, done, functools.partial(self._adispatch, intake.new, False))

    async def _ahandle(self, body: bytes, content_type: str | None, defer: bool) -> tuple[Intake, _When, int]:
        intake = await self.areceive(body, content_type)
        when = self._when(intake, defer=defer)
        done = await self._adispatch(intake.new, False) if when is _When.BEFORE_REPLY else 0
        return intake, when, done

    async def _aserve_push(
        self,
        body: bytes,
        content_type: str | None,
        loop: asyncio.AbstractEventLoop | EllipsisType | None = ...,
    ) -> PushResult:
        """:meth:`ahandle_push` for the ASGI adapter, which never reads the dispatch's count
        (``loop``: the running asyncio loop when the adapter found it, ``None`` under another
        event loop; by default looked up here).

        In ack-first mode with the batched journal and a sync handler (or none), the intake
        thread starts the dispatch of the new events in a handler thread as soon as they are
        durable, while the loop sends the reply: the same order (stored, then dispatched,
        never holding up the reply) without waking the loop again for it.
        """
        if loop is ...:
            loop = running_loop()
        if loop is None or not self._batched or not self.ack_before_dispatch or self._async_handler():
            return await self.ahandle_push(body, content_type)
        intake = await self._intake_batches.submit((body, content_type, loop), loop)
        last = self._last_result  # the stored pushes of a commit share their reply: and one result
        if last is not None and last.reply is intake.reply:
            return last
        result = self._last_result = PushResult(reply=intake.reply)
        return result

    def _async_handler(self) -> bool:
        """Whether :attr:`handler` is a coroutine function (asked once per handler set)."""
        handler = self.handler
        known, is_async = self._handler_kind
        if handler is not known:
            is_async = inspect.iscoroutinefunction(handler)
            self._handler_kind = (handler, is_async)
        return is_async

    def _dispatch_logged(
        self, events: Sequence[Event], loop: asyncio.AbstractEventLoop, keys: Sequence[str | None] = ()
    ) -> None:
        """A detached dispatch: nobody awaits it, so what it raises is logged here (its events
        stay pending in the journal, for :meth:`redispatch`)."""
        try:
            if self._outcomes_soon and not self._shared and None not in keys:
                self._dispatch_soon(events, loop, cast(Sequence[str], keys))
            else:
                self._dispatch(events, False, loop, keys)
        except Exception as exc:
            log.error("dispatch of %d event(s) failed: %s", len(events), _error_text(exc))

    def _dispatch_soon(
        self, events: Sequence[Event], loop: asyncio.AbstractEventLoop, keys: Sequence[str]
    ) -> None:
        """:meth:`_dispatch` of the new events of a batch of pushes (the SQLite journal, its
        outcomes queued for the next commit), with the per-event work done once per batch:
        the events are claimed under one lock, the observation hooks looked up once, the
        "done" marks queued as one write, and the events released together once their
        outcomes are queued (the unreached ones too, when the receiver closes meanwhile:
        they stay pending, for :meth:`redispatch`).
        """
        journal = cast(SQLiteJournal, self.journal)  # _outcomes_soon checked it
        in_flight = self._in_flight
        claimed: list[tuple[Event, str]] = []
        with self._in_flight_lock:
            for event, key in zip(events, keys, strict=True):
                if key in in_flight:
                    log.info("%s is being dispatched already; skipped here", _describe(event))
                    continue
                in_flight.add(key)
                claimed.append((event, key))
        observed = _plugins.observed("report_received") or _plugins.observed("inbound_received")
        done: list[str] = []
        try:
            for event, key in claimed:
                if self._closing.is_set():
                    return
                if observed:
                    _plugins.notify_event(event)
                handler = self.handler
                if handler is not None:
                    error = _call(handler, event, loop)
                    if error is None:
                        done.append(key)
                    else:
                        self._record(event, error, soon=True, key=key)
        finally:
            journal._set_done_soon(done)  # queued before the events are released
            with self._in_flight_lock:
                in_flight.difference_update(key for _, key in claimed)
            if not self._intake_batches.running:  # no idle intake thread will commit them
                self._flush_outcomes()

    def handle(self, body: bytes, content_type: str | None = None) -> CallbackReply:
        """Process one push: parse, store, dispatch; return the reply for the provider.

        The handler runs before this returns, whatever ``ack_before_dispatch`` says; it only
        decides whether a handler failure turns the reply into "retry". ``content_type`` is
        passed to the provider, which may ignore it (some vendors send a wrong one).

        :raises ValidationError: ``body`` is no bytes (a decoded ``str``, ``None``; a
            ``bytearray`` or ``memoryview`` is read as its bytes) or ``content_type`` neither
            text nor ``None``; nothing is stored, and no reply is made: the caller's mistake.
        :raises ConfigurationError: the provider cannot parse pushes (no ``callbacks``
            capability): this receiver stores pulls only.
        """
        return self.handle_push(body, content_type, defer=False).reply

    async def ahandle(self, body: bytes, content_type: str | None = None) -> CallbackReply:
        """Async :meth:`handle`; ``handler`` may be sync (run in a thread) or async."""
        return (await self.ahandle_push(body, content_type, defer=False)).reply

    def _final_reply(self, intake: Intake, done: int) -> CallbackReply:
        if self.ack_before_dispatch or self.handler is None or done == len(intake.new):
            return intake.reply
        return self.provider.callback_reply(False)

    def redispatch(self) -> int:
        """Dispatch again every stored event not yet done; return how many now are.

        Call it at start-up (events stored just before a crash) and after fixing a handler;
        it may run while pushes are served (in a background thread, say): an event a push
        dispatched meanwhile is not dispatched again. Observation hooks fire again for these
        events.
        """
        return self.dispatch(self.journal.pending(), recheck=True)

    async def aredispatch(self) -> int:
        """Async :meth:`redispatch`."""
        return await self.adispatch(await self._workers.journal(self.journal.pending), recheck=True)

    # --- unreadable pushes (dead letters) ----------------------------------------------------

    def _unreadable_store(self) -> UnreadableStore | None:
        """The journal as an :class:`UnreadableStore`, or ``None`` when it keeps no pushes."""
        return cast(UnreadableStore, self.journal) if self._keeps_unreadable else None

    def unreadable(self) -> list[UnreadablePush]:
        """The pushes the provider could not read, kept by the journal, oldest first (every
        provider's, when several receivers share the journal).

        Empty with a journal that keeps none (one without
        :class:`~smsgate.receiver.UnreadableStore`).
        """
        store = self._unreadable_store()
        return [] if store is None else store.unreadable()

    def discard_unreadable(self, key: str) -> bool:
        """Forget the kept push ``key`` (its :attr:`UnreadablePush.key
        <smsgate.receiver.UnreadablePush.key>`): read by hand, or not worth keeping. False
        when none has that key (or the journal keeps none).

        :raises ValidationError: ``key`` is no text.
        """
        key = check_key(key, "discard_unreadable")
        store = self._unreadable_store()
        return False if store is None else store.discard_unreadable(key)

    def reparse_unreadable(self, *, dispatch: bool = True) -> int:
        """Parse every kept push of this receiver's provider again (after a parser fix or an
        upgrade); return how many could be read now.

        The events of a push read now are stored with the journal's ``record`` (de-duplicated,
        as a push's), the push is discarded from the kept ones, and the new events are then
        dispatched as :meth:`dispatch` does (hooks, then the handler; outcomes recorded), less
        those a :meth:`redispatch` running meanwhile has done already. A push still unreadable
        stays kept, with its new error. Kept pushes of other providers
        (a shared journal) are left alone. It may run while pushes are served.

        ``dispatch=False`` stores the new events without dispatching them (no hook, no
        handler): they stay pending in the journal for the next :meth:`redispatch` (of this
        receiver, or of the one serving the journal: ``smsgate unreadable --reparse`` does this).

        :raises ConfigurationError: the provider cannot parse pushes (no ``callbacks``
            capability).
        :raises JournalError: the journal failed (the kept pushes not read yet stay kept; the
            events already stored are dispatched first).
        """
        read, new, error = self._reread()
        if dispatch:  # recheck: a replay running meanwhile may have dispatched them already
            self._dispatch(new, True, None)
        if error is not None:
            raise error
        return read

    async def areparse_unreadable(self, *, dispatch: bool = True) -> int:
        """Async :meth:`reparse_unreadable`: parsing and the journal in a worker thread, the
        dispatch as :meth:`adispatch` does it (none with ``dispatch=False``)."""
        read, new, error = await self._workers.journal(self._reread)
        if dispatch:  # recheck: a replay running meanwhile may have dispatched them already
            await self._adispatch(new, True)
        if error is not None:
            raise error
        return read

    def _reread(self) -> tuple[int, list[Event], Exception | None]:
        """:meth:`reparse_unreadable` up to the dispatch: how many kept pushes were read, their
        new events, and the error that stopped it (``None``: none did)."""
        self._check_takes_pushes()
        store = self._unreadable_store()
        read = 0
        new: list[Event] = []
        if store is None:
            return read, new, None
        name = self.provider.name
        try:
            for push in store.unreadable():
                if self._closing.is_set():
                    break
                if push.provider != name:
                    continue
                events = self._parse(push.body, push.content_type)
                if isinstance(events, Exception):
                    self._still_unreadable(store, push, events)
                    continue
                stored = self.journal.record(events)
                new.extend(stored)  # durable now: dispatched even if the discard fails
                store.discard_unreadable(push.key)
                log.info(_READ_AGAIN, push.key[:12], name, len(events), len(stored))
                read += 1
        except Exception as exc:
            log.error("reading the unreadable pushes to %s again failed: %s", name, _error_text(exc))
            return read, new, exc
        return read, new, None

    def _still_unreadable(self, store: UnreadableStore, push: UnreadablePush, exc: Exception) -> None:
        """A kept push the provider still cannot read: its new error noted (when the store
        can: ``update_unreadable``), never its body logged."""
        log.info(
            "unreadable push %s… to %s still unreadable: %s", push.key[:12], push.provider, type(exc).__name__
        )
        error = unreadable_error(exc, push.body)
        update = getattr(store, "update_unreadable", None)
        if error != push.error and callable(update):
            update(push.key, error)

    # --- web apps ----------------------------------------------------------------------------

    def asgi_app(self, *, max_body: int | None = None, limits: ServerLimits | None = None) -> Starlette:
        """An ASGI app (Starlette) answering POST ``/`` (and ``/<token>``) with this receiver:
        the same as :func:`smsgate.receiver.asgi.asgi_app` ``(receiver)``.

        Mount it in Starlette or FastAPI (``Mount("/callbacks/acme", app=receiver.asgi_app())``)
        and give the provider the URL with the trailing slash. Bodies over ``max_body`` bytes
        (default ``limits.max_body``, 1 MiB) get 413, bodies slower than ``limits.body_timeout``
        get 408. Needs the ``receiver`` extra (starlette).
        """
        from smsgate.receiver.asgi import asgi_app  # noqa: PLC0415 - starlette is optional

        return asgi_app(self, max_body=max_body, limits=limits)

    def wsgi_app(self, *, max_body: int | None = None) -> WSGIApp:
        """A WSGI app answering POST ``/`` with this receiver (Flask, Django, any WSGI server):
        the same as :func:`smsgate.receiver.wsgi.wsgi_app` ``(receiver)``."""
        from smsgate.receiver.wsgi import wsgi_app  # noqa: PLC0415 - the adapter depends on us

        return wsgi_app(self, max_body=max_body)


def _check_arguments(
    provider: object, handler: object, journal: object, ack_before_dispatch: object, guard: object
) -> str | None:
    """:class:`Receiver`'s arguments, each refused with a :class:`ConfigurationError` naming it;
    the path of the SQLite journal to open, or ``None`` when ``journal`` is a journal object."""
    if not isinstance(provider, Provider):
        hint = (
            f": build one with smsgate.get_provider({provider!r}, ...) and pass it"
            if isinstance(provider, str)
            else ""
        )
        raise ConfigurationError(
            f"Receiver needs a smsgate.Provider, not {type(provider).__name__} {provider!r}{hint}"
        )
    if handler is not None and not callable(handler):
        raise ConfigurationError(
            f"Receiver's handler must be a function (or None), not {type(handler).__name__} {handler!r}",
            provider=provider.name,
        )
    if not isinstance(ack_before_dispatch, bool):
        raise ConfigurationError(
            f"Receiver's ack_before_dispatch must be True or False, not {ack_before_dispatch!r}",
            provider=provider.name,
        )
    if guard is not None and not isinstance(guard, PushGuard):
        raise ConfigurationError(
            f"Receiver's guard must be a smsgate.receiver.PushGuard (or None), not {type(guard).__name__}",
            provider=provider.name,
        )
    return _journal_path(journal, provider.name)


#: The types of a push's ``content_type`` :meth:`Receiver.receive` takes without a second look.
_CONTENT_TYPES = (str, type(None))


def _push_body(body: object, provider: str) -> bytes:
    """A push's body as bytes (a ``bytearray`` or ``memoryview`` read as its bytes, as the
    providers' ``parse_callback`` do); anything else is a :class:`ValidationError`."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise ValidationError(
        f"a push body is the request's raw bytes, not {type(body).__name__} (pass the bytes "
        "the request carried, undecoded)",
        field="body",
        provider=provider,
    )


#: The containers and the events :meth:`Receiver.dispatch` takes without a closer look.
_EVENT_LISTS = (tuple, list)
_EVENT_TYPES = (DeliveryReport, InboundMessage)


def _plain_events(events: object) -> bool:
    """True when ``events`` is a tuple or list of events of the exact model types (what the
    receiver and the journal hand :meth:`Receiver.dispatch`): nothing more to look at."""
    if type(events) not in _EVENT_LISTS:
        return False
    for event in cast(Sequence[object], events):  # noqa: SIM110 - all() over a generator costs twice this
        if type(event) not in _EVENT_TYPES:
            return False
    return True


def _events_given(events: object, method: str, provider: str) -> list[Event]:
    """The ``events`` argument of :meth:`Receiver.store_pulled` / :meth:`Receiver.dispatch` as
    a list; anything that is no iterable of events is a :class:`ValidationError` naming the
    first wrong item's type (never an event's content: phone numbers and text)."""
    if isinstance(events, str | bytes | bytearray) or not isinstance(events, Iterable):
        raise ValidationError(
            f"{method} takes a sequence of DeliveryReport and InboundMessage events, "
            f"not {type(events).__name__}",
            field="events",
            provider=provider,
        )
    given = list(events)
    for index, event in enumerate(given):
        if not isinstance(event, DeliveryReport | InboundMessage):
            raise ValidationError(
                f"{method} takes DeliveryReport and InboundMessage events; item {index} "
                f"is {type(event).__name__}",
                field="events",
                provider=provider,
            )
    return given


def _journal_path(journal: object, provider: str) -> str | None:
    """The path of the SQLite journal ``journal`` names (``None``: the default file), or
    ``None`` for a :class:`Journal` object; anything else is a :class:`ConfigurationError`."""
    if journal is None:
        return str(DEFAULT_JOURNAL)
    if isinstance(journal, str | os.PathLike):
        path = os.fspath(journal)
        if not isinstance(path, str) or not path:
            raise ConfigurationError(
                f"Receiver's journal path must be a non-empty text path, not {journal!r}", provider=provider
            )
        if is_postgres_url(path):  # the URL may hold a password: never in the message
            raise ConfigurationError(
                "Receiver's journal is a PostgreSQL URL: pass smsgate.receiver.PostgresJournal(url), "
                "a path names a SQLite file",
                provider=provider,
            )
        return path
    if not isinstance(journal, Journal):
        missing = [name for name in _JOURNAL_METHODS if not callable(getattr(journal, name, None))]
        raise ConfigurationError(
            f"Receiver's journal must be a path (str or os.PathLike), a journal object (a "
            f"smsgate.receiver.Journal: {', '.join(_JOURNAL_METHODS)}) or None, not "
            f"{type(journal).__name__} {journal!r} (it has no {', '.join(missing)})",
            provider=provider,
        )
    return None


#: The methods a journal object must have (:class:`~smsgate.receiver.Journal`).
_JOURNAL_METHODS = ("record", "mark_done", "mark_failed", "state", "pending", "close")


def _takes_bound(journal: Journal) -> bool:
    """Whether the ``record_unreadable`` of ``journal`` takes ``max_pushes`` and ``max_bytes``
    (a store of an application's own, written before the bound, may not)."""
    try:
        parameters = inspect.signature(cast(UnreadableStore, journal).record_unreadable).parameters
    except (TypeError, ValueError):  # no signature to read: call it as the protocol says
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return True
    return "max_pushes" in parameters and "max_bytes" in parameters


def _inherits(journal: Journal, *names: str) -> bool:
    """True when ``journal`` is a :class:`SQLiteJournal` whose ``names`` are SQLiteJournal's own."""
    kind = type(journal)
    return issubclass(kind, SQLiteJournal) and all(
        getattr(kind, name) is getattr(SQLiteJournal, name) for name in names
    )


def _call(handler: Handler, event: Event, loop: asyncio.AbstractEventLoop | None = None) -> Exception | None:
    """Run ``handler`` on ``event`` to completion; return its exception, if any. An awaitable
    it returns runs on ``loop`` (this thread waiting), or without one on a new loop."""
    try:
        result = handler(event)
        if result is None:  # most handlers: no awaitable to look for
            return None
        if inspect.isawaitable(result) and loop is not None:
            _await_on(loop, result)
        elif inspect.isawaitable(result):
            anyio.run(_await, result)
    except Exception as exc:
        return exc
    return None


async def _acall(handler: Handler, event: Event) -> Exception | None:
    """Async :func:`_call`: a coroutine function is awaited, anything else runs in a thread."""
    try:
        if inspect.iscoroutinefunction(handler):
            await handler(event)
        else:
            result = await anyio.to_thread.run_sync(handler, event)
            if inspect.isawaitable(result):
                await result
    except Exception as exc:
        return exc
    return None


async def _await(result: Awaitable[Any]) -> None:
    await result


def _await_on(loop: asyncio.AbstractEventLoop, result: Awaitable[Any]) -> None:
    """Run ``result`` on ``loop`` from one of its worker threads, waiting for it; a loop that
    stops meanwhile fails it (the event stays in the journal, to be dispatched again)."""
    future = asyncio.run_coroutine_threadsafe(_await(result), loop)
    while not concurrent.futures.wait([future], timeout=1.0).done:
        if not loop.is_running():
            future.cancel()
            raise RuntimeError("the event loop stopped before the handler finished")
    future.result()
