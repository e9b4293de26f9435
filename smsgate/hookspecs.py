"""The hooks smsgate plugins implement.

A plugin is a module (or object) with functions named like these hooks and decorated with
:data:`smsgate.hookimpl`, advertised through the ``smsgate`` entry-point group::

    # pyproject.toml of the plugin
    [project.entry-points.smsgate]
    acme = "smsgate_acme"

    # smsgate_acme/__init__.py
    import smsgate

    @smsgate.hookimpl
    def register_providers(register):
        register("acme", AcmeProvider)

Every hook is documented in ``docs/hooks.md``; a test fails when one is not, and another
when one has no test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from smsgate._models import DeliveryReport, InboundMessage, Mms, Receipt, Sms
    from smsgate._provider import Provider
    from smsgate.exceptions import SmsGateError

__all__ = [
    "ProviderFactory",
    "hookimpl",
    "hookspec",
    "inbound_received",
    "message_sent",
    "register_commands",
    "register_providers",
    "report_received",
    "send_failed",
    "send_uncertain",
]

#: Marks the functions below as smsgate hook specifications (plugins use :data:`hookimpl`).
hookspec = pluggy.HookspecMarker("smsgate")
#: Decorator marking a plugin function as an implementation of an smsgate hook.
hookimpl = pluggy.HookimplMarker("smsgate")

#: Builds a provider from keyword configuration (``account=…, password=…``).
ProviderFactory = Callable[..., "Provider"]


@hookspec
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    """Register the provider factories this plugin offers.

    :param register: call ``register(name, factory)`` once per provider. ``name`` is what
        :func:`smsgate.get_provider` takes; ``factory(**config)`` must return a
        :class:`smsgate.Provider` (anything else is a ``ConfigurationError`` from
        ``get_provider`` naming the plugin). A name already registered by another plugin
        raises :class:`smsgate.exceptions.DuplicateProviderError` naming both plugins.
    """


@hookspec
def message_sent(receipt: Receipt, message: Sms | Mms | tuple[Sms, ...]) -> None:
    """Observe a request a provider accepted.

    Called by the gateway after each accepted send, batch or MMS request.

    :param receipt: the provider's receipt (``receipt.provider`` names it).
    :param message: what was sent: an :class:`~smsgate.Sms`, an :class:`~smsgate.Mms`,
        or the tuple of messages of one batch request.

    Exceptions raised here are logged and swallowed: observers cannot break sending.
    """


@hookspec
def send_failed(
    provider: str, operation: str, error: SmsGateError, message: Sms | Mms | tuple[Sms, ...] | None
) -> None:
    """Observe one failed attempt (the gateway may still try another provider), or a part of
    a shared receipt that ``query_status`` skipped because its provider cannot look it up.

    :param provider: name of the provider that failed.
    :param operation: ``"send"``, ``"send_batch"``, ``"send_mms"``, ``"balance"`` …
    :param error: the translated error; its ``retry_safe`` / ``failover_safe`` tell what
        the gateway will do next.
    :param message: what was being sent, or ``None`` for operations that send nothing.
    """


@hookspec
def send_uncertain(
    key: str, message: Sms | Mms | tuple[Sms, ...], error: SmsGateError, result: dict[str, Any]
) -> None:
    """Observe a queued message whose outcome is uncertain: it may have been sent, and it will
    not be sent again.

    Called by the send task of :mod:`smsgate.celery` in the worker, once per delivery that
    ends uncertain: the send raised an :class:`~smsgate.UncertainOutcomeError`, or the task
    found its idempotency key claimed by an earlier delivery that recorded no outcome (that
    worker died mid-send).

    :param key: the message's idempotency key (chosen at enqueue time).
    :param message: the message, as the task decoded it.
    :param error: the uncertain error (for a claim without outcome, an
        :class:`~smsgate.UncertainOutcomeError` saying so).
    :param result: the task's result (JSON data: ``outcome``, ``key``, ``error`` …).
    """


@hookspec
def report_received(report: DeliveryReport) -> None:
    """Observe a delivery report, whether pulled, looked up (``query_status``) or pushed to a
    receiver.

    :param report: the parsed report; ``report.raw`` holds the vendor's fields.
    """


@hookspec
def inbound_received(message: InboundMessage) -> None:
    """Observe an inbound (mobile-originated) message, whether pulled or pushed.

    :param message: the parsed message.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``smsgate`` command line.

    :param cli: the root :class:`click.Group`; add with ``@cli.command()`` or
        ``cli.add_command(...)``. Called once, the first time the ``smsgate`` command lists or
        looks up its commands; a plugin whose implementation raises is skipped (its commands
        removed) with a :class:`~smsgate.PluginLoadWarning`. A provider plugin uses it for
        vendor-specific commands (the ipyy plugin adds ``sandbox`` and ``demo``).
    """
