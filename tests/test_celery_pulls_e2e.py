"""Scheduled pulls end to end: two real Celery workers, each with its own beat (``worker -B``),
against a real Redis (broker, result backend, lock) and the ipyy sandbox.

The app module the workers import is written into the test's directory: it installs the send
task from a TOML file naming the sandbox, registers the pull task, schedules it every second,
and registers an observer that writes, for each ``report_received`` / ``inbound_received``
call, the event's key and whether the journal already held it. Every process is started in
its own process group and killed with it at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import smsgate
from smsgate.celery._pulls import SPILL_KEY
from smsgate.receiver import EventState, SQLiteJournal
from smsgate.receiver._postgres import PostgresJournal

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

ipyy_sandbox = pytest.importorskip("smsgate_ipyy.sandbox")

APP = '''
"""The Celery app of the pull tests (written by tests/test_celery_pulls_e2e.py)."""
import json
import os
import signal
import threading
import time

from celery import Celery

import smsgate
import smsgate.celery
from smsgate.celery._pulls import open_journal
from smsgate.receiver import JournalError, SQLiteJournal, event_key

env = os.environ


def _exit_with_the_test(parent):
    """A killed test run leaves no worker behind: the whole process group goes with it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(0, signal.SIGKILL)


threading.Thread(target=_exit_with_the_test, args=(int(env["PULL_PARENT"]),), daemon=True).start()
app = Celery("pullapp", broker=env["PULL_REDIS"], backend=env["PULL_REDIS"])
app.conf.accept_content = ["json"]
app.conf.broker_connection_retry_on_startup = True
smsgate.celery.install(app, config=env["PULL_CONFIG"], idempotency=env["PULL_REDIS"])


class Breakable(SQLiteJournal):
    """A SQLite journal whose writes fail while the file PULL_BROKEN exists."""

    def record(self, events):
        if os.path.exists(env["PULL_BROKEN"]):
            raise JournalError("journal write failed (the test broke it)")
        return super().record(events)


journal = (lambda: Breakable(env["PULL_JOURNAL"])) if env.get("PULL_BROKEN") else env["PULL_JOURNAL"]
every = float(env["PULL_EVERY"])
smsgate.celery.register_pull_task(
    app, journal=journal, lock_ttl=30.0, lease=5.0, every=every
)


class Seen:
    """Notes each event a hook sees, and whether the journal held it at that moment."""

    journal = None

    def _note(self, event):
        if self.journal is None:
            self.journal = open_journal(env["PULL_JOURNAL"])
        line = {"key": event_key(event), "stored": self.journal.state(event) is not None,
                "pid": os.getpid()}
        with open(env["PULL_SEEN"], "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\\n")
        time.sleep(float(env["PULL_SLOW"]))  # a slow observer: runs outlast a tick

    def report_received(self, report):
        self._note(report)

    def inbound_received(self, message):
        self._note(message)


smsgate.observe(Seen())
'''

# A pull task's result line in a worker's log, for a run that held the lock.
FULL_RUN = re.compile(r"Task smsgate\.pull\[[^\]]+\] succeeded in [^:]+: \{'skipped': False")

CONFIG = """
[providers.ipyy]
type = "ipyy"
account = "{account}"
userid = "{userid}"
base_url = "{base_url}"
"""


class Deployment:
    """The sandbox, the files, and the worker processes of one test."""

    def __init__(self, root: Path, redis_url: str, journal: str, sandbox: Any, broken: bool) -> None:
        self.root = root
        self.redis_url = redis_url
        self.journal = journal
        self.sandbox = sandbox
        self.seen = root / "seen.jsonl"
        self.broken = root / "journal-broken"
        creds = sandbox.credentials
        (root / "pullapp.py").write_text(APP, encoding="utf-8")
        (root / "smsgate.toml").write_text(
            CONFIG.format(account=creds.account, userid=creds.userid, base_url=sandbox.base_url),
            encoding="utf-8",
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(root), str(Path.cwd())]),
            "PULL_REDIS": redis_url,
            "PULL_CONFIG": str(root / "smsgate.toml"),
            "PULL_JOURNAL": journal,
            "PULL_SEEN": str(self.seen),
            "PULL_EVERY": "1.0",
            "PULL_SLOW": "0.1",
            "PULL_PARENT": str(os.getpid()),
            "PULL_BROKEN": str(self.broken) if broken else "",
            "SMSGATE_IPYY_PASSWORD": creds.password,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.provider = smsgate.get_provider(
            "ipyy",
            account=creds.account,
            password=creds.password,
            userid=creds.userid,
            base_url=sandbox.base_url,
        )

    def start_worker(self, name: str) -> None:
        """A worker with its own embedded beat: two of them are two beats."""
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "celery", "-A", "pullapp", "worker", "-B"]
        command += ["-s", str(self.root / f"{name}-schedule"), "-n", f"{name}@%h", "--concurrency", "1"]
        command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        process = subprocess.Popen(
            command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes.append(process)

    def logs(self, tail: int = 3000) -> str:
        """The workers' logs, the last ``tail`` characters of each (0: all)."""
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-tail:]
            for path in self.root.glob("w*.log")
        )

    def send(self, count: int, start: int) -> None:
        """``count`` messages from the test process: the sandbox queues one report each."""
        with smsgate.Gateway(self.provider) as gateway:
            for i in range(start, start + count):
                gateway.send(smsgate.Sms(to=f"139{i:08d}", text=f"pull test {i}【腾飞】"))

    def full_runs(self) -> int:
        """How many pull runs finished that held the lock (pulled, found something or not)."""
        return len(FULL_RUN.findall(self.logs(tail=0)))

    def more_full_runs(self, count: int, what: str) -> None:
        """Wait for ``count`` more full runs to have started and finished from now on (one may
        be under way: it is not counted)."""
        start = self.full_runs()
        self.wait(lambda: self.full_runs() >= start + count + 1, what)

    def seen_lines(self) -> list[dict[str, Any]]:
        if not self.seen.exists():
            return []
        return [json.loads(line) for line in self.seen.read_text(encoding="utf-8").splitlines() if line]

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            for process in self.processes:
                if process.poll() is not None:
                    pytest.fail(f"a worker exited ({process.returncode}) waiting for {what}\n{self.logs()}")
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}\n{self.logs()}")

    def stop(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            # The pool's children and the beat share the group: none outlives the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def deploy(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., Deployment]]:
    made: list[tuple[Deployment, Any]] = []

    def make(journal: str | None = None, *, broken: bool = False, workers: int = 2) -> Deployment:
        sandbox = ipyy_sandbox.Sandbox()
        sandbox.start()
        deployment = Deployment(
            tmp_path, redis_url, journal or str(tmp_path / "journal.sqlite3"), sandbox, broken
        )
        made.append((deployment, sandbox))
        for n in range(workers):
            deployment.start_worker(f"w{n + 1}")
        deployment.wait(lambda: deployment.logs(tail=0).count(" ready.") == workers, "the workers to start")
        return deployment

    yield make
    for deployment, sandbox in made:
        deployment.stop()
        sandbox.stop()


def _journal(where: str) -> Any:
    return PostgresJournal(where) if where.startswith("postgresql://") else SQLiteJournal(where)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_two_beats_pull_every_event_once_and_journal_it_before_any_hook(
    deploy: Callable[..., Deployment], store: str, request: pytest.FixtureRequest
) -> None:
    """Reports of 30 sends and 6 inbound messages, pulled by whichever beat's tick wins the
    lock: each event reaches the hooks exactly once, and was in the journal when it did."""
    journal = request.getfixturevalue("postgres_url") if store == "postgresql" else None
    deployment = deploy(journal)
    for wave in range(3):
        deployment.send(10, start=wave * 10)
        for j in range(2):
            deployment.sandbox.inject_inbound("13800138000", f"reply {wave}-{j}")
        time.sleep(1.0)
    deployment.wait(lambda: len({line["key"] for line in deployment.seen_lines()}) >= 36, "36 events seen")
    # Four more whole pulls by either beat (not a fixed sleep, which a busy machine may fill
    # with fewer): nothing is seen again.
    deployment.more_full_runs(4, "four more pulls after the last event")
    lines = deployment.seen_lines()
    assert len(lines) == 36, deployment.logs()
    assert len({line["key"] for line in lines}) == 36
    assert all(line["stored"] for line in lines)
    print("runs skipped for the lock:", deployment.logs(tail=0).count("'skipped': True"))
    with _journal(deployment.journal) as stored:
        assert stored.pending() == []
        if isinstance(stored, SQLiteJournal):
            assert {entry.state for entry in stored.entries()} == {EventState.DONE}
    demo = next(a for a in deployment.sandbox.state.accounts() if a["account"] == "demo")
    assert (demo["queued_reports"], demo["queued_inbound"]) == (0, 0)


def test_a_journal_failing_after_a_pull_loses_nothing_and_says_so(
    deploy: Callable[..., Deployment], redis_url: str
) -> None:
    """The journal breaks: the pulled (now gone from the vendor) events wait in Redis, no hook
    sees them, the workers log the failure; once it is repaired, each is journaled and seen once."""
    deployment = deploy(broken=True)
    deployment.broken.touch()
    deployment.send(5, start=0)
    with redis.Redis.from_url(redis_url) as client:
        deployment.wait(lambda: client.llen(SPILL_KEY) >= 5, "the pulled events kept in Redis")
        assert deployment.seen_lines() == []
        deployment.wait(lambda: "not journaled" in deployment.logs(tail=0), "the failure in the worker log")
        deployment.broken.unlink()
        deployment.wait(lambda: len(deployment.seen_lines()) >= 5, "5 events seen after the repair")
        deployment.more_full_runs(3, "three more pulls after the repair")
        assert client.llen(SPILL_KEY) == 0
    lines = deployment.seen_lines()
    assert len(lines) == 5
    assert len({line["key"] for line in lines}) == 5
    assert all(line["stored"] for line in lines)
