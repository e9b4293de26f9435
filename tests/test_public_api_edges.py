"""The public API on inputs a user gets wrong, and the documented options that must work as
documented: each mistake is a typed smsgate error before anything is sent."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import smsgate

SMS = smsgate.Sms(to="13800138000", text="hi【shop】")


def test_an_observer_method_may_be_a_wrapper() -> None:
    """docs/hooks.md: with smsgate.observe, ``@smsgate.hookimpl(wrapper=True)`` on a method
    works as for a plugin (it was refused by pluggy: the forwarder was no generator)."""
    seen: list[object] = []

    class Timing:
        @smsgate.hookimpl(wrapper=True)
        def message_sent(self, receipt: smsgate.Receipt, message: object) -> Generator[None, Any, Any]:
            seen.append(("before", receipt.task_id))
            result = yield
            seen.append(("after", receipt.task_id))
            return result

        def send_failed(self, provider: str) -> None:
            seen.append(("failed", provider))

    class Plain:
        def message_sent(self, receipt: smsgate.Receipt) -> None:
            seen.append(("plain", receipt.task_id))

    with (
        smsgate.observe(Timing()),
        smsgate.observe(Plain()),
        smsgate.Gateway(smsgate.get_provider("memory")) as gateway,
    ):
        receipt = gateway.send(SMS)
    assert seen == [("before", receipt.task_id), ("plain", receipt.task_id), ("after", receipt.task_id)]
