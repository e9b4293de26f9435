"""One routing configuration: every default a gateway routes with lives here."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence, Set
from typing import Any

import attrs

from smsgate._args import flag, is_finite
from smsgate._models import _compared
from smsgate.exceptions import ConfigurationError
from smsgate.routing._policies import BreakerPolicy, RateLimit, RetryPolicy, Strategy
from smsgate.routing._state import RoutingState

__all__ = ["RoutingConfig"]


def _strategy(value: Strategy | str) -> Strategy:
    return Strategy.parse(value)


def _state(_inst: object, _attr: attrs.Attribute[Any], value: RoutingState | None) -> None:
    if value is not None and not isinstance(value, RoutingState):
        # The value itself stays out of the message: a URL may carry a password.
        raise ConfigurationError(
            f"shared_state takes a RoutingState (an object with breaker() and limiter()), not "
            f"{type(value).__name__}: for Redis, pass smsgate.scale.RedisState(url)"
        )


def _instance(kind: type, hint: str) -> Any:
    """A validator: the value is a ``kind`` (a policy object, not its number)."""

    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ConfigurationError(f"{attr.name} takes {hint}, not {value!r}")

    return check


def _weights(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    numbers: list[Any] = []
    if isinstance(value, Mapping):
        valid = all(isinstance(name, str) for name in value)
        numbers = list(value.values())
    elif isinstance(value, Collection) and not isinstance(value, str | bytes | Set):
        # A list, a tuple, an array: sized and iterable (the router zips it with the providers);
        # a set has no order to match providers.
        valid, numbers = True, list(value)
    else:
        valid = False
    if not (valid and all(is_finite(weight) for weight in numbers)):
        raise ConfigurationError(
            "weights takes finite numbers: a list (one per provider) or a mapping name -> number, "
            f"not {value!r}"
        )
    if any(weight < 0 for weight in numbers):
        # Said here, when the configuration is built (a config file's error names its table).
        raise ConfigurationError(f"weights must not be negative, not {value!r}")


def _rate_limit(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    if value is None or isinstance(value, RateLimit):
        return
    if not (
        isinstance(value, Mapping)
        and all(isinstance(k, str) and isinstance(v, RateLimit) for k, v in value.items())
    ):
        raise ConfigurationError(
            f"rate_limit takes a RateLimit or a mapping provider name -> RateLimit, not {value!r}"
        )


@_compared
@attrs.frozen(kw_only=True, eq=False, repr=False)
class RoutingConfig:
    """How a gateway routes: the keyword arguments of :class:`smsgate.Gateway`, validated.

    :ivar strategy: the order providers are tried in (a :class:`Strategy` or its string).
    :ivar weights: for ``"weighted"``: one number per provider, or a mapping name → weight;
        finite and at least 0, or the config is refused when built.
    :ivar retry: how one provider is retried when that is safe.
    :ivar breaker: each provider's circuit breaker; :meth:`BreakerPolicy.off` switches it off.
    :ivar rate_limit: one :class:`RateLimit` for every provider, or a mapping name → limit.
    :ivar failover_on_uncertain: allow another provider after an uncertain send (it may
        deliver the message twice).
    :ivar shared_state: where the breakers and rate limits live: ``None`` for this process's
        memory (:class:`LocalState`), or a :class:`RoutingState` shared by several processes
        (:class:`smsgate.scale.RedisState`).
    """

    strategy: Strategy = attrs.field(default=Strategy.FAILOVER, converter=_strategy)
    weights: Sequence[float] | Mapping[str, float] | None = attrs.field(default=None, validator=_weights)
    retry: RetryPolicy = attrs.field(
        factory=RetryPolicy, validator=_instance(RetryPolicy, "a smsgate.RetryPolicy(attempts=…)")
    )
    breaker: BreakerPolicy = attrs.field(
        factory=BreakerPolicy, validator=_instance(BreakerPolicy, "a smsgate.BreakerPolicy(failures=…)")
    )
    rate_limit: RateLimit | Mapping[str, RateLimit] | None = attrs.field(default=None, validator=_rate_limit)
    failover_on_uncertain: bool = attrs.field(default=False, validator=flag)
    shared_state: RoutingState | None = attrs.field(default=None, validator=_state)

    def __attrs_post_init__(self) -> None:
        if self.weights is not None and self.strategy is not Strategy.WEIGHTED:
            raise ConfigurationError('weights are only used with strategy="weighted"')

    @classmethod
    def given(cls, **options: Any) -> RoutingConfig:
        """A config from keyword options where ``None`` means "the default" (the gateways'
        keyword arguments)."""
        return cls(**{name: value for name, value in options.items() if value is not None})
