"""pytest fixtures that run the Aliyun SMS sandbox for your integration tests.

Opt in from a ``conftest.py``::

    pytest_plugins = ["smsgate_aliyun.pytest_plugin"]

then::

    def test_the_code_is_sent(aliyun_sandbox_clean, aliyun_credentials):
        provider = smsgate.get_provider("aliyun", **aliyun_credentials)
        smsgate.Gateway(provider).send(
            smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"})
        )
        [record] = aliyun_sandbox_clean.state.records
        assert record.template_code == "SMS_100001"

Fixtures:

``aliyun_sandbox``        (session) one running :class:`~smsgate_aliyun.sandbox.Sandbox` with the
                          demo account, on a free loopback port, stopped at the end of the session.
``aliyun_sandbox_clean``  (function) the same sandbox with its records, nonces, faults and push
                          log forgotten and the demo account put back as it started.
``aliyun_credentials``    (session) keyword arguments for ``smsgate.get_provider("aliyun", …)``:
                          the demo key pair, sign name 腾飞 (the first in order), templates
                          ``verify`` (``SMS_100001``, parameter ``code``) and ``shipped``
                          (``SMS_100002``, parameter ``name``), and ``base_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsgate_aliyun.sandbox import Sandbox, demo_account

__all__ = ["aliyun_credentials", "aliyun_sandbox", "aliyun_sandbox_clean"]


@pytest.fixture(scope="session")
def aliyun_sandbox() -> Iterator[Sandbox]:
    """One Aliyun sandbox for the whole test session, on a free port of 127.0.0.1."""
    with Sandbox.demo() as sandbox:
        yield sandbox


@pytest.fixture
def aliyun_sandbox_clean(aliyun_sandbox: Sandbox) -> Sandbox:
    """The session's sandbox, reset, with the demo account as it started."""
    aliyun_sandbox.reset()
    aliyun_sandbox.add_account(demo_account())
    return aliyun_sandbox


@pytest.fixture(scope="session")
def aliyun_credentials(aliyun_sandbox: Sandbox) -> dict[str, Any]:
    """Keyword settings of the demo account for ``smsgate.get_provider("aliyun", …)``."""
    return aliyun_sandbox.credentials()
