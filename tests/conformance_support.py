"""Running the public conformance suite in these tests: the options its inner pytest runs
(``pytester``) need, the checks of what those runs report, and the suite's clients with one
verifying TLS context.

Each run of the suite opens a new client, and each loaded the CA bundle afresh (~45 ms of CPU,
most of an in-memory provider's run). :class:`SharedTLSClients` (a mixin for a test class) and
:func:`share_tls_clients` (for the inner runs) build the same clients the suite uses by
default, a plain ``httpx.Client`` without redirects and the ``AiohttpClient`` an
``AsyncGateway`` opens, with httpx's default verifying context created once. The providers
here make no request or speak plain HTTP: the context is never used, only built.

Imported by ``test_conformance_memory`` and ``test_templates_memory``
(``from tests.conformance_support import …``).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import pytest

from smsgate._aiohttp import AiohttpClient
from smsgate.testing.conformance import ProviderConformance

# The inner runs have no pyproject.toml: say explicitly how pytest-asyncio should behave.
PYTESTER_OPTIONS = ("-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function")


def failures_by_test(recorder: pytest.HookRecorder) -> dict[str, Any]:
    """The inner run's failed reports by ``Class::test[params]``."""
    return {report.nodeid.split("::", 1)[1]: report for report in recorder.getfailures()}


def assert_caught(
    failures: Mapping[str, Any], caught: Mapping[str, str], modes: Iterable[str] = ("sync", "async")
) -> None:
    """Each test of ``caught`` failed in every mode with a ConformanceFailure whose message
    says what ``caught`` gives (what was expected, and what came)."""
    for mode in modes:
        for test, message in caught.items():
            report = failures.get(f"{test}[{mode}]")
            assert report is not None, f"{test}[{mode}] passed against a provider that breaks it"
            assert "ConformanceFailure" in report.longreprtext, report.longreprtext
            assert message in report.longreprtext, report.longreprtext


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once for the session."""
    return httpx.create_ssl_context()


class SharedTLSClients:
    """Mixin for a ``ProviderConformance`` test class: its runs' clients share one context."""

    def sync_client(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, verify=verifying_context())

    def async_client(self) -> httpx.AsyncClient:
        return AiohttpClient(verify=verifying_context())


def share_tls_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the duration of the test, every ``ProviderConformance`` class (those of an inner
    ``pytester.inline_run`` too) builds its clients as :class:`SharedTLSClients` does."""
    monkeypatch.setattr(ProviderConformance, "sync_client", SharedTLSClients.sync_client)
    monkeypatch.setattr(ProviderConformance, "async_client", SharedTLSClients.async_client)
