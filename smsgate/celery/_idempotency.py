"""The idempotency store: a key per message, claimed before the send, its outcome recorded after.

Every message enqueued by :func:`smsgate.celery.enqueue` carries a key chosen at enqueue time,
so each delivery of the task (a retry, a redelivery after a worker died) carries the same
key. Before sending, the task *claims* the key (Redis ``SET NX`` with a TTL); after, it
*records* the outcome under it. A delivery that finds the key already claimed therefore:

- returns the recorded outcome without sending, when there is one;
- reports the message **uncertain** when there is none: an earlier delivery claimed it and
  died (or is still running) before recording what happened, so the message may have gone.
  It is never sent again and never dropped silently.

A send that surely did not go out and will be retried *releases* its own claim first
(compare-and-delete on the claim's token), so the retry can claim it again.

The Redis value of a key is a JSON object: ``{"token": …, "claimed_at": …}`` while claimed,
plus ``"outcome": {…}`` (the task's result) once recorded.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import attrs

from smsgate._args import is_seconds, is_whole
from smsgate._secret import Secret
from smsgate.exceptions import ConfigurationError, SmsGateError

__all__ = [
    "Claim",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
]

#: Prefix of every Redis key the store writes.
PREFIX = "smsgate:idem:"


class IdempotencyStoreError(SmsGateError):
    """The idempotency store could not be reached or answered nonsense. Raised by a claim
    before anything is sent: the send task retries later."""


@attrs.frozen
class Claim:
    """The answer of :meth:`IdempotencyStore.claim`.

    :ivar token: set when this call claimed the key: pass it to :meth:`~IdempotencyStore.record`
        and :meth:`~IdempotencyStore.release`. ``None`` when the key was claimed before.
    :ivar outcome: when the key was claimed before and an outcome was recorded, that outcome.
        With ``token`` and ``outcome`` both ``None``, an earlier claim has no outcome: the
        message may have been sent.
    """

    token: str | None
    outcome: dict[str, Any] | None = None

    @property
    def claimed(self) -> bool:
        """True when this call claimed the key (the caller may send)."""
        return self.token is not None


class IdempotencyStore:
    """Where message keys are claimed and outcomes recorded (interface).

    :class:`RedisIdempotencyStore` is the one to use with workers; :class:`MemoryIdempotencyStore`
    serves a single process (eager tests).
    """

    def claim(self, key: str) -> Claim:
        """Claim ``key`` if nobody has; else say what an earlier claim left."""
        raise NotImplementedError

    def record(self, key: str, token: str, outcome: dict[str, Any]) -> bool:
        """Record ``outcome`` under ``key`` if the claim is still ``token``'s; True if written."""
        raise NotImplementedError

    def mark_uncertain(self, key: str, outcome: dict[str, Any]) -> bool:
        """Record ``outcome`` under a claim that has none yet, keeping the claim's token (its
        owner, if still running, may still record the real outcome); True if written."""
        raise NotImplementedError

    def release(self, key: str, token: str) -> bool:
        """Delete the claim if it is ``token``'s and has no outcome; True if deleted."""
        raise NotImplementedError

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value of ``key`` (``token``, ``claimed_at``, ``outcome``), or None."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (the default does nothing)."""


def _new_claim() -> tuple[str, str]:
    token = secrets.token_hex(16)
    return token, json.dumps({"token": token, "claimed_at": time.time()})


# KEYS[1] the key; ARGV[1] the token, ARGV[2] the outcome JSON, ARGV[3] the TTL (seconds).
_RECORD = """
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], cjson.encode({token = ARGV[1], outcome = cjson.decode(ARGV[2])}), 'EX', ARGV[3])
  return 1
end
local data = cjson.decode(value)
if data.token ~= ARGV[1] then return 0 end
data.outcome = cjson.decode(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(data), 'KEEPTTL')
return 1
"""
# KEYS[1] the key; ARGV[1] the outcome JSON.
_MARK_UNCERTAIN = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local data = cjson.decode(value)
if data.outcome ~= nil then return 0 end
data.outcome = cjson.decode(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(data), 'KEEPTTL')
return 1
"""
# KEYS[1] the key; ARGV[1] the token.
_RELEASE = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local data = cjson.decode(value)
if data.token ~= ARGV[1] or data.outcome ~= nil then return 0 end
return redis.call('DEL', KEYS[1])
"""


class RedisIdempotencyStore(IdempotencyStore):
    """The store in Redis: ``SET NX EX`` to claim, Lua scripts to record and to release
    atomically (compare the token, then write or delete).

    :param url: ``redis://host:port/db`` (``rediss://`` for TLS), or give ``client``.
    :param ttl: seconds a key is kept after its claim (default 7 days), a whole number at
        least 1; choose it longer than any redelivery can come (Celery's
        ``visibility_timeout`` plus retries).
    :param client: a ``redis.Redis`` to use instead of one built from ``url``.
    :param timeout: seconds to connect and to wait for each answer (a client built from
        ``url``).
    :raises ConfigurationError: neither ``url`` nor ``client``, a URL redis-py cannot read
        (the error shows it with its password masked, and no frame of its traceback holds
        it), a ``ttl`` or a ``timeout`` of no such kind.
    :raises IdempotencyStoreError: from every method, when Redis cannot be reached.
    """

    def __init__(
        self, url: str | None = None, *, ttl: int = 7 * 24 * 3600, client: Any = None, timeout: float = 5.0
    ) -> None:
        # The extra's dependencies, loaded only by this store; smsgate.scale builds and masks
        # Redis URLs for the shared state already.
        import redis  # noqa: PLC0415

        from smsgate.scale._redis import masked_url, redis_client  # noqa: PLC0415

        # The URL may hold a password: no frame of an error raised here keeps it as a local.
        secret = Secret(url) if url else None
        shown = masked_url(url) if url else ""
        del url
        if not is_whole(ttl, least=1):
            raise ConfigurationError(
                f"RedisIdempotencyStore ttl must be a whole number, at least 1, not {ttl!r}"
            )
        if client is None:
            if secret is None:
                raise ConfigurationError("RedisIdempotencyStore needs a url or a client")
            if not is_seconds(timeout):
                raise ConfigurationError(
                    f"RedisIdempotencyStore timeout must be a positive number of seconds, not {timeout!r}"
                )
            client = redis_client(
                secret,
                shown,
                "idempotency store",
                socket_timeout=float(timeout),
                socket_connect_timeout=float(timeout),
            )
        self._redis = client
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.ttl = int(ttl)
        self._record = client.register_script(_RECORD)
        self._mark = client.register_script(_MARK_UNCERTAIN)
        self._release = client.register_script(_RELEASE)

    def __repr__(self) -> str:
        # Never the URL: it may carry a password.
        return f"<RedisIdempotencyStore ttl={getattr(self, 'ttl', None)}>"

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self._errors as exc:
            failure = type(exc).__name__
        # Raised outside the handler: no redis-py frame (whose locals hold the connection
        # settings, the password among them: a refused AUTH) rides along as the context.
        raise IdempotencyStoreError(f"idempotency store: {what} failed ({failure})")

    def claim(self, key: str) -> Claim:
        """Claim ``key`` (``SET NX EX``); else read what the earlier claim left."""
        token, value = _new_claim()
        name = PREFIX + key
        if self._call("claim", self._redis.set, name, value, nx=True, ex=self.ttl):
            return Claim(token)
        stored = self.get(key)
        outcome = stored.get("outcome") if stored else None
        return Claim(None, outcome if isinstance(outcome, dict) else None)

    def record(self, key: str, token: str, outcome: dict[str, Any]) -> bool:
        """Write ``outcome`` under ``token``'s claim (atomically compared)."""
        done = self._call(
            "record", self._record, keys=[PREFIX + key], args=[token, json.dumps(outcome), self.ttl]
        )
        return bool(done)

    def mark_uncertain(self, key: str, outcome: dict[str, Any]) -> bool:
        """Write ``outcome`` under a claim without one, keeping its token."""
        return bool(self._call("record", self._mark, keys=[PREFIX + key], args=[json.dumps(outcome)]))

    def release(self, key: str, token: str) -> bool:
        """Compare-and-delete ``token``'s claim (only while it has no outcome)."""
        return bool(self._call("release", self._release, keys=[PREFIX + key], args=[token]))

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value of ``key``, decoded."""
        raw = self._call("read", self._redis.get, PREFIX + key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise IdempotencyStoreError(f"idempotency store: key {key!r} holds no JSON object") from exc
        if not isinstance(data, dict):
            raise IdempotencyStoreError(f"idempotency store: key {key!r} holds no JSON object")
        return data

    def close(self) -> None:
        """Close the Redis connections."""
        self._redis.close()


class MemoryIdempotencyStore(IdempotencyStore):
    """The same rules in this process's memory, for eager tests (``task_always_eager``) and
    single-process use; workers need :class:`RedisIdempotencyStore`. TTLs are not applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}

    def claim(self, key: str) -> Claim:
        """Claim ``key``; else what the earlier claim left."""
        with self._lock:
            stored = self._data.get(key)
            if stored is None:
                token, value = _new_claim()
                self._data[key] = json.loads(value)
                return Claim(token)
            return Claim(None, stored.get("outcome"))

    def record(self, key: str, token: str, outcome: dict[str, Any]) -> bool:
        """Write ``outcome`` under ``token``'s claim."""
        with self._lock:
            stored = self._data.setdefault(key, {"token": token})
            if stored.get("token") != token:
                return False
            stored["outcome"] = json.loads(json.dumps(outcome))
            return True

    def mark_uncertain(self, key: str, outcome: dict[str, Any]) -> bool:
        """Write ``outcome`` under a claim without one."""
        with self._lock:
            stored = self._data.get(key)
            if stored is None or "outcome" in stored:
                return False
            stored["outcome"] = json.loads(json.dumps(outcome))
            return True

    def release(self, key: str, token: str) -> bool:
        """Delete ``token``'s claim while it has no outcome."""
        with self._lock:
            stored = self._data.get(key)
            if stored is None or stored.get("token") != token or "outcome" in stored:
                return False
            del self._data[key]
            return True

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value of ``key``."""
        with self._lock:
            stored = self._data.get(key)
            return json.loads(json.dumps(stored)) if stored is not None else None
