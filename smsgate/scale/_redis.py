"""Circuit breakers and rate limits kept in Redis, shared by every process that uses them.

Breaker
    One hash per provider, ``<prefix>:breaker:<name>``, with ``failures`` (consecutive
    availability failures), ``opened`` and ``probe`` (milliseconds of the Redis server's
    clock). Each step — allow, record, release, snapshot — is one Lua script, so it is atomic
    across processes, and reads the time with ``TIME`` on the server: the hosts' clocks never
    matter. The rules are :class:`smsgate.routing.CircuitBreaker`'s. Every step that writes
    the hash sets it to expire :attr:`RedisBreaker.expiry` later (a day, or two cool-downs
    when longer), so the hash of a provider no longer configured does not stay forever, and
    an open circuit, its cool-down and a probe's claim are never lost early.

Rate limit
    The ``limits`` library's moving window on its Redis storage (tested atomic Lua scripts,
    not hand-written ones): at most ``N`` requests in any ``W`` seconds, ``N`` and ``W``
    whole numbers chosen by :func:`window_for` so that ``N / W`` is the configured rate
    (never above it, at most 1 % below) and ``N`` at least its burst. "Over the limit" becomes
    "wait until the oldest request of the window leaves it" (the window's reset time).

Failures
    A step taken *before* a request (allow, reserve) that gets no answer from Redis — down,
    unreachable within ``timeout``, refused — raises :class:`SharedStateError`, a
    :class:`~smsgate.NotSentError`: the message was not sent and may be retried later. One
    taken *after* a request (record, release) logs a warning and carries on: the message's
    outcome is already decided and stays what it was.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from smsgate._args import is_seconds
from smsgate._secret import Secret
from smsgate.exceptions import ConfigurationError, NotSentError, SmsGateError
from smsgate.routing import BreakerPolicy, BreakerState, ProviderHealth, RateLimit, is_availability_failure
from smsgate.routing._breaker import Clock
from smsgate.settings import cut_traceback

__all__ = ["RedisBreaker", "RedisLimiter", "RedisState", "SharedStateError", "masked_url", "window_for"]

T = TypeVar("T")
log = logging.getLogger("smsgate.scale")

_SCHEMES = ("redis", "rediss", "unix")
# A breaker's hash lives at least a day after its last write (RedisBreaker.expiry).
_EXPIRY_FLOOR_MS = 86_400_000

# The Redis server's clock in milliseconds. Scripts read it with TIME; since Redis 5 their
# effects (not the script) are replicated, and replicate_commands() says so on older servers.
_NOW = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] the breaker's hash; ARGV[1] the cool-down in ms; ARGV[2] the hash's expiry in ms.
# {0, 0}: refused; {1, 0}: closed, go; {1, now}: the half-open probe, claimed at ``now``.
_ALLOW = (
    """
local opened = redis.call('HGET', KEYS[1], 'opened')
if not opened then return {1, 0} end
"""
    + _NOW
    + """
local cool = tonumber(ARGV[1])
if now - tonumber(opened) < cool then return {0, 0} end
local probe = redis.call('HGET', KEYS[1], 'probe')
if probe and now - tonumber(probe) < cool then return {0, 0} end
redis.call('HSET', KEYS[1], 'probe', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, now}
"""
)

# KEYS[1] the breaker's hash; ARGV[1] 'ok' | 'down' | 'other'; ARGV[2] failures that open it;
# ARGV[3] '1' when the policy is enabled; ARGV[4] the hash's expiry in ms.
_RECORD = (
    """
if ARGV[1] == 'ok' then
  redis.call('DEL', KEYS[1])
  return 0
end
if ARGV[1] == 'down' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  local probing = redis.call('HEXISTS', KEYS[1], 'probe') == 1
  if ARGV[3] == '1' and (probing or failures >= tonumber(ARGV[2])) then
"""
    + _NOW
    + """
    redis.call('HSET', KEYS[1], 'opened', now)
  end
end
redis.call('HDEL', KEYS[1], 'probe')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
"""
)

# KEYS[1] the breaker's hash; ARGV[1] the probe claim to hand back (only if still the same);
# ARGV[2] the hash's expiry in ms.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'probe') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'probe')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS[1] the breaker's hash; ARGV[1] the cool-down in ms. {failures, state}. Read only: the
# expiry is left as the last write set it.
_SNAPSHOT = (
    """
local found = redis.call('HMGET', KEYS[1], 'failures', 'opened')
local failures = tonumber(found[1]) or 0
if not found[2] then return {failures, 'closed'} end
"""
    + _NOW
    + """
if now - tonumber(found[2]) < tonumber(ARGV[1]) then return {failures, 'open'} end
return {failures, 'half_open'}
"""
)


class SharedStateError(NotSentError):
    """Not attempted: the shared breaker / rate-limit store (Redis) did not answer.

    The gateway cannot know whether the provider's circuit is open or its rate limit spent,
    so it sends nothing rather than risk going past either: nothing was sent, and retrying
    later is safe (``retry_safe``), like any :class:`~smsgate.NotSentError`. The message
    names the store by its URL with any password masked.
    """


def masked_url(url: object) -> str:
    """``url`` with its password (if any, in the user part or as a ``password`` query
    parameter, which redis-py reads too) replaced by ``***``, for messages and reprs."""
    if not isinstance(url, str):
        return f"<{type(url).__name__}, not a URL>"
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if parts.query:  # redis-py reads a password query parameter too (?password=…)
        parts = parts._replace(query="&".join(map(_masked_param, parts.query.split("&"))))
    if not password:
        return urllib.parse.urlunsplit(parts)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _masked_param(param: str) -> str:
    """One ``key=value`` of a URL's query, its value masked when the key says password."""
    key, _, _ = param.partition("=")
    return f"{key}=***" if urllib.parse.unquote(key).strip().lower() == "password" else param


def window_for(limit: RateLimit) -> tuple[int, int]:
    """The moving window ``(N, W)`` — at most ``N`` requests in any ``W`` seconds — that
    carries ``limit`` in Redis.

    ``W`` is a whole number of seconds (the ``limits`` library's granularity), at least
    ``burst / rate`` so that ``N`` covers the burst; ``N / W`` is never above ``rate`` and at
    most 1 % below it: ``RateLimit(10)`` is 10 per second, ``RateLimit(2.5)`` 5 per 2 s,
    ``RateLimit(0.2)`` 1 per 5 s.

    Unlike the in-process token bucket, which spaces requests ``1 / rate`` apart after its
    burst, a window lets its ``N`` requests go as early as they come within the ``W`` seconds.
    """
    first = max(1, math.ceil(limit.burst / limit.rate - 1e-9))
    for seconds in range(first, first + 3600):
        amount = math.floor(limit.rate * seconds + 1e-9)
        if amount >= 1 and amount >= 0.99 * limit.rate * seconds:
            return amount, seconds
    return max(1, math.floor(limit.rate * first)), first


class RedisState:
    """A :class:`smsgate.routing.RoutingState` in Redis: every process (and host) using the
    same Redis database and ``prefix`` shares one circuit breaker and one rate limit per
    provider name.

    >>> from smsgate.scale import RedisState
    >>> state = RedisState("redis://127.0.0.1:6379/0")  # connects on first use
    >>> state
    RedisState('redis://127.0.0.1:6379/0', prefix='smsgate')
    >>> state.close()

    Give it to a gateway as ``Gateway(providers, shared_state=state)``, or set
    ``[gateway] shared_state = "redis://…"`` in the TOML file (``Gateway.from_config``, the
    CLI and the Celery workers read it).

    :param url: ``redis://[user@]host[:port][/db]``, ``rediss://…`` (TLS) or
        ``unix:///path/to/socket``; redis-py's query options (``?ssl_cert_reqs=…``) apply.
    :param prefix: the start of every key (``<prefix>:breaker:<name>``,
        ``<prefix>:limits:…``); deployments sharing one database use different prefixes.
    :param password: the Redis password, when it is not in ``url`` (the TOML file never holds
        one: it comes from ``SMSGATE_SHARED_STATE_PASSWORD``).
    :param timeout: seconds to connect and to wait for each answer. The router asks Redis
        without awaiting, in :class:`smsgate.AsyncGateway` too (one or two round trips per
        attempt, well under a millisecond on a local network), so this also bounds how long
        an unreachable Redis can hold an event loop before :class:`SharedStateError`.

    The state is thread-safe and fork-safe (redis-py's connection pool reconnects in a child).
    Every gateway using it must configure the same ``BreakerPolicy`` and ``RateLimit`` for a
    provider: the state is shared, the policy is each gateway's.
    """

    def __init__(
        self, url: str, *, prefix: str = "smsgate", password: str | None = None, timeout: float = 0.5
    ) -> None:
        outer = sys.exception()
        # The URL and the password are secret: no frame of an error raised here keeps them as
        # locals (error reporters record them), and the tracebacks below this one are cut.
        shown = masked_url(url)
        secrets = (Secret(url), None if password is None else Secret(password))
        del url, password
        try:
            self._open(shown, *secrets, prefix=prefix, timeout=timeout)
        except SmsGateError as error:
            cut_traceback(error, outer=outer)
            raise error  # again, from a frame without the secrets

    def _open(
        self, shown: str, secret_url: Secret, secret_password: Secret | None, *, prefix: str, timeout: float
    ) -> None:
        url = secret_url.value
        password = None if secret_password is None else secret_password.value
        problem = _url_problem(url, password)
        if problem:
            raise ConfigurationError(f"shared state URL {shown!r}: {problem}")
        if not is_seconds(timeout):
            raise ConfigurationError(f"shared state timeout must be a positive number, not {timeout!r}")
        timeout = float(timeout)  # a Fraction would reach the sockets
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"shared state prefix must be a non-empty string, not {prefix!r}")
        self.url = shown
        self.prefix = prefix
        self.timeout = timeout
        self._password = secret_password
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # One immediate retry for a pooled connection the server has closed; no backoff:
            # a caller waits at most about two timeouts for its answer.
            "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        }
        if password is not None:
            options["password"] = password
        self._client: redis.Redis = redis_client(secret_url, shown, "shared state", **options)
        self._storage = RedisStorage(
            "redis://", connection_pool=self._client.connection_pool, key_prefix=f"{prefix}:limits"
        )
        self._windows = MovingWindowRateLimiter(self._storage)
        self._allow = self._client.register_script(_ALLOW)
        self._record = self._client.register_script(_RECORD)
        self._release = self._client.register_script(_RELEASE)
        self._snapshot = self._client.register_script(_SNAPSHOT)

    def breaker(self, name: str, policy: BreakerPolicy, *, clock: Clock) -> RedisBreaker:
        """The shared circuit breaker of provider ``name`` (``clock`` is unused: Redis's
        own clock decides)."""
        return RedisBreaker(self, name, policy)

    def limiter(self, name: str, limit: RateLimit, *, clock: Clock) -> RedisLimiter:
        """The shared rate limit of provider ``name`` (a moving window, :func:`window_for`)."""
        return RedisLimiter(self, name, limit)

    def ping(self) -> None:
        """Check that Redis answers; raises :class:`SharedStateError` when it does not."""
        self._ask(self._client.ping, provider=None)

    def close(self) -> None:
        """Close the connections to Redis (a later call opens new ones)."""
        self._client.close()

    def __enter__(self) -> RedisState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never raises, not even half-built (a traceback rendered with locals shows it).
        return f"RedisState({getattr(self, 'url', None)!r}, prefix={getattr(self, 'prefix', None)!r})"

    # --- the two ways of asking Redis ------------------------------------------------------

    def _ask(self, question: Callable[[], T], *, provider: str | None) -> T:
        """``question()``'s answer; when Redis gives none, a :class:`SharedStateError` (for a
        step taken before a request: nothing was sent)."""
        try:
            return question()
        except (redis.RedisError, OSError) as exc:
            reason = self._reason(exc)
        # Raised outside the handler: no redis-py frame (whose locals hold the connection
        # settings, the password among them) rides along as the context.
        raise SharedStateError(
            f"not sent: the shared breaker and rate-limit state at {self.url} did not answer "
            f"({reason}); the gateway sends nothing it cannot check. Retry later, or check Redis",
            provider=provider,
        )

    def _tell(self, update: Callable[[], object], *, provider: str, what: str) -> None:
        """Apply ``update``; when Redis takes none, log it and go on (for a step taken after
        a request: its outcome is already decided)."""
        try:
            update()
        except (redis.RedisError, OSError) as exc:
            log.warning(
                "shared state at %s: %s for %s was lost (%s)", self.url, what, provider, self._reason(exc)
            )

    def _reason(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        if self._password is not None and self._password.value:
            text = text.replace(self._password.value, "***")
        return text

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"


def redis_client(url: Secret, shown: str, what: str, **options: Any) -> redis.Redis:
    """A client of the Redis at the URL ``url`` holds (``redis.Redis.from_url``, given
    ``options``); nothing is sent yet. Used by :class:`RedisState` and the Celery
    idempotency store.

    :param shown: the URL as errors show it (:func:`masked_url`).
    :param what: what the URL is for, starting the error: ``"shared state"``.
    :raises ConfigurationError: the URL is no string, or redis-py cannot read it: "<what>
        URL '<shown>' is not a valid Redis URL (<its error's type>)", raised without
        redis-py's error and frames (their message and locals hold the URL, its password);
        or its database (the path, or ``?db=``) is no whole number: redis-py ignores such a
        path and would use database 0, perhaps another deployment's.
    """
    if not isinstance(url.value, str):
        raise ConfigurationError(f"{what} URL must be a string, not {type(url.value).__name__}")
    try:
        client = redis.Redis.from_url(url.value, **options)
    except (ValueError, TypeError) as exc:
        problem = f"is not a valid Redis URL ({type(exc).__name__})"
    else:
        if _names_database(url.value):
            return client
        client.close()
        del client  # its connection settings hold the password
        problem = (
            "names no database: give a whole number, at least 0, as the path "
            "(redis://host:6379/0) or as ?db=0"
        )
    # Raised outside the handler: redis-py's error is not even its context.
    raise ConfigurationError(f"{what} URL {shown!r} {problem}")


def _names_database(url: str) -> bool:
    """Whether the database a Redis URL redis-py reads gives is a whole number of ASCII
    digits, or none is given (database 0).

    redis-py reads ``?db=`` first, then the path of a ``redis://`` or ``rediss://`` URL with
    its slashes removed, through ``int()``: it ignores a path that is no number (``/abc``)
    and connects to database 0, and takes ``/-1``, ``/1/2`` (as 12) or ``/ 1`` too.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # redis-py has read it already: never here
        return False
    query = urllib.parse.parse_qs(parts.query)
    if query.get("db"):
        text = urllib.parse.unquote(query["db"][0])
    elif parts.scheme in ("redis", "rediss"):
        text = urllib.parse.unquote(parts.path).removeprefix("/") or "0"
    else:
        return True
    return text.isascii() and text.isdigit()


def _url_problem(url: object, password: str | None) -> str:
    """What is wrong with a shared-state URL, or ``""``."""
    if not isinstance(url, str):
        return f"a URL string is needed, not {type(url).__name__}"
    try:
        parts = urllib.parse.urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "not a URL"
    if parts.scheme not in _SCHEMES:
        return "use redis://host:port/db, rediss:// (TLS) or unix:///path"
    if has_password and password is not None:
        return "a password is given both in the URL and as password=; give it once"
    return ""


class RedisBreaker:
    """One provider's circuit breaker, kept in Redis (:class:`smsgate.routing.Breaker`).

    The same rules as :class:`smsgate.routing.CircuitBreaker`, shared: failures recorded by
    any process count towards opening; an open circuit is open for all; when the cool-down
    ends, one probe in all the processes goes through. A probe is handed back by the breaker
    object that claimed it only (a cancelled attempt); one never reported stops blocking
    after another cool-down.

    :ivar expiry: seconds after its last write that the breaker's hash expires: a day, or two
        cool-downs when that is longer. A write that opens the circuit or claims a probe
        sets it, so both outlast their cool-down; what expiry forgets is a provider left
        alone that long (no request, no outcome): its count of failures, and a half-open
        circuit, which becomes closed. A success deletes the hash at once.
    """

    def __init__(self, state: RedisState, name: str, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.name = name
        self._state = state
        self._key = state._key("breaker", name)
        self._cool_down_ms = max(0, round(policy.cool_down * 1000))
        self._expiry_ms = max(_EXPIRY_FLOOR_MS, 2 * self._cool_down_ms)
        self.expiry = self._expiry_ms / 1000
        self._lock = threading.Lock()
        self._claim: str | None = None

    def allow(self) -> bool:
        """Whether a request may go now (claims the shared probe when half-open).

        :raises SharedStateError: Redis did not answer (nothing is sent).
        """
        allowed, probe = self._state._ask(
            lambda: self._state._allow(keys=[self._key], args=[self._cool_down_ms, self._expiry_ms]),
            provider=self.name,
        )
        if probe:
            with self._lock:
                self._claim = str(probe)
        return bool(allowed)

    def release(self) -> None:
        """Hand back this object's probe claim, if it still holds it. Never raises."""
        with self._lock:
            claim, self._claim = self._claim, None
        if claim is not None:
            self._state._tell(
                lambda: self._state._release(keys=[self._key], args=[claim, self._expiry_ms]),
                provider=self.name,
                what="a probe hand-back",
            )

    def record(self, error: SmsGateError | None) -> None:
        """Record an attempt's outcome for every process. Never raises (a lost update is
        logged)."""
        kind = "ok" if error is None else "down" if is_availability_failure(error) else "other"
        with self._lock:
            self._claim = None
        enabled = "1" if self.policy.enabled else "0"
        args: list[str | int] = [kind, self.policy.failures, enabled, self._expiry_ms]
        self._state._tell(
            lambda: self._state._record(keys=[self._key], args=args),
            provider=self.name,
            what="an attempt's outcome",
        )

    def snapshot(self, name: str) -> ProviderHealth:
        """The shared state now, for :meth:`smsgate.Gateway.health`.

        :raises SharedStateError: Redis did not answer.
        """
        failures, state = self._state._ask(
            lambda: self._state._snapshot(keys=[self._key], args=[self._cool_down_ms]), provider=self.name
        )
        text = state.decode() if isinstance(state, bytes) else str(state)
        return ProviderHealth(name=name, state=BreakerState(text), consecutive_failures=int(failures))

    def __repr__(self) -> str:
        # Never raises, not even half-built (a traceback rendered with locals shows it).
        state = getattr(self, "_state", None)
        return f"<RedisBreaker {getattr(self, 'name', None)!r} at {getattr(state, 'url', None)}>"


class RedisLimiter:
    """One provider's rate limit, kept in Redis (:class:`smsgate.routing.Limiter`): a moving
    window of ``N`` requests per ``W`` seconds (:func:`window_for`) shared by every process.

    A slot is taken only when it is free now; otherwise the answer is the wait until the
    window's oldest request leaves it, and the router asks again then (:meth:`recheck`), so
    processes waking together never go past the limit. Window timestamps come from each
    host's wall clock (the ``limits`` library's): keep hosts NTP-synchronised — a host
    ``d`` seconds ahead sees others' requests leave the window ``d`` seconds early.
    """

    def __init__(self, state: RedisState, name: str, limit: RateLimit) -> None:
        self.limit = limit
        self.name = name
        amount, seconds = window_for(limit)
        self.window = RateLimitItemPerSecond(amount, seconds)
        self._state = state

    def reserve(self) -> float:
        """``0.0`` when a slot was taken now, else the seconds until one frees.

        :raises SharedStateError: Redis did not answer (nothing is sent).
        """
        return self._state._ask(self._take, provider=self.name)

    def recheck(self) -> float:
        """After the wait: take the slot now if it is free, else the seconds to wait again."""
        return self.reserve()

    def _take(self) -> float:
        windows, item = self._state._windows, self.window
        span = float(item.get_expiry())
        for _ in range(3):
            if windows.hit(item, self.name):
                return 0.0
            wait = windows.get_window_stats(item, self.name).reset_time - time.time()
            if wait > 0:
                return min(wait, span)
            # The oldest request left the window between the two calls: try again.
        return span / item.amount

    def __repr__(self) -> str:
        # Never raises, not even half-built (a traceback rendered with locals shows it).
        name, window, state = (getattr(self, attr, None) for attr in ("name", "window", "_state"))
        if window is None or state is None:
            return f"<RedisLimiter {name!r} (not built)>"
        amount, seconds = window.amount, window.get_expiry()
        return f"<RedisLimiter {name!r} {amount} per {seconds} s at {state.url}>"
