"""Fixtures for the Aliyun plugin's tests: the sandbox served on 127.0.0.1 (port 0) by smsgate's
ServerThread, a loopback push receiver, and a client that sends the builders' requests over the
socket."""

from __future__ import annotations

import datetime as dt
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


@pytest.fixture
def served(sandbox: Sandbox) -> Iterator[ServerThread]:
    with ServerThread(sandbox.app) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    rec = Receiver()
    with ServerThread(rec.app) as server:
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
