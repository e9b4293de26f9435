"""The scheduled pull (smsgate.celery._pulls) without Celery processes: a real Redis for the
lock and the spill list, a real SQLite journal, the in-memory provider as the vendor."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

import smsgate
from smsgate.celery._pulls import LOCK_KEY, SPILL_KEY, PullError, pull_once, schedule_pulls
from smsgate.exceptions import JournalError
from smsgate.receiver import EventState, Receiver, SQLiteJournal, event_key
from smsgate.receiver._journal import Event
from smsgate.testing import InMemoryProvider
from tests.conftest import Harness


class FlakyJournal(SQLiteJournal):
    """A SQLite journal whose ``record`` (or every read) can be made to fail on demand."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.failing_records = 0
        self.down = False

    def record(self, events: Sequence[Event]) -> list[Event]:
        if self.down or self.failing_records:
            self.failing_records = max(0, self.failing_records - 1)
            raise JournalError("journal write failed (disk full)")
        return super().record(events)

    def pending(self) -> list[Event]:
        if self.down:
            raise JournalError("journal read failed (database is locked)")
        return super().pending()


class JournalFirst:
    """An observer that notes, for each event it sees, whether the journal already had it."""

    def __init__(self, journal: SQLiteJournal) -> None:
        self.journal = journal
        self.seen: list[tuple[str, EventState | None]] = []

    def report_received(self, report: Any) -> None:
        self.seen.append((event_key(report), self.journal.state(report)))

    def inbound_received(self, message: Any) -> None:
        self.seen.append((event_key(message), self.journal.state(message)))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as connection:
        yield connection


@pytest.fixture
def vendor() -> InMemoryProvider:
    provider = InMemoryProvider()
    provider.queue_report("13800138001", task_id="t1")
    provider.queue_report("13800138002", task_id="t1", status="failed", vendor_code="MY:0001")
    provider.queue_inbound("13800138003", "TD")
    return provider


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[FlakyJournal]:
    with FlakyJournal(tmp_path / "pulls.sqlite3") as opened:
        yield opened


@pytest.fixture
def observer(journal: FlakyJournal) -> Iterator[JournalFirst]:
    watcher = JournalFirst(journal)
    with smsgate.observe(watcher):
        yield watcher


def run(vendor: InMemoryProvider, journal: SQLiteJournal, client: redis.Redis, **options: Any) -> Any:
    with smsgate.Gateway(vendor) as gateway, Receiver(vendor, lambda _e: None, journal=journal) as receiver:
        return pull_once(gateway, receiver, client, sleep=lambda _s: None, **options)


def test_gateway_pull_with_observe_false_tells_no_hook(make_gateway: Harness, hooks: Any) -> None:
    """fetch_reports / fetch_inbound(observe=False) return the items and call no hook: the
    pull task journals them first and announces them itself."""
    vendor = InMemoryProvider()
    vendor.queue_report("13800138001", task_id="t1")
    vendor.queue_inbound("13800138003", "TD")
    gateway = make_gateway(vendor)
    assert len(gateway.fetch_reports(observe=False)) == 1
    assert len(gateway.fetch_inbound(observe=False)) == 1
    assert hooks.calls == []


def test_pulled_events_are_journaled_before_any_hook_sees_them(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """Every hook call finds its event stored already; each event is seen once and ends done."""
    result = run(vendor, journal, client)
    assert (result.pulled, result.new, result.dispatched) == (3, 3, 3)
    assert len(observer.seen) == 3
    assert {state for _key, state in observer.seen} == {EventState.PENDING}
    assert len({key for key, _state in observer.seen}) == 3
    assert journal.pending() == []
    assert vendor.pending_reports == ()
    assert vendor.pending_inbound == ()
    again = run(vendor, journal, client)
    assert (again.pulled, again.dispatched) == (0, 0)
    assert len(observer.seen) == 3


def test_a_run_finding_the_lock_taken_pulls_nothing(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """Two beats, or a tick during a slow pull: the second run skips and the vendor keeps its events."""
    client.set(LOCK_KEY, "another-run", px=60_000)
    result = run(vendor, journal, client)
    assert result.skipped
    assert len(vendor.pending_reports) == 2
    assert observer.seen == []
    client.delete(LOCK_KEY)
    assert run(vendor, journal, client).pulled == 3


def test_the_lock_is_renewed_while_a_slow_run_lasts(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis
) -> None:
    """A run longer than the lock's TTL keeps the lock (renewed every third of it), and frees it
    at the end."""
    held_late: list[bool] = []

    def slow(_event: Event) -> None:
        time.sleep(0.5)
        held_late.append(bool(client.exists(LOCK_KEY)))

    with smsgate.Gateway(vendor) as gateway, Receiver(vendor, slow, journal=journal) as receiver:
        result = pull_once(gateway, receiver, client, lock_ttl=0.6)
    assert result.dispatched == 3
    assert held_late == [True, True, True]  # 1.5 s into a run whose lock lives 0.6 s
    assert not client.exists(LOCK_KEY)


def test_concurrent_runs_pull_and_dispatch_each_event_once(
    journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """Runs started at once from several threads: one pulls, the others skip; no event is seen twice."""
    vendor = InMemoryProvider()
    for i in range(50):
        vendor.queue_report(f"138001380{i:02d}", task_id=f"t{i}")
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        barrier.wait()
        results.append(run(vendor, journal, client))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.pulled for r in results) == 50
    assert len(observer.seen) == 50
    assert len({key for key, _state in observer.seen}) == 50


def test_a_journal_down_before_the_pull_leaves_the_events_at_the_vendor(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """The run checks the journal first: when it cannot be read, nothing is pulled."""
    journal.down = True
    with pytest.raises(PullError, match="journal not ready") as caught:
        run(vendor, journal, client)
    assert caught.value.result is None
    assert len(vendor.pending_reports) == 2
    assert len(vendor.pending_inbound) == 1
    assert observer.seen == []
    assert not client.exists(LOCK_KEY)


def test_a_journal_write_that_fails_after_the_pull_keeps_the_events_in_redis_for_the_next_run(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """The destructive pull already happened: the events go to the Redis list, the run fails
    loudly, and the next run journals and dispatches them once."""
    journal.failing_records = 100
    with pytest.raises(PullError, match="not journaled") as caught:
        run(vendor, journal, client)
    assert caught.value.result is not None
    assert caught.value.result.spilled == 3
    assert caught.value.events == ()
    assert vendor.pending_reports == ()  # gone from the vendor …
    assert client.llen(SPILL_KEY) == 3  # … but kept
    assert observer.seen == []  # and nobody saw them before they were stored

    journal.failing_records = 0
    result = run(vendor, journal, client)
    assert (result.replayed, result.dispatched) == (3, 3)
    assert client.llen(SPILL_KEY) == 0
    assert len(observer.seen) == 3
    assert {state for _key, state in observer.seen} == {EventState.PENDING}
    stored = {event_key(e.event) for e in journal.entries()}
    assert {key for key, _state in observer.seen} == stored


def test_a_journal_write_that_fails_once_is_tried_again(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """A passing failure (a locked database) costs a short wait, not a spill."""
    journal.failing_records = 1
    result = run(vendor, journal, client)
    assert (result.spilled, result.new) == (0, 3)
    assert len(observer.seen) == 3


def test_events_neither_journal_nor_redis_can_take_are_raised_with_the_error(
    vendor: InMemoryProvider, journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """The last resort: the error carries the events (never in its message) and says so."""
    journal.failing_records = 100

    class NoSpill(redis.Redis):
        def rpush(self, *_args: Any, **_kwargs: Any) -> Any:
            raise redis.ConnectionError("connection lost")

    with NoSpill.from_url(_url(client)) as broken:
        with pytest.raises(PullError, match="not kept in Redis") as caught:
            run(vendor, journal, broken)
    assert len(caught.value.events) == 3
    assert "13800138001" not in str(caught.value)
    assert observer.seen == []


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_repeated_inbound_messages_in_one_pull_are_two_events(
    journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """Two identical replies in one pull are two messages (numbered as in a push)."""
    vendor = InMemoryProvider()
    first = vendor.queue_inbound("13800138003", "TD")
    vendor.queue_inbound(first)
    assert run(vendor, journal, client).new == 2
    assert len(observer.seen) == 2


def test_one_provider_failing_does_not_lose_the_others_events(
    journal: FlakyJournal, client: redis.Redis, observer: JournalFirst
) -> None:
    """Pulls from every provider: the events of the one that answered are journaled and
    dispatched; the failing one keeps its own for the next run."""
    good, bad = InMemoryProvider("good"), InMemoryProvider("bad")
    good.queue_report("13800138001", task_id="t1")
    bad.queue_report("13800138002", task_id="t2")
    bad.fail_next(smsgate.exceptions.AuthenticationError, operation="fetch_reports")
    with (
        smsgate.Gateway([good, bad]) as gateway,
        Receiver(good, lambda _e: None, journal=journal) as receiver,
    ):
        result = pull_once(gateway, receiver, client, sleep=lambda _s: None)
    assert result.pulled == 1
    assert len(observer.seen) == 1
    assert len(bad.pending_reports) == 1


def test_schedule_pulls_adds_one_beat_entry_that_expires_with_its_interval() -> None:
    """The beat entry names the task, its interval, and drops ticks older than one interval."""
    from celery import Celery

    app = Celery("scheduled", set_as_current=False)
    app.conf.beat_schedule = {"other": {"task": "x", "schedule": 5.0}}
    schedule_pulls(app, 30.0)
    assert app.conf.beat_schedule["smsgate-pull"] == {
        "task": "smsgate.pull",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    }
    assert "other" in app.conf.beat_schedule
    with pytest.raises(ValueError, match="positive"):
        schedule_pulls(app, 0)


def test_register_pull_task_names_the_task_and_can_schedule_it() -> None:
    """``smsgate.celery.register_pull_task(app, every=…)`` registers ``smsgate.pull`` and its
    beat entry in one call (the module defining the app runs it in workers and in beat)."""
    from celery import Celery

    import smsgate.celery

    app = Celery("registered", set_as_current=False)
    task = smsgate.celery.register_pull_task(app, journal="unused.sqlite3", every=15.0)
    assert task.name == "smsgate.pull"
    assert "smsgate.pull" in app.tasks
    assert app.conf.beat_schedule["smsgate-pull"]["schedule"] == 15.0
