"""One meaning per word for the core's argument checks (``smsgate._args``), and each site that
uses them: the routing policies and config, the Celery settings, the pull task, the shared
state and the idempotency store. A bool is never a number, a ``Decimal`` is none, a
``Fraction`` is one; NaN, the infinities and a number too large for a float are refused where
a finite one is needed, with a ``ConfigurationError`` naming the argument (never the
``OverflowError`` converting it raised)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import pytest

import smsgate
from smsgate import _args
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.receiver._limits import is_seconds as receiver_is_seconds
from smsgate.routing import RoutingConfig

HUGE = 10**400  # an int no float holds: float(HUGE) raises OverflowError
NOT_FINITE = [math.inf, -math.inf, math.nan, HUGE, -HUGE, Fraction(HUGE)]
NOT_NUMBERS = [True, False, None, "1", Decimal("1"), 1j, [1]]

# --- the tests themselves ------------------------------------------------------------------

VALUES = [
    *NOT_FINITE,
    *NOT_NUMBERS,
    0,
    0.0,
    -0.0,
    1,
    -1,
    0.5,
    Fraction(1, 5),
    Fraction(-1, 5),
    1e308,
    5e-324,
    2**1023,
]


@pytest.mark.parametrize("zero", [False, True])
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_seconds_mean_what_the_receiver_means(value: object, zero: bool) -> None:
    """The receiver can adopt the core's test: the same answer for every value."""
    assert _args.is_seconds(value, zero=zero) is receiver_is_seconds(value, zero=zero)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_words_agree(value: object) -> None:
    number = _args.finite(value)
    assert _args.is_finite(value) is (number is not None)
    if number is not None:
        assert type(number) is float
        assert _args.is_number(value)
        assert _args.is_positive(value) is (number > 0)
        assert _args.is_positive(value, zero=True) is (number >= 0)
    else:
        assert not _args.is_positive(value)
        assert not _args.is_positive(value, zero=True)
    if _args.is_whole(value):
        assert _args.is_finite(value)


@pytest.mark.parametrize("value", [*NOT_NUMBERS, math.nan])
def test_a_bool_a_decimal_and_nan_are_no_number(value: object) -> None:
    assert not _args.is_number(value)
    assert _args.finite(value) is None


@pytest.mark.parametrize("value", [HUGE, -HUGE, Fraction(HUGE), math.inf])
def test_an_infinity_or_a_number_too_large_for_a_float_is_a_number_but_not_finite(value: object) -> None:
    assert _args.is_number(value)
    assert _args.finite(value) is None


@pytest.mark.parametrize("value", [True, 1.0, Fraction(2), Decimal(2), "2", HUGE, None])
def test_what_is_no_whole_number(value: object) -> None:
    assert not _args.is_whole(value)


def test_whole_numbers_and_their_least() -> None:
    assert _args.is_whole(0)
    assert _args.is_whole(2**1023)
    assert not _args.is_whole(0, least=1)
    assert _args.is_whole(1, least=1)


def test_the_converters_leave_what_they_cannot_convert_for_the_validator() -> None:
    assert _args.to_float(Fraction(1, 4)) == 0.25
    assert type(_args.to_float(Fraction(1, 4))) is float
    for value in [3, -1, 0.5, HUGE, math.nan, Fraction(HUGE), "1", True, Decimal(1), None]:
        assert _args.to_float(value) is value
    for value in [5, True, 1.5, HUGE, "1"]:
        assert _args.to_int(value) is value


def test_must_names_the_field_and_the_value() -> None:
    @attrs.frozen
    class Thing:
        count: int | None = attrs.field(
            validator=_args.must(_args.is_whole, "must be a whole number", none=True)
        )
        on: bool = attrs.field(default=True, validator=_args.flag)

    assert Thing(None).count is None
    with pytest.raises(ConfigurationError, match=r"^count must be a whole number, not 2\.5$"):
        Thing(2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^on must be True or False, not 'no'$"):
        Thing(1, on="no")  # type: ignore[arg-type]


# --- the routing policies and config ------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (smsgate.RetryPolicy, "base"),
        (smsgate.RetryPolicy, "cap"),
        (smsgate.RetryPolicy, "total"),
        (smsgate.BreakerPolicy, "cool_down"),
    ],
)
@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_policy_seconds_are_finite(policy: type, field: str, value: object) -> None:
    """An int too large for a float raised OverflowError; an infinity was accepted (and the
    shared breaker's round(cool_down * 1000) raised OverflowError later)."""
    with pytest.raises(ConfigurationError, match=f"^{field} must be a"):
        policy(**{field: value})


def test_policy_messages_are_kept() -> None:
    with pytest.raises(ConfigurationError, match=r"^base must be a number, not True$"):
        smsgate.RetryPolicy(base=True)
    with pytest.raises(ConfigurationError, match=r"^cap must be a number, not nan$"):
        smsgate.RetryPolicy(cap=math.nan)
    with pytest.raises(ConfigurationError, match=r"^total must not be negative, not -1$"):
        smsgate.RetryPolicy(total=-1)
    with pytest.raises(ConfigurationError, match=r"^total must be a finite number, not inf$"):
        smsgate.RetryPolicy(total=math.inf)
    with pytest.raises(ConfigurationError, match=r"^attempts must be a whole number, not 2\.5$"):
        smsgate.RetryPolicy(attempts=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^attempts must be positive, not 0$"):
        smsgate.RetryPolicy(attempts=0)
    with pytest.raises(ConfigurationError, match=r"^enabled must be True or False, not 'off'$"):
        smsgate.BreakerPolicy(enabled="off")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^rate must be a number, not '10'$"):
        smsgate.RateLimit("10")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^rate must be a positive, finite number, not 0$"):
        smsgate.RateLimit(0)


def test_policies_take_any_real_number_and_zero_seconds() -> None:
    assert smsgate.RetryPolicy(base=Fraction(1, 5), cap=0, total=0.0).ceiling(1) == 0.0  # type: ignore[arg-type]
    assert smsgate.BreakerPolicy(cool_down=0).cool_down == 0
    assert smsgate.RateLimit(Fraction(1, 2)).rate == Fraction(1, 2)  # type: ignore[arg-type]
    assert smsgate.RateLimit(10, burst=5) == smsgate.RateLimit(rate=10, burst=5)


@pytest.mark.parametrize("value", [HUGE, Fraction(HUGE), math.inf])
def test_a_rate_is_finite(value: object) -> None:
    """An int too large for a float raised OverflowError."""
    with pytest.raises(ConfigurationError, match=r"^rate must be a positive, finite number"):
        smsgate.RateLimit(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["burst"])
def test_a_count_too_large_for_a_float_is_refused(field: str) -> None:
    """RateLimit(1, burst=10**400) was accepted, then the token bucket's float(burst) raised
    OverflowError when the gateway was built."""
    with pytest.raises(ConfigurationError, match=f"^{field} must be a whole number"):
        smsgate.RateLimit(1, **{field: HUGE})
    with pytest.raises(ConfigurationError, match=r"^failures must be a whole number"):
        smsgate.BreakerPolicy(failures=HUGE)


@pytest.mark.parametrize(
    "weights", [[1, HUGE], {"a": HUGE}, [Fraction(HUGE)], [True], [Decimal(1)]], ids=repr
)
def test_weights_are_finite_numbers(weights: object) -> None:
    """An int too large for a float raised OverflowError (math.isfinite converts it)."""
    with pytest.raises(ConfigurationError, match=r"^weights takes finite numbers"):
        RoutingConfig(strategy="weighted", weights=weights)  # type: ignore[arg-type]


def test_weights_and_the_failover_flag_accept_what_they_did() -> None:
    assert RoutingConfig(strategy="weighted", weights=[1, 2.5, Fraction(1, 3)]).weights is not None  # type: ignore[list-item]
    assert RoutingConfig(failover_on_uncertain=True).failover_on_uncertain is True
    with pytest.raises(ConfigurationError, match=r"^failover_on_uncertain must be True or False, not 1$"):
        RoutingConfig(failover_on_uncertain=1)  # type: ignore[arg-type]


# --- Celery ----------------------------------------------------------------------------------


def _celery() -> Any:
    celery = pytest.importorskip("celery")
    return celery.Celery("args", broker="memory://", set_as_current=False)


def _settings(**options: Any) -> Any:
    from smsgate.celery._worker import Settings

    return Settings(**options)


@pytest.mark.parametrize("field", ["retry_backoff", "retry_backoff_max"])
@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_celery_seconds_are_finite(field: str, value: object) -> None:
    """An int too large for a float was accepted (and reached random.uniform)."""
    with pytest.raises(
        ConfigurationError, match=f"^{field} must be a finite number of seconds, at least 0, not"
    ):
        _settings(**{field: value})


def test_celery_seconds_take_any_real_number_as_a_float() -> None:
    """A Fraction was refused (routing and the receiver took it); it is kept as a float, which
    Celery's countdown (a timedelta) and threading.Event.wait accept."""
    settings = _settings(retry_backoff=Fraction(1, 4), retry_backoff_max=0)
    assert (settings.retry_backoff, settings.retry_backoff_max) == (0.25, 0.0)
    assert type(settings.retry_backoff) is float


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key_ttl": 0}, r"^key_ttl must be a whole number, at least 1, not 0$"),
        ({"key_ttl": HUGE}, r"^key_ttl must be a whole number, at least 1, not 1000"),
        ({"max_retries": -1}, r"^max_retries must be a whole number, at least 0, not -1$"),
        ({"max_retries": True}, r"^max_retries must be a whole number, at least 0, not True$"),
        ({"retry_backoff": -1}, r"^retry_backoff must be a finite number of seconds, at least 0, not -1$"),
        (
            {"retry_backoff": Decimal(1)},
            r"^retry_backoff must be a finite number of seconds, at least 0, not Dec",
        ),
        ({"retry_jitter": "no"}, r"^retry_jitter must be True or False, not 'no'$"),
    ],
)
def test_celery_settings_messages_are_kept(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _settings(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lock_ttl": HUGE}, r"^lock_ttl must be a positive number of seconds, not 1000"),
        ({"lease": math.inf}, r"^lease must be a positive number of seconds, not inf$"),
        ({"lease": Decimal(1)}, r"^lease must be a positive number of seconds, not Decimal"),
        ({"limit": 0}, r"^limit must be a whole number, at least 1, or None, not 0$"),
        ({"limit": HUGE}, r"^limit must be a whole number, at least 1, or None, not 1000"),
    ],
)
def test_the_pull_task_settings(options: dict[str, Any], message: str) -> None:
    """An int too large for a float was accepted as lock_ttl (and reached Event.wait)."""
    import smsgate.celery

    with pytest.raises(ConfigurationError, match=message):
        smsgate.celery.register_pull_task(
            _celery(), journal="unused.sqlite3", redis_url="redis://127.0.0.1:9/0", **options
        )


def test_the_pull_task_takes_a_fraction_as_a_float() -> None:
    """A Fraction was refused; one kept as it is would reach threading.Event.wait(ttl / 3),
    which raises TypeError."""
    from smsgate.celery._pulls import _PullSettings

    settings = _PullSettings(
        journal=None, redis_url=None, handler=None, limit=None, lock_ttl=Fraction(3, 2), lease=Fraction(1)
    )
    assert (settings.lock_ttl, settings.lease) == (1.5, 1.0)
    assert type(settings.lock_ttl) is float


@pytest.mark.parametrize("every", [HUGE, math.inf, math.nan, 0, True, "30", Decimal(30)], ids=repr)
def test_schedule_pulls_refuses_what_is_no_positive_finite_interval(every: object) -> None:
    """An int too large for a float was scheduled (Celery's timedelta then overflowed)."""
    from smsgate.celery._pulls import schedule_pulls

    with pytest.raises(ValidationError, match=r"^every must be a positive number of seconds"):
        schedule_pulls(_celery(), every)  # type: ignore[arg-type]


def test_schedule_pulls_takes_a_fraction_as_a_float() -> None:
    """A Fraction was refused; Celery's schedule (a timedelta) would refuse one."""
    from smsgate.celery._pulls import schedule_pulls

    app = _celery()
    schedule_pulls(app, Fraction(45, 2))  # type: ignore[arg-type]
    entry = app.conf.beat_schedule["smsgate-pull"]
    assert (entry["schedule"], entry["options"]["expires"]) == (22.5, 22.5)
    assert type(entry["schedule"]) is float


# --- the shared state -------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [math.inf, HUGE, Fraction(HUGE), math.nan, 0, True, Decimal(1)], ids=repr)
def test_the_shared_state_timeout_is_finite(timeout: object) -> None:
    """An infinity or an int too large for a float was accepted (the socket raised later)."""
    scale = pytest.importorskip("smsgate.scale")
    with pytest.raises(ConfigurationError, match=r"^shared state timeout must be a positive number, not"):
        scale.RedisState("redis://127.0.0.1:9/0", timeout=timeout)


def test_the_shared_state_takes_a_fraction_as_a_float() -> None:
    scale = pytest.importorskip("smsgate.scale")
    state = scale.RedisState("redis://127.0.0.1:9/0", timeout=Fraction(1, 4))
    try:
        assert state.timeout == 0.25
        assert type(state.timeout) is float
    finally:
        state.close()
