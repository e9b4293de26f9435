"""What providers report back: balances, delivery reports, inbound messages, and the answer
to a provider's push (:class:`CallbackReply`). Built on their first use rather than at
``import smsgate`` (see :mod:`smsgate._models`)."""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import repeat
from typing import Any, TypeVar

# The classic ``attr`` namespace (see smsgate._models).
import attr

from smsgate._checks import _check_aware, _compared, _decimal, _optional_decimal, _optional_str, mask_mobile
from smsgate.exceptions import ValidationError

__all__ = ["Balance", "CallbackReply", "DeliveryReport", "DeliveryStatus", "InboundMessage"]


def _check_balance_kind(_inst: object, _attr: object, value: object) -> None:
    """A balance is of SMS or of MMS, the two kinds :class:`Balance` documents."""
    if not (isinstance(value, str) and value in ("sms", "mms")):
        raise ValidationError(f"kind must be 'sms' or 'mms', not {value!r}", field="kind")


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class Balance:
    """What the account has left.

    :ivar remaining: units left (may be negative on post-paid accounts).
    :ivar kind: which balance: ``"sms"`` or ``"mms"`` (any other is a
        :class:`~smsgate.exceptions.ValidationError`).
    :ivar pay_mode: the provider's word for the payment mode (pre-paid, post-paid), if given.
    :ivar total: the provider's total (units bought or sent), if given.
    """

    provider: str
    remaining: Decimal = attr.field(converter=_decimal)
    kind: str = attr.field(default="sms", validator=_check_balance_kind)
    pay_mode: str | None = None
    total: Decimal | None = attr.field(default=None, converter=_optional_decimal)
    raw: Any = attr.field(default=None, eq=False, repr=False)


class DeliveryStatus(enum.StrEnum):
    """Outcome of a delivery to one handset."""

    DELIVERED = "delivered"
    FAILED = "failed"
    PENDING = "pending"
    UNKNOWN = "unknown"


def _check_str(_inst: object, field: attr.Attribute[Any], value: object) -> None:
    """A field that is text: a number or ``None`` is refused (a mobile given as an int would
    lose a leading zero or ``+``, and could not be masked or compared with one as text)."""
    if not isinstance(value, str):
        raise ValidationError(f"{field.name} must be a string, not {type(value).__name__}", field=field.name)


def _check_optional_str(_inst: object, field: attr.Attribute[Any], value: object) -> None:
    """A field that is text or ``None``."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(
            f"{field.name} must be a string or None, not {type(value).__name__}", field=field.name
        )


def _status(value: object) -> DeliveryStatus:
    try:
        return value if isinstance(value, DeliveryStatus) else DeliveryStatus(str(value))
    except ValueError as exc:
        raise ValidationError(f"unknown delivery status {value!r}", field="status") from exc


def _received_at(cls: type, value: dt.datetime | None) -> None:
    """``received_at`` checked as the constructor's validator checks it."""
    _check_aware(None, attr.fields(cls).received_at, value)


_DATETIME = dt.datetime
_FIXED = dt.timezone


#: One report for :meth:`DeliveryReport._many`: mobile, task_id, status, received_at,
#: vendor_code, ext, reference, raw.
_ReportRow = tuple[
    str, str | None, DeliveryStatus, dt.datetime | None, str | None, str | None, str | None, Any
]
#: One message for :meth:`InboundMessage._many`: mobile, text, received_at, ext, task_id, raw.
_InboundRow = tuple[str, str, dt.datetime | None, str | None, str | None, Any]


_NONE_TYPE = type(None)
_M = TypeVar("_M")
_TZINFO = operator.attrgetter("tzinfo")
_SETITEM = operator.setitem
_COPY = dict.copy
_NEW = object.__new__
_SET_ATTRIBUTE = object.__setattr__


def _optional_strs(column: Sequence[object] | None) -> Sequence[str | None] | None:
    """``_optional_str`` of each value of a column (``None``: every value ``None``), the column
    itself when no value needs converting (each a non-empty str or ``None``)."""
    if column is None or (set(map(type, column)) <= {str, _NONE_TYPE} and "" not in column):
        return column  # type: ignore[return-value]  # checked just above
    return list(map(_optional_str, column))


def _check_aware_column(cls: type, column: Sequence[dt.datetime | None] | None) -> None:
    """``received_at`` of each value checked as the constructor's validator checks it: a
    fixed-offset timezone always has an offset, any other value goes to the validator."""
    if column is None:
        return
    if set(map(type, column)) <= {_DATETIME, _NONE_TYPE} and set(
        map(type, map(_TZINFO, filter(None, column)))
    ) <= {_FIXED}:
        return
    for value in column:
        _received_at(cls, value)


_OPTIONAL_STR: frozenset[type] = frozenset({str, _NONE_TYPE})


def _validate(cls: type, values: Mapping[str, object]) -> None:
    """The validators of ``cls``'s fields named in ``values``, in field order, as the
    constructor runs them (after its converters): what a batch constructor calls on a row
    that does not pass its quick checks, so it raises the constructor's error."""
    for field in attr.fields(cls):
        if field.validator is not None and field.name in values:
            field.validator(None, field, values[field.name])


def _check_str_column(
    cls: type, name: str, column: Sequence[object] | None, count: int, *, optional: bool = False
) -> None:
    """The validator of ``cls``'s field ``name`` (a str, or a str or ``None`` when
    ``optional``) on each of ``count`` values of a column (``None``: ``None`` for every one).

    A column of strings passes in one C loop, ``"".join`` (a TypeError unless every value is
    a str; ~75 instructions a value where ``set(map(type, column))`` takes ~220, a pull's
    columns being thousands long); a column that also holds ``None`` in a second one."""
    if column is None:
        if optional or not count:
            return
        column = [None]
    else:
        try:
            "".join(column)  # type: ignore[arg-type]  # what it checks
        except TypeError:
            if optional and set(map(type, column)) <= _OPTIONAL_STR:
                return
        else:
            return
    for value in column:
        _validate(cls, {name: value})


def _check_provider(cls: type, provider: object, count: int) -> None:
    """``provider`` checked as the constructor checks it, when ``count`` models are built."""
    if count and type(provider) is not str:
        _validate(cls, {"provider": provider})


def _from_columns(cls: type[_M], provider: str, columns: Mapping[str, Sequence[Any] | None]) -> list[_M]:
    """One instance of ``cls`` per value of the columns (each a value per instance, or ``None``:
    ``None`` for every one), ``provider`` first, then the columns' fields in their order: the
    instance dicts are copies of one template filled column by column (C loops, no Python
    code per instance)."""
    template = dict.fromkeys(("provider", *columns)) | {"provider": provider}
    counts = {len(column) for column in columns.values() if column is not None}
    if len(counts) > 1:
        raise ValueError(f"columns of different lengths: {sorted(counts)}")
    count = counts.pop() if counts else 0
    fields = list(map(_COPY, repeat(template, count)))
    for name, column in columns.items():
        if column is not None:
            any(map(_SETITEM, fields, repeat(name), column))  # setitem returns None: any() runs them all
    instances = list(map(_NEW, repeat(cls, count)))
    any(map(_SET_ATTRIBUTE, instances, repeat("__dict__"), fields))
    return instances


# DeliveryReport and InboundMessage keep their fields in an instance dict rather than slots:
# a report pull builds thousands of them, and one dict per instance is set at once (their
# ``_many``) where slots take one call per field.
@_compared
@attr.frozen(kw_only=True, eq=False, repr=False, slots=False)
class DeliveryReport:
    """The carrier's word on one recipient of a sent message.

    ``provider`` and ``mobile`` are strings, ``task_id`` and ``vendor_code`` strings or
    ``None``: any other value (a mobile given as an int) is a
    :class:`~smsgate.exceptions.ValidationError` naming the field.

    :ivar vendor_code: the raw code from upstream (``DELIVRD``, ``MY:0001`` …), kept as is.
    :ivar reference: the message's :attr:`Sms.reference`, where the vendor echoes it (or the
        provider knows it, as a :meth:`~smsgate.Provider.query_status` lookup does).
    """

    provider: str = attr.field(validator=_check_str)
    mobile: str = attr.field(validator=_check_str)
    task_id: str | None = attr.field(validator=_check_optional_str)
    status: DeliveryStatus = attr.field(converter=_status)
    received_at: dt.datetime | None = attr.field(default=None, validator=_check_aware)
    vendor_code: str | None = attr.field(default=None, validator=_check_optional_str)
    ext: str | None = attr.field(default=None, converter=_optional_str)
    reference: str | None = attr.field(default=None, converter=_optional_str)
    raw: Any = attr.field(default=None, eq=False, repr=False)

    def __repr__(self) -> str:
        return (
            f"DeliveryReport(provider={self.provider!r}, mobile={mask_mobile(self.mobile)!r}, "
            f"task_id={self.task_id!r}, status={self.status!s}, received_at={self.received_at!r}, "
            f"vendor_code={self.vendor_code!r}"
            + (f", reference={self.reference!r})" if self.reference is not None else ")")
        )

    @classmethod
    def _many(cls, provider: str, rows: Iterable[_ReportRow]) -> list[DeliveryReport]:
        """One report per row, for parsers that build thousands per pull: what
        ``cls(provider=provider, mobile=…, …)`` builds for each row, with the same
        conversions and checks (inlined: a value it would refuse is refused here with the same
        error) and without the cost of calling a class per row (attrs' ``__init__`` was a
        third of a JSON pull's parse)."""
        reports: list[DeliveryReport] = []
        new = object.__new__
        set_dict = object.__setattr__
        named = type(provider) is str
        kind, string = type, str  # locals: ~150 instructions a row fewer than the builtins
        for row in rows:
            mobile, task_id, status, received_at, vendor_code, ext, reference, raw = row
            # The converters, in field order, then the validators (as attrs runs them).
            if type(status) is not DeliveryStatus:
                status = _status(status)
            if not (ext is None or (type(ext) is str and ext)):
                ext = _optional_str(ext)
            if not (reference is None or (type(reference) is str and reference)):
                reference = _optional_str(reference)
            # Strings, and a fixed-offset timezone (which always has an offset), pass at a
            # glance; a row with any other value goes through the validators.
            if not (
                named
                and kind(mobile) is string
                and (task_id is None or kind(task_id) is string)
                and (
                    received_at is None
                    or (type(received_at) is _DATETIME and type(received_at.tzinfo) is _FIXED)
                )
                and (vendor_code is None or kind(vendor_code) is string)
            ):
                _validate(
                    cls,
                    {
                        "provider": provider,
                        "mobile": mobile,
                        "task_id": task_id,
                        "received_at": received_at,
                        "vendor_code": vendor_code,
                    },
                )
            report = new(cls)
            set_dict(
                report,
                "__dict__",
                {
                    "provider": provider,
                    "mobile": mobile,
                    "task_id": task_id,
                    "status": status,
                    "received_at": received_at,
                    "vendor_code": vendor_code,
                    "ext": ext,
                    "reference": reference,
                    "raw": raw,
                },
            )
            reports.append(report)
        return reports

    @classmethod
    def _from_columns(
        cls,
        provider: str,
        raw: Sequence[Any],
        *,
        mobile: Sequence[str],
        task_id: Sequence[str | None] | None,
        status: Sequence[DeliveryStatus],
        received_at: Sequence[dt.datetime | None] | None,
        vendor_code: Sequence[str | None] | None,
        ext: Sequence[str | None] | None = None,
        reference: Sequence[str | None] | None = None,
    ) -> list[DeliveryReport]:
        """One report per item of ``raw``, the other fields given as columns (a value per
        report; ``None``: ``None`` for every one): what :meth:`_many` builds from the same
        rows, with the same conversions and checks, each applied to a whole column at once
        (so among several refused values, the first refused column's error is raised). A
        column of strings is checked by one ``"".join`` (~75 instructions a value)."""
        if set(map(type, status)) - {DeliveryStatus}:
            status = list(map(_status, status))
        ext, reference = _optional_strs(ext), _optional_strs(reference)
        # The validators, in field order.
        count = len(raw)
        _check_provider(cls, provider, count)
        _check_str_column(cls, "mobile", mobile, count)
        _check_str_column(cls, "task_id", task_id, count, optional=True)
        _check_aware_column(cls, received_at)
        _check_str_column(cls, "vendor_code", vendor_code, count, optional=True)
        columns = {
            "mobile": mobile,
            "task_id": task_id,
            "status": status,
            "received_at": received_at,
            "vendor_code": vendor_code,
            "ext": ext,
            "reference": reference,
            "raw": raw,
        }
        return _from_columns(cls, provider, columns)


@_compared  # an instance dict, as DeliveryReport
@attr.frozen(kw_only=True, eq=False, repr=False, slots=False)
class InboundMessage:
    """A message a handset sent to the account (mobile-originated).

    ``provider``, ``mobile`` and ``text`` are strings: any other value is a
    :class:`~smsgate.exceptions.ValidationError` naming the field (``ext`` and ``task_id``
    are converted to strings, an empty one to ``None``).
    """

    provider: str = attr.field(validator=_check_str)
    mobile: str = attr.field(validator=_check_str)
    text: str = attr.field(repr=False, validator=_check_str)
    received_at: dt.datetime | None = attr.field(default=None, validator=_check_aware)
    ext: str | None = attr.field(default=None, converter=_optional_str)
    task_id: str | None = attr.field(default=None, converter=_optional_str)
    raw: Any = attr.field(default=None, eq=False, repr=False)

    def __repr__(self) -> str:
        return (
            f"InboundMessage(provider={self.provider!r}, mobile={mask_mobile(self.mobile)!r}, "
            f"text=<{len(self.text)} chars>, received_at={self.received_at!r}, ext={self.ext!r})"
        )

    @classmethod
    def _many(cls, provider: str, rows: Iterable[_InboundRow]) -> list[InboundMessage]:
        """One message per row, as :meth:`DeliveryReport._many`: what
        ``cls(provider=provider, mobile=…, …)`` builds for each, the same conversions and
        checks, without calling a class per row."""
        messages: list[InboundMessage] = []
        new = object.__new__
        set_dict = object.__setattr__
        named = type(provider) is str
        kind, string = type, str  # locals, as in DeliveryReport._many
        for row in rows:
            mobile, text, received_at, ext, task_id, raw = row
            if not (ext is None or (type(ext) is str and ext)):
                ext = _optional_str(ext)
            if not (task_id is None or (type(task_id) is str and task_id)):
                task_id = _optional_str(task_id)
            # As DeliveryReport._many: what passes at a glance, or the validators.
            if not (
                named
                and kind(mobile) is string
                and kind(text) is string
                and (
                    received_at is None
                    or (type(received_at) is _DATETIME and type(received_at.tzinfo) is _FIXED)
                )
            ):
                _validate(
                    cls, {"provider": provider, "mobile": mobile, "text": text, "received_at": received_at}
                )
            message = new(cls)
            set_dict(
                message,
                "__dict__",
                {
                    "provider": provider,
                    "mobile": mobile,
                    "text": text,
                    "received_at": received_at,
                    "ext": ext,
                    "task_id": task_id,
                    "raw": raw,
                },
            )
            messages.append(message)
        return messages

    @classmethod
    def _from_columns(
        cls,
        provider: str,
        raw: Sequence[Any],
        *,
        mobile: Sequence[str],
        text: Sequence[str],
        received_at: Sequence[dt.datetime | None] | None,
        ext: Sequence[str | None] | None,
        task_id: Sequence[str | None] | None,
    ) -> list[InboundMessage]:
        """One message per item of ``raw``, the other fields given as columns, as
        :meth:`DeliveryReport._from_columns`: what :meth:`_many` builds from the same rows."""
        count = len(raw)
        _check_provider(cls, provider, count)
        _check_str_column(cls, "mobile", mobile, count)
        _check_str_column(cls, "text", text, count)
        _check_aware_column(cls, received_at)
        columns = {
            "mobile": mobile,
            "text": text,
            "received_at": received_at,
            "ext": _optional_strs(ext),
            "task_id": _optional_strs(task_id),
            "raw": raw,
        }
        return _from_columns(cls, provider, columns)


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class CallbackReply:
    """What a receiver answers to a provider's push, in the provider's own protocol."""

    status_code: int = 200
    body: bytes = b""
    media_type: str = "text/plain; charset=utf-8"
