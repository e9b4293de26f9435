"""pytest fixtures for applications that send messages through smsgate (opt-in).

Enable them in a ``conftest.py``::

    pytest_plugins = ["smsgate.testing.pytest_plugin"]

or on the command line with ``-p smsgate.testing.pytest_plugin``. Then::

    def test_signup_sends_a_code(sms_gateway, sms_outbox):
        signup(gateway=sms_gateway, mobile="13800138000")
        [entry] = sms_outbox
        assert "code" in entry.message.text

Fixtures (all function-scoped, so every test starts empty):

``memory_provider``
    A fresh :class:`~smsgate.testing.InMemoryProvider` named ``"memory"``.
``sms_gateway``
    A :class:`~smsgate.Gateway` over ``memory_provider``, closed after the test.
``async_sms_gateway``
    An :class:`~smsgate.AsyncGateway` over ``memory_provider``, closed after the test
    (an async fixture: needs pytest-asyncio).
``sms_outbox``
    ``memory_provider.outbox``: the accepted requests, oldest first, each an
    :class:`~smsgate.testing.OutboxEntry` with ``message`` and ``receipt``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from smsgate._gateway import AsyncGateway, Gateway
from smsgate.testing import InMemoryProvider, OutboxEntry

__all__ = ["async_sms_gateway", "memory_provider", "sms_gateway", "sms_outbox"]


@pytest.fixture
def memory_provider() -> InMemoryProvider:
    """A fresh in-memory provider: empty outbox, every capability, 1000 units of balance."""
    return InMemoryProvider()


@pytest.fixture
def sms_gateway(memory_provider: InMemoryProvider) -> Iterator[Gateway]:
    """A synchronous gateway over ``memory_provider``; closed after the test."""
    with Gateway(memory_provider) as gateway:
        yield gateway


@pytest.fixture
def sms_outbox(memory_provider: InMemoryProvider) -> list[OutboxEntry]:
    """What ``memory_provider`` accepted so far (a live list, oldest first)."""
    return memory_provider.outbox


# The async fixture needs pytest-asyncio, which smsgate does not require: without it the
# fixture exists but skips the tests that ask for it, saying why.
_HAS_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None

if TYPE_CHECKING or _HAS_PYTEST_ASYNCIO:
    import pytest_asyncio

    # pytest_asyncio.fixture works in both its strict and auto modes.
    @pytest_asyncio.fixture
    async def async_sms_gateway(memory_provider: InMemoryProvider) -> AsyncIterator[AsyncGateway]:
        """An asynchronous gateway over ``memory_provider``; closed after the test."""
        async with AsyncGateway(memory_provider) as gateway:
            yield gateway

else:  # pragma: no cover

    @pytest.fixture
    def async_sms_gateway() -> None:
        """An asynchronous gateway over ``memory_provider`` (needs pytest-asyncio)."""
        pytest.skip("async_sms_gateway needs pytest-asyncio (pip install pytest-asyncio)")
