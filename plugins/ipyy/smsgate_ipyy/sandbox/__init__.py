"""A faithful local server of the ipyy gateway, for demos and integration tests.

The sandbox answers every endpoint of the vendor's document the way the gateway does (reply
formats and spelling quirks included), keeps accounts, balances, task ids, delivery reports
and inbound messages in memory, and offers JSON admin and inspection endpoints under
``/_sandbox/``. Nobody needs a vendor account to see the whole library work::

    from smsgate_ipyy.sandbox import SandboxConfig, create_app

    app = create_app(SandboxConfig.default())     # a Starlette ASGI app
    state = app.state.sandbox                     # the SandboxState, for in-process tests
"""

from __future__ import annotations

from ._app import create_app
from ._config import Account, SandboxConfig
from ._runner import Sandbox
from ._state import Push, SandboxState

__all__ = ["Account", "Push", "Sandbox", "SandboxConfig", "SandboxState", "create_app"]
