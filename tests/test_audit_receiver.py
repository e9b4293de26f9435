"""Audit of the receiver's ASGI fast path (``smsgate.receiver.asgi``) under a real uvicorn
(``ServerThread``), with ipyy's XML pushes: an acknowledged push is in the journal (read
from another connection while the server runs, and after the server process is killed right
after its ack), a push cut off mid-body is neither acknowledged nor recorded even when what
arrived is a complete document, concurrent re-deliveries are one event, refused bodies
(oversize, slow, wrong method or path, hostile XML) leave no event.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate
from smsgate.receiver import Receiver, ServerLimits, ServerThread, SQLiteJournal

pytestmark = pytest.mark.e2e

LIMITS = ServerLimits(max_body=4000, body_timeout=1.0)


def callbox(text: str, mobile: str = "13800138000", when: str = "2026-12-01 10:00:00") -> str:
    return (
        f"<callbox><mobile>{mobile}</mobile><taskid></taskid><content>{text}</content>"
        f"<receivetime>{when}</receivetime><extno></extno></callbox>"
    )


def push(*texts: str) -> bytes:
    boxes = "".join(callbox(text) for text in texts)
    return f'<?xml version="1.0" encoding="utf-8" ?><returnsms>{boxes}</returnsms>'.encode()


def provider() -> smsgate.Provider:
    return smsgate.get_provider("ipyy", account="a", password="p", userid="1")


def stored_texts(path: Path) -> list[str]:
    """The inbound texts in the journal file, read over a connection of its own."""
    with SQLiteJournal(path) as journal:
        return sorted(getattr(e.event, "text", "") for e in journal.entries())


@contextlib.contextmanager
def serving(tmp_path: Path, **options: Any) -> Iterator[tuple[Receiver, int, list[Any]]]:
    seen: list[Any] = []
    with (
        Receiver(provider(), seen.append, journal=tmp_path / "j.sqlite3", **options) as receiver,
        ServerThread(receiver.asgi_app(limits=LIMITS)) as server,
    ):
        yield receiver, server.port, seen


def raw(port: int, data: bytes, *, shut: bool = False) -> bytes:
    """Write ``data`` on a new connection, read until the server closes (or 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def request(body: bytes, *, length: int | None = None, method: str = "POST", path: str = "/") -> bytes:
    size = len(body) if length is None else length
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize("ack_before_dispatch", [True, False])
def test_every_acknowledged_push_is_in_the_journal_when_its_ack_arrives(
    tmp_path: Path, ack_before_dispatch: bool
) -> None:
    """Pushes in parallel (the journal commits them in groups): the moment a thread reads an
    ack, another connection to the journal file already sees that push's event."""
    missing: list[str] = []
    failed: list[str] = []
    with serving(tmp_path, ack_before_dispatch=ack_before_dispatch) as (_receiver, port, _seen):
        url = f"http://127.0.0.1:{port}/"

        def work(worker: int) -> None:
            with httpx.Client(timeout=20) as client:
                for n in range(6):
                    text = f"w{worker}-n{n}"
                    reply = client.post(url, content=push(text))
                    if (reply.status_code, reply.content) != (200, b"1"):
                        failed.append(f"{text}: {reply.status_code} {reply.content!r}")
                        continue
                    if text not in stored_texts(tmp_path / "j.sqlite3"):
                        missing.append(text)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert failed == []
    assert missing == []
    assert len(stored_texts(tmp_path / "j.sqlite3")) == 36


CHILD = textwrap.dedent(
    """
    import sys, threading
    import smsgate
    from smsgate.receiver import Receiver, ServerThread
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    receiver = Receiver(provider, lambda event: None, journal=sys.argv[1])
    server = ServerThread(receiver.asgi_app())
    server.start()
    print(server.port, flush=True)
    threading.Event().wait()
    """
)


def test_a_server_killed_right_after_its_acks_lost_none_of_them(tmp_path: Path) -> None:
    """A receiver process takes pushes from several threads and is killed (SIGKILL) as soon as
    the first acks arrive, with other pushes in flight: every push acknowledged before the
    kill is in the journal when it is opened again."""
    journal = tmp_path / "j.sqlite3"
    acked: list[str] = []
    lock = threading.Lock()
    for round_ in range(1):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(journal)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
        )
        try:
            assert child.stdout is not None
            port = int(child.stdout.readline())
            first_acks = threading.Semaphore(0)

            def work(
                worker: int, port: int = port, sem: threading.Semaphore = first_acks, r: int = round_
            ) -> None:
                with httpx.Client(timeout=10) as client:
                    for n in range(200):
                        text = f"r{r}-w{worker}-n{n}"
                        try:
                            reply = client.post(f"http://127.0.0.1:{port}/", content=push(text))
                        except httpx.HTTPError:
                            return  # the server is gone
                        if (reply.status_code, reply.content) == (200, b"1"):
                            with lock:
                                acked.append(text)
                            sem.release()

            threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
            for thread in threads:
                thread.start()
            for _ in range(10):
                assert first_acks.acquire(timeout=30)
            os.kill(child.pid, signal.SIGKILL)
            for thread in threads:
                thread.join(30)
        finally:
            child.kill()
            child.wait(10)
    stored = set(stored_texts(journal))
    assert len(acked) >= 10
    assert [text for text in acked if text not in stored] == []


def test_a_push_cut_off_mid_body_is_neither_acknowledged_nor_recorded(tmp_path: Path) -> None:
    """The bytes that arrived form a complete push (the declared length covered trailing
    spaces that never came); the client leaves: no ack, no event."""
    whole = push("cut") + b" " * 200
    complete = push("cut")
    with serving(tmp_path) as (_receiver, port, seen):
        reply = raw(port, request(complete, length=len(whole)), shut=True)
        assert b" 200 " not in reply.split(b"\r\n", 1)[0]
        assert b"\r\n\r\n1" not in reply
        # Same, the client's socket closed abruptly (RST) instead of a half-close.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.sendall(request(complete, length=len(whole)))
        ok = httpx.post(f"http://127.0.0.1:{port}/", content=push("after"))
        assert (ok.status_code, ok.content) == (200, b"1")
    assert stored_texts(tmp_path / "j.sqlite3") == ["after"]
    assert [e.text for e in seen] == ["after"]


def test_concurrent_redeliveries_of_one_push_are_one_event(tmp_path: Path) -> None:
    body = push("same-1", "same-2")
    replies: list[tuple[int, bytes]] = []
    with serving(tmp_path) as (receiver, port, seen):
        barrier = threading.Barrier(8)

        def deliver() -> None:
            with httpx.Client(timeout=20) as client:
                barrier.wait(10)
                reply = client.post(f"http://127.0.0.1:{port}/", content=body)
                replies.append((reply.status_code, reply.content))

        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        receiver.redispatch()
    assert replies == [(200, b"1")] * 8
    assert stored_texts(tmp_path / "j.sqlite3") == ["same-1", "same-2"]
    assert sorted(e.text for e in seen) == ["same-1", "same-2"]


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]><returnsms>"
    + callbox("&lol9;")
    + "</returnsms>"
).encode()
HOSTILE = {
    "billion-laughs": LAUGHS,
    "external-entity": push("&x;").replace(
        b"<returnsms>", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><returnsms>'
    ),
    "parameter-entity": push("p").replace(
        b"<returnsms>", b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x"> %p;]><returnsms>'
    ),
    "doctype": push("d").replace(b"<returnsms>", b"<!DOCTYPE returnsms><returnsms>"),
    "internal-entity": push("&e;").replace(b"<returnsms>", b'<!DOCTYPE r [<!ENTITY e "evil">]><returnsms>'),
    "utf16-doctype": push("u")
    .decode()
    .replace("utf-8", "utf-16")
    .replace("<returnsms>", "<!DOCTYPE returnsms><returnsms>")
    .encode("utf-16"),
    "not-xml": b"<<>>",
    "empty": b"",
}


def test_hostile_xml_pushes_are_never_acknowledged_nor_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each gets the provider's retry reply (documented: docs/receiver.md), never ``1``; nothing
    is journaled or dispatched; the body is not logged."""
    with serving(tmp_path) as (_receiver, port, seen):
        for name, body in HOSTILE.items():
            reply = httpx.post(f"http://127.0.0.1:{port}/", content=body)
            assert reply.content != b"1", name
            assert reply.content == b"error" or 400 <= reply.status_code < 500, name
    assert stored_texts(tmp_path / "j.sqlite3") == []
    assert seen == []
    assert not any("lol" in r.getMessage() or "passwd" in r.getMessage() for r in caplog.records)


def test_refused_requests_carrying_a_valid_push_leave_no_event(tmp_path: Path) -> None:
    """Over the cap (declared, or streamed chunked without a length), too slow, another method,
    another path: the valid push inside is never recorded."""
    big = push("big-" + "x" * 5000)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(big[i : i + 700]), big[i : i + 700]) for i in range(0, len(big), 700)
    )
    with serving(tmp_path) as (_receiver, port, seen):
        assert raw(port, request(big)).startswith(b"HTTP/1.1 413")
        streamed = (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
            + b"0\r\n\r\n"
        )
        assert raw(port, streamed).startswith(b"HTTP/1.1 413")
        slow = push("slow")
        assert raw(port, request(slow, length=len(slow) + 1)).startswith(b"HTTP/1.1 408")
        assert raw(port, request(push("put"), method="PUT")).startswith(b"HTTP/1.1 405")
        assert raw(port, request(push("path"), path="/elsewhere")).startswith(b"HTTP/1.1 404")
        assert raw(port, request(push("deep"), path="/a/b")).startswith(b"HTTP/1.1 404")
    assert stored_texts(tmp_path / "j.sqlite3") == []
    assert seen == []


def test_pushes_arriving_while_the_journal_cannot_be_written_are_not_acknowledged(tmp_path: Path) -> None:
    """Another connection holds the journal file's write lock (as another process would)
    longer than the journal waits: the pushes committed in that group get the retry reply,
    none is recorded or dispatched; once the lock is gone pushes are taken again."""
    path = tmp_path / "j.sqlite3"
    seen: list[Any] = []
    replies: dict[str, bytes] = {}
    with (
        SQLiteJournal(path, timeout=0.3) as journal,
        Receiver(provider(), seen.append, journal=journal) as receiver,
        ServerThread(receiver.asgi_app(limits=LIMITS)) as server,
    ):
        url = f"http://127.0.0.1:{server.port}/"
        assert httpx.post(url, content=push("before")).content == b"1"
        # Its dispatch outcome on disk first (reading the journal commits what is queued):
        # an outcome queued for the commit the lock then fails is lost (reported separately).
        deadline = time.monotonic() + 10
        while [str(e.state) for e in journal.entries()] != ["done"]:
            assert time.monotonic() < deadline, "the handler never finished"
            time.sleep(0.01)
        blocker = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            blocker.execute("BEGIN IMMEDIATE")

            def deliver(text: str) -> None:
                replies[text] = httpx.post(url, content=push(text), timeout=30).content

            threads = [threading.Thread(target=deliver, args=(f"locked-{n}",)) for n in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        assert httpx.post(url, content=push("after")).content == b"1"
        receiver.redispatch()
    assert replies == {f"locked-{n}": b"error" for n in range(6)}
    assert stored_texts(path) == ["after", "before"]
    assert sorted(e.text for e in seen) == ["after", "before"]
