"""Routing defects found by a cross-vendor probe: no backoff sleep before a retry the
circuit breaker will refuse, and a receipt split across vendors looked up part by part even
when one part's provider cannot look messages up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Operation
from smsgate.routing import Attempt, BreakerPolicy, Failure, RetryPolicy, Router, RoutingConfig, Sleep
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to="13800138000", text="hi【shop】")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- no sleep before an attempt the breaker will refuse ------------------------------------


def test_no_backoff_sleep_once_the_failure_opened_the_circuit() -> None:
    provider = smsgate.get_provider("memory")
    provider.fail_next(errors.ProviderOutageError, times=5)
    sleeps: list[float] = []
    gateway = smsgate.Gateway(
        provider,
        retry=RetryPolicy(attempts=3),
        breaker=BreakerPolicy(failures=2),
        sleep=sleeps.append,
        clock=Clock(),
    )
    with pytest.raises(errors.ProviderOutageError) as raised:
        gateway.send(SMS)
    assert provider.calls["send"] == 2
    assert len(sleeps) == 1  # before the second call; none after it opened the circuit
    assert len(raised.value.attempts) == 1  # the same error as before: the last failure
    assert gateway.health()[0].state is smsgate.BreakerState.OPEN


def test_async_gateway_skips_the_wasted_sleep_too() -> None:
    provider = smsgate.get_provider("memory")
    provider.fail_next(errors.ProviderOutageError, times=5)
    sleeps: list[float] = []

    async def main() -> None:
        async with smsgate.AsyncGateway(
            provider,
            retry=RetryPolicy(attempts=3),
            breaker=BreakerPolicy(failures=2),
            sleep=sleeps.append,
            clock=Clock(),
        ) as gateway:
            with pytest.raises(errors.ProviderOutageError):
                await gateway.send(SMS)

    asyncio.run(main())
    assert (provider.calls["send"], len(sleeps)) == (2, 1)


def _drive(router: Router, clock: Clock) -> list[str]:
    """The commands of one send whose every attempt fails with an outage (each sleep moves
    the clock on by its seconds)."""
    plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    command: Any = next(plan)
    kinds = []
    try:
        while True:
            kinds.append(type(command).__name__)
            if isinstance(command, Sleep):
                clock.now += command.seconds
                command = plan.send(None)
            else:
                command = plan.send(Failure(errors.ProviderOutageError("down")))
    except errors.ProviderOutageError:
        pass
    return kinds


@pytest.mark.parametrize(
    ("cool_down", "kinds"),
    [
        (30.0, ["Attempt"]),  # each wait (5 s) ends before the cool-down: no sleep, no retry
        (1.0, ["Attempt", "Sleep", "Attempt", "Sleep", "Attempt"]),  # each retry is the probe
    ],
)
def test_a_wait_that_outlasts_the_cool_down_still_sleeps(cool_down: float, kinds: list[str]) -> None:
    clock = Clock()
    router = Router(
        [InMemoryProvider("a")],
        RoutingConfig(
            retry=RetryPolicy(attempts=3, base=10.0, cap=10.0, total=100.0),
            breaker=BreakerPolicy(failures=1, cool_down=cool_down),
        ),
        clock=clock,
        random=lambda: 0.5,
    )
    assert _drive(router, clock) == kinds


def test_breaker_off_keeps_every_retry() -> None:
    clock = Clock()
    router = Router(
        [InMemoryProvider("a")],
        RoutingConfig(retry=RetryPolicy(attempts=3), breaker=BreakerPolicy.off()),
        clock=clock,
        random=lambda: 0.5,
    )
    assert _drive(router, clock) == ["Attempt", "Sleep", "Attempt", "Sleep", "Attempt"]


def test_the_open_circuit_ends_the_provider_at_once_with_a_fallback_left() -> None:
    """Two providers, the first's retries stay (retry_after); once its circuit opens the
    plan goes to the second without sleeping."""
    clock = Clock()
    router = Router(
        [InMemoryProvider("a"), InMemoryProvider("b")],
        RoutingConfig(retry=RetryPolicy(attempts=3), breaker=BreakerPolicy(failures=1)),
        clock=clock,
        random=lambda: 0.5,
    )
    plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    first = next(plan)
    assert isinstance(first, Attempt)
    nxt = plan.send(Failure(errors.RateLimitedError("slow", retry_after=2.0)))
    assert isinstance(nxt, Attempt)
    assert nxt.provider.name == "b"  # no Sleep first: the open circuit would refuse the retry
