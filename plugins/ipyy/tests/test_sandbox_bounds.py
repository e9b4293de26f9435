"""The sandbox's bound on what a send leaves behind (``SandboxConfig.report_limit``): each
queue of reports and inbound messages (pending, an account's pull queues, its push outbox)
holds at most that many, the oldest are dropped and counted, the rest are pulled and pushed as
before, and the memory a long run keeps stays flat."""

from __future__ import annotations

import datetime as dt
import gc
import random
import tracemalloc
from typing import Any

import httpx
import pytest

from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState, create_app


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def make_state(limit: int, *, callback_url: str | None = None, **settings: Any) -> SandboxState:
    accounts = [
        Account(
            account="demo",
            password="pw",
            userid="1",
            sms_balance=10**9,
            mms_balance=0,
            callback_url=callback_url,
        ),
        Account(account="other", password="pw", userid="2", sms_balance=10**9, mms_balance=0),
    ]
    config = SandboxConfig(accounts=accounts, report_limit=limit, **settings)
    return SandboxState(config, clock=FakeClock())


def mobile(number: int) -> str:
    return f"1380000{number:04d}"


def test_the_default_bound_is_the_demo_accounts_balance_and_a_bad_one_is_refused() -> None:
    default = SandboxConfig.default()
    assert default.report_limit == 1_000_000 == default.accounts[0].sms_balance
    assert SandboxConfig.from_dict({"report_limit": 7}).report_limit == 7
    with pytest.raises(ValueError, match="report_limit"):
        SandboxConfig(report_limit=0)


def test_a_pull_queue_over_the_bound_drops_its_oldest_reports_and_counts_them() -> None:
    state = make_state(5)
    for number in range(8):
        state.submit("demo", "sms", [mobile(number)])
        state.flush_reports()  # due now: into the pull queue, one at a time
    assert state.accounts()[0]["queued_reports"] == 5
    assert state.accounts()[0]["dropped_reports"] == 3
    assert state.dropped() == {"reports": 3, "inbound": 0}
    pulled = state.pull_reports("demo", 100)
    assert [report.mobile for report in pulled] == [mobile(number) for number in range(3, 8)]
    assert {report.status for report in pulled} == {"10"}
    assert state.dropped() == {"reports": 3, "inbound": 0}  # pulling drops nothing


def test_pending_reports_over_the_bound_lose_those_due_first() -> None:
    state = make_state(5, report_delay=5.0)
    later = state.now() + dt.timedelta(hours=1)
    state.submit("demo", "sms", [mobile(100), mobile(101)], send_at=later)  # scheduled: the heap
    state.submit("demo", "sms", [mobile(number) for number in range(4)])  # one send of four
    assert state.pending_count() == 5
    assert state.dropped() == {"reports": 1, "inbound": 0}
    state.submit("demo", "sms", [mobile(4)])
    assert state.pending_count() == 5
    assert state.dropped() == {"reports": 2, "inbound": 0}
    state.clock.advance(2 * 3600)  # type: ignore[attr-defined]
    pulled = state.pull_reports("demo", 100)
    assert [report.mobile for report in pulled] == [mobile(2), mobile(3), mobile(4), mobile(100), mobile(101)]


def test_one_send_larger_than_the_bound_keeps_its_last_recipients() -> None:
    state = make_state(3)
    state.submit("demo", "sms", [mobile(number) for number in range(10)])
    assert state.dropped()["reports"] == 7
    assert [report.mobile for report in state.pull_reports("demo", 100)] == [mobile(n) for n in (7, 8, 9)]


def test_the_bound_is_per_account_queue() -> None:
    state = make_state(2)
    for number in range(3):
        state.submit("demo", "sms", [mobile(number)])
        state.submit("other", "sms", [mobile(50 + number)])
        state.flush_reports()
    summary = {row["account"]: row for row in state.accounts()}
    assert (summary["demo"]["queued_reports"], summary["demo"]["dropped_reports"]) == (2, 1)
    assert (summary["other"]["queued_reports"], summary["other"]["dropped_reports"]) == (2, 1)
    assert [report.mobile for report in state.pull_reports("other", 10)] == [mobile(51), mobile(52)]


def test_inbound_messages_over_the_bound_drop_the_oldest() -> None:
    state = make_state(2)
    for number in range(3):
        state.inject_inbound("demo", mobile(number), f"reply {number}")
    assert state.pending_count() == 2
    state.inject_inbound("demo", mobile(3), "reply 3")
    for number in range(4, 6):
        state.inject_inbound("demo", mobile(number), f"reply {number}")
        state.flush_reports()
    assert state.dropped() == {"reports": 0, "inbound": 4}
    assert state.accounts()[0]["dropped_inbound"] == 4
    assert [item.text for item in state.pull_inbound("demo")] == ["reply 4", "reply 5"]


def test_a_push_outbox_over_the_bound_pushes_the_newest_and_counts_the_rest() -> None:
    state = make_state(3, callback_url="http://127.0.0.1:9/push")
    for number in range(5):
        state.submit("demo", "sms", [mobile(number)])
        state.flush_reports()  # due: into the outbox, which nobody takes meanwhile
    pushes = state.take_due_pushes()
    assert len(pushes) == 1
    body = pushes[0].body.decode()
    assert [mobile(number) in body for number in range(5)] == [False, False, True, True, True]
    assert state.dropped() == {"reports": 2, "inbound": 0}
    state.submit("demo", "sms", [mobile(9)])
    [push] = state.take_due_pushes()
    assert mobile(9).encode() in push.body
    assert state.dropped() == {"reports": 2, "inbound": 0}


def test_outbox_items_moved_to_the_pull_queue_keep_to_the_bound() -> None:
    state = make_state(3, callback_url="http://127.0.0.1:9/push")
    for number in range(3):
        state.submit("demo", "sms", [mobile(number)])
    state.flush_reports()  # three in the outbox
    state.update_account("demo", callback_url=None)
    for number in range(3, 5):
        state.submit("demo", "sms", [mobile(number)])
    state.flush_reports()  # two in the pull queue
    assert state.take_due_pushes() == []  # the outbox's three join them: five, over three
    assert state.dropped() == {"reports": 2, "inbound": 0}
    pulled = state.pull_reports("demo", 10)
    assert sorted(report.mobile for report in pulled) == [mobile(number) for number in (0, 1, 2)]


def test_below_the_bound_nothing_is_dropped() -> None:
    state = make_state(10)
    for number in range(10):
        state.submit("demo", "sms", [mobile(number)])
    state.flush_reports()
    assert state.dropped() == {"reports": 0, "inbound": 0}
    assert len(state.pull_reports("demo", 100)) == 10


def test_reset_zeroes_the_counts_and_a_lowered_bound_applies_from_the_next_release() -> None:
    state = make_state(4, report_delay=5.0)
    for number in range(6):
        state.submit("demo", "sms", [mobile(number)])
    assert state.dropped()["reports"] == 2
    state.config.report_limit = 2
    assert state.pull_reports("demo", 10) == []  # none due yet; the pending queue is trimmed
    assert state.pending_count() == 2
    assert state.dropped()["reports"] == 4
    state.submit("demo", "sms", [mobile(6)])
    assert state.pending_count() == 2
    assert state.dropped()["reports"] == 5
    state.reset()
    assert state.dropped() == {"reports": 0, "inbound": 0}
    assert state.accounts()[0]["dropped_reports"] == 0


async def test_the_admin_api_shows_the_counts() -> None:
    state = make_state(2)
    for number in range(5):
        state.submit("demo", "sms", [mobile(number)])
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        dropped = (await http.get("/_sandbox/dropped")).json()
        accounts = (await http.get("/_sandbox/accounts")).json()
    assert dropped == {"reports": 3, "inbound": 0}
    assert (accounts[0]["dropped_reports"], accounts[0]["dropped_inbound"]) == (3, 0)
    assert (accounts[1]["dropped_reports"], accounts[1]["dropped_inbound"]) == (0, 0)


def _retained(state: SandboxState, sends: int, start: int, *, release: bool) -> int:
    """The traced memory after ``sends`` more sends (each due at once), collected first."""
    for number in range(start, start + sends):
        state.submit("demo", "sms", [f"139{number:08d}"])
        if release and number % 100 == 0:
            state.take_due_pushes()  # what the push worker's poll does: due items to the pull queue
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.mark.parametrize("release", [False, True], ids=["pending", "pull queue"])
def test_memory_stays_flat_over_many_sends_with_a_small_bound(release: bool) -> None:
    state = make_state(1_000)
    tracemalloc.start()
    try:
        _retained(state, 5_000, 0, release=release)  # the queue is full: every send drops one
        first = _retained(state, 1_000, 5_000, release=release)
        last = _retained(state, 30_000, 6_000, release=release)
    finally:
        tracemalloc.stop()
    # unbounded, 30,000 more reports kept ~350 bytes each: ~10 MB (measured)
    assert last - first < 200_000, (first, last)
    kept = state.pending_count() + state.accounts()[0]["queued_reports"]
    assert kept <= 1_000 + 100
    assert state.dropped()["reports"] == 36_000 - kept


@pytest.mark.parametrize("seed", range(5))
def test_every_item_is_kept_pulled_or_counted_and_no_queue_passes_the_bound(seed: int) -> None:
    chance = random.Random(seed)
    limit = chance.randint(1, 12)
    state = make_state(limit, report_delay=1.0)
    queued = pulled = 0
    for step in range(400):
        action = chance.random()
        if action < 0.5:
            count = chance.randint(1, 2 * limit)
            later = state.now() + dt.timedelta(seconds=chance.randint(-3, 30))
            scheduled = later if chance.random() < 0.3 else None
            state.submit("demo", "sms", [mobile(step)] * count, send_at=scheduled)
            queued += count
        elif action < 0.6:
            state.inject_inbound("demo", mobile(step), "hi")
            queued += 1
        elif action < 0.7:
            state.clock.advance(chance.uniform(-2, 5))  # type: ignore[attr-defined]
        elif action < 0.8:
            pulled += len(state.pull_reports("demo", chance.randint(1, limit)))
        elif action < 0.85:
            pulled += len(state.pull_inbound("demo"))
        elif action < 0.9:
            state.flush_reports()
        else:
            state.take_due_pushes()
        summary = state.accounts()[0]
        assert state.pending_count() <= limit
        assert summary["queued_reports"] <= limit
        assert summary["queued_inbound"] <= limit
        kept = state.pending_count() + summary["queued_reports"] + summary["queued_inbound"]
        dropped = state.dropped()
        assert kept + pulled + dropped["reports"] + dropped["inbound"] == queued
