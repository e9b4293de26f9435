"""The rate limit and breaker under concurrency: threads on Gateway, tasks on AsyncGateway."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

import smsgate
from smsgate._gateway import BreakerPolicy, RateLimit, RetryPolicy
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to="13800138000", text="hello【shop】")
WORKERS = 8
RATE = 4.0
# With the clock frozen, each concurrent caller must get its own slot: 1/rate apart.
EXPECTED = [n / RATE for n in range(1, WORKERS)]


def test_rate_limit_gives_each_thread_its_own_slot(frozen_clock: Any) -> None:
    clock = frozen_clock
    provider = InMemoryProvider("a")
    barrier = threading.Barrier(WORKERS)
    receipts: list[smsgate.Receipt] = []
    with smsgate.Gateway(
        provider, rate_limit=RateLimit(rate=RATE), clock=clock, sleep=clock.sleep
    ) as gateway:

        def work() -> None:
            barrier.wait()
            receipts.append(gateway.send(SMS))

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len(receipts) == WORKERS
    assert sorted(clock.sleeps) == EXPECTED
    assert len({r.task_id for r in receipts}) == WORKERS


async def test_rate_limit_gives_each_task_its_own_slot(frozen_clock: Any) -> None:
    clock = frozen_clock
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)  # let the other tasks interleave

    provider = InMemoryProvider("a")
    async with smsgate.AsyncGateway(
        provider, rate_limit=RateLimit(rate=RATE), clock=clock, sleep=sleep
    ) as gateway:
        receipts = await asyncio.gather(*(gateway.send(SMS) for _ in range(WORKERS)))
    assert len(receipts) == WORKERS
    assert sorted(waits) == EXPECTED


async def test_rate_limit_really_waits_with_the_default_sleep() -> None:
    loop = asyncio.get_running_loop()
    async with smsgate.AsyncGateway(InMemoryProvider(), rate_limit=RateLimit(rate=50)) as gateway:
        started = loop.time()
        await asyncio.gather(*(gateway.send(SMS) for _ in range(4)))
    assert loop.time() - started >= 3 / 50 * 0.9


def test_breaker_under_threads_counts_every_failure_and_opens_once(fake_clock: Any) -> None:
    clock = fake_clock
    a, b = InMemoryProvider("a"), InMemoryProvider("b")
    a.fail_next(smsgate.exceptions.NotSentError, times=1000)
    with smsgate.Gateway(
        [a, b], retry=RetryPolicy(attempts=1), breaker=BreakerPolicy(failures=3, cool_down=60), clock=clock
    ) as gateway:
        threads = [threading.Thread(target=gateway.send, args=(SMS,)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        health = gateway.health()[0]
    assert health.state == "open"
    # failures counted while open are impossible: only calls let through reached a
    assert 3 <= a.calls["send"] == health.consecutive_failures
    assert b.calls["send"] == 20


class _OverHttp(smsgate.Provider):
    """A provider whose send is one HTTP request, so a task can be cancelled mid-request."""

    capabilities = smsgate.Capabilities(send=True)

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, sms: smsgate.Sms) -> smsgate.Flow[smsgate.Receipt]:
        reply = yield httpx.Request("POST", "http://provider.test/send")
        return smsgate.Receipt(provider=self.name, task_id=reply.text, accepted=len(sms.to))


async def test_a_send_cancelled_during_the_half_open_probe_frees_the_probe(fake_clock: Any) -> None:
    """Cancelling the probe's task must not leave the probe claimed: the next send may probe
    at once instead of meeting an open circuit for another cool-down."""
    mode = {"now": "refuse"}
    started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if mode["now"] == "refuse":
            raise httpx.ConnectError("refused", request=request)
        if mode["now"] == "hang":
            started.set()
            await asyncio.sleep(60)
        return httpx.Response(200, text="task-1")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    breaker = BreakerPolicy(failures=1, cool_down=5)
    async with (
        client,
        smsgate.AsyncGateway(
            _OverHttp("a"), client=client, retry=RetryPolicy(attempts=1), breaker=breaker, clock=fake_clock
        ) as gateway,
    ):
        with pytest.raises(smsgate.exceptions.NotSentError):
            await gateway.send(SMS)
        fake_clock.now = 5.0  # cool-down over: the next send is the half-open probe
        mode["now"] = "hang"
        probe = asyncio.create_task(gateway.send(SMS))
        await started.wait()
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        mode["now"] = "ok"
        receipt = await gateway.send(SMS)
    assert receipt.task_id == "task-1"
    assert gateway.health()[0].state is smsgate.BreakerState.CLOSED
