"""Receive a provider's pushes (delivery reports, inbound messages) safely.

>>> from smsgate.receiver import Receiver
>>> receiver = Receiver(provider, handle_event, journal="callbacks.sqlite3")  # doctest: +SKIP
>>> app = receiver.asgi_app()     # mount in Starlette / FastAPI           # doctest: +SKIP
>>> wsgi = receiver.wsgi_app()    # or serve with any WSGI server          # doctest: +SKIP

Every push is parsed by the provider, de-duplicated and written to a durable journal
*before* the provider is told it arrived; then new events go to the observation hooks and to
``handle_event``. A push the provider cannot read is kept too (:class:`UnreadablePush`,
:meth:`Receiver.unreadable`) before it is answered "retry", to be read again once the parser
is fixed (:meth:`Receiver.reparse_unreadable`). See ``docs/receiver.md`` for the guarantees.

Web frameworks reach a receiver through one method, :meth:`Receiver.handle_push` (async:
:meth:`Receiver.ahandle_push`). The adapters built on it are :mod:`smsgate.receiver.asgi`
(needs the ``receiver`` extra) and :mod:`smsgate.receiver.wsgi`; :class:`ServerThread` serves
any ASGI app in a background thread.
"""

from __future__ import annotations

from smsgate.receiver._journal import (
    ClaimingJournal,
    Event,
    EventState,
    Journal,
    JournalEntry,
    JournalError,
    SQLiteJournal,
    event_key,
)
from smsgate.receiver._limits import RateLimitFilter, ServerLimits
from smsgate.receiver._postgres import PostgresJournal
from smsgate.receiver._receiver import DEFAULT_JOURNAL, Handler, Intake, PushResult, Receiver
from smsgate.receiver._security import PushGuard, PushRequest, Refusal
from smsgate.receiver._server import ServerThread
from smsgate.receiver._unreadable import UnreadablePush, UnreadableStore

__all__ = [
    "DEFAULT_JOURNAL",
    "ClaimingJournal",
    "Event",
    "EventState",
    "Handler",
    "Intake",
    "Journal",
    "JournalEntry",
    "JournalError",
    "PostgresJournal",
    "PushGuard",
    "PushRequest",
    "PushResult",
    "RateLimitFilter",
    "Receiver",
    "Refusal",
    "SQLiteJournal",
    "ServerLimits",
    "ServerThread",
    "UnreadablePush",
    "UnreadableStore",
    "event_key",
]
