"""The routing policies an application configures: strategy, retry, breaker, rate limit."""

from __future__ import annotations

import enum
import math
import numbers
from typing import Any

import attrs

from smsgate._models import _compared
from smsgate.exceptions import ConfigurationError

__all__ = ["BreakerPolicy", "RateLimit", "RetryPolicy", "Strategy"]


def _number(attr: attrs.Attribute[Any], value: object) -> float:
    """``value`` as a number of seconds or a rate: an int or a float, not a bool, not NaN
    (a NaN passes every comparison and would reach ``time.sleep``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ConfigurationError(f"{attr.name} must be a number, not {value!r}")
    return float(value)


def _non_negative(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if _number(attr, value) < 0:
        raise ConfigurationError(f"{attr.name} must not be negative, not {value!r}")


def _positive(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if _number(attr, value) <= 0:
        raise ConfigurationError(f"{attr.name} must be positive, not {value!r}")


def _flag(_inst: object, attr: attrs.Attribute[Any], value: bool) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attr.name} must be True or False, not {value!r}")


def _rate(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    """A positive, finite rate (no rate limit at all is ``rate_limit=None``)."""
    if not 0 < _number(attr, value) < math.inf:
        raise ConfigurationError(f"{attr.name} must be a positive, finite number, not {value!r}")


def _count(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A positive whole number (tries, failures, a burst): ``2.5`` tries means nothing."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"{attr.name} must be a whole number, not {value!r}")
    if value <= 0:
        raise ConfigurationError(f"{attr.name} must be positive, not {value!r}")


class Strategy(enum.StrEnum):
    """The order in which a gateway tries its providers for one call.

    A ``StrEnum``: the plain strings ``"failover"``, ``"round_robin"`` and ``"weighted"``
    are accepted wherever a strategy is.
    """

    #: In configured order; the others are fallbacks.
    FAILOVER = "failover"
    #: The first choice rotates per call; the others follow as fallbacks.
    ROUND_ROBIN = "round_robin"
    #: The first choice is drawn by weight; the others follow heaviest first.
    WEIGHTED = "weighted"

    @classmethod
    def parse(cls, value: Strategy | str) -> Strategy:
        """``value`` as a :class:`Strategy`; a name that is none raises ConfigurationError."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ConfigurationError(f"unknown strategy {value!r}; use one of {names}") from None


@_compared
@attrs.frozen(kw_only=True, eq=False, repr=False)
class RetryPolicy:
    """How often and how patiently one provider is retried when that is safe.

    Retries happen only after an error whose ``retry_safe`` flag is set (not sent, rate
    limited, outage) — and, for read-only operations, after an uncertain outcome — and only on
    the last provider able to take the call: while another one can (not yet tried, circuit not
    open), such a failure goes there at once. A ``RateLimitedError`` with ``retry_after`` is
    retried where it happened.

    :param attempts: tries per provider, the first included (``1`` disables retries).
    :param base: the first backoff ceiling in seconds; it doubles on each retry.
    :param cap: the largest backoff ceiling in seconds.
    :param total: seconds one operation may spend before no further retry is started
        (measured from its start with the gateway's clock). Failing over to a provider not
        yet tried is not a retry and still happens once the budget is spent.

    The delay before retry ``n`` (1 for the first retry) is "full jitter":
    ``uniform(0, min(cap, base * 2 ** (n - 1)))``, raised to the provider's
    ``RateLimitedError.retry_after`` when it asked for more.
    """

    attempts: int = attrs.field(default=3, validator=_count)
    base: float = attrs.field(default=0.2, validator=_non_negative)
    cap: float = attrs.field(default=5.0, validator=_non_negative)
    total: float = attrs.field(default=30.0, validator=_non_negative)

    def ceiling(self, retry: int) -> float:
        """The largest delay before retry number ``retry`` (1-based)."""
        return float(min(self.cap, self.base * 2.0 ** (retry - 1)))


@_compared
@attrs.frozen(kw_only=True, eq=False, repr=False)
class BreakerPolicy:
    """When a provider's circuit opens and when it is probed again.

    :param failures: consecutive availability failures (transport errors and
        :class:`~smsgate.exceptions.ProviderUnavailableError`) that open the circuit.
    :param cool_down: seconds an open circuit skips the provider before letting one
        half-open probe through.
    :param enabled: ``False`` switches the breaker off: every provider is always tried
        (failures are still counted in :meth:`smsgate.Gateway.health`). Spelt
        :meth:`BreakerPolicy.off`; a gateway given ``breaker=None`` uses the default policy.
    """

    failures: int = attrs.field(default=5, validator=_count)
    cool_down: float = attrs.field(default=30.0, validator=_non_negative)
    enabled: bool = attrs.field(default=True, validator=_flag)

    @classmethod
    def off(cls) -> BreakerPolicy:
        """A policy that never opens a circuit: ``Gateway(..., breaker=BreakerPolicy.off())``."""
        return cls(enabled=False)


@_compared
@attrs.frozen(eq=False, repr=False)
class RateLimit:
    """A token bucket for one provider: ``rate`` requests per second on average, and up to
    ``burst`` at once after a quiet period.

    >>> RateLimit(rate=10, burst=5)
    RateLimit(rate=10, burst=5)
    """

    rate: float = attrs.field(validator=_rate)
    burst: int = attrs.field(default=1, validator=_count)
