"""The entry point smsgate loads: registers the ``aliyun`` provider and its commands."""

from __future__ import annotations

from typing import Any

import smsgate
from smsgate.hookspecs import ProviderFactory


@smsgate.hookimpl
def register_providers(register: Any) -> None:
    """Register ``aliyun``; the provider module is imported only when one is built."""

    def aliyun(**config: Any) -> smsgate.Provider:
        from smsgate_aliyun._provider import AliyunProvider  # noqa: PLC0415 - lazy by design

        return AliyunProvider(**config)

    factory: ProviderFactory = aliyun
    register("aliyun", factory)


@smsgate.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``smsgate aliyun-sandbox`` (serve the local Aliyun sandbox) and ``smsgate
    demo-failover`` (failover from ipyy to Aliyun on the two sandboxes)."""
    from smsgate_aliyun._cli import aliyun_sandbox, demo_failover  # noqa: PLC0415 - only when the CLI runs

    cli.add_command(aliyun_sandbox)
    cli.add_command(demo_failover)
