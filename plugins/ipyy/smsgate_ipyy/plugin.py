"""The entry point smsgate loads: registers the ``ipyy`` provider."""

from __future__ import annotations

from typing import Any

import smsgate
from smsgate.hookspecs import ProviderFactory


@smsgate.hookimpl
def register_providers(register: Any) -> None:
    """Register ``ipyy``; the provider module is imported only when one is built."""

    def ipyy(**config: Any) -> smsgate.Provider:
        from smsgate_ipyy._provider import IpyyProvider  # noqa: PLC0415 - lazy by design

        return IpyyProvider(**config)

    factory: ProviderFactory = ipyy
    register("ipyy", factory)


@smsgate.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``smsgate sandbox`` (serve the local gateway sandbox) and ``smsgate demo``."""
    from smsgate_ipyy._cli import demo, sandbox  # noqa: PLC0415 - only when the CLI runs

    cli.add_command(sandbox)
    cli.add_command(demo)
