"""Several receiver instances sharing one PostgreSQL journal (a real server, tests/pg_support.py):
a push delivered to both is dispatched once, concurrent dispatch never runs one event twice at
once, and a ``kill -9`` of one instance loses no acknowledged push: the other dispatches it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from smsgate import DeliveryReport, InboundMessage
from smsgate.receiver import EventState, PostgresJournal, Receiver, ServerThread, event_key
from tests.test_receiver import JsonPushProvider, push_body, report

pytestmark = pytest.mark.e2e

Event = DeliveryReport | InboundMessage


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Instance:
    """One receiver instance in this process: its own PostgresJournal and HTTP server."""

    def __init__(self, url: str, handler: Callable[[Event], None], *, lease: float = 30.0) -> None:
        self.journal = PostgresJournal(url, lease=lease)
        self.receiver = Receiver(JsonPushProvider(), handler, journal=self.journal)
        self.server = ServerThread(self.receiver.asgi_app(), host="127.0.0.1", port=0)
        self.server.start()

    def post(self, body: bytes) -> httpx.Response:
        return httpx.post(self.server.url, content=body, timeout=10)

    def close(self) -> None:
        self.server.stop()
        self.receiver.close()
        self.journal.close()


@pytest.fixture
def instances(postgres_url: str) -> Iterator[Callable[..., Instance]]:
    opened: list[Instance] = []

    def start(handler: Callable[[Event], None], **kwargs: float) -> Instance:
        opened.append(Instance(postgres_url, handler, **kwargs))
        return opened[-1]

    yield start
    for instance in opened:
        instance.close()


class Recorder:
    """A handler shared by instances: counts runs per event and flags overlapping runs."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.runs: Counter[str] = Counter()
        self.running: set[str] = set()
        self.overlaps: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        key = event_key(event)
        with self._lock:
            if key in self.running:
                self.overlaps.append(key)
            self.running.add(key)
            self.runs[key] += 1
        time.sleep(self.seconds)
        with self._lock:
            self.running.discard(key)


def all_done(journal: PostgresJournal, count: int) -> Callable[[], bool]:
    return lambda: len(journal.entries(EventState.DONE)) == count


def test_the_same_push_delivered_to_both_instances_is_dispatched_once(
    instances: Callable[..., Instance],
) -> None:
    seen = Recorder(0.01)
    one, two = instances(seen), instances(seen)
    mobiles = [f"138{i:08d}" for i in range(20)]
    body = push_body(*mobiles, inbound=(("13900139000", "hi"), ("13900139000", "hi")))
    replies: list[bytes] = []
    threads = [threading.Thread(target=lambda i=i: replies.append(i.post(body).content)) for i in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert replies == [b"ok", b"ok"], "both acknowledge: the push is stored"
    wait_for(all_done(one.journal, 22), 20, "every event done")
    assert one.post(body).content == b"ok", "a later re-delivery is acknowledged too"
    time.sleep(0.2)
    assert sorted(seen.runs.values()) == [1] * 22, "each event dispatched once across both"
    assert seen.overlaps == []


def test_concurrent_redispatch_from_both_never_runs_one_event_twice_at_once(
    instances: Callable[..., Instance],
) -> None:
    seen = Recorder(0.02)
    one, two = instances(seen), instances(seen)
    events = [report(mobile=f"137{i:08d}") for i in range(30)]
    one.journal.record(events)
    done: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: done.append(i.receiver.redispatch()))
        for i in (one, two, one, two)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen.overlaps == [], "no event ran in two dispatches at once"
    assert sum(done) == 30
    assert sorted(seen.runs.values()) == [1] * 30, "and, the handler never failing, once each"
    assert one.journal.pending() == []


# --- real `smsgate receive` processes ---------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cli:
    """``smsgate receive --journal postgresql://…`` as a real process."""

    def __init__(self, cwd: Path, url: str, *, lease: float) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = cwd / f"receive-{self.port}.log"
        script = Path(sys.executable).with_name("smsgate")
        env = {k: v for k, v in os.environ.items() if k != "SMSGATE_CONFIG"}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(script),
                    "receive",
                    "--port",
                    str(self.port),
                    "--journal",
                    url,
                    "--claim-lease",
                    str(lease),
                ],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._listening, 20, f"smsgate receive on port {self.port}")

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"smsgate receive exited: {self.log.read_text()}")
        try:
            httpx.get(self.url, timeout=1)
        except httpx.TransportError:
            return False
        return True

    def post(self, body: bytes) -> bytes:
        return httpx.post(self.url, content=body, timeout=10).content

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        return self.output()


@pytest.fixture
def clis(tmp_path: Path, postgres_url: str) -> Iterator[Callable[..., Cli]]:
    (tmp_path / "smsgate.toml").write_text('[providers.jsonpush]\ntype = "memory"\n')
    started: list[Cli] = []

    def start(lease: float = 1.0) -> Cli:
        started.append(Cli(tmp_path, postgres_url, lease=lease))
        return started[-1]

    yield start
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.kill()
            cli.proc.wait(timeout=10)


def _printed(output: str, mobile: str) -> int:
    return sum(1 for line in output.splitlines() if line.startswith("report") and mobile in line)


def test_two_receive_processes_on_one_postgres_journal_dispatch_a_push_once(
    clis: Callable[..., Cli], postgres_url: str
) -> None:
    one, two = clis(), clis()
    body = push_body("13800138000", "13900139000", task_id="T7")
    assert [one.post(body), two.post(body)] == [b"ok", b"ok"]
    with PostgresJournal(postgres_url) as journal:
        wait_for(all_done(journal, 2), 20, "both events done")
    outputs = one.stop() + two.stop()
    assert "postgresql://postgres@127.0.0.1" in outputs, "the journal is named (no password)"
    assert _printed(outputs, "13800138000") == 1
    assert _printed(outputs, "13900139000") == 1


def test_kill_9_of_one_receive_process_loses_no_acknowledged_push(
    clis: Callable[..., Cli], postgres_url: str
) -> None:
    victim, survivor = clis(lease=1.0), clis(lease=1.0)
    acked: list[str] = []
    stop = threading.Event()

    def pusher() -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            mobile = f"135{i:08d}"
            try:
                reply = victim.post(push_body(mobile, task_id=f"K{i}"))
            except httpx.TransportError:
                return  # killed: this one was never acknowledged
            if reply == b"ok":
                acked.append(mobile)

    thread = threading.Thread(target=pusher)
    thread.start()
    wait_for(lambda: len(acked) >= 30, 30, "30 acknowledged pushes")
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)
    stop.set()
    thread.join(timeout=30)
    with PostgresJournal(postgres_url) as journal:
        stored = {e.event.mobile: e.state for e in journal.entries()}
        assert set(acked) <= set(stored), "every acknowledged push is in the journal"
        undone = {mobile for mobile, state in stored.items() if state is not EventState.DONE}
        # The survivor re-dispatches every lease: whatever the victim left is done by it.
        wait_for(all_done(journal, len(stored)), 30, "the survivor to dispatch what the victim left")
    output = survivor.stop()
    for mobile in undone:
        assert _printed(output, mobile) >= 1, f"{mobile} left by the victim, dispatched by the survivor"


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from smsgate.receiver import PostgresJournal, Receiver, ServerThread
    from smsgate.testing import InMemoryProvider

    url, port_file, started = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def handler(event):  # takes the event, then hangs until killed
        started.write_text(event.mobile)
        time.sleep(600)

    journal = PostgresJournal(url, lease=3.0)
    receiver = Receiver(InMemoryProvider("jsonpush"), handler, journal=journal)
    server = ServerThread(receiver.asgi_app(), host="127.0.0.1", port=0)
    server.start()
    port_file.write_text(server.url)
    time.sleep(600)
    """
)


def test_kill_9_mid_dispatch_the_other_instance_dispatches_once_the_claim_lapses(
    tmp_path: Path, postgres_url: str, instances: Callable[..., Instance]
) -> None:
    url_file, started = tmp_path / "url", tmp_path / "started"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, postgres_url, str(url_file), str(started)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(url_file.exists, 20, "the holder's server")
        wait_for(lambda: bool(url_file.read_text()), 5, "the holder's URL")
        reply = httpx.post(url_file.read_text(), content=push_body("13600136000"), timeout=10)
        assert reply.content == b"ok"
        wait_for(started.exists, 10, "the holder's handler to take the event")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    with psycopg.connect(postgres_url) as conn:
        [(state, holder_id)] = conn.execute("SELECT state, claimed_by FROM smsgate_events").fetchall()
    assert state == "pending"
    assert holder_id is not None, "the dead instance's claim is still there"

    seen = Recorder()
    other = instances(seen)
    assert other.receiver.redispatch() == 0, "claimed: not dispatched while the lease runs"
    assert seen.runs == Counter()
    wait_for(lambda: other.receiver.redispatch() == 1, 15, "the claim to lapse and the event to go")
    assert list(seen.runs.values()) == [1]
    assert other.journal.pending() == []
    [entry] = other.journal.entries()
    assert (entry.state, entry.event.mobile, entry.error) == (EventState.DONE, "13600136000", None)
