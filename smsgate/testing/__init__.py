"""Test helpers for applications that send messages through smsgate.

:class:`InMemoryProvider` is a real provider that keeps everything in memory: an outbox of
what was accepted, scripted failures of any error class, queued delivery reports and
inbound messages, and a tiny JSON push format for receiver tests. It lives in the core
(:mod:`smsgate.default_plugins.memory`), registered as the built-in provider ``"memory"``
(``smsgate.get_provider("memory")``); this module re-exports it for tests.
:class:`GatewayFactory` runs one test scenario over both ``Gateway`` and ``AsyncGateway``.
:func:`frames_with_secrets` finds a secret in the frame locals of an error's traceback.

>>> import smsgate
>>> from smsgate.testing import InMemoryProvider
>>> provider = InMemoryProvider()
>>> with smsgate.Gateway(provider) as gateway:
...     _ = gateway.send(smsgate.Sms(to="13800138000", text="hello【shop】"))
>>> provider.outbox[0].receipt.accepted
1
"""

from __future__ import annotations

from smsgate.default_plugins.memory import ALL_CAPABILITIES, InMemoryProvider, OutboxEntry, Scripted
from smsgate.testing._secrets import frames_with_secrets
from smsgate.testing._twins import GatewayFactory, GatewayView

__all__ = [
    "ALL_CAPABILITIES",
    "GatewayFactory",
    "GatewayView",
    "InMemoryProvider",
    "OutboxEntry",
    "Scripted",
    "frames_with_secrets",
]
