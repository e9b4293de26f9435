"""The sandbox's bounds on what a send leaves behind: the messages kept for
``QuerySendDetails`` (``record_limit``), the nonces, the numbers' send histories and the push
log; the oldest are forgotten and counted, the rest answer as before, and the memory a long
run keeps stays flat."""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc

import httpx
import pytest

from smsgate_aliyun.sandbox import Sandbox, SandboxState
from smsgate_aliyun.sandbox._push import Pusher
from smsgate_aliyun.sandbox._state import Message, VendorError

from .conftest import KEY_ID, SIGN, TEMPLATE, default_account


class FakeClock:
    """A clock that moves only when told to (China time)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 4, 14, 17, 47, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def __call__(self) -> dt.datetime:
        return self.now


def make_state(limit: int, **changes: object) -> SandboxState:
    account = default_account(balance=10**9, **changes)
    return SandboxState([account], clock=FakeClock(), record_limit=limit)


def phone(number: int) -> str:
    return f"1380000{number:04d}"


def send(state: SandboxState, *numbers: int) -> str:
    account = state.account(KEY_ID)
    assert account is not None
    messages = [Message(phone(number), SIGN, {"code": "1234"}) for number in numbers]
    biz_id, _ = state.send(account, messages, TEMPLATE)
    return biz_id


def test_the_default_bound_and_a_bad_one() -> None:
    assert SandboxState().record_limit == 1_000_000
    with pytest.raises(ValueError, match="record_limit"):
        SandboxState(record_limit=0)
    with pytest.raises(ValueError, match="limit"):
        Pusher(limit=0)


def test_records_over_the_bound_forget_the_oldest_and_count_them() -> None:
    state = make_state(5, outcome="pending")
    biz_ids = [send(state, number) for number in range(8)]
    assert [record.phone for record in state.records] == [phone(number) for number in range(3, 8)]
    assert state.dropped() == {"records": 3, "nonces": 0, "histories": 3}  # eight numbers
    day = state.clock().date()
    assert state.query(KEY_ID, phone(1), day, None) == []
    [kept] = state.query(KEY_ID, phone(6), day, None)
    assert kept.biz_id == biz_ids[6]
    with pytest.raises(KeyError):
        state.settle(biz_ids[2], phone(2), "delivered")
    assert state.settle(biz_ids[3], phone(3), "delivered").status == 3


def test_one_send_larger_than_the_bound_keeps_its_last_numbers() -> None:
    state = make_state(3)
    send(state, *range(10))
    assert [record.phone for record in state.records] == [phone(number) for number in (7, 8, 9)]
    assert state.dropped()["records"] == 7


def test_below_the_bound_nothing_is_forgotten() -> None:
    state = make_state(10)
    for number in range(10):
        send(state, number)
    assert len(state.records) == 10
    assert state.dropped() == {"records": 0, "nonces": 0, "histories": 0}


def test_nonces_over_the_bound_forget_the_oldest() -> None:
    state = make_state(3)
    assert [state.nonce_seen(KEY_ID, f"n{index}") for index in range(5)] == [False] * 5
    assert state.dropped()["nonces"] == 2
    assert [state.nonce_seen(KEY_ID, f"n{index}") for index in (2, 3, 4)] == [True] * 3
    assert state.nonce_seen(KEY_ID, "n0") is False  # forgotten: taken as new (and kept again)
    assert state.dropped()["nonces"] == 3


def test_send_histories_keep_the_last_minute_and_at_most_the_bound_of_numbers() -> None:
    state = make_state(2, per_number_limit=1)
    send(state, 0)
    with pytest.raises(VendorError, match="BUSINESS_LIMIT_CONTROL"):
        send(state, 0)
    send(state, 1)
    send(state, 2)  # a third number: the history of number 0, sent to longest ago, goes
    assert state.dropped()["histories"] == 1
    send(state, 0)  # no longer counted
    with pytest.raises(VendorError, match="BUSINESS_LIMIT_CONTROL"):
        send(state, 2)
    state.clock.now += dt.timedelta(minutes=1)  # type: ignore[attr-defined]
    send(state, 2)  # a minute later the control lets it through, as before


def test_a_numbers_history_keeps_only_its_last_minute() -> None:
    state = make_state(10)
    for _ in range(100):
        send(state, 0)
        state.clock.now += dt.timedelta(seconds=20)  # type: ignore[attr-defined]
    assert len(state._sent[(KEY_ID, phone(0), SIGN)]) <= 4


async def test_the_push_log_keeps_the_last_attempts() -> None:
    pusher = Pusher(limit=2)
    for index in range(3):
        # port 9 on loopback: nothing listens, so the attempt fails without a status
        await pusher._push("http://127.0.0.1:9/report", "report", ({"index": index},))
    assert [attempt.items[0]["index"] for attempt in pusher.attempts] == [1, 2]
    assert pusher.dropped == 1


async def test_the_admin_api_and_the_sandbox_show_the_counts_and_a_reset_zeroes_them() -> None:
    sandbox = Sandbox(state=make_state(2))
    for number in range(5):
        send(sandbox.state, number)
    sandbox.pusher.dropped = 4
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9") as http:
        shown = (await http.get("/admin/dropped")).json()
        assert shown == {"records": 3, "nonces": 0, "histories": 3, "push_attempts": 4}
        assert len((await http.get("/admin/records")).json()) == 2
        await http.post("/admin/reset")
        assert (await http.get("/admin/dropped")).json() == dict.fromkeys(shown, 0)
    assert sandbox.dropped() == dict.fromkeys(shown, 0)


def _retained(state: SandboxState, sends: int, start: int) -> int:
    """The traced memory after ``sends`` more sends, each to a new number with a new nonce."""
    account = state.account(KEY_ID)
    assert account is not None
    for number in range(start, start + sends):
        state.nonce_seen(KEY_ID, f"nonce-{number}")
        state.send(account, [Message(f"139{number:08d}", SIGN, {"code": "1234"})], TEMPLATE)
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_stays_flat_over_many_sends_with_a_small_bound() -> None:
    state = make_state(1_000)
    tracemalloc.start()
    try:
        _retained(state, 2_000, 0)
        first = _retained(state, 1_000, 2_000)
        last = _retained(state, 10_000, 3_000)
    finally:
        tracemalloc.stop()
    # unbounded, 10,000 more sends kept a record, a nonce and a history each: ~7.8 MB (measured)
    assert last - first < 200_000, (first, last)
    assert state.dropped() == {"records": 12_000, "nonces": 12_000, "histories": 12_000}
