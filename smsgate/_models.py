"""The value objects applications build and receive.

All are frozen, keyword-only attrs classes validated at construction, so an invalid
message cannot exist. Checks here are the generic ones; a provider adds its own rules
(number format, length limits) before any I/O. Vendor payloads are kept in ``raw``,
which is neither compared nor shown in ``repr``.

The message and its receipt (what a send needs) are defined here. The others are built
on their first use (issue 11, import time: each attrs class compiles its ``__init__`` when it
is created): :class:`Mms` and :class:`MmsPart` in :mod:`smsgate._mms`; :class:`Balance`,
:class:`DeliveryStatus`, :class:`DeliveryReport` and :class:`InboundMessage` in
:mod:`smsgate._reports`. ``from smsgate._models import Mms`` still works: this module
answers their names by importing them (PEP 562).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

# The classic ``attr`` namespace: the same functions as ``attrs.frozen`` / ``attrs.field``, without
# the ``attrs`` package that re-exports them (six more modules, ~2.2M instructions of
# ``import smsgate``; issue 11).
import attr

from smsgate._checks import (
    _check_aware,
    _check_ext,
    _check_optional_text,
    _check_recipients,
    _check_reference,
    _check_template,
    _optional_decimal,
    _optional_str,
    _param_pairs,
    _recipients,
)

# Re-exported (the redundant alias marks it for mypy --strict): the other value classes'
# modules (routing, segments, plugins) and the log lines of the gateway, receiver and celery
# tasks import them from here.
from smsgate._checks import _compared as _compared  # noqa: PLC0414
from smsgate._checks import mask_mobile as mask_mobile  # noqa: PLC0414
from smsgate.exceptions import ValidationError

if TYPE_CHECKING:
    from smsgate._mms import Mms, MmsPart
    from smsgate._reports import Balance, DeliveryReport, DeliveryStatus, InboundMessage

__all__ = [
    "Balance",
    "DeliveryReport",
    "DeliveryStatus",
    "InboundMessage",
    "Mms",
    "MmsPart",
    "Receipt",
    "Sms",
]


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class Sms:
    """A text message to one or more recipients: a free text, a logical template, or both.

    :param to: one number or an iterable of numbers (digits, optional leading ``+``).
    :param text: the message, including any signature the provider requires. Optional when
        ``template`` is given.
    :param template: the name of a logical template (``"verify"``); each provider renders it
        from its own configuration (a text to format, a vendor's template code). A name is
        ASCII: a letter or ``_``, then letters, digits or ``_`` (64 at most).
    :param params: the template's parameters, names to **strings** (a number is refused, not
        converted: ``0123`` would lose its zero); only with ``template``. Read back as a
        read-only mapping; stored as sorted pairs, so the message stays hashable.
    :param reference: the application's own reference for the message (1 to 64 printable
        ASCII characters), carried to vendors that have a field for it and echoed on their
        reports.
    :param send_at: schedule for later; must be timezone-aware.
    :param ext: extension digits appended to the sender number, if the channel allows.

    A message needs ``text`` or ``template``. With both, each provider uses the form it can
    render (see :meth:`smsgate.Provider.cannot_render`).
    """

    to: tuple[str, ...] = attr.field(converter=_recipients, validator=_check_recipients)
    text: str | None = attr.field(default=None, validator=_check_optional_text, repr=False)
    template: str | None = attr.field(default=None, validator=_check_template)
    _params: tuple[tuple[str, str], ...] = attr.field(default=(), converter=_param_pairs, repr=False)
    reference: str | None = attr.field(default=None, validator=_check_reference)
    send_at: dt.datetime | None = attr.field(default=None, validator=_check_aware)
    ext: str | None = attr.field(default=None, converter=_optional_str, validator=_check_ext)

    def __attrs_post_init__(self) -> None:
        if self.text is None and self.template is None:
            raise ValidationError("a message needs a text or a template", field="text")
        if self._params and self.template is None:
            raise ValidationError("params are only for a template; give template= too", field="params")

    @property
    def params(self) -> Mapping[str, str]:
        """The template parameters, read-only (empty without a template)."""
        return MappingProxyType(dict(self._params))

    def __repr__(self) -> str:
        # Message text, parameter values and full numbers are customer data: keep them out.
        shown = ", ".join(mask_mobile(n) for n in self.to[:3])
        more = f", …+{len(self.to) - 3}" if len(self.to) > 3 else ""
        text = "None" if self.text is None else f"<{len(self.text)} chars>"
        extra = ""
        if self.template is not None:
            names = ",".join(name for name, _ in self._params)
            extra = f", template={self.template!r}, params=<{names}>"
        if self.reference is not None:
            extra += f", reference={self.reference!r}"
        return f"Sms(to=[{shown}{more}], text={text}{extra}, send_at={self.send_at!r}, ext={self.ext!r})"


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _receipts(value: Iterable[Receipt]) -> tuple[Receipt, ...]:
    return tuple(value)


def _check_count(_inst: object, field: attr.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field.name} must be a count (an integer, 0 or more), not {value!r}")


# An instance dict rather than slots, as DeliveryReport: attrs builds a slotted class twice
# (the class, then its slotted copy), ~0.5M instructions of `import smsgate` (issue 11); a
# receipt is made once per request sent, and its `__init__` fills a dict without a call per
# field.
@_compared
@attr.frozen(kw_only=True, eq=False, repr=False, slots=False)
class Receipt:
    """A provider accepted a request.

    :ivar provider: name of the provider that accepted it.
    :ivar task_id: the provider's id for the request (an opaque string).
    :ivar accepted: how many recipients the provider accepted.
    :ivar recipients: the numbers that were in the request.
    :ivar balance: the balance the provider reported in the same reply, if any.
    :ivar attempts: how many attempts the gateway made before this success (1 = first try).
    :ivar reference: the message's :attr:`Sms.reference` (filled by the gateway when the
        provider leaves it out); for a batch request, the reference its messages share.
    :ivar accepted_at: when the provider accepted the request (aware, filled by the gateway
        when the provider leaves it out). Some vendors need the date to look a message up
        (:meth:`smsgate.Gateway.query_status`). Not compared.
    :ivar parts: when the provider had to split the message into several requests (too many
        recipients for one), the receipt of each request in order; ``task_id`` is then their
        ids joined with ``","``, ``accepted`` their sum, and ``provider`` the providers that
        accepted them (joined with ``","`` when a gateway finished the message on another
        provider after a partial failure). Empty for a single request.
    """

    provider: str
    task_id: str
    accepted: int = attr.field(validator=_check_count)
    recipients: tuple[str, ...] = attr.field(default=(), converter=_strings, repr=False)
    balance: Decimal | None = attr.field(default=None, converter=_optional_decimal)
    attempts: int = 1
    parts: tuple[Receipt, ...] = attr.field(default=(), converter=_receipts, repr=False)
    reference: str | None = attr.field(default=None, converter=_optional_str)
    accepted_at: dt.datetime | None = attr.field(default=None, validator=_check_aware, eq=False, repr=False)
    raw: Any = attr.field(default=None, eq=False, repr=False)

    @property
    def task_ids(self) -> tuple[str, ...]:
        """Every provider id behind this receipt (one per request made)."""
        return tuple(p.task_id for p in self.parts) if self.parts else (self.task_id,)

    @classmethod
    def combine(cls, receipts: Iterable[Receipt]) -> Receipt:
        """One receipt for a message the provider sent as several requests."""
        parts = tuple(receipts)
        if not parts:
            raise ValidationError("combine() needs at least one receipt", field="receipts")
        if len(parts) == 1:
            return parts[0]
        last_balance = next((p.balance for p in reversed(parts) if p.balance is not None), None)
        # Parts accepted by different providers (a send resumed elsewhere) name them all.
        providers = list(dict.fromkeys(p.provider for p in parts))
        references = {p.reference for p in parts}
        return cls(
            provider=",".join(providers),
            task_id=",".join(p.task_id for p in parts),
            accepted=sum(p.accepted for p in parts),
            recipients=tuple(n for p in parts for n in p.recipients),
            balance=last_balance,
            parts=parts,
            reference=references.pop() if len(references) == 1 else None,
            accepted_at=parts[0].accepted_at,
        )


def __getattr__(name: str) -> Any:
    """The value classes a send does not need, imported from their module when first read
    (PEP 562), then kept as plain attributes of this module."""
    if name in ("Mms", "MmsPart"):
        from smsgate import _mms  # noqa: PLC0415 - on first use

        value = getattr(_mms, name)
    elif name in ("Balance", "DeliveryReport", "DeliveryStatus", "InboundMessage"):
        from smsgate import _reports  # noqa: PLC0415 - on first use

        value = getattr(_reports, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
