"""Fixtures for the Aliyun plugin's tests: the sandbox served by uvicorn on 127.0.0.1 (port 0)
in a background thread, a loopback push receiver, and a client that sends the builders'
requests over the socket."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate_aliyun._push import parse_inbound_push, parse_report_push, push_reply
from smsgate_aliyun._build import RequestContext
from smsgate_aliyun._signing import AccessKey, fresh_nonce
from smsgate_aliyun.sandbox import Account, Sandbox

KEY_ID = "LTAI5tSandboxKey"
SK = "sandbox-secret-0123456789"  # the AccessKey secret of the sandbox account
SIGN = "腾飞"
TEMPLATE = "SMS_100001"
TEMPLATE_TEXT = "您的验证码：${code}，5分钟内有效。"
NOTICE = "SMS_100002"
NOTICE_TEXT = "${name}，您的订单已发货。"


class Served:
    """An ASGI app under uvicorn on 127.0.0.1 with a port the OS picked."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


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


@pytest.fixture
def served(sandbox: Sandbox) -> Iterator[Served]:
    with Served(sandbox.app) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, Served]]:
    rec = Receiver()
    with Served(rec.app) as server:
        yield rec, server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as c:
        yield c


def context(url: str, *, key_id: str = KEY_ID, secret: str = SK, nonce: str | None = None) -> RequestContext:
    """A fresh signing context for the served sandbox."""
    return RequestContext(
        base_url=url, key=AccessKey(key_id, secret), now=dt.datetime.now(dt.UTC), nonce=nonce or fresh_nonce()
    )
