"""Scale-out: routing state shared by several processes, kept in Redis.

Imported only explicitly (``import smsgate.scale``; ``import smsgate`` never loads it), and
needs the ``redis`` extra: ``pip install 'smsgate[redis]'`` (redis-py and ``limits``).

A gateway keeps each provider's circuit breaker and rate limit in its own process's memory
by default, so ten worker processes each allowed 100 sends/s send 1,000/s. Give them one
:class:`RedisState` and they share one limit and one breaker per provider::

    from smsgate.scale import RedisState

    gateway = smsgate.Gateway(providers, rate_limit=smsgate.RateLimit(100),
                              shared_state=RedisState("redis://10.0.0.5:6379/0"))

or, in the TOML file read by ``Gateway.from_config``, the CLI and the Celery workers::

    [gateway]
    shared_state = "redis://10.0.0.5:6379/0"   # password: $SMSGATE_SHARED_STATE_PASSWORD

When Redis cannot be asked before a send, the send raises :class:`SharedStateError` (a
:class:`~smsgate.NotSentError`): nothing was sent. See ``docs/routing.md`` (shared state).

``RedisState``        the :class:`smsgate.routing.RoutingState` to give a gateway
``RedisBreaker``      one provider's breaker in Redis (atomic Lua steps, Redis's clock)
``RedisLimiter``      one provider's rate limit in Redis (``limits``' moving window)
``SharedStateError``  not sent: the shared state did not answer
``window_for``        the moving window (N per W seconds) that carries a ``RateLimit``
``masked_url``        a URL with its password masked, as reprs and errors show it
"""

from __future__ import annotations

from smsgate.scale._redis import (
    RedisBreaker,
    RedisLimiter,
    RedisState,
    SharedStateError,
    masked_url,
    window_for,
)

__all__ = ["RedisBreaker", "RedisLimiter", "RedisState", "SharedStateError", "masked_url", "window_for"]
