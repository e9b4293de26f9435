"""The sandbox's pending reports and inbound messages, kept in a deque while they come in due
order and in a heap otherwise (issue 11, ninth round), are released exactly as one heap of them
all released them: every item due by then, in (due time, number) order, and only those.

The oracle is the old rule itself: the items pending before a release, sorted (what popping a
heap of them gives), cut at the release moment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState
from smsgate_ipyy.sandbox._state import CHINA, _timestamp

START = dt.datetime(2026, 4, 14, 17, 47, 15, 250_000, tzinfo=CHINA)


class FakeClock:
    """An injectable clock that moves only when told to (backwards too)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _state(clock: FakeClock, delay: float, callback: bool) -> SandboxState:
    accounts = [
        Account(account="demo", password="pw", userid="1", sms_balance=10**6, mms_balance=10**6),
        Account(
            account="push",
            password="pw",
            userid="2",
            sms_balance=10**6,
            mms_balance=10**6,
            callback_url="http://127.0.0.1:9/hook" if callback else None,
        ),
    ]
    return SandboxState(SandboxConfig(accounts=accounts, report_delay=delay), clock=clock)


def _released_queues(state: SandboxState) -> list[Any]:
    """Every item the releases put somewhere so far, queue by queue, in their order."""
    queues: list[Any] = []
    for name in ("demo", "push"):
        live = state._accounts[name]
        queues += [list(live.reports), list(live.inbound)]
    queues.append({key: list(items) for key, items in state._outbox.items()})
    return queues


_moves = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False).map(lambda s: round(s, 3))
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(["demo", "push"]), _moves, st.integers(1, 3)),
        st.tuples(st.just("scheduled"), st.sampled_from(["demo", "push"]), _moves, st.integers(-2, 5)),
        st.tuples(st.just("inbound"), st.sampled_from(["demo", "push"]), _moves, st.just(0)),
        st.tuples(st.just("release"), st.just(""), _moves, st.just(0)),
        st.tuples(st.just("flush"), st.just(""), _moves, st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(steps=_steps, delay=st.sampled_from([0.0, 0.5, 2.0]), callback=st.booleans())
def test_due_items_leave_in_the_order_one_heap_of_them_gave(
    steps: list[tuple[str, str, float, int]], delay: float, callback: bool
) -> None:
    clock = FakeClock()
    state = _state(clock, delay, callback)
    sent = 0
    for kind, account, move, extra in steps:
        clock.now += dt.timedelta(seconds=move)
        if kind == "send":
            state.submit(account, "sms", [f"138{sent + n:08d}" for n in range(extra)])
            sent += extra
        elif kind == "scheduled":
            state.submit(account, "sms", [f"139{sent:08d}"], "", clock.now + dt.timedelta(seconds=extra))
            sent += 1
        elif kind == "inbound":
            state.inject_inbound(account, f"137{sent:08d}", "hi")
            sent += 1
        else:
            before = sorted(state._pending)
            now = clock.now.astimezone(CHINA)
            if kind == "flush":
                # flush makes every item due now (keeping its number), then releases them all
                made = [min(item[2], now) for item in before]
                before = sorted(
                    (
                        (due.timestamp(), item[1], due, *item[3:])
                        for due, item in zip(made, before, strict=True)
                    ),
                )
            queues = _released_queues(state)
            due = [item for item in before if item[0] <= _timestamp(now)]
            if kind == "flush":
                assert state.flush_reports() == len(before)
            else:
                with state.lock:
                    state._release_locked(now)
            after = _released_queues(state)
            # what each queue gained is the due items bound for it, in their sorted order
            gained = [
                item for old, new in zip(queues[:-1], after[:-1], strict=True) for item in new[len(old) :]
            ]
            gained += [
                item for key, items in after[-1].items() for item in items[len(queues[-1].get(key, [])) :]
            ]
            assert sorted(gained) == due
            for old, new in zip(queues[:-1], after[:-1], strict=True):
                assert new[len(old) :] == sorted(new[len(old) :])
            for key, items in after[-1].items():
                new_items = items[len(queues[-1].get(key, [])) :]
                assert new_items == sorted(new_items)
            assert sorted(state._pending) == [item for item in before if item[0] > _timestamp(now)]
        assert state.pending_count() == len(state._pending)


def test_in_order_items_wait_in_the_deque_and_the_others_in_the_heap() -> None:
    clock = FakeClock()
    state = _state(clock, 1.0, False)
    state.submit("demo", "sms", ["13800000001", "13800000002"])
    clock.now += dt.timedelta(seconds=1)
    state.submit("demo", "sms", ["13800000003"])
    clock.now -= dt.timedelta(seconds=5)  # the clock set back: due before the ones queued
    state.submit("demo", "sms", ["13800000004"])
    state.submit("demo", "sms", ["13800000005"], "", clock.now + dt.timedelta(seconds=60))
    assert [item[5] for item in state._in_order] == [
        "13800000001",
        "13800000002",
        "13800000003",
        "13800000005",
    ]
    assert [item[5] for item in state._out_of_order] == ["13800000004"]
    clock.now += dt.timedelta(seconds=10)
    reports = state.pull_reports("demo", 10)
    assert [report.mobile for report in reports] == [
        "13800000004",
        "13800000001",
        "13800000002",
        "13800000003",
    ]
    assert state.pending_count() == 1
