"""Real Celery workers for the tests: worker processes on a loopback Redis broker, sending
through the ipyy sandbox, and what the sandbox says it received.

:class:`Cluster` owns everything one test module needs — three Redis databases (broker,
results, idempotency keys), a sandbox, the TOML file the workers' gateway is built from, and
two ``celery worker -P solo`` processes (``tests.celery_app``) — and stops all of it at the
end, failed test or not: workers get SIGTERM, then SIGKILL; nothing outlives the module.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from celery import Celery

from smsgate_ipyy.sandbox import Sandbox
from tests.celery_app import make_app
from tests.redis_support import RedisServer

ROOT = Path(__file__).resolve().parent.parent


class Worker:
    """One ``celery worker`` process (solo pool: the task runs in the process we can kill)."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker (its output goes to :attr:`log_path`)."""
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app:app",
            "worker",
            "-P",
            "solo",
            "-n",
            f"{self.name}@localhost",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            f"celery,{self.name}",  # the shared queue, and one a test can aim at this worker
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self) -> str:
        """Everything the worker wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the worker's ``ready.`` line; raise with its log when it dies or is late."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready after {timeout:.0f} s:\n{self.log()[-4000:]}")

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crashed machine or the OOM killer would."""
        if self.alive and self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: finish the running task), then SIGKILL after 15 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def config_text(base_url: str, gateway: str = 'breaker = "off"\n') -> str:
    """The workers' TOML: one ipyy provider (the sandbox's demo account); the gateway makes one
    attempt and, unless ``gateway`` (the ``[gateway]`` table's lines and sub-tables) says
    otherwise, has no breaker, so what the tests see is the task's own retry mapping."""
    return (
        "[gateway]\n"
        f"{gateway}\n"
        "[gateway.retry]\n"
        "attempts = 1\n\n"
        "[providers.ipyy]\n"
        'type = "ipyy"\n'
        'account = "demo"\n'
        'userid = "1001"\n'
        f'base_url = "{base_url}"\n'
    )


class Cluster:
    """Redis databases, a sandbox, a config file and two workers; :meth:`close` stops them."""

    def __init__(
        self,
        redis: RedisServer,
        root: Path,
        *,
        workers: int = 2,
        gateway: str = 'breaker = "off"\n',
        max_retries: int = 4,
    ) -> None:
        self.redis = redis
        self.root = root
        self.broker_url = redis.url()
        self.backend_url = redis.url()
        self.idempotency_url = redis.url()
        self.sandbox = Sandbox()
        self.workers: list[Worker] = []
        self.client: Celery = make_app(self.broker_url, self.backend_url, self.idempotency_url)
        self.count = workers
        self.gateway = gateway
        self.max_retries = max_retries
        self.config_path = root / "smsgate.toml"

    def start(self) -> None:
        """Start the sandbox and the workers; wait until every worker is ready."""
        self.sandbox.start()
        self.config_path.write_text(config_text(self.sandbox.base_url, self.gateway), encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGATE_")}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            SMSGATE_CONFIG=str(self.config_path),
            SMSGATE_IPYY_PASSWORD=self.sandbox.credentials.password,
            SMSGATE_TEST_BROKER=self.broker_url,
            SMSGATE_TEST_BACKEND=self.backend_url,
            SMSGATE_TEST_IDEMPOTENCY=self.idempotency_url,
            SMSGATE_TEST_VISIBILITY="6",
            SMSGATE_TEST_MAX_RETRIES=str(self.max_retries),
            SMSGATE_TEST_PARENT_PID=str(os.getpid()),
        )
        self.workers = [Worker(f"w{i + 1}", env, self.root) for i in range(self.count)]
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            worker.wait_ready()

    def ensure_running(self) -> None:
        """Restart any worker a test killed."""
        dead = [worker for worker in self.workers if not worker.alive]
        for worker in dead:
            worker.start()
        for worker in dead:
            worker.wait_ready()

    def close(self) -> None:
        """Stop every worker, the sandbox, and close the client's connections."""
        try:
            for worker in self.workers:
                worker.stop()
        finally:
            try:
                self.sandbox.stop()
            finally:
                self.client.close()

    def logs(self) -> str:
        """Every worker's log, for failure messages."""
        return "\n".join(f"--- {w.name} ---\n{w.log()[-3000:]}" for w in self.workers)

    # --- results ------------------------------------------------------------------------

    def wait(self, ids: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
        """The final result of each task id (state SUCCESS), polled from the result backend.

        Raises with the workers' logs when some are still missing at ``timeout``.
        """
        backend = self.client.backend
        pending = list(ids)
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while pending:
            raw = backend.client.mget([backend.get_key_for_task(task_id) for task_id in pending])
            for task_id, value in zip(pending, raw, strict=True):
                if value is None:
                    continue
                meta = backend.decode_result(value)
                if meta["status"] == "SUCCESS":
                    done[task_id] = meta["result"]
                elif meta["status"] == "FAILURE":
                    raise AssertionError(f"task {task_id} failed: {meta['result']!r}\n{self.logs()}")
            pending = [task_id for task_id in pending if task_id not in done]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(pending)} task(s) unfinished after {timeout:.0f} s\n{self.logs()}"
                )
            time.sleep(0.2)
        return done

    # --- what the sandbox received ------------------------------------------------------

    def mark(self) -> int:
        """The number of requests the sandbox logged so far (for :meth:`sends` ``since``)."""
        return len(self.sandbox.requests())

    def sends(self, since: int = 0) -> list[dict[str, Any]]:
        """The sandbox's log entries of send requests, after the first ``since`` requests.

        A request a fault answered instead of the gateway has no decoded fields."""
        return [entry for entry in self.sandbox.requests()[since:] if entry["action"] == "send"]

    def delivered(self) -> collections.Counter[str]:
        """How many times the sandbox's gateway *acted on* (sent) each content: answered OK, or
        acted on before a fault cut the reply (``drop``, ``truncate``)."""
        counts: collections.Counter[str] = collections.Counter()
        for entry in self.sends():
            injected = entry.get("injected")
            if entry["outcome"]["code"] == "OK" and (injected is None or injected["acted"]):
                counts[entry["fields"]["content"]] += 1
        return counts

    def send_times(self) -> list[dt.datetime]:
        """The sandbox's timestamps (whole seconds) of the send requests it acted on."""
        return [
            dt.datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S")
            for entry in self.sends()
            if entry["outcome"]["code"] == "OK"
        ]
