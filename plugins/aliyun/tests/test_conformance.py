"""The public provider conformance suite (``smsgate.testing.conformance``) run against the
Aliyun provider over a real loopback socket to the Aliyun sandbox (smsgate's ServerThread),
sync and async, through the suite's own clients (a plain ``httpx.Client``; the
``AiohttpClient`` an ``AsyncGateway`` opens) built with one verifying TLS context loaded once:
each run opens a new client, and loading the CA bundle for each was most of a run's CPU; the
sandbox is plain HTTP on 127.0.0.1, so the context is never used, only built."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import smsgate
from smsgate._aiohttp import AiohttpClient
from smsgate._provider import Operation
from smsgate.testing.conformance import ProviderConformance
from smsgate_aliyun.sandbox import DEMO_SECRET, Sandbox

pytest_plugins = ["smsgate_aliyun.pytest_plugin"]

pytestmark = pytest.mark.e2e


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once for every client of this module."""
    return httpx.create_ssl_context()


class TestAliyunConformanceOverTheSocket(ProviderConformance):
    """The provider contract against the session's Aliyun sandbox (reset for each test)."""

    template_example = ("verify", {"code": "1439"})

    def sync_client(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, verify=verifying_context())

    def async_client(self) -> httpx.AsyncClient:
        return AiohttpClient(verify=verifying_context())

    @pytest.fixture
    def make_provider(
        self, aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
    ) -> Callable[[], smsgate.Provider]:
        return lambda: smsgate.get_provider("aliyun", **aliyun_credentials)

    @pytest.fixture
    def invalid_recipient(self) -> str | None:
        return "1234"  # a number for Sms (3 to 20 digits), too short for the service (5 to 20)

    @pytest.fixture
    def bad_credentials_provider(self, aliyun_credentials: dict[str, Any]) -> smsgate.Provider | None:
        return smsgate.get_provider("aliyun", **{**aliyun_credentials, "access_key_secret": "not-the-secret"})

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [DEMO_SECRET]

    def test_the_suite_talks_to_the_sandbox_over_its_socket(
        self, mode: str, provider: smsgate.Provider, aliyun_sandbox_clean: Sandbox
    ) -> None:
        """The runs above really reach the sandbox: a send through the suite's own clients is
        recorded there under the receipt's BizId, rendered from the template."""
        sms = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"})
        receipt = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        [record] = aliyun_sandbox_clean.state.records
        assert (record.biz_id, record.template_code) == (receipt.task_id, "SMS_100001")
        assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"
