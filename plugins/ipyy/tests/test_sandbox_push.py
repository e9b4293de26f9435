"""The push worker (spec chapter 6) against real receivers on loopback sockets.

Each receiver is a tiny Starlette app under its own uvicorn server that answers from a script;
the pushes come from a real SandboxState (an inbound message injected for an account with a
callback URL is due at once).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from smsgate.receiver import ServerThread
from smsgate_ipyy.sandbox import Account, Sandbox, SandboxConfig, SandboxState
from smsgate_ipyy.sandbox._faults import FaultMiddleware, FaultSet
from smsgate_ipyy.sandbox._push import MAX_ATTEMPTS, PushWorker, is_loopback_url


class Receiver:
    """Answers each push with the next scripted reply (``1`` once the script is used up)."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []

    async def endpoint(self, request: Request) -> PlainTextResponse:
        self.bodies.append(await request.body())
        self.content_types.append(request.headers.get("content-type", ""))
        return PlainTextResponse(self.script.pop(0) if self.script else "1")


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, FaultSet, ServerThread]]:
    receiver = Receiver()
    faults = FaultSet()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    with ServerThread(FaultMiddleware(app, faults)) as server:
        yield receiver, faults, server


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, FaultSet, ServerThread]) -> Receiver:
    receiver, faults, _ = receiver_server
    receiver.script.clear()
    receiver.bodies.clear()
    receiver.content_types.clear()
    faults.clear()
    return receiver


@pytest.fixture
def hook_url(receiver_server: tuple[Receiver, FaultSet, ServerThread]) -> str:
    return receiver_server[2].base_url + "hook"


def make_state(url: str, content_type: str = "text/xml; charset=utf-8") -> SandboxState:
    account = Account(
        account="push", password="pw", userid="1", sms_balance=10, mms_balance=0, callback_url=url
    )
    return SandboxState(SandboxConfig(accounts=[account], push_content_type=content_type))


async def run_until_recorded(
    state: SandboxState, worker: PushWorker, count: int = 1
) -> list[dict[str, object]]:
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while len(state.pushes()) < count:
            assert time.monotonic() < deadline, "push not recorded in time"
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    return state.pushes()


def fast_worker(state: SandboxState, **kwargs: object) -> PushWorker:
    return PushWorker(state, interval=0.01, retry_delay=0.01, timeout=2.0, **kwargs)  # type: ignore[arg-type]


async def test_receiver_answering_error_twice_then_1_gets_three_deliveries(
    receiver: Receiver, hook_url: str
) -> None:
    receiver.script = ["error", "error", "1"]
    state = make_state(hook_url)
    state.inject_inbound("push", "13800138000", "回复 TD")
    [result] = await run_until_recorded(state, fast_worker(state))
    assert (result["attempts"], result["ok"]) == (3, True)
    assert len(receiver.bodies) == 3
    assert len(set(receiver.bodies)) == 1  # the same body each time
    assert "回复 TD".encode() in receiver.bodies[0]
    assert b"<callbox>" in receiver.bodies[0]


async def test_receiver_always_answering_error_gets_at_most_three_tries(
    receiver: Receiver, hook_url: str
) -> None:
    receiver.script = ["error"] * 10
    state = make_state(hook_url)
    state.inject_inbound("push", "13800138000", "hi")
    [result] = await run_until_recorded(state, fast_worker(state))
    assert MAX_ATTEMPTS == 3
    assert (result["attempts"], result["ok"]) == (3, False)
    assert len(receiver.bodies) == 3


@pytest.mark.parametrize("reply", ["", "OK", "success", "0"])
async def test_any_reply_but_error_counts_as_delivered_at_once(
    receiver: Receiver, hook_url: str, reply: str
) -> None:
    receiver.script = [reply]
    state = make_state(hook_url)
    state.inject_inbound("push", "13800138000", "hi")
    [result] = await run_until_recorded(state, fast_worker(state))
    assert (result["attempts"], result["ok"]) == (1, True)
    assert len(receiver.bodies) == 1


async def test_push_uses_the_configured_content_type(receiver: Receiver, hook_url: str) -> None:
    state = make_state(hook_url, content_type="application/octet-stream")
    state.inject_inbound("push", "13800138000", "hi")
    worker = fast_worker(state, content_type=state.config.push_content_type)
    await run_until_recorded(state, worker)
    assert receiver.content_types == ["application/octet-stream"]


async def test_dropped_connection_is_retried(
    receiver: Receiver, receiver_server: tuple[Receiver, FaultSet, ServerThread], hook_url: str
) -> None:
    receiver_server[1].add({"kind": "drop", "times": 1})
    state = make_state(hook_url)
    state.inject_inbound("push", "13800138000", "hi")
    [result] = await run_until_recorded(state, fast_worker(state))
    assert (result["attempts"], result["ok"]) == (2, True)
    # The drop fault lets the receiver process the first try, so it saw the body twice.
    assert len(receiver.bodies) == 2


def _refusing_url() -> str:
    # A port that was free a moment ago: nothing listens, so connecting is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def test_connection_refused_is_retried_up_to_the_limit() -> None:
    state = make_state(_refusing_url())
    state.inject_inbound("push", "13800138000", "hi")
    started = time.monotonic()
    [result] = await run_until_recorded(state, PushWorker(state, interval=0.01, retry_delay=0.1))
    assert (result["attempts"], result["ok"]) == (3, False)
    # Two pauses between three tries.
    assert time.monotonic() - started >= 0.2


async def test_non_loopback_callback_is_never_contacted() -> None:
    contacted: list[httpx.Request] = []

    def transport_handler(request: httpx.Request) -> httpx.Response:
        contacted.append(request)
        return httpx.Response(200, text="1")

    state = make_state("http://192.0.2.10/hook")
    state.inject_inbound("push", "13800138000", "hi")
    worker = fast_worker(state, transport=httpx.MockTransport(transport_handler))
    [result] = await run_until_recorded(state, worker)
    assert (result["attempts"], result["ok"]) == (0, False)
    assert contacted == []


async def test_an_unexpected_error_while_posting_is_a_failed_try_and_is_recorded() -> None:
    tries: list[httpx.Request] = []

    def transport_handler(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        raise RuntimeError("not an httpx error")

    state = make_state("http://127.0.0.1:9/hook")
    state.inject_inbound("push", "13800138000", "hi")
    worker = fast_worker(state, transport=httpx.MockTransport(transport_handler))
    [result] = await run_until_recorded(state, worker)
    assert (result["attempts"], result["ok"]) == (MAX_ATTEMPTS, False)
    assert len(tries) == MAX_ATTEMPTS


async def test_worker_stop_leaves_no_task_behind(hook_url: str) -> None:
    state = make_state(hook_url)
    worker = fast_worker(state)
    before = asyncio.all_tasks()
    worker.start()
    await asyncio.sleep(0.05)
    await worker.stop()
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/hook", True),
        ("http://127.8.9.10/hook", True),
        ("http://[::1]:9000/", True),
        ("https://localhost/cb", True),
        ("http://LOCALHOST:1/", True),
        ("http://10.0.0.1/hook", False),
        ("http://192.0.2.10/hook", False),
        ("http://example.com/hook", False),
        ("http://127.0.0.1.example.com/hook", False),
        ("ftp://127.0.0.1/hook", False),
        ("not a url", False),
        ("http://[::1/", False),
        ("http://127.0.0.1:99999/hook", False),
        ("http://127.0.0.1:port/hook", False),
    ],
)
def test_only_loopback_urls_are_push_targets(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


def test_sandbox_pushes_delivery_reports_end_to_end(receiver: Receiver, hook_url: str) -> None:
    config = SandboxConfig.default()
    with Sandbox(config) as sandbox, httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        sandbox.state.update_account("push", callback_url=hook_url)
        form = {
            "action": "send",
            "account": "push",
            "password": "push-password",
            "mobile": "13800138000,13800138001",
            "content": "验证码 1234【腾飞】",
        }
        reply = http.post("/sms.aspx", data=form)
        assert b"<returnstatus>Success</returnstatus>" in reply.content
        deadline = time.monotonic() + 10
        while not sandbox.state.pushes():
            assert time.monotonic() < deadline, "no push arrived"
            time.sleep(0.02)
        [result] = sandbox.state.pushes()
        assert (result["attempts"], result["ok"], result["kind"]) == (1, True, "report")
        body = receiver.bodies[0]
        assert body.count(b"<statusbox>") == 2
        assert b"13800138001" in body
