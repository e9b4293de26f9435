"""Breakers and rate limits shared through Redis (``smsgate.scale.RedisState``), against a real
Redis; the in-process default, replaced only when configured; what a send does when Redis
cannot be asked; the ``[gateway] shared_state`` key of the TOML file.

Two :class:`RedisState` objects on one database stand for two processes here (each has its own
connections and breaker objects); ``test_scale_shared_processes.py`` runs real processes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import redis

import smsgate
from smsgate import exceptions as errors
from smsgate.routing import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    LocalState,
    RateLimit,
    RetryPolicy,
    RoutingConfig,
    TokenBucket,
)
from smsgate.scale import RedisState, SharedStateError, masked_url, window_for
from smsgate.testing import InMemoryProvider, frames_with_secrets

TEXT = "hi【shop】"
SMS = smsgate.Sms(to="13800138000", text=TEXT)


def _clock() -> float:
    return 0.0


@pytest.fixture
def two(redis_url: str) -> Iterator[tuple[RedisState, RedisState]]:
    """Two states on one fresh database: two processes' views of the same Redis."""
    with RedisState(redis_url) as first, RedisState(redis_url) as second:
        yield first, second


def _raised(call: Callable[[], object]) -> BaseException:
    """The error ``call`` raises, with a traceback that starts here (not in the test, whose
    own locals hold the secret it checks for)."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _cool_down_over(url: str, name: str, seconds: float) -> None:
    """Move the breaker of ``name`` back in (Redis's) time: opened ``seconds`` ago, its
    cool-down over without the test sleeping through it."""
    with redis.Redis.from_url(url) as client:
        now_s, now_us = client.time()
        client.hset(f"smsgate:breaker:{name}", "opened", now_s * 1000 + now_us // 1000 - int(seconds * 1000))


# --- the window that carries a RateLimit ----------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst", "window"),
    [(10, 1, (10, 1)), (2.5, 1, (5, 2)), (0.2, 1, (1, 5)), (100, 1, (100, 1)), (10, 25, (30, 3))],
)
def test_a_rate_limit_becomes_a_whole_window_never_above_the_rate(
    rate: float, burst: int, window: tuple[int, int]
) -> None:
    """N per W whole seconds: N / W never above the rate, N at least the burst."""
    assert window_for(RateLimit(rate=rate, burst=burst)) == window
    amount, seconds = window
    assert amount / seconds <= rate
    assert amount >= burst


# --- the breaker in Redis -------------------------------------------------------------------


def test_failures_recorded_by_two_processes_open_the_circuit_for_both(
    two: tuple[RedisState, RedisState],
) -> None:
    """Consecutive failures count wherever they happen; the open circuit is open for all."""
    first, second = two
    policy = BreakerPolicy(failures=2, cool_down=60)
    a, b = first.breaker("p", policy, clock=_clock), second.breaker("p", policy, clock=_clock)
    a.record(errors.NotSentError("down"))
    assert b.snapshot("p").state is BreakerState.CLOSED
    assert b.allow()
    b.record(errors.ProviderOutageError("down"))
    for breaker in (a, b):
        health = breaker.snapshot("p")
        assert (health.state, health.consecutive_failures) == (BreakerState.OPEN, 2)
        assert not breaker.allow()


def test_only_availability_failures_count_and_a_success_closes(
    two: tuple[RedisState, RedisState],
) -> None:
    """The in-process rules: refusals of the message and bad input do not count; transport
    failures and refusals about the provider do; a success resets the count."""
    first, second = two
    policy = BreakerPolicy(failures=3, cool_down=60)
    a, b = first.breaker("p", policy, clock=_clock), second.breaker("p", policy, clock=_clock)
    for error in (errors.ContentError("bad"), errors.ValidationError("bad")):
        a.record(error)
    assert b.snapshot("p").consecutive_failures == 0
    a.record(errors.UncertainOutcomeError("?"))
    a.record(errors.AuthenticationError("no"))
    assert b.snapshot("p").consecutive_failures == 2
    b.record(None)
    a.record(errors.NotSentError("down"))
    assert b.snapshot("p").state is BreakerState.CLOSED
    assert b.snapshot("p").consecutive_failures == 1


def test_half_open_lets_one_probe_through_across_processes(
    redis_url: str, two: tuple[RedisState, RedisState]
) -> None:
    """After the cool-down exactly one caller anywhere probes; a probe handed back (its
    attempt cancelled) lets the next caller probe at once; its success closes the circuit."""
    first, second = two
    policy = BreakerPolicy(failures=1, cool_down=60)
    a, b = first.breaker("p", policy, clock=_clock), second.breaker("p", policy, clock=_clock)
    a.record(errors.NotSentError("down"))
    assert not b.allow()
    _cool_down_over(redis_url, "p", 61)
    assert b.snapshot("p").state is BreakerState.HALF_OPEN
    assert a.allow()  # the probe
    assert not b.allow()
    assert not a.allow()  # a second caller in the same process waits too
    a.release()
    assert b.allow()  # b probes now
    a.release()  # a holds no claim: b's probe stays claimed
    assert not a.allow()
    b.record(None)
    assert a.snapshot("p").state is BreakerState.CLOSED
    assert a.allow()


def test_a_failed_probe_opens_the_circuit_again(redis_url: str, two: tuple[RedisState, RedisState]) -> None:
    """The probe's availability failure re-opens the circuit for another cool-down."""
    first, second = two
    policy = BreakerPolicy(failures=3, cool_down=60)
    a, b = first.breaker("p", policy, clock=_clock), second.breaker("p", policy, clock=_clock)
    for _ in range(3):
        a.record(errors.NotSentError("down"))
    _cool_down_over(redis_url, "p", 61)
    assert b.allow()
    b.record(errors.NotSentError("still down"))
    assert a.snapshot("p").state is BreakerState.OPEN
    assert not a.allow()


def test_a_disabled_breaker_counts_but_never_opens(two: tuple[RedisState, RedisState]) -> None:
    """``BreakerPolicy.off()``: failures are counted in health, every request goes through."""
    first, _ = two
    breaker = first.breaker("p", BreakerPolicy.off(), clock=_clock)
    for _ in range(10):
        breaker.record(errors.NotSentError("down"))
    health = breaker.snapshot("p")
    assert (health.state, health.consecutive_failures) == (BreakerState.CLOSED, 10)
    assert breaker.allow()


def test_prefixes_keep_deployments_apart(redis_url: str) -> None:
    """Two prefixes on one database share nothing."""
    policy = BreakerPolicy(failures=1, cool_down=60)
    with RedisState(redis_url, prefix="blue") as blue, RedisState(redis_url, prefix="green") as green:
        blue.breaker("p", policy, clock=_clock).record(errors.NotSentError("down"))
        assert not blue.breaker("p", policy, clock=_clock).allow()
        assert green.breaker("p", policy, clock=_clock).allow()


DAY_MS = 86_400_000


def _expiry_ms(url: str, key: str) -> int:
    """The milliseconds until ``key`` expires (-1: never, -2: no such key)."""
    with redis.Redis.from_url(url) as client:
        return int(client.pttl(key))


def _expire_soon(url: str, key: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.pexpire(key, 5_000)


def test_every_write_of_a_breaker_sets_its_hash_to_expire(redis_url: str) -> None:
    """A provider's hash expires a day after its last write (no key stays forever for a
    provider no longer configured); each write (a failure, the probe's claim, its hand-back,
    a refusal's release) sets that day again; a success deletes the hash."""
    key = "smsgate:breaker:p"
    with RedisState(redis_url) as state:
        breaker = state.breaker("p", BreakerPolicy(failures=2, cool_down=60), clock=_clock)
        assert breaker.expiry == 86_400
        breaker.record(errors.NotSentError("down"))  # counted, not open yet
        assert DAY_MS - 60_000 < _expiry_ms(redis_url, key) <= DAY_MS
        writes: list[Callable[[], object]] = [
            lambda: breaker.record(errors.NotSentError("down")),  # opens it
            lambda: _cool_down_over(redis_url, "p", 61),
            breaker.allow,  # claims the probe
            breaker.release,  # hands it back
            breaker.allow,
            lambda: breaker.record(errors.ContentError("refused")),  # frees the probe slot
        ]
        for write in writes:
            _expire_soon(redis_url, key)
            write()
            if write is not writes[1]:
                assert _expiry_ms(redis_url, key) > DAY_MS - 60_000, write
        _expire_soon(redis_url, key)
        assert breaker.snapshot("p").state is BreakerState.HALF_OPEN
        assert _expiry_ms(redis_url, key) <= 5_000  # a read leaves the expiry alone
        breaker.record(None)
        assert _expiry_ms(redis_url, key) == -2


def test_an_open_circuit_and_its_probe_outlast_a_cool_down_longer_than_a_day(redis_url: str) -> None:
    """With a cool-down of three days the hash lives two cool-downs after the write that
    opens the circuit, and after the probe's claim: neither is forgotten before it ends."""
    key = "smsgate:breaker:p"
    cool_down_ms = 3 * DAY_MS
    with RedisState(redis_url) as state:
        breaker = state.breaker("p", BreakerPolicy(failures=1, cool_down=3 * 86_400), clock=_clock)
        assert breaker.expiry == 6 * 86_400
        breaker.record(errors.NotSentError("down"))
        assert cool_down_ms < _expiry_ms(redis_url, key) <= 2 * cool_down_ms
        _cool_down_over(redis_url, "p", 3 * 86_400 + 1)
        _expire_soon(redis_url, key)
        assert breaker.allow()
        assert cool_down_ms < _expiry_ms(redis_url, key) <= 2 * cool_down_ms


def test_nothing_the_shared_state_writes_stays_forever(redis_url: str) -> None:
    """After breakers open, probe and count, and rate limits are hit, every key under the
    prefix expires."""
    with RedisState(redis_url, prefix="ttl") as state:
        for name in ("a", "b"):
            breaker = state.breaker(name, BreakerPolicy(failures=1, cool_down=60), clock=_clock)
            breaker.record(errors.NotSentError("down"))
            state.limiter(name, RateLimit(rate=2), clock=_clock).reserve()
        state.breaker("c", BreakerPolicy.off(), clock=_clock).record(errors.NotSentError("down"))
        with redis.Redis.from_url(redis_url) as client:
            keys = sorted(client.scan_iter("ttl:*"))
            assert len(keys) >= 5
            assert {key: client.pttl(key) > 0 for key in keys} == dict.fromkeys(keys, True)


# --- the rate limit in Redis ----------------------------------------------------------------


def test_two_processes_share_one_window(two: tuple[RedisState, RedisState]) -> None:
    """Five per five seconds between both: after five slots anywhere, both are told to wait,
    at most the window."""
    first, second = two
    limit = RateLimit(rate=1, burst=5)  # 5 per 5 s
    a, b = first.limiter("p", limit, clock=_clock), second.limiter("p", limit, clock=_clock)
    assert [a.reserve(), b.reserve(), a.reserve(), b.reserve(), a.reserve()] == [0.0] * 5
    for limiter in (a, b):
        wait = limiter.reserve()
        assert 0 < wait <= 5


def test_after_the_wait_a_recheck_takes_the_slot(redis_url: str) -> None:
    """A refused caller waits what it was told, then :meth:`recheck` takes the freed slot."""
    with RedisState(redis_url) as state:
        limiter = state.limiter("p", RateLimit(rate=5), clock=_clock)
        while (wait := limiter.reserve()) == 0:
            pass
        assert 0 < wait <= 1
        time.sleep(wait)
        assert limiter.recheck() == 0.0


def test_a_gateway_waits_for_the_shared_limit_and_sends_everything(redis_url: str) -> None:
    """Through a gateway: sends past the window wait (``Sleep`` with the reported wait), then
    go; nothing is lost."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    provider = InMemoryProvider("p")
    with (
        RedisState(redis_url) as state,
        smsgate.Gateway(provider, rate_limit=RateLimit(rate=2), shared_state=state, sleep=sleep) as gateway,
    ):
        for _ in range(3):
            gateway.send(SMS)
    assert len(provider.outbox) == 3
    assert waits
    assert all(0 < wait <= 1 for wait in waits)


# --- the default stays in this process --------------------------------------------------------


def test_without_shared_state_each_gateway_keeps_its_own_in_memory() -> None:
    """No ``shared_state``: in-process breakers and token buckets, one set per gateway."""
    assert RoutingConfig().shared_state is None
    providers = [InMemoryProvider("a"), InMemoryProvider("b")]
    with smsgate.Gateway(providers, rate_limit=RateLimit(rate=5)) as one, smsgate.Gateway(providers) as two:
        routers = [one._router, two._router]
    assert all(isinstance(b, CircuitBreaker) for r in routers for b in r.breakers.values())
    assert all(isinstance(b, TokenBucket) for b in routers[0].buckets.values())
    assert routers[0].breakers["a"] is not routers[1].breakers["a"]


def test_local_state_builds_the_in_process_objects() -> None:
    """:class:`LocalState` is the seam's default: a new CircuitBreaker / TokenBucket per call."""
    state = LocalState()
    breaker = state.breaker("a", BreakerPolicy(), clock=_clock)
    assert isinstance(breaker, CircuitBreaker)
    assert breaker is not state.breaker("a", BreakerPolicy(), clock=_clock)
    assert isinstance(state.limiter("a", RateLimit(rate=1), clock=_clock), TokenBucket)


def test_shared_state_must_be_a_routing_state_and_a_url_is_not_echoed() -> None:
    """A URL string given to the gateway is refused with how to build a state, and the URL
    (which may hold a password) stays out of the message."""
    with pytest.raises(errors.ConfigurationError, match="RedisState") as info:
        smsgate.Gateway(InMemoryProvider(), shared_state="redis://:hunter2@127.0.0.1/0")  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)


# --- Redis unreachable ------------------------------------------------------------------------


def test_redis_down_means_not_sent_with_a_typed_error() -> None:
    """A send that cannot ask Redis raises SharedStateError (a NotSentError naming the
    provider) and nothing reaches the provider."""
    provider = InMemoryProvider("p")
    with (
        RedisState(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.2) as state,
        smsgate.Gateway(provider, shared_state=state, rate_limit=RateLimit(rate=5)) as gateway,
    ):
        with pytest.raises(SharedStateError) as info:
            gateway.send(SMS)
    assert isinstance(info.value, errors.NotSentError)
    assert info.value.retry_safe
    assert info.value.provider == "p"
    assert "did not answer" in str(info.value)
    assert provider.outbox == []
    assert provider.calls["send"] == 0


def test_redis_down_stops_a_limited_send_before_it_goes(redis_url: str) -> None:
    """The limiter's check is before the request too: unreachable, nothing goes."""
    with RedisState(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.2) as state:
        limiter = state.limiter("p", RateLimit(rate=5), clock=_clock)
        with pytest.raises(SharedStateError):
            limiter.reserve()
        with pytest.raises(SharedStateError):
            state.breaker("p", BreakerPolicy(), clock=_clock).snapshot("p")


async def test_redis_down_means_not_sent_for_the_async_gateway_too() -> None:
    """The same typed error from :class:`smsgate.AsyncGateway`; the short timeout bounds how
    long the event loop waits."""
    provider = InMemoryProvider("p")
    with RedisState(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.2) as state:
        async with smsgate.AsyncGateway(provider, shared_state=state) as gateway:
            with pytest.raises(SharedStateError):
                await gateway.send(SMS)
    assert provider.outbox == []


def test_updates_after_a_request_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    """Recording an outcome or handing back a probe after the request went out never turns
    the outcome into an error: a lost update is a warning."""
    with RedisState(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.2) as state:
        breaker = state.breaker("p", BreakerPolicy(), clock=_clock)
        breaker._claim = "123"  # as if it had claimed the probe
        with caplog.at_level(logging.WARNING, logger="smsgate.scale"):
            breaker.record(None)
            breaker.record(errors.NotSentError("down"))
            breaker._claim = "123"
            breaker.release()
    assert len([r for r in caplog.records if "was lost" in r.getMessage()]) == 3


@attrs.define
class _Failing:
    """A breaker whose store cannot answer before a request (a fake shared store)."""

    released: list[str]

    def allow(self) -> bool:
        raise SharedStateError("not sent: store down", provider="b")

    def release(self) -> None:
        self.released.append("b")

    def record(self, error: errors.SmsGateError | None) -> None:
        pass

    def snapshot(self, name: str) -> Any:
        raise NotImplementedError


@attrs.define
class _Store:
    """A RoutingState whose provider ``b`` cannot be checked; ``a`` is in process."""

    released: list[str] = attrs.Factory(list)

    def breaker(self, name: str, policy: BreakerPolicy, *, clock: Any) -> Any:
        return _Failing(self.released) if name == "b" else CircuitBreaker(policy, clock)

    def limiter(self, name: str, limit: RateLimit, *, clock: Any) -> Any:
        return TokenBucket(limit, clock)


def test_a_store_failure_after_a_failover_keeps_the_earlier_attempts() -> None:
    """The store's error ends the call like any final error: it carries the attempts made
    before it (here ``a``'s not-sent failure), and ``b`` is never asked."""
    a, b = InMemoryProvider("a"), InMemoryProvider("b")
    a.fail_next(errors.NotSentError)
    with smsgate.Gateway([a, b], retry=RetryPolicy(attempts=1), shared_state=_Store()) as gateway:
        with pytest.raises(SharedStateError) as info:
            gateway.send(SMS)
    assert [type(e) for e in info.value.attempts] == [errors.NotSentError]
    assert b.calls["send"] == 0


def test_a_store_failure_after_part_of_a_batch_is_a_partial_send() -> None:
    """Receipts already accepted are never reported as not sent: a batch whose first request
    went out on ``a`` and whose rest cannot be checked on ``b`` is a PartialSendError."""
    capabilities = attrs.evolve(InMemoryProvider().capabilities, max_batch=1)
    a, b = InMemoryProvider("a", capabilities=capabilities), InMemoryProvider("b")
    a.script(None, errors.NotSentError)
    batch = [smsgate.Sms(to=n, text=TEXT) for n in ("13800138000", "13800138001")]
    with smsgate.Gateway([a, b], retry=RetryPolicy(attempts=1), shared_state=_Store()) as gateway:
        with pytest.raises(errors.PartialSendError) as info:
            gateway.send_batch(batch)
    assert len(info.value.receipts) == 1
    assert isinstance(info.value.cause, SharedStateError)


def test_a_limiter_failure_hands_a_claimed_probe_back() -> None:
    """When the limiter cannot answer after the breaker said yes, the breaker's claim (a
    half-open probe) is handed back: the attempt never happened."""

    @attrs.define
    class Limiter:
        def reserve(self) -> float:
            raise SharedStateError("not sent: store down", provider="a")

        def recheck(self) -> float:
            return 0.0

    released: list[str] = []

    @attrs.define
    class Breaker(_Failing):
        def allow(self) -> bool:
            return True

    @attrs.define
    class Store:
        def breaker(self, name: str, policy: BreakerPolicy, *, clock: Any) -> Any:
            return Breaker(released)

        def limiter(self, name: str, limit: RateLimit, *, clock: Any) -> Any:
            return Limiter()

    with smsgate.Gateway(
        InMemoryProvider("a"), rate_limit=RateLimit(rate=1), shared_state=Store()
    ) as gateway:
        with pytest.raises(SharedStateError):
            gateway.send(SMS)
    assert released == ["b"]  # the fake names itself "b"; one hand-back


# --- secrets ----------------------------------------------------------------------------------


@pytest.fixture
def acl_user(redis_server: Any, redis_url: str) -> Iterator[tuple[str, str]]:
    """A Redis ACL user with a password (the default user is left as it is)."""
    user, password = "smsgate-test", "s3cret-pw-81f2"
    with redis.Redis.from_url(redis_url) as client:
        client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all"])
        try:
            yield user, password
        finally:
            client.acl_deluser(user)


def test_the_password_works_and_never_shows(redis_url: str, acl_user: tuple[str, str]) -> None:
    """A password given apart from the URL authenticates; a wrong one fails the send as not
    sent, and neither the error, its frames' locals nor the repr show it."""
    user, password = acl_user
    url = redis_url.replace("redis://", f"redis://{user}@")
    provider = InMemoryProvider("p")
    with (
        RedisState(url, password=password) as state,
        smsgate.Gateway(provider, shared_state=state) as gateway,
    ):
        gateway.send(SMS)
        assert password not in repr(state)
    with (
        RedisState(url, password=password + "-wrong") as state,
        smsgate.Gateway(provider, shared_state=state) as gateway,
    ):
        error = _raised(lambda: gateway.send(SMS))
    assert isinstance(error, SharedStateError)
    assert "-wrong" not in str(error)
    assert frames_with_secrets(error, [password]) == []
    assert len(provider.outbox) == 1


def test_a_password_in_the_url_is_masked() -> None:
    """A URL's password is shown as *** in reprs and errors."""
    port = _closed_port()
    with RedisState(f"redis://user:pa55-in-url@127.0.0.1:{port}/0", timeout=0.2) as state:
        assert "pa55-in-url" not in repr(state)
        assert repr(state) == f"RedisState('redis://user:***@127.0.0.1:{port}/0', prefix='smsgate')"
        error = _raised(state.ping)
    assert isinstance(error, SharedStateError)
    assert "pa55-in-url" not in str(error)
    assert frames_with_secrets(error, ["pa55-in-url"]) == []
    assert masked_url("redis://127.0.0.1/0") == "redis://127.0.0.1/0"


@pytest.mark.parametrize("url", ["http://127.0.0.1/0", "127.0.0.1:6379"])
def test_a_url_that_is_not_redis_is_a_configuration_error(url: str) -> None:
    with pytest.raises(errors.ConfigurationError, match="redis://"):
        RedisState(url)


# --- the TOML key -----------------------------------------------------------------------------


def _toml(tmp_path: Path, gateway: str) -> Path:
    path = tmp_path / "smsgate.toml"
    path.write_text(f'[gateway]\n{gateway}\n[providers.p]\ntype = "memory"\n', encoding="utf-8")
    return path


def test_the_toml_key_shares_state_between_gateways(tmp_path: Path, redis_url: str) -> None:
    """``[gateway] shared_state`` builds a RedisState: two gateways from one file share the
    breaker (one's failures are the other's open circuit)."""
    path = _toml(tmp_path, f'shared_state = "{redis_url}"\n[gateway.breaker]\nfailures = 1\ncool_down = 60')
    config = smsgate.load_config(path)
    assert config.shared_state == redis_url
    with smsgate.Gateway.from_config(path, env={}) as one, smsgate.Gateway.from_config(path, env={}) as two:
        assert isinstance(one._router.breakers["p"], smsgate.scale.RedisBreaker)
        provider = one.providers[0]
        assert isinstance(provider, InMemoryProvider)
        provider.fail_next(errors.NotSentError)
        with pytest.raises(errors.NotSentError):
            one.send(SMS)
        assert [h.state for h in two.health()] == [BreakerState.OPEN]
        with pytest.raises(errors.CircuitOpenError):
            two.send(SMS)


def _client_ids(watcher: redis.Redis) -> set[str]:
    """The connections on the watcher's own database: the test's fresh one, so a connection
    another part of the session opens meanwhile (on its own database) is not counted."""
    db = str(watcher.connection_pool.connection_kwargs["db"])
    entries: list[dict[str, Any]] = watcher.client_list()  # type: ignore[assignment]  # sync client
    return {str(entry["id"]) for entry in entries if str(entry["db"]) == db}


def _still_open(watcher: redis.Redis, ids: set[str]) -> set[str]:
    """Those of ``ids`` Redis still lists once it has had up to 5 s to see them closed: a
    client's close reaches the server as a FIN, which Redis may handle after the watcher's
    CLIENT LIST that follows it."""
    deadline = time.monotonic() + 5
    while (left := ids & _client_ids(watcher)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_gateway_closes_the_shared_state_it_built(tmp_path: Path, redis_url: str, kind: str) -> None:
    """The RedisState ``from_config`` builds from ``[gateway] shared_state`` is the gateway's:
    ``close()`` / ``aclose()`` closes its connections to Redis (they stayed open until the
    garbage collector found them). One given with ``shared_state=`` stays the caller's."""
    path = _toml(tmp_path, f'shared_state = "{redis_url}"')
    with redis.Redis.from_url(redis_url) as watcher:
        before = _client_ids(watcher)
        if kind == "sync":
            gateway = smsgate.Gateway.from_config(path, env={})
            gateway.send(SMS)
            opened = _client_ids(watcher) - before
            gateway.close()
        else:

            async def run() -> tuple[set[str], smsgate.AsyncGateway]:
                gateway = smsgate.AsyncGateway.from_config(path, env={})
                await gateway.send(SMS)
                opened = _client_ids(watcher) - before
                await gateway.aclose()
                return opened, gateway  # alive after aclose(), as the sync one is after close()

            opened, _alive = asyncio.run(run())
        assert opened  # the breaker asked Redis over a connection of its own
        assert not _still_open(watcher, opened)
        with RedisState(redis_url) as given:
            with smsgate.Gateway.from_config(path, env={}, shared_state=given) as gateway:
                gateway.send(SMS)
            given.ping()
            assert _client_ids(watcher) - before  # still connected: the caller closes it


def test_the_toml_password_comes_from_the_environment(
    tmp_path: Path, redis_url: str, acl_user: tuple[str, str]
) -> None:
    """The file names no password; ``SMSGATE_SHARED_STATE_PASSWORD`` gives it."""
    user, password = acl_user
    path = _toml(tmp_path, f'shared_state = "{redis_url.replace("redis://", f"redis://{user}@")}"')
    with smsgate.Gateway.from_config(path, env={"SMSGATE_SHARED_STATE_PASSWORD": password}) as gateway:
        gateway.send(SMS)
    with smsgate.Gateway.from_config(path, env={}) as gateway:
        with pytest.raises(SharedStateError):
            gateway.send(SMS)


@pytest.mark.parametrize(
    ("gateway", "match"),
    [
        ('shared_state = "redis://:hunter2@127.0.0.1:6379/0"', "SMSGATE_SHARED_STATE_PASSWORD"),
        ('shared_state = "http://127.0.0.1:6379/0"', "Redis URL"),
        ("shared_state = 6379", "Redis URL"),
    ],
)
def test_the_toml_key_is_checked(tmp_path: Path, gateway: str, match: str) -> None:
    """A password in the file, another scheme or a non-string are refused, without echoing
    the URL."""
    with pytest.raises(errors.ConfigurationError, match=match) as info:
        smsgate.load_config(_toml(tmp_path, gateway))
    assert "hunter2" not in str(info.value)


def test_a_routing_table_is_pointed_to_gateway(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text('[routing]\nshared_state = "redis://127.0.0.1/0"\n', encoding="utf-8")
    with pytest.raises(errors.ConfigurationError, match=r"go in \[gateway\]"):
        smsgate.load_config(path)


# --- the async gateway shares the same state --------------------------------------------------


async def test_an_async_gateway_sees_the_breaker_a_sync_one_opened(redis_url: str) -> None:
    """Sync and async gateways on one Redis share a provider's breaker."""
    policy = BreakerPolicy(failures=1, cool_down=60)
    failing, other = InMemoryProvider("p"), InMemoryProvider("p")
    failing.fail_next(errors.NotSentError)
    with RedisState(redis_url) as one, RedisState(redis_url) as two:
        with smsgate.Gateway(failing, breaker=policy, shared_state=one) as gateway:
            with pytest.raises(errors.NotSentError):
                gateway.send(SMS)
        async with smsgate.AsyncGateway(other, breaker=policy, shared_state=two) as agateway:
            with pytest.raises(errors.CircuitOpenError):
                await agateway.send(SMS)
            await asyncio.sleep(0)
    assert other.outbox == []


async def test_a_probe_cancelled_while_waiting_is_handed_back_to_every_process(redis_url: str) -> None:
    """An async send claims the half-open probe, then waits for the shared rate limit; its
    task is cancelled: the probe is released in Redis at once, so another process may probe
    without waiting another cool-down, and nothing was sent."""
    policy, limit = BreakerPolicy(failures=1, cool_down=60), RateLimit(rate=1, burst=5)  # 5 per 5 s
    provider = InMemoryProvider("p")
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(seconds)

    with (
        RedisState(redis_url) as one,
        RedisState(redis_url) as two,
        redis.Redis.from_url(redis_url) as client,
    ):
        other = two.breaker("p", policy, clock=_clock)
        other.record(errors.NotSentError("down"))
        _cool_down_over(redis_url, "p", 61)
        filler = two.limiter("p", limit, clock=_clock)
        assert [filler.reserve() for _ in range(5)] == [0.0] * 5  # the window is full
        async with smsgate.AsyncGateway(
            provider, breaker=policy, rate_limit=limit, shared_state=one, sleep=sleep
        ) as gateway:
            task = asyncio.create_task(gateway.send(SMS))
            await waiting.wait()  # the probe is claimed; the send waits for the window
            assert client.hexists("smsgate:breaker:p", "probe")
            assert not other.allow()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not client.hexists("smsgate:breaker:p", "probe")
        assert other.allow()  # handed back: this process probes now
    assert provider.outbox == []
