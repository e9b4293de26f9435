"""The Journal contract, run against both journals (SQLite and a real PostgreSQL), and the
PostgreSQL journal's claims: exclusive across instances, renewed while the holder lives,
back to the others once its lease runs out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.receiver import (
    ClaimingJournal,
    EventState,
    Journal,
    JournalError,
    PostgresJournal,
    Receiver,
    SQLiteJournal,
    event_key,
)
from tests.test_receiver import WHEN, JsonPushProvider, push_body, report

Opener = Callable[[], Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def open_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens journals on one store (the same file, or the same database); closes them after."""
    opened: list[Journal] = []
    if request.param == "sqlite":

        def opener() -> Journal:
            opened.append(SQLiteJournal(tmp_path / "journal.sqlite3"))
            return opened[-1]
    else:
        url: str = request.getfixturevalue("postgres_url")

        def opener() -> Journal:
            opened.append(PostgresJournal(url))
            return opened[-1]

    yield opener
    for journal in opened:
        journal.close()


def run_together(*jobs: Callable[[], object]) -> None:
    """Start every job in its own thread at once; wait for all."""
    threads = [threading.Thread(target=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.fixture
def journal(open_journal: Opener) -> Journal:
    return open_journal()


def test_stored_events_survive_reopening_and_are_duplicates_then(open_journal: Opener) -> None:
    first = open_journal()
    assert first.record([report()]) == [report()]
    first.close()
    again = open_journal()
    assert again.record([report()]) == [], "the event stored before reopening is a duplicate"
    assert again.pending() == [report()]


def test_journal_dedupes_within_one_call_and_across_calls(journal: Journal) -> None:
    a, b = report("13800138000"), report("13900139000")
    assert journal.record([a, a, b]) == [a, b]
    assert journal.record([b, report("13700137000")]) == [report("13700137000")]


def test_journal_round_trips_events_with_raw_and_dispatch_state(journal: Journal) -> None:
    inbound = InboundMessage(
        provider="jsonpush", mobile="13800138000", text="退订\x00", received_at=WHEN, ext="12", raw={"k": "v"}
    )
    referenced = DeliveryReport(
        provider="jsonpush",
        mobile="13900139000",
        task_id="T9",
        status=DeliveryStatus.FAILED,
        received_at=WHEN,
        reference="order-7",
    )
    journal.record([report(), inbound, referenced])
    journal.mark_done(report())
    journal.mark_failed(inbound, "RuntimeError: boom")
    entries = {e.key: e for e in journal.entries()}  # type: ignore[attr-defined]  # both have it
    assert entries[event_key(report())].state is EventState.DONE
    failed = entries[event_key(inbound)]
    assert (failed.state, failed.error, failed.attempts) == (EventState.FAILED, "RuntimeError: boom", 1)
    assert failed.event == inbound
    assert failed.stored_at.tzinfo is not None
    assert entries[event_key(referenced)].event == referenced
    assert journal.pending() == [inbound, referenced], "oldest first, done left out"
    assert journal.state(report()) is EventState.DONE
    assert journal.state(report(task_id="never")) is None


def test_journal_record_from_many_threads_stores_each_event_once(journal: Journal) -> None:
    events = [report(mobile=f"138{i:08d}") for i in range(40)]
    new: list[DeliveryReport | InboundMessage] = []
    lock = threading.Lock()

    def worker() -> None:
        got = journal.record(events)
        with lock:
            new.extend(got)

    run_together(*[worker] * 6)
    assert sorted(e.mobile for e in new) == sorted(e.mobile for e in events)


def test_two_journals_on_one_store_record_each_event_once(open_journal: Opener) -> None:
    first, second = open_journal(), open_journal()
    events = [report(mobile=f"139{i:08d}") for i in range(30)]
    results: list[list[DeliveryReport | InboundMessage]] = []
    run_together(*[lambda j=j: results.append(j.record(events)) for j in (first, second)])
    assert sorted(e.mobile for r in results for e in r) == sorted(e.mobile for e in events)


def test_closed_journal_raises_journal_error(journal: Journal) -> None:
    journal.close()
    with pytest.raises(JournalError):
        journal.record([report()])
    journal.close()  # idempotent
    assert isinstance(journal, Journal)


def test_event_the_journal_cannot_serialise_is_a_journal_error_and_nothing_is_stored(
    journal: Journal,
) -> None:
    circular: dict[str, object] = {}
    circular["self"] = circular
    bad = DeliveryReport(
        provider="jsonpush", mobile="13900139000", task_id="T2", status=DeliveryStatus.DELIVERED, raw=circular
    )
    with pytest.raises(JournalError) as info:
        journal.record([report(), bad])
    assert isinstance(info.value.__cause__, ValueError)
    assert journal.state(report()) is None, "nothing of the call was stored"


def test_receiver_on_either_journal_dedupes_and_keeps_failures_for_redispatch(journal: Journal) -> None:
    seen: list[DeliveryReport | InboundMessage] = []
    failing = True

    def handler(event: DeliveryReport | InboundMessage) -> None:
        if failing:
            raise RuntimeError("handler is down")
        seen.append(event)

    receiver = Receiver(JsonPushProvider(), handler, journal=journal)
    assert receiver.handle(push_body("13800138000")).body == b"ok"
    assert receiver.handle(push_body("13800138000")).body == b"ok"
    assert [e.state for e in journal.entries()] == [EventState.FAILED]  # type: ignore[attr-defined]
    failing = False
    assert receiver.redispatch() == 1
    assert receiver.redispatch() == 0
    assert [e.mobile for e in seen] == ["13800138000"]


# --- PostgreSQL only: claims, errors ------------------------------------------------------------


def test_a_claim_is_exclusive_across_instances_and_ends_with_the_outcome(postgres_url: str) -> None:
    with PostgresJournal(postgres_url) as one, PostgresJournal(postgres_url) as two:
        assert isinstance(one, ClaimingJournal)
        one.record([report()])
        assert one.claim(report())
        assert not two.claim(report()), "held by the other instance"
        assert not one.claim(report()), "a claim is not re-entrant"
        one.release(report())
        assert two.claim(report())
        two.mark_failed(report(), "RuntimeError: boom")
        assert one.claim(report()), "a failed event can be claimed again"
        one.mark_done(report())
        assert not two.claim(report()), "a done event is never claimed"
        assert not two.claim(report(task_id="never")), "nor an unknown one"


def test_a_live_holder_keeps_its_claim_and_a_dead_ones_lapses(postgres_url: str) -> None:
    with PostgresJournal(postgres_url, lease=0.6) as holder, PostgresJournal(postgres_url) as other:
        holder.record([report()])
        assert holder.claim(report())
        time.sleep(1.5)  # over two leases: renewed meanwhile
        assert not other.claim(report()), "renewed while the holder is open"
        holder._closed.set()  # the renewals stop as if the process were gone (connection kept)
        time.sleep(1.0)
        assert other.claim(report()), "lapsed once the holder stopped renewing"


def test_unreachable_server_is_a_journal_error_without_the_password(postgres_server: object) -> None:
    with pytest.raises(JournalError) as info:
        PostgresJournal("postgresql://app:s3cret-pw@127.0.0.1:1/nope", connect_timeout=2)
    assert "s3cret-pw" not in str(info.value)
    assert "***" in str(info.value)


def test_repr_hides_the_password(postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "postgres:hunter2@")
    with PostgresJournal(url) as journal:  # trust auth: the password is not checked
        assert "hunter2" not in repr(journal)
        assert "postgres:***@127.0.0.1" in repr(journal)


def test_many_instances_creating_the_table_at_once_all_open(postgres_url: str) -> None:
    journals: list[PostgresJournal] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            journals.append(PostgresJournal(postgres_url))
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    run_together(*[open_one] * 5)
    for journal in journals:
        journal.close()
    assert errors == []
    assert len(journals) == 5
