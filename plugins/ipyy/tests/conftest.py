"""Shared helpers for the ipyy plugin's unit tests: a scripted ``httpx.MockTransport``,
a transport that fails the test when called, and form decoding."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

import smsgate
from smsgate_ipyy._provider import IpyyProvider

PASSWORD = "s3cret-Pass"
# A fixed "now": 2026-04-14 09:47:15 UTC = 04-14 17:47:15 China time.
NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)

SEND_OK = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>16</remainpoint>\n<taskID>{task}</taskID>\n"
    "<successCounts>{count}</successCounts>\n</returnsms>"
)
SEND_FAILD = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Faild</returnstatus>\n'
    "<message>{message}</message>\n<remainpoint>0</remainpoint>\n<taskID></taskID>\n"
    "<successCounts>0</successCounts>\n</returnsms>"
)


def send_ok(task: str = "1504080852350206", count: int = 1) -> bytes:
    """A success reply of sms.aspx in the gateway's own layout."""
    return SEND_OK.format(task=task, count=count).encode("utf-8")


def send_faild(message: str) -> bytes:
    """A ``Faild`` reply of sms.aspx carrying only a message."""
    return SEND_FAILD.format(message=message).encode("utf-8")


def form(request: httpx.Request, encoding: str = "utf-8") -> dict[str, str]:
    """Decode a urlencoded request body into a dict (fields are not repeated)."""
    pairs = urllib.parse.parse_qsl(request.content.decode("ascii"), keep_blank_values=True, encoding=encoding)
    return dict(pairs)


def provider(**config: Any) -> IpyyProvider:
    """A provider built through the public registry, with test defaults."""
    settings: dict[str, Any] = {"account": "acct", "password": PASSWORD, "clock": lambda: NOW}
    settings.update(config)
    built = smsgate.get_provider("ipyy", **settings)
    assert isinstance(built, IpyyProvider)
    return built


Reply = bytes | httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler answering with scripted replies, in order, recording requests."""

    def __init__(self, replies: Iterable[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            pytest.fail(f"unexpected request {request.method} {request.url.path}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            # A fresh copy: a Response built for a sync client cannot serve an async one.
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        if callable(reply):
            return reply(request)
        return httpx.Response(200, content=reply)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def aclient(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def run(flow: Any, *replies: Reply, **options: Any) -> tuple[Any, Script]:
    """Run a flow synchronously over scripted replies; return (result, script). ``options``
    go to the driver (``provider=``, ``operation=``, as a gateway passes them)."""
    script = Script(replies)
    with script.client() as client:
        return smsgate.run_flow(flow, client, **options), script


async def arun(flow: Any, *replies: Reply, **options: Any) -> tuple[Any, Script]:
    """Run a flow asynchronously over scripted replies; return (result, script)."""
    script = Script(replies)
    async with script.aclient() as client:
        return await smsgate.arun_flow(flow, client, **options), script


class Helpers:
    """The helpers above, handed to tests as the ``h`` fixture (test modules cannot import
    conftest under ``--import-mode=importlib``)."""

    PASSWORD = PASSWORD
    NOW = NOW
    Script = Script
    send_ok = staticmethod(send_ok)
    send_faild = staticmethod(send_faild)
    form = staticmethod(form)
    provider = staticmethod(provider)
    run = staticmethod(run)
    arun = staticmethod(arun)


@pytest.fixture
def h() -> type[Helpers]:
    """The shared helpers."""
    return Helpers


@pytest.fixture
def no_io() -> httpx.Client:
    """A client whose transport fails the test if any request reaches it."""

    def refuse(request: httpx.Request) -> httpx.Response:
        pytest.fail(f"I/O happened: {request.method} {request.url.path}")

    return httpx.Client(transport=httpx.MockTransport(refuse))
