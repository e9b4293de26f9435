"""pytest fixtures that run the ipyy sandbox for your integration tests.

Opt in from a ``conftest.py``::

    pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

then::

    def test_welcome_sms_is_sent(ipyy_sandbox_clean, ipyy_credentials):
        provider = smsgate.get_provider("ipyy", **ipyy_credentials)
        smsgate.Gateway(provider).send(smsgate.Sms(to=["13800138000"], text="欢迎【腾飞】"))
        [entry] = ipyy_sandbox_clean.requests()
        assert entry["fields"]["mobiles"] == ["13800138000"]

Fixtures:

``ipyy_sandbox_config``  (session) the :class:`~smsgate_ipyy.sandbox.SandboxConfig` to start
                         with; override it in your conftest for other accounts or faults.
``ipyy_sandbox``         (session) one running :class:`~smsgate_ipyy.sandbox.Sandbox` on a free
                         loopback port, stopped at the end of the session.
``ipyy_sandbox_clean``   (function) the same sandbox, reset to the config's initial state
                         (balances, queues, request log, faults) before the test.
``ipyy_credentials``     (session) keyword arguments for ``smsgate.get_provider("ipyy", …)``:
                         ``account``, ``password``, ``userid`` of the default account and the
                         sandbox's ``base_url``.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from smsgate_ipyy.sandbox import Sandbox, SandboxConfig

__all__ = ["ipyy_credentials", "ipyy_sandbox", "ipyy_sandbox_clean", "ipyy_sandbox_config"]


@pytest.fixture(scope="session")
def ipyy_sandbox_config() -> SandboxConfig:
    """The configuration the session's sandbox starts with (default: the demo accounts)."""
    return SandboxConfig.default()


@pytest.fixture(scope="session")
def ipyy_sandbox(ipyy_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    """One sandbox for the whole test session, on a free port of 127.0.0.1."""
    with Sandbox(ipyy_sandbox_config) as sandbox:
        yield sandbox


@pytest.fixture
def ipyy_sandbox_clean(ipyy_sandbox: Sandbox) -> Sandbox:
    """The session's sandbox with its state reset and its faults back to the config's."""
    ipyy_sandbox.reset()
    return ipyy_sandbox


@pytest.fixture(scope="session")
def ipyy_credentials(ipyy_sandbox: Sandbox) -> dict[str, str]:
    """``account``, ``password``, ``userid`` and ``base_url`` for ``get_provider("ipyy", …)``."""
    return attrs.asdict(ipyy_sandbox.credentials) | {"base_url": ipyy_sandbox.base_url}
