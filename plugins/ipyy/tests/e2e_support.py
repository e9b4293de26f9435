"""Shared helpers of the ipyy end-to-end tests (``test_e2e_*.py``): every test there goes from
the public API (``smsgate.get_provider("ipyy", …)`` and a ``Gateway`` or ``AsyncGateway``)
through a real loopback socket to the sandbox served by uvicorn.

Test modules import what they use with ``from .e2e_support import …`` (the package-relative
import works under ``--import-mode=importlib``), including the fixture functions (named
``…_fixture``, registered under their short names), and enable the sandbox fixtures with
``pytest_plugins = ["smsgate_ipyy.pytest_plugin"]``, so the whole e2e set shares one
session sandbox, reset before each test by ``ipyy_sandbox_clean``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import pytest

import smsgate
from smsgate.testing import GatewayFactory
from smsgate_ipyy._crypto import CHINA
from smsgate_ipyy.sandbox import Sandbox

T = TypeVar("T")

#: Seconds per HTTP request: loopback answers in milliseconds, and a failing test should not
#: wait for the default 10 s.
TIMEOUT = 3.0
#: The longest any bounded polling waits for the sandbox or a receiver.
POLL_LIMIT = 5.0

#: A text the sandbox accepts: Chinese, with the 【signature】 the default accounts require.
TEXT = "您的验证码：1439，五分钟内有效【腾飞】"
MOBILES = ("13800138000", "13900139000")

FLAVOURS = ("sync", "async")


def password_of(sandbox: Sandbox, account: str) -> str:
    """The configured plain password of ``account`` (the session's accounts are the defaults)."""
    for item in sandbox.config.accounts:
        if item.account == account:
            return item.password
    raise KeyError(account)


def userid_of(sandbox: Sandbox, account: str) -> str:
    """The configured enterprise id of ``account``."""
    for item in sandbox.config.accounts:
        if item.account == account:
            return item.userid
    raise KeyError(account)


def ipyy(
    sandbox: Sandbox,
    account: str = "demo",
    *,
    password: str | None = None,
    base_url: str | None = None,
    **settings: Any,
) -> smsgate.Provider:
    """An ipyy provider built through the public registry, pointed at ``sandbox``."""
    settings.setdefault("timeout", TIMEOUT)
    return smsgate.get_provider(
        "ipyy",
        account=account,
        password=password if password is not None else password_of(sandbox, account),
        userid=userid_of(sandbox, account),
        base_url=base_url if base_url is not None else sandbox.base_url,
        **settings,
    )


def account_state(sandbox: Sandbox, account: str = "demo") -> dict[str, Any]:
    """The sandbox's summary of ``account`` (balances, counters, queues)."""
    [summary] = [item for item in sandbox.state.accounts() if item["account"] == account]
    return summary


def requests_of(
    sandbox: Sandbox, account: str | None = None, endpoint: str | None = None
) -> list[dict[str, Any]]:
    """The requests the sandbox's gateway saw, optionally only one account's or one endpoint's.

    The inspection log also holds the requests a fault answered before the gateway saw them
    (``injected.acted`` false); they are left out here."""
    return [
        entry
        for entry in sandbox.requests()
        if (account is None or entry["account"] == account)
        and (endpoint is None or entry["endpoint"].lower() == endpoint.lower())
        and (entry["injected"] is None or entry["injected"]["acted"])
    ]


def china_text(moment: dt.datetime) -> str:
    """``moment`` as the gateway writes times: ``yyyy-MM-dd HH:mm:ss`` in China time."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def wait_until(condition: Callable[[], T], *, timeout: float = POLL_LIMIT, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy (returned), failing the test after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Flavour(GatewayFactory):
    """Builds gateways of one flavour (``"sync"``: ``smsgate.Gateway``, ``"async"``:
    ``smsgate.AsyncGateway``) with their own default HTTP client, and closes them at teardown.

    Retry backoff does not wait by default (``sleep`` is a no-op), so retry scenarios stay
    fast; everything else is the gateways' real behaviour.
    """

    def __init__(self, name: Literal["sync", "async"]) -> None:
        super().__init__(name, sleep=lambda _seconds: None)
        self.name = name

    def gateway(self, providers: smsgate.Provider | Sequence[smsgate.Provider], **kwargs: Any) -> Any:
        """A gateway of this flavour over ``providers`` (keyword arguments as the gateways take)."""
        return self(providers, **kwargs)


@pytest.fixture(name="flavour", params=FLAVOURS)
def flavour_fixture(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """Each test that takes it runs twice: over ``Gateway`` and over ``AsyncGateway``."""
    built = Flavour(request.param)
    try:
        yield built
    finally:
        built.close()


@contextlib.contextmanager
def report_outcomes(sandbox: Sandbox, outcomes: dict[str, str]) -> Iterator[None]:
    """Run with the sandbox config's ``report_outcomes`` set to ``outcomes`` (mobile suffix →
    gateway code), restoring the session's config afterwards."""
    config = sandbox.config
    saved = dict(config.report_outcomes)
    config.report_outcomes = outcomes
    sandbox.reset()
    try:
        yield
    finally:
        config.report_outcomes = saved
        sandbox.reset()


@contextlib.contextmanager
def sandbox_clock(sandbox: Sandbox, now: Callable[[], dt.datetime]) -> Iterator[None]:
    """Run with the sandbox's clock replaced by ``now`` (restored afterwards)."""
    saved = sandbox.state.clock
    sandbox.state.clock = now
    try:
        yield
    finally:
        sandbox.state.clock = saved
