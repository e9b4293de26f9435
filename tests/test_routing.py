"""The pure routing pieces, without any gateway: the plan's commands, the breaker, the bucket.

Routers are built as the gateways build them: ``Router(providers, RoutingConfig(...), clock=...)``,
so every configuration tested here is one a gateway can run.
"""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Operation
from smsgate.routing import (
    Attempt,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    Failure,
    RateLimit,
    RetryPolicy,
    Router,
    RoutingConfig,
    Sleep,
    Strategy,
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
    router = Router(
        [a, b], RoutingConfig(retry=RetryPolicy(attempts=2, base=1.0)), clock=Clock(), random=lambda: 0.5
    )
    plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    first = next(plan)
    assert isinstance(first, Attempt)
    assert (first.provider.name, first.number, first.message) == ("a", 1, SMS)
    # Not sent, and b can take it: b at once; b is the last one left, so it is retried.
    second = plan.send(Failure(errors.NotSentError("down")))
    assert isinstance(second, Attempt)
    assert (second.provider.name, second.number) == ("b", 1)
    assert plan.send(Failure(errors.NotSentError("down"))) == Sleep(0.5)
    third = plan.send(None)
    assert isinstance(third, Attempt)
    assert (third.provider.name, third.number) == ("b", 2)
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
            RoutingConfig(strategy="weighted", weights={"a": 0, "b": 1, "c": 0}),
            clock=Clock(),
            random=lambda d=draw: d,
        )
        assert [p.name for p in router.order([a, b, c])] == ["b", "a", "c"]


def test_strategies_are_an_enum_that_takes_the_plain_strings() -> None:
    """``Strategy`` is a StrEnum: "round_robin" and Strategy.ROUND_ROBIN configure the same."""
    assert RoutingConfig(strategy="round_robin").strategy is Strategy.ROUND_ROBIN
    assert [str(s) for s in Strategy] == ["failover", "round_robin", "weighted"]
    with pytest.raises(errors.ConfigurationError, match="use one of failover, round_robin, weighted"):
        RoutingConfig(strategy="random")


def test_the_routing_config_owns_every_default() -> None:
    """A gateway's ``None`` arguments mean the config's defaults; the breaker is on by default."""
    config = RoutingConfig.given(strategy=None, retry=None, breaker=None, failover_on_uncertain=None)
    assert config == RoutingConfig()
    assert config.strategy is Strategy.FAILOVER
    assert config.breaker == BreakerPolicy()
    assert config.breaker.enabled
    assert config.retry == RetryPolicy()
    assert config.failover_on_uncertain is False


def test_a_breaker_switched_off_never_skips_a_provider() -> None:
    """``BreakerPolicy.off()``: every send reaches the provider; health still counts failures."""
    a = InMemoryProvider("a")
    with smsgate.Gateway(a, retry=RetryPolicy(attempts=1), breaker=BreakerPolicy.off()) as gateway:
        for _ in range(10):
            a.fail_next(errors.NotSentError)
            with pytest.raises(errors.NotSentError):
                gateway.send(SMS)
        [health] = gateway.health()
        assert gateway.send(SMS).provider == "a"
    assert (health.state, health.consecutive_failures) == (BreakerState.CLOSED, 10)
    assert a.calls["send"] == 11


def test_the_default_breaker_opens_in_a_router_built_like_a_gateway() -> None:
    """The default config has a breaker: five availability failures open the circuit."""
    clock = Clock()
    router = Router([InMemoryProvider("a")], RoutingConfig(retry=RetryPolicy(attempts=1)), clock=clock)
    for _ in range(5):
        plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
        next(plan)
        with pytest.raises(errors.NotSentError):
            plan.send(Failure(errors.NotSentError("down")))
    assert router.health()[0].state is BreakerState.OPEN
    with pytest.raises(errors.CircuitOpenError):
        next(router.plan(Operation.SEND, lambda p, m: p.send(m), SMS))


def test_closing_a_plan_during_a_half_open_probe_hands_the_probe_back() -> None:
    """A plan closed while its probe attempt is pending (a cancelled task) frees the probe."""
    clock = Clock()
    config = RoutingConfig(retry=RetryPolicy(attempts=1), breaker=BreakerPolicy(failures=1, cool_down=5))
    router = Router([InMemoryProvider("a")], config, clock=clock)
    plan = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    next(plan)
    with pytest.raises(errors.NotSentError):
        plan.send(Failure(errors.NotSentError("down")))
    clock.now = 5  # cool-down over: the next attempt is the probe
    probe = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    assert isinstance(next(probe), Attempt)
    probe.close()
    other = router.plan(Operation.SEND, lambda p, m: p.send(m), SMS)
    assert isinstance(next(other), Attempt)  # without the hand-back: CircuitOpenError
