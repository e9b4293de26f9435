"""The receiver's ASGI app under a real uvicorn and its WSGI app under wsgiref, over loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from smsgate import DeliveryReport, InboundMessage
from smsgate.receiver import EventState, Receiver, ServerThread, SQLiteJournal
from tests.test_receiver import OK, RETRY, JsonPushProvider, push_body


class Collect:
    """Handler collecting mobiles; can fail."""

    def __init__(self, fail: bool = False) -> None:
        self.mobiles: list[str] = []
        self.fail = fail
        self.called = threading.Event()

    def __call__(self, event: DeliveryReport | InboundMessage) -> None:
        self.called.set()
        if self.fail:
            raise RuntimeError("down")
        self.mobiles.append(event.mobile)


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wsgi_server() -> Iterator[object]:
    servers: list[WSGIServer] = []
    threads: list[threading.Thread] = []

    def start(app: object) -> str:
        server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)  # type: ignore[arg-type]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(5)


def test_asgi_app_under_uvicorn_stores_acks_and_dedupes(tmp_path: Path) -> None:
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            body = push_body("13800138000", "13900139000")
            # A wrong Content-Type must not matter: vendors send odd ones.
            first = httpx.post(server.url, content=body, headers={"Content-Type": "text/html"})
            second = httpx.post(server.url, content=body)
            wait_for(lambda: len(handler.mobiles) == 2)
            assert first.status_code == 200
            assert first.content == OK
            assert second.content == OK
            assert httpx.get(server.url).status_code == 405
        assert handler.mobiles == ["13800138000", "13900139000"]


def test_asgi_app_answers_retry_for_garbage_and_413_for_huge_bodies(tmp_path: Path) -> None:
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        with ServerThread(receiver.asgi_app(max_body=1000)) as server:
            assert httpx.post(server.url, content=b"<<garbage>>").content == RETRY
            assert httpx.post(server.url, content=b"x" * 5000).status_code == 413
    assert handler.mobiles == []


def test_asgi_app_mounted_in_starlette_with_handler_failure_kept_for_redispatch(tmp_path: Path) -> None:
    handler = Collect(fail=True)
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        outer = Starlette(routes=[Mount("/callbacks/acme", app=receiver.asgi_app())])
        with ServerThread(outer) as server:
            reply = httpx.post(server.url + "callbacks/acme/", content=push_body("13800138000"))
            assert reply.content == OK, "stored events are acknowledged even if the handler fails"
            assert handler.called.wait(5)
        assert isinstance(receiver.journal, SQLiteJournal)
        wait_for(lambda: [e.state for e in receiver.journal.entries()] == [EventState.FAILED])  # type: ignore[attr-defined]
        handler.fail = False
        assert receiver.redispatch() == 1
    assert handler.mobiles == ["13800138000"]


def test_asgi_app_with_failing_journal_answers_retry(tmp_path: Path) -> None:
    handler = Collect()
    journal = SQLiteJournal(tmp_path / "j.sqlite3")
    receiver = Receiver(JsonPushProvider(), handler, journal=journal)
    journal.close()
    with ServerThread(receiver.asgi_app()) as server:
        assert httpx.post(server.url, content=push_body("13800138000")).content == RETRY
    assert not handler.called.is_set()


def test_server_thread_stop_leaves_no_thread_or_listener(tmp_path: Path) -> None:
    with Receiver(JsonPushProvider(), journal=tmp_path / "j.sqlite3") as receiver:
        server = ServerThread(receiver.asgi_app()).start()
        url = server.url
        server.stop()
    assert not any(t.name.startswith("smsgate-server-") for t in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, content=b"{}")


def test_wsgi_app_under_wsgiref_stores_acks_and_dedupes(tmp_path: Path, wsgi_server: object) -> None:
    handler = Collect()
    with Receiver(JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3") as receiver:
        url = wsgi_server(receiver.wsgi_app())  # type: ignore[operator]
        body = push_body("13800138000", inbound=(("13700137000", "hello"),))
        first = httpx.post(url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        second = httpx.post(url, content=body)
        wait_for(lambda: len(handler.mobiles) == 2)
        assert (first.status_code, first.content) == (200, OK)
        assert second.content == OK
        assert httpx.post(url, content=b"nope").content == RETRY
        assert httpx.get(url).status_code == 405
        assert httpx.post(url + "elsewhere", content=body).status_code == 404
    assert handler.mobiles == ["13800138000", "13700137000"]


def test_wsgi_app_dispatch_first_mode_asks_retry_when_handler_fails(
    tmp_path: Path, wsgi_server: object
) -> None:
    handler = Collect(fail=True)
    with Receiver(
        JsonPushProvider(), handler, journal=tmp_path / "j.sqlite3", ack_before_dispatch=False
    ) as receiver:
        url = wsgi_server(receiver.wsgi_app())  # type: ignore[operator]
        body = push_body("13800138000")
        assert httpx.post(url, content=body).content == RETRY
        handler.fail = False
        assert httpx.post(url, content=body).content == OK
    assert handler.mobiles == ["13800138000"]


def test_the_receiver_imports_no_adapter_and_no_web_dependency(tmp_path: Path) -> None:
    """The adapters depend on the receiver, never the reverse: importing it (and using it)
    loads neither adapter, nor starlette or uvicorn; the ``receiver`` extra stays optional."""
    script = (
        "import sys, smsgate.receiver\n"
        "from smsgate.testing import InMemoryProvider\n"
        "r = smsgate.receiver.Receiver(InMemoryProvider(), journal=sys.argv[1])\n"
        "r.handle(b'{}'); r.close()\n"
        "mods = ('smsgate.receiver.asgi', 'smsgate.receiver.wsgi', 'starlette', 'uvicorn')\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "j.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
