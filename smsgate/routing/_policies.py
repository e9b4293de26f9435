"""The routing policies an application configures: strategy, retry, breaker, rate limit."""

from __future__ import annotations

import enum

import attrs

from smsgate._args import flag, is_finite, is_number, is_positive, is_whole, must
from smsgate._models import _compared
from smsgate.exceptions import ConfigurationError

__all__ = ["BreakerPolicy", "RateLimit", "RetryPolicy", "Strategy"]


# Seconds (a backoff, a budget, a cool-down) are finite: an infinity reached time.sleep or the
# shared breaker's round(cool_down * 1000), an int too large for a float raised OverflowError.
_seconds = [
    must(is_number, "must be a number"),
    must(is_finite, "must be a finite number"),
    must(lambda value: is_positive(value, zero=True), "must not be negative"),
]
# A rate is a positive, finite number (no rate limit at all is ``rate_limit=None``).
_rate = [must(is_number, "must be a number"), must(is_positive, "must be a positive, finite number")]
# A positive whole number (tries, failures, a burst): ``2.5`` tries means nothing.
_count = [
    must(is_whole, "must be a whole number"),
    must(lambda value: is_whole(value, least=1), "must be positive"),
]


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
    base: float = attrs.field(default=0.2, validator=_seconds)
    cap: float = attrs.field(default=5.0, validator=_seconds)
    total: float = attrs.field(default=30.0, validator=_seconds)

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
    cool_down: float = attrs.field(default=30.0, validator=_seconds)
    enabled: bool = attrs.field(default=True, validator=flag)

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
