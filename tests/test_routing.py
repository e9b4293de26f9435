"""The pure routing pieces, without any gateway: the plan's commands, the breaker, the bucket."""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Operation
from smsgate._routing import (
    Attempt,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    Failure,
    RateLimit,
    RetryPolicy,
    Router,
    Sleep,
    Success,
    TokenBucket,
)
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to="13800138000", text="hello")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def receipt(provider: str) -> smsgate.Receipt:
    return smsgate.Receipt(provider=provider, task_id="t", accepted=1)


def test_plan_yields_attempts_and_sleeps_and_needs_no_io() -> None:
    """Driving the plan by hand shows the whole decision sequence as data."""
    a, b = InMemoryProvider("a"), InMemoryProvider("b")
    router = Router([a, b], retry=RetryPolicy(attempts=2, base=1.0), clock=Clock(), random=lambda: 0.5)
    plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    first = next(plan)
    assert isinstance(first, Attempt)
    assert (first.provider.name, first.number, first.message) == ("a", 1, SMS)
    assert plan.send(Failure(errors.NotSentError("down"))) == Sleep(0.5)
    second = plan.send(None)
    assert isinstance(second, Attempt)
    assert (second.provider.name, second.number) == ("a", 2)
    third = plan.send(Failure(errors.NotSentError("down")))
    assert isinstance(third, Attempt)
    assert third.provider.name == "b"
    with pytest.raises(StopIteration) as stop:
        plan.send(Success(receipt("b")))
    assert stop.value.value.attempts == 3
    assert a.calls["send"] == b.calls["send"] == 0  # nothing ran: the plan only decides


class _Refusing(smsgate.Provider):
    """A provider whose balance flow refuses without naming itself, as wire parsers do."""

    capabilities = smsgate.Capabilities(balance=True)

    def __init__(self, name: str) -> None:
        self.name = name

    def balance(self, kind: str = "sms") -> smsgate.Flow[smsgate.Balance]:
        yield from ()
        raise errors.AuthenticationError("no")


def test_errors_leaving_a_gateway_name_the_provider_and_operation() -> None:
    """The driver names the provider and operation on an error no layer below named."""
    with smsgate.Gateway(_Refusing("a"), retry=RetryPolicy(attempts=1)) as gateway:
        with pytest.raises(errors.AuthenticationError) as info:
            gateway.balance()
    assert (info.value.provider, info.value.operation) == ("a", "balance")


def test_breaker_counts_only_availability_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failures=2, cool_down=5), clock)
    breaker.record(errors.ContentError("bad"))
    breaker.record(errors.ValidationError("bad"))
    breaker.record(errors.UncertainOutcomeError("?"))
    assert breaker.snapshot("a").state is BreakerState.CLOSED
    breaker.record(errors.AuthenticationError("no"))
    assert breaker.snapshot("a").state is BreakerState.OPEN
    assert not breaker.allow()


def test_breaker_lets_one_probe_through_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failures=1, cool_down=5), clock)
    breaker.record(errors.NotSentError("down"))
    clock.now = 5
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the probe's verdict
    clock.now = 10  # the probe never reported back (cancelled): another may go
    assert breaker.allow()
    breaker.record(None)
    assert breaker.snapshot("a").state is BreakerState.CLOSED


def test_bucket_refills_at_rate_up_to_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(rate=2, burst=2), clock)
    assert [bucket.reserve() for _ in range(4)] == [0, 0, 0.5, 1.0]
    clock.now = 100  # long quiet: refills to burst, not beyond (debt of 2 paid first)
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0.5]


def test_retry_ceiling_doubles_up_to_cap() -> None:
    policy = RetryPolicy(base=0.25, cap=1.0)
    assert [policy.ceiling(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (RetryPolicy, {"attempts": 0}),
        (RetryPolicy, {"base": -1}),
        (BreakerPolicy, {"failures": 0}),
        (BreakerPolicy, {"cool_down": -1}),
        (RateLimit, {"rate": 0}),
        (RateLimit, {"rate": 1, "burst": 0}),
    ],
)
def test_policies_refuse_nonsense(factory: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError):
        factory(**kwargs)


def test_weighted_order_never_draws_a_zero_weight_first() -> None:
    a, b, c = (InMemoryProvider(n) for n in "abc")
    for draw in (0.0, 0.3, 0.999999):
        router = Router(
            [a, b, c],
            strategy="weighted",
            weights={"a": 0, "b": 1, "c": 0},
            clock=Clock(),
            random=lambda d=draw: d,
        )
        assert [p.name for p in router.order([a, b, c])] == ["b", "a", "c"]
