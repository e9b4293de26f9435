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


# --- a receipt split across vendors is looked up part by part ---------------------------------

NO_LOOKUP = smsgate.Capabilities(send=True, report_pull=True)


def _split_receipt(first: InMemoryProvider, second: InMemoryProvider) -> smsgate.Receipt:
    """One message's receipt, its first number accepted by ``first`` and the second by
    ``second`` (as a send resumed on another provider leaves it)."""
    with smsgate.Gateway(first) as one, smsgate.Gateway(second) as two:
        parts = [
            one.send(smsgate.Sms(to="13800138000", text="hi【shop】")),
            two.send(smsgate.Sms(to="13900139000", text="hi【shop】")),
        ]
    return smsgate.Receipt.combine(parts)


def _query(flavour: str, providers: list[InMemoryProvider], receipt: smsgate.Receipt) -> Any:
    if flavour == "sync":
        with smsgate.Gateway(providers) as gateway:
            return gateway.query_status(receipt)

    async def main() -> Any:
        async with smsgate.AsyncGateway(providers) as gateway:
            return await gateway.query_status(receipt)

    return asyncio.run(main())


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_part_that_can_be_looked_up_is_answered(
    flavour: str, hooks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a = InMemoryProvider("a", capabilities=NO_LOOKUP)
    b = InMemoryProvider("b")
    receipt = _split_receipt(a, b)
    assert receipt.provider == "a,b"
    with caplog.at_level("WARNING", logger="smsgate.gateway"):
        reports = _query(flavour, [a, b], receipt)
    assert [(r.mobile, r.task_id) for r in reports] == [("13900139000", receipt.parts[1].task_id)]
    [failed] = hooks.named("send_failed")
    assert (failed["provider"], failed["operation"], failed["message"]) == ("a", "query_status", None)
    assert isinstance(failed["error"], errors.UnsupportedOperationError)
    assert "'a' cannot look messages up" in str(failed["error"])
    assert any("a cannot look messages up" in r.getMessage() for r in caplog.records)
    assert [h["report"] for h in hooks.named("report_received")] == reports


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_receipt_no_part_of_which_can_be_looked_up_is_refused_as_before(flavour: str) -> None:
    a = InMemoryProvider("a", capabilities=NO_LOOKUP)
    b = InMemoryProvider("b", capabilities=NO_LOOKUP)
    receipt = _split_receipt(a, b)
    with pytest.raises(errors.UnsupportedOperationError, match="'a' cannot look messages up"):
        _query(flavour, [a, b], receipt)
    single = _split_receipt(a, b).parts[1]
    with pytest.raises(errors.UnsupportedOperationError, match="'b' cannot look messages up"):
        _query(flavour, [a, b], single)


def test_a_part_naming_no_provider_of_the_gateway_still_fails_before_any_request() -> None:
    a = InMemoryProvider("a", capabilities=NO_LOOKUP)
    b = InMemoryProvider("b")
    receipt = _split_receipt(a, b)
    with pytest.raises(errors.ConfigurationError, match="no provider named 'b'"):
        _query("sync", [a], receipt)
    assert b.calls["query_status"] == 0


def test_a_failing_lookup_of_one_part_is_raised() -> None:
    """The lookup drains nothing, so a part whose provider fails is raised (ask again): only a
    part that cannot be looked up at all is skipped."""
    a = InMemoryProvider("a", capabilities=NO_LOOKUP)
    b = InMemoryProvider("b")
    receipt = _split_receipt(a, b)
    b.fail_next(errors.AuthenticationError)
    with pytest.raises(errors.AuthenticationError):
        _query("sync", [a, b], receipt)
