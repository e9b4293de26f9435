"""Audit of ``Receiver.reparse_unreadable``: a journal failing half-way, pushes read again by
two receivers at once, a re-delivery after a reparse: every event dispatched exactly once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from smsgate import DeliveryReport, InboundMessage
from smsgate.exceptions import JournalError
from smsgate.receiver import Receiver, SQLiteJournal
from tests.test_receiver import OK, JsonPushProvider, push_body
from tests.test_receiver_unreadable import (  # open_journal: the fixture, both journals
    Opener,
    Seen,
    open_journal,  # noqa: F401 - a fixture
)

Event = DeliveryReport | InboundMessage

# --- a reparse the journal fails half-way -------------------------------------------------------


class DiscardFails(SQLiteJournal):
    """A journal whose first discard of a kept push fails (a disk full, a lock)."""

    failed = False

    def discard_unreadable(self, key: str) -> bool:
        if not self.failed:
            self.failed = True
            raise JournalError("disk full")
        return super().discard_unreadable(key)


def test_a_reparse_whose_discard_fails_still_dispatches_the_events_it_stored(tmp_path: Path) -> None:
    journal = DiscardFails(tmp_path / "j.sqlite3")
    body = push_body("13800000001", "13800000002")
    journal.record_unreadable("jsonpush", body, "application/json", "ValueError: was broken")
    seen = Seen()
    receiver = Receiver(JsonPushProvider(), seen, journal=journal)
    with pytest.raises(JournalError):
        receiver.reparse_unreadable()
    # The docstring: "the events already stored are dispatched first".
    assert sorted(event.mobile for event in seen.events) == ["13800000001", "13800000002"]
    # Read again: the push is discarded, its events (duplicates now) not dispatched twice.
    assert receiver.reparse_unreadable() == 1
    assert receiver.unreadable() == []
    assert len(seen.events) == 2
    assert receiver.redispatch() == 0
    journal.close()


class Gated:
    """A provider's parser that waits for ``parties`` callers before it reads: so two reparses
    read the same kept push at once."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.provider = JsonPushProvider()
        self.stock = self.provider.parse_callback

    def __call__(self, body: bytes, content_type: str | None = None) -> list[Event]:
        self.barrier.wait()
        return list(self.stock(body, content_type))


def test_two_receivers_reparsing_one_journal_at_once_dispatch_each_event_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    body = push_body("13800000001", "13800000002", "13800000003")
    with SQLiteJournal(path) as seed:
        seed.record_unreadable("jsonpush", body, None, "ValueError: was broken")
    seen = Seen()
    receivers = []
    gate = Gated(2)
    for _ in range(2):
        provider = JsonPushProvider()
        provider.parse_callback = gate  # type: ignore[method-assign]
        receivers.append(Receiver(provider, seen, journal=SQLiteJournal(path)))
    threads = [threading.Thread(target=receiver.reparse_unreadable) for receiver in receivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(event.mobile for event in seen.events) == ["13800000001", "13800000002", "13800000003"]
    assert receivers[0].unreadable() == []
    for receiver in receivers:
        receiver.journal.close()


def test_a_re_delivery_after_a_reparse_is_acknowledged_and_not_dispatched_again(tmp_path: Path) -> None:
    body = push_body("13800000001")
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        assert isinstance(receiver.journal, SQLiteJournal)
        receiver.journal.record_unreadable("jsonpush", body, None, "ValueError: was broken")
        assert receiver.reparse_unreadable() == 1
        assert receiver.handle(body).body == OK
        assert len(seen.events) == 1
        assert receiver.unreadable() == []


def test_a_kept_push_whose_events_are_all_stored_already_is_read_and_discarded(tmp_path: Path) -> None:
    body = push_body("13800000001")
    seen = Seen()
    with Receiver(JsonPushProvider(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver.handle(body).body == OK  # the vendor re-delivered it after the fix
        assert isinstance(receiver.journal, SQLiteJournal)
        receiver.journal.record_unreadable("jsonpush", body, None, "ValueError: was broken")
        assert receiver.reparse_unreadable() == 1
        assert len(seen.events) == 1
        assert receiver.unreadable() == []


class RecordFailsAfter(SQLiteJournal):
    """A journal whose ``record`` fails from the second call on (a crash midway)."""

    calls = 0

    def record(self, events: Sequence[Event]) -> list[Event]:
        self.calls += 1
        if self.calls > 1:
            raise JournalError("disk full")
        return super().record(events)


def test_a_reparse_stopped_midway_dispatches_what_it_stored_and_the_next_one_the_rest(tmp_path: Path) -> None:
    journal = RecordFailsAfter(tmp_path / "j.sqlite3")
    for mobile in ("13800000001", "13800000002"):
        journal.record_unreadable("jsonpush", push_body(mobile), None, "ValueError: was broken")
    seen = Seen()
    receiver = Receiver(JsonPushProvider(), seen, journal=journal)
    with pytest.raises(JournalError):
        receiver.reparse_unreadable()
    assert [event.mobile for event in seen.events] == ["13800000001"]
    assert len(receiver.unreadable()) == 1
    journal.calls = 0
    assert receiver.reparse_unreadable() == 1
    assert [event.mobile for event in seen.events] == ["13800000001", "13800000002"]
    journal.close()


def test_two_receivers_reparsing_one_journal_at_once_dispatch_each_event_once_in_either_journal(
    open_journal: Opener,  # noqa: F811 - the imported fixture
) -> None:
    body = push_body("13800000001", "13800000002", "13800000003")
    open_journal().record_unreadable("jsonpush", body, None, "ValueError: was broken")
    seen = Seen()
    gate = Gated(2)
    receivers = []
    for _ in range(2):
        provider = JsonPushProvider()
        provider.parse_callback = gate  # type: ignore[method-assign]
        receivers.append(Receiver(provider, seen, journal=open_journal()))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reads = list(pool.map(lambda receiver: receiver.reparse_unreadable(), receivers))
    assert sum(reads) >= 1
    assert sorted(event.mobile for event in seen.events) == ["13800000001", "13800000002", "13800000003"]
    assert receivers[0].unreadable() == []
    assert receivers[0].redispatch() == 0


class ReplayMeanwhile(SQLiteJournal):
    """A journal on which a replay (``redispatch``, run by the receiver serving it every lease,
    or by an application in the background) runs between a reparse's storing of a push's
    events and their dispatch."""

    receiver: Receiver | None = None

    def discard_unreadable(self, key: str) -> bool:
        if self.receiver is not None:
            self.receiver.redispatch()
        return super().discard_unreadable(key)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_replay_between_a_reparse_storing_events_and_dispatching_them_dispatches_each_once(
    tmp_path: Path, kind: str
) -> None:
    """A redispatch between a reparse (or its async twin) storing the events it read and
    dispatching them: each event is handled once."""
    journal = ReplayMeanwhile(tmp_path / "j.sqlite3")
    journal.record_unreadable("jsonpush", push_body("13800000001", "13800000002"), None, "ValueError")
    seen = Seen()
    receiver = Receiver(JsonPushProvider(), seen, journal=journal)
    journal.receiver = receiver
    read = receiver.reparse_unreadable() if kind == "sync" else asyncio.run(receiver.areparse_unreadable())
    assert read == 1
    assert sorted(event.mobile for event in seen.events) == ["13800000001", "13800000002"]
    journal.close()
