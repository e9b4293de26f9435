"""Limits and breakers across two real Celery workers: the workers' TOML file sets
``[gateway] shared_state`` to a Redis database, so both gateways share one rate limit and one
circuit breaker for the provider (smsgate.scale; docs/routing.md, "Shared state").

The rate is measured where it matters, at the receiving end: the sandbox's own timestamps of
the sends it accepted (whole seconds, so a 10-second window is 10 whole-second bins).
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator

import pytest

import smsgate.celery
from smsgate import Sms
from tests.celery_support import Cluster
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

RATE = 10  # sends per second, for both workers together
FAILURES = 2  # availability failures that open the breaker


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers whose gateways share state in Redis: a rate limit and a breaker."""
    gateway = (
        f'shared_state = "{redis_server.url()}"\n\n'
        f"[gateway.breaker]\nfailures = {FAILURES}\ncool_down = 120\n\n"
        f"[gateway.rate_limit]\nrate = {RATE}\nburst = {RATE}\n"
    )
    running = Cluster(redis_server, tmp_path_factory.mktemp("celery-shared"), gateway=gateway, max_retries=1)
    try:
        running.start()
        yield running
    finally:
        running.close()
    assert not any(worker.alive for worker in running.workers)


def _sms(tag: str, number: int) -> Sms:
    return Sms(to=f"139{number:08d}", text=f"{tag} {number:05d}【shop】")


@pytest.mark.timeout(120)
def test_rate_limit_holds_across_both_workers(cluster: Cluster) -> None:
    """With more work queued than the limit allows, both workers together send RATE per
    second: over 10 whole seconds the sandbox accepted RATE × 10 sends, within 10 %."""
    messages = [_sms("rate", n) for n in range(RATE * 15)]
    ids = [smsgate.celery.enqueue(m, key=f"rate-{n}", app=cluster.client).id for n, m in enumerate(messages)]
    results = cluster.wait(ids, timeout=90)
    assert {r["outcome"] for r in results.values()} == {"accepted"}
    per_second = collections.Counter(cluster.send_times())
    first, last = min(per_second), max(per_second)
    seconds = [first + dt.timedelta(seconds=s) for s in range(int((last - first).total_seconds()) + 1)]
    # The first second may hold less (the run starts within it), the last holds what is left.
    window = seconds[1:11]
    sent = sum(per_second[second] for second in window)
    print(f"rate test: {sent} sends in 10 s at {RATE}/s; per second {[per_second[s] for s in seconds]}")
    assert RATE * 10 * 0.9 <= sent <= RATE * 10 * 1.1, [per_second[s] for s in seconds]
    # The queue outlasted the window, so the limit (not a lack of work) set the pace.
    assert len(seconds) >= 12, f"the run took {len(seconds)} s; the window needs 10 full seconds"
    for worker in cluster.workers:
        assert "succeeded" in worker.log(), f"{worker.name} took no part:\n{cluster.logs()}"


@pytest.mark.timeout(120)
def test_breaker_opened_by_one_worker_is_open_for_the_other(cluster: Cluster) -> None:
    """Worker 1 meets FAILURES outages (HTTP 503, nothing sent) and the shared breaker opens;
    worker 2, which saw no failure itself, then skips the provider: its message is refused
    with CircuitOpenError without a request reaching the sandbox."""
    first, second = cluster.workers
    cluster.sandbox.set_fault(kind="outage", times=FAILURES)
    mark = cluster.mark()
    failing = smsgate.celery.enqueue(
        _sms("breaker", 1), key="breaker-1", app=cluster.client, queue=first.name
    )
    result = cluster.wait([failing.id], timeout=60)[failing.id]
    assert (result["outcome"], result["error"]["type"]) == ("refused", "ProviderOutageError"), result
    assert len(cluster.sends(mark)) == FAILURES
    skipped = smsgate.celery.enqueue(
        _sms("breaker", 2), key="breaker-2", app=cluster.client, queue=second.name
    )
    result = cluster.wait([skipped.id], timeout=60)[skipped.id]
    assert (result["outcome"], result["error"]["type"]) == ("refused", "CircuitOpenError"), result
    assert len(cluster.sends(mark)) == FAILURES, "a request went out through an open breaker"
    assert "breaker-2" in second.log()
    assert "HTTP 503" not in second.log(), "worker 2 failed on its own; the test proves nothing"
