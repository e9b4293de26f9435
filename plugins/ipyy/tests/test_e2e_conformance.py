"""The public provider conformance suite (``smsgate.testing.conformance``) run against the ipyy
provider for each transport, over a real loopback socket to the sandbox under uvicorn, sync
and async: with the suite's own clients (a plain ``httpx.Client``; the ``AiohttpClient`` an
``AsyncGateway`` opens by default), built with one verifying TLS context loaded once.

Every run of the suite opens a new client, and each loaded the CA bundle afresh (~45 ms of
CPU, two thirds of these 255 tests' time); the sandbox is plain HTTP on 127.0.0.1, so the
context is never used, only built."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

import httpx
import pytest

import smsgate
from smsgate._aiohttp import AiohttpClient
from smsgate._provider import Operation
from smsgate.testing.conformance import ProviderConformance
from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import TEXT, ipyy, password_of, requests_of

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

TRANSPORTS = ["form", "gbk", "json", "encrypted", "soap"]


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once for every client of this module."""
    return httpx.create_ssl_context()


class TestIpyyConformanceOverTheSocket(ProviderConformance):
    """The provider contract on every transport, against the session sandbox (reset per test),
    with a logical template configured (so the template checks run too)."""

    template_example = ("verify", {"code": "1439"})

    def sync_client(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, verify=verifying_context())

    def async_client(self) -> httpx.AsyncClient:
        return AiohttpClient(verify=verifying_context())

    @pytest.fixture(params=TRANSPORTS)
    def transport(self, request: pytest.FixtureRequest) -> str:
        """Which send endpoint the provider uses."""
        value: str = request.param
        return value

    @pytest.fixture
    def make_provider(self, ipyy_sandbox_clean: Sandbox, transport: str) -> Callable[[], smsgate.Provider]:
        templates = {"verify": "您的验证码：{code}，五分钟内有效【腾飞】"}
        return lambda: ipyy(ipyy_sandbox_clean, transport=transport, templates=templates)

    @pytest.fixture
    def valid_text(self) -> str:
        return TEXT

    @pytest.fixture
    def invalid_recipient(self) -> str | None:
        return "23800138000"

    @pytest.fixture
    def bad_credentials_provider(
        self, ipyy_sandbox_clean: Sandbox, transport: str
    ) -> smsgate.Provider | None:
        return ipyy(ipyy_sandbox_clean, password="not-the-password", transport=transport)

    @pytest.fixture
    def secrets(self, ipyy_sandbox_clean: Sandbox) -> list[str]:
        password = password_of(ipyy_sandbox_clean, "demo")
        # the password, its MD5 (form endpoints) and the DES key (its first 8 bytes, ensms.ashx)
        return [password, md5_upper(password), password[:8]]

    def test_the_suite_talks_to_the_sandbox_over_its_socket(
        self, mode: str, provider: smsgate.Provider, ipyy_sandbox_clean: Sandbox, transport: str
    ) -> None:
        """The runs above really reach the sandbox: a send through the suite's own clients is in
        its inspection log, on the transport's endpoint."""
        endpoints = {
            "form": "sms.aspx",
            "gbk": "smsGBK.aspx",
            "json": "smsJson.aspx",
            "encrypted": "ensms.ashx",
            "soap": "WebService.asmx",
        }
        sms = smsgate.Sms(to="13800138000", text=TEXT)
        receipt = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        [entry] = requests_of(ipyy_sandbox_clean, endpoint=endpoints[transport])
        assert entry["outcome"]["task_id"] == receipt.task_id
