"""Fixtures for the Aliyun plugin's tests: the sandbox served on 127.0.0.1 (port 0) by smsgate's
ServerThread, a loopback push receiver, and a client that sends the builders' requests over the
socket. Each test gets its own sandbox and receiver; the two servers are the session's."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.receiver import ServerThread
from smsgate_aliyun._build import RequestContext
from smsgate_aliyun._push import parse_inbound_push, parse_report_push, push_reply
from smsgate_aliyun._signing import AccessKey, fresh_nonce
from smsgate_aliyun.sandbox import Account, Sandbox

KEY_ID = "LTAI5tSandboxKey"
SK = "sandbox-secret-0123456789"  # the AccessKey secret of the sandbox account
SIGN = "腾飞"
TEMPLATE = "SMS_100001"
TEMPLATE_TEXT = "您的验证码：${code}，5分钟内有效。"
NOTICE = "SMS_100002"
NOTICE_TEXT = "${name}，您的订单已发货。"


class Receiver:
    """The application's side of the pushes: parses them with the plugin and acknowledges."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        self.inbound: list[Any] = []
        self.app = Starlette(
            routes=[
                Route("/report", self._report, methods=["POST"]),
                Route("/inbound", self._inbound, methods=["POST"]),
            ]
        )

    async def _report(self, request: Request) -> Response:
        self.reports += parse_report_push(await request.body(), provider="aliyun")
        reply = push_reply(True)
        return Response(reply.body, reply.status_code, media_type=reply.media_type)

    async def _inbound(self, request: Request) -> Response:
        self.inbound += parse_inbound_push(await request.body(), provider="aliyun")
        reply = push_reply(True)
        return Response(reply.body, reply.status_code, media_type=reply.media_type)


def default_account(**changes: Any) -> Account:
    values: dict[str, Any] = {
        "key_id": KEY_ID,
        "secret": SK,
        "sign_names": {SIGN, "阿里云"},
        "templates": {TEMPLATE: TEMPLATE_TEXT, NOTICE: NOTICE_TEXT},
    }
    values.update(changes)
    return Account(**values)


@pytest.fixture
def sandbox() -> Sandbox:
    box = Sandbox()
    box.add_account(default_account())
    return box


class Switch:
    """An ASGI app that hands each request to the app of the test running now: one server
    for the session serves every test's own sandbox (or receiver), so no test waits for a
    server to start and stop (uvicorn takes ~0.2 s to stop) and none sees another's state."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:  # between tests: nothing is served
            raise RuntimeError(f"no app is being served (a request for {scope.get('path')!r})")
        await self.app(scope, receive, send)

    @contextlib.contextmanager
    def serving(self, app: Any) -> Iterator[None]:
        """Serve ``app`` for the duration of the block."""
        self.app = app
        try:
            yield
        finally:
            self.app = None


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[tuple[Switch, ServerThread]]:
    switch = Switch()
    with ServerThread(switch, lifespan="off") as server:
        yield switch, server


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[tuple[Switch, ServerThread]]:
    switch = Switch()
    with ServerThread(switch, lifespan="off") as server:
        yield switch, server


@pytest.fixture
def served(sandbox: Sandbox, _sandbox_server: tuple[Switch, ServerThread]) -> Iterator[ServerThread]:
    """The test's own sandbox, served on 127.0.0.1 (the session's server)."""
    switch, server = _sandbox_server
    with switch.serving(sandbox.app):
        yield server


@pytest.fixture
def receiver(_receiver_server: tuple[Switch, ServerThread]) -> Iterator[tuple[Receiver, ServerThread]]:
    """A fresh push receiver, served on 127.0.0.1 (the session's server)."""
    rec = Receiver()
    switch, server = _receiver_server
    with switch.serving(rec.app):
        yield rec, server


@pytest.fixture(scope="session")
def _verifying_context() -> ssl.SSLContext:
    """The CA bundle loaded once: each new client loading it costs ~50 ms of CPU (and the
    tests' clients only ever speak plain HTTP to 127.0.0.1)."""
    return httpx.create_ssl_context()


@pytest.fixture
def client(_verifying_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False, verify=_verifying_context) as c:
        yield c


def context(url: str, *, key_id: str = KEY_ID, secret: str = SK, nonce: str | None = None) -> RequestContext:
    """A fresh signing context for the served sandbox."""
    return RequestContext(
        base_url=url, key=AccessKey(key_id, secret), now=dt.datetime.now(dt.UTC), nonce=nonce or fresh_nonce()
    )
