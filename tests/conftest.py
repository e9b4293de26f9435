"""Shared test helpers: a fake clock, a hook recorder, and one adapter that runs the same
scenario code over Gateway and AsyncGateway."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx
import pytest

from smsgate import _plugins, hookimpl
from smsgate.testing import GatewayFactory
from tests.loopback_support import certificate, self_signed  # noqa: F401 - fixtures (a TLS certificate)
from tests.pg_support import postgres_server, postgres_url  # noqa: F401 - fixtures (a real PostgreSQL)
from tests.redis_support import redis_server, redis_url  # noqa: F401 - fixtures (a real Redis)


class FakeClock:
    """Monotonic seconds under test control; ``sleep`` records and (optionally) advances."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 0.0
        self.advance = advance
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance:
                self.now += seconds


@pytest.fixture
def frozen_clock() -> FakeClock:
    """A clock that stands still: ``sleep`` records waits without advancing it."""
    return FakeClock(advance=False)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that only moves when the code under test sleeps."""
    return FakeClock()


class Harness(GatewayFactory):
    """Builds gateways of one flavour (``"sync"`` or ``"async"``) with a fake clock and sleep
    by default; everything it opened is closed at teardown."""

    def __init__(self, flavour: Literal["sync", "async"]) -> None:
        self.clock = FakeClock()
        super().__init__(flavour, clock=self.clock, sleep=self.clock.sleep)

    def client(self, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
        """An httpx client of the right flavour over ``httpx.MockTransport(handler)``."""
        transport = httpx.MockTransport(handler)
        client = httpx.AsyncClient(transport=transport) if self.runner else httpx.Client(transport=transport)
        return self.track(client)


@pytest.fixture(params=["sync", "async"])
def make_gateway(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Build a Gateway or an AsyncGateway (parametrized): ``make_gateway([p1, p2], ...)``."""
    harness = Harness(request.param)
    yield harness
    harness.close()


class HookRecorder:
    """A throwaway plugin recording every observation hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def named(self, hook: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == hook]

    @hookimpl
    def message_sent(self, receipt: Any, message: Any) -> None:
        self.calls.append(("message_sent", {"receipt": receipt, "message": message}))

    @hookimpl
    def send_failed(self, provider: str, operation: str, error: Any, message: Any) -> None:
        self.calls.append(
            (
                "send_failed",
                {"provider": provider, "operation": operation, "error": error, "message": message},
            )
        )

    @hookimpl
    def report_received(self, report: Any) -> None:
        self.calls.append(("report_received", {"report": report}))

    @hookimpl
    def inbound_received(self, message: Any) -> None:
        self.calls.append(("inbound_received", {"message": message}))


@pytest.fixture
def hooks() -> Iterator[HookRecorder]:
    """Record observation hooks for the duration of a test."""
    recorder = HookRecorder()
    manager = _plugins.get_plugin_manager()
    manager.register(recorder, name="test-recorder")
    try:
        yield recorder
    finally:
        manager.unregister(recorder)
