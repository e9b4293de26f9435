"""Two real Celery worker processes, a real Redis broker and the ipyy sandbox.

Each message's text is unique, so the sandbox's request log says how many times each one
reached the gateway; the task results say what each caller was told. Workers are
``celery worker -P solo`` subprocesses of ``tests.celery_app``, started once for the module
and stopped (SIGTERM, then SIGKILL) at its end, failed tests included.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Iterator

import pytest

import smsgate.celery
from smsgate import Sms
from tests.celery_support import Cluster
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers on a fresh broker, result backend and idempotency store, and a sandbox."""
    running = Cluster(redis_server, tmp_path_factory.mktemp("celery"))
    try:
        running.start()
        yield running
    finally:
        running.close()
    assert not any(worker.alive for worker in running.workers)


@pytest.fixture
def workers(cluster: Cluster) -> Cluster:
    """The module's cluster with both workers running and no fault rule left."""
    cluster.ensure_running()
    cluster.sandbox.clear_faults()
    return cluster


def _sms(tag: str, number: int) -> Sms:
    return Sms(to=f"138{number % 100_000_000:08d}", text=f"{tag} {number:05d}【shop】")


def _enqueue(cluster: Cluster, messages: list[Sms], tag: str) -> dict[str, str]:
    """Enqueue each message with the key ``tag-n``; task id by key."""
    return {
        f"{tag}-{n}": smsgate.celery.enqueue(message, key=f"{tag}-{n}", app=cluster.client).id
        for n, message in enumerate(messages)
    }


@pytest.mark.timeout(180)
def test_thousand_messages_each_reach_the_sandbox_exactly_once(workers: Cluster) -> None:
    """1,000 messages through two workers: every result accepted, each text received once,
    and both workers took part."""
    messages = [_sms("bulk", n) for n in range(1000)]
    ids = _enqueue(workers, messages, "bulk")
    results = workers.wait(ids.values(), timeout=150)
    outcomes = {results[task_id]["outcome"] for task_id in ids.values()}
    assert outcomes == {"accepted"}, outcomes
    delivered = workers.delivered()
    counts = {message.text: delivered[message.text or ""] for message in messages}
    assert set(counts.values()) == {1}, {t: c for t, c in counts.items() if c != 1}
    for worker in workers.workers:
        assert "smsgate gateway built in worker process" in worker.log(), worker.log()[-2000:]
    # One gateway per process, reused: built once in each worker's log.
    assert all(w.log().count("smsgate gateway built") == 1 for w in workers.workers), workers.logs()


def test_not_sent_is_retried_and_accepted_once(workers: Cluster) -> None:
    """Two HTTP 503 outages (the gateway never saw the request): the task retries with
    backoff and the third attempt is accepted, once."""
    workers.sandbox.set_fault(kind="outage", times=2)
    mark = workers.mark()
    message = _sms("outage", 1)
    [task_id] = _enqueue(workers, [message], "outage").values()
    result = workers.wait([task_id], timeout=60)[task_id]
    assert (result["outcome"], result["retries"]) == ("accepted", 2), result
    assert len(workers.sends(mark)) == 3
    assert workers.delivered()[message.text or ""] == 1


def test_refusal_about_the_message_is_not_retried(workers: Cluster) -> None:
    """The gateway refuses the content (2107 SensitiveWords): refused at once, one request."""
    workers.sandbox.set_fault(kind="vendor", code=2107, times=1)
    mark = workers.mark()
    message = _sms("refused", 1)
    [task_id] = _enqueue(workers, [message], "refused").values()
    result = workers.wait([task_id], timeout=60)[task_id]
    assert (result["outcome"], result["retries"]) == ("refused", 0), result
    assert result["error"]["type"] == "ContentError"
    assert len(workers.sends(mark)) == 1
    assert workers.delivered()[message.text or ""] == 0


@pytest.mark.parametrize(("kind", "acted"), [("drop", 1), ("garbage", 0)])
def test_uncertain_is_not_retried_and_is_reported(workers: Cluster, kind: str, acted: int) -> None:
    """A dropped connection (the gateway had sent it) or an unreadable reply (it had not):
    uncertain, one request only, reported in the result and the worker's log; a second
    enqueue with the same key returns the recorded outcome without a request."""
    workers.sandbox.set_fault(kind=kind, times=1)
    mark = workers.mark()
    message = _sms(kind, 1)
    [task_id] = _enqueue(workers, [message], kind).values()
    result = workers.wait([task_id], timeout=60)[task_id]
    assert (result["outcome"], result["retries"]) == ("uncertain", 0), result
    assert result["error"]["type"] in {"UncertainOutcomeError", "MalformedReplyError"}, result
    assert len(workers.sends(mark)) == 1
    assert workers.delivered()[message.text or ""] == acted
    assert any(f"message {kind}-0 to" in w.log() and "UNCERTAIN" in w.log() for w in workers.workers)
    again = smsgate.celery.enqueue(message, key=f"{kind}-0", app=workers.client).id
    repeated = workers.wait([again], timeout=60)[again]
    assert repeated == {**result, "redelivered": True}
    assert len(workers.sends(mark)) == 1


def _in_flight(log: str) -> set[str]:
    """The task ids a worker's log shows received and never finished."""
    received = set(re.findall(r"Task smsgate\.send\[([0-9a-f-]+)\] received", log))
    finished = set(re.findall(r"Task smsgate\.send\[([0-9a-f-]+)\] (?:succeeded|retry|raised)", log))
    return received - finished


@pytest.mark.timeout(180)
def test_worker_killed_mid_run_loses_nothing_and_sends_nothing_twice(workers: Cluster) -> None:
    """SIGKILL one worker while 200 messages flow: every message still ends accepted, refused
    or uncertain (and an uncertain one is reported by the worker that found it), and no text
    reaches the sandbox twice. The killed worker's unacknowledged task comes back after the
    visibility timeout and meets its idempotency key.

    Every sandbox reply is delayed by 50 ms, so the worker is most likely killed while a
    request is out: the message it was sending is then claimed with no outcome recorded."""
    workers.sandbox.set_fault(kind="latency", seconds=0.05)
    messages = [_sms("kill", n) for n in range(200)]
    ids = _enqueue(workers, messages, "kill")
    keys = {task_id: key for key, task_id in ids.items()}
    victim, survivor = workers.workers
    deadline = time.monotonic() + 60
    while sum(workers.delivered()[m.text or ""] for m in messages) < 40:
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    victim.kill()
    cut = sorted(keys.get(task_id, task_id) for task_id in _in_flight(victim.log()))
    results = workers.wait(ids.values(), timeout=120)
    outcomes = {key: results[task_id]["outcome"] for key, task_id in ids.items()}
    assert set(outcomes.values()) <= {"accepted", "refused", "uncertain"}, outcomes
    delivered = workers.delivered()
    twice = {m.text: delivered[m.text or ""] for m in messages if delivered[m.text or ""] > 1}
    assert not twice, twice
    for n, message in enumerate(messages):
        key = f"kill-{n}"
        if outcomes[key] == "accepted":
            assert delivered[message.text or ""] == 1, (key, outcomes[key])
        elif outcomes[key] == "refused":
            assert delivered[message.text or ""] == 0, (key, outcomes[key])
        else:
            assert results[ids[key]].get("redelivered"), results[ids[key]]
            assert f"message {key} to" in survivor.log(), (key, "uncertain but not reported")
    counts = collections.Counter(outcomes.values())
    print(  # the figures of this run, for the report (pytest -s)
        f"kill test: {counts['accepted']} accepted, {counts['uncertain']} uncertain, "
        f"{counts['refused']} refused; in flight at the kill: {cut}; "
        f"{[(k, outcomes[k], delivered[messages[int(k.split('-')[1])].text or '']) for k in cut]}"
    )


@pytest.mark.timeout(120)
def test_worker_killed_mid_send_leaves_the_message_uncertain_and_reported(workers: Cluster) -> None:
    """Deterministic form of the kill: the sandbox holds the request (``hang``); once it has
    the request, the worker sending it is SIGKILLed. The task comes back to the other worker,
    which finds the key claimed with no outcome: uncertain, reported, not sent again."""
    workers.sandbox.set_fault(kind="hang", seconds=30, times=1)
    mark = workers.mark()
    message = _sms("hang", 1)
    [task_id] = _enqueue(workers, [message], "hang").values()
    deadline = time.monotonic() + 30
    while not workers.sends(mark):
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    [victim] = [w for w in workers.workers if task_id in _in_flight(w.log())]
    [survivor] = [w for w in workers.workers if w is not victim]
    victim.kill()
    result = workers.wait([task_id], timeout=60)[task_id]
    assert (result["outcome"], result.get("redelivered")) == ("uncertain", True), result
    assert "recorded no outcome" in result["error"]["message"]
    assert len(workers.sends(mark)) == 1, "the message was sent again"
    assert "message hang-0 to" in survivor.log()
