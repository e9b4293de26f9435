"""The value objects applications build and receive.

All are frozen, keyword-only attrs classes validated at construction, so an invalid
message cannot exist. Checks here are the generic ones; a provider adds its own rules
(number format, length limits) before any I/O. Vendor payloads are kept in ``raw``,
which is neither compared nor shown in ``repr``.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, DecimalException
from itertools import repeat
from types import MappingProxyType
from typing import Any, TypeVar

# The classic ``attr`` namespace: the same functions as ``attrs.frozen`` / ``attrs.field``, without
# the ``attrs`` package that re-exports them (six more modules, ~2.2M instructions of
# ``import smsgate``; issue 11).
import attr

from smsgate.exceptions import ValidationError

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


def _fullmatch_on_first_use(name: str, pattern: str) -> Callable[[str], re.Match[str] | None]:
    """A stand-in for ``re.compile(pattern).fullmatch``, held by the module global ``name``:
    its first call compiles the pattern and puts the compiled pattern's ``fullmatch`` in its
    place, so later calls go straight to ``re`` (no extra call). Compiling the three patterns
    below at import was ~1.1M instructions of ``import smsgate`` (their character classes'
    bitmaps are built in Python), for checks most programs reach later or never."""

    def compile_then_match(text: str) -> re.Match[str] | None:
        fullmatch = re.compile(pattern).fullmatch
        globals()[name] = fullmatch
        return fullmatch(text)

    return compile_then_match


_number_fullmatch = _fullmatch_on_first_use("_number_fullmatch", r"\+?[0-9]{3,20}")
_name_fullmatch = _fullmatch_on_first_use("_name_fullmatch", r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_reference_fullmatch = _fullmatch_on_first_use(
    "_reference_fullmatch", r"[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?"
)


def _recipients(value: str | Iterable[str]) -> tuple[str, ...]:
    """Accept one number or several; strip surrounding blanks."""
    given: object = value  # checked as what it is, not as what the annotation promises
    if isinstance(given, str):
        items: list[object] = [given]
    elif isinstance(given, bytes | bytearray) or not hasattr(given, "__iter__"):
        # A number given as an int (or None, or bytes) is a mistake to name, not a TypeError.
        kind = type(given).__name__
        raise ValidationError(
            f"to must be a number as a string ('13800138000') or a list of them, not {kind}", field="to"
        )
    else:
        items = list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"recipient must be a string, not {type(item).__name__}", field="to")
        out.append(item.strip())
    return tuple(out)


def _check_recipients(_inst: object, _attr: object, value: tuple[str, ...]) -> None:
    if not value:
        raise ValidationError("at least one recipient is required", field="to")
    seen: set[str] = set()
    for number in value:
        if not _number_fullmatch(number):
            raise ValidationError(
                f"recipient {mask_mobile(number)!r} is not a phone number "
                "(digits with an optional leading '+')",
                field="to",
            )
        if number in seen:
            raise ValidationError(f"recipient {mask_mobile(number)} is listed twice", field="to")
        seen.add(number)


def _check_text(_inst: object, field: attr.Attribute[Any], value: str) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"{field.name} must be a string", field=field.name)
    if not value.strip():
        raise ValidationError(f"{field.name} must not be empty", field=field.name)


def _check_optional_text(inst: object, field: attr.Attribute[Any], value: str | None) -> None:
    if value is not None:
        _check_text(inst, field, value)


def _check_template(_inst: object, _attr: object, value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and _name_fullmatch(value)):
        raise ValidationError(
            "template must be a name: a letter or '_' then up to 63 letters, digits or '_' (ASCII)",
            field="template",
        )


def _param_pairs(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """Template parameters as sorted ``(name, value)`` pairs: frozen, hashable, comparable."""
    if value is None:
        return ()
    items = list(value.items()) if isinstance(value, Mapping) else list(value)
    pairs: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValidationError("params must be a mapping of names to strings", field="params")
        name, text = item
        if not (isinstance(name, str) and _name_fullmatch(name)):
            raise ValidationError(
                f"parameter name {name!r} is not a name (a letter or '_' then letters, digits or '_')",
                field="params",
            )
        if not isinstance(text, str):
            # No silent str(): 0123 as an int would lose its leading zero, 1.50 its last digit.
            raise ValidationError(
                f"parameter {name!r} must be a string, not {type(text).__name__} (convert it yourself)",
                field="params",
            )
        if name in pairs:
            raise ValidationError(f"parameter {name!r} is given twice", field="params")
        pairs[name] = text
    return tuple(sorted(pairs.items()))


def _check_reference(_inst: object, _attr: object, value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and _reference_fullmatch(value)):
        raise ValidationError(
            "reference must be 1 to 64 printable ASCII characters, without leading or trailing blanks",
            field="reference",
        )


def _check_aware(_inst: object, field: attr.Attribute[Any], value: dt.datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{field.name} must be a datetime", field=field.name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{field.name} must be timezone-aware (a naive datetime is ambiguous)", field=field.name
        )


def _check_ext(_inst: object, _attr: object, value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and value.isascii() and value.isdigit()):
        raise ValidationError("ext must be a string of digits", field="ext")


def _optional_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


# Amounts a model may carry: finite and below 10**18 in size. NaN (a signalling NaN cannot
# even be hashed or compared), Infinity and 1e5000 are refused; a provider turns them into
# ``None`` (with a warning) or an error before they reach a model.
_MAX_DIGITS = 18  # adjusted() >= 18: 10**18 or more (abs() would trap on 1E+1000000)
_MAX_NUMBER_TEXT = 64


def _number(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        text = str(value).strip()
    except ValueError:  # an int too large to print
        text = ""
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValidationError(f"not a usable amount: {text[:20]!r}…")
    try:
        return Decimal(text)
    except DecimalException as exc:
        raise ValidationError(f"not a number: {text!r}") from exc


def _decimal(value: object) -> Decimal:
    number = _number(value)
    if not number.is_finite() or number.adjusted() >= _MAX_DIGITS:
        raise ValidationError(f"not a usable amount (non-finite or absurdly large): {str(number)[:20]}")
    return number


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None or value == "" else _decimal(value)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ValidationError("MmsPart.data must be bytes", field="data")


_C = TypeVar("_C", bound=type)


def _compared(cls: _C) -> _C:
    """``__eq__``, ``__hash__`` and (unless the class writes its own) ``__repr__`` for a frozen
    attrs class declared with ``eq=False, repr=False``: the methods attrs would generate from
    the fields' ``eq`` and ``repr`` flags (same class check, the eq fields compared and hashed
    in order, ``Name(field=value!r, …)`` with a field's own repr function and ``...`` for a
    recursive repr), built from closures instead of source code attrs compiles for every
    class at import (a quarter of what importing the models cost)."""
    fields = attr.fields(cls)
    key = operator.attrgetter(*[f.name for f in fields if f.eq])  # every model compares 2 or more
    salt = hash(cls.__qualname__)

    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return key(self) == key(other)

    def __hash__(self: object) -> int:
        return hash((salt, key(self)))

    def __repr__(self: object) -> str:
        values = list(shown(self))
        for index, show in custom:
            values[index] = show(values[index])
        return f"{self.__class__.__qualname__.rsplit('>.', 1)[-1]}({template.format(*values)})"

    listed = [f for f in fields if f.repr]  # every model shows 2 or more
    shown = operator.attrgetter(*[f.name for f in listed])
    custom: list[tuple[int, Callable[[Any], str]]] = [
        (index, f.repr) for index, f in enumerate(listed) if f.repr is not True
    ]
    template = ", ".join(f"{f.name}={{!r}}" if f.repr is True else f"{f.name}={{}}" for f in listed)
    methods: dict[str, Any] = {"__eq__": __eq__, "__hash__": __hash__}
    if "__repr__" not in vars(cls):
        methods["__repr__"] = reprlib.recursive_repr("...")(__repr__)
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls


def mask_mobile(number: str) -> str:
    """Hide the middle of a phone number for logs and messages: ``138****8000``."""
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}"


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


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class MmsPart:
    """One element of an MMS: a file name (with extension) and its bytes.

    :param name: file name; its extension tells the type (``a.txt``, ``b.jpg``, ``c.smil``).
    :param data: the content. Text parts are bytes already encoded as the provider needs.
    :param content_type: optional MIME type, for providers that take one.
    """

    name: str = attr.field(validator=_check_text)
    data: bytes = attr.field(converter=_bytes, repr=lambda d: f"<{len(d)} bytes>")
    content_type: str | None = attr.field(default=None)

    def __attrs_post_init__(self) -> None:
        if "\x00" in self.name or "/" in self.name or "\\" in self.name:
            raise ValidationError(f"MMS part name {self.name!r} may not contain NUL or slashes", field="name")


def _parts(value: Iterable[MmsPart]) -> tuple[MmsPart, ...]:
    return tuple(value)


def _check_parts(_inst: object, _attr: object, value: tuple[MmsPart, ...]) -> None:
    if not value:
        raise ValidationError("an MMS needs at least one part", field="parts")
    names: set[str] = set()
    for part in value:
        if not isinstance(part, MmsPart):
            raise ValidationError("MMS parts must be MmsPart objects", field="parts")
        if part.name in names:
            raise ValidationError(f"MMS part name {part.name!r} is used twice", field="parts")
        names.add(part.name)


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class Mms:
    """A multimedia message: a subject and ordered parts, to one or more recipients."""

    to: tuple[str, ...] = attr.field(converter=_recipients, validator=_check_recipients)
    subject: str = attr.field(default="", repr=False)
    parts: tuple[MmsPart, ...] = attr.field(converter=_parts, validator=_check_parts)
    send_at: dt.datetime | None = attr.field(default=None, validator=_check_aware)
    ext: str | None = attr.field(default=None, converter=_optional_str, validator=_check_ext)

    def __repr__(self) -> str:
        # Same rule as Sms: no full numbers, no content.
        shown = ", ".join(mask_mobile(n) for n in self.to[:3])
        more = f", …+{len(self.to) - 3}" if len(self.to) > 3 else ""
        return (
            f"Mms(to=[{shown}{more}], subject=<{len(self.subject)} chars>, parts={list(self.parts)!r}, "
            f"send_at={self.send_at!r}, ext={self.ext!r})"
        )

    @property
    def size(self) -> int:
        """Total bytes of all parts."""
        return sum(len(p.data) for p in self.parts)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _receipts(value: Iterable[Receipt]) -> tuple[Receipt, ...]:
    return tuple(value)


def _check_count(_inst: object, field: attr.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field.name} must be a count (an integer, 0 or more), not {value!r}")


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
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
            raise ValueError("combine() needs at least one receipt")
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


@_compared
@attr.frozen(kw_only=True, eq=False, repr=False)
class Balance:
    """What the account has left.

    :ivar remaining: units left (may be negative on post-paid accounts).
    :ivar kind: which balance: ``"sms"`` or ``"mms"``.
    :ivar pay_mode: the provider's word for the payment mode (pre-paid, post-paid), if given.
    :ivar total: the provider's total (units bought or sent), if given.
    """

    provider: str
    remaining: Decimal = attr.field(converter=_decimal)
    kind: str = "sms"
    pay_mode: str | None = None
    total: Decimal | None = attr.field(default=None, converter=_optional_decimal)
    raw: Any = attr.field(default=None, eq=False, repr=False)


class DeliveryStatus(enum.StrEnum):
    """Outcome of a delivery to one handset."""

    DELIVERED = "delivered"
    FAILED = "failed"
    PENDING = "pending"
    UNKNOWN = "unknown"


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

    :ivar vendor_code: the raw code from upstream (``DELIVRD``, ``MY:0001`` …), kept as is.
    :ivar reference: the message's :attr:`Sms.reference`, where the vendor echoes it (or the
        provider knows it, as a :meth:`~smsgate.Provider.query_status` lookup does).
    """

    provider: str
    mobile: str
    task_id: str | None
    status: DeliveryStatus = attr.field(converter=_status)
    received_at: dt.datetime | None = attr.field(default=None, validator=_check_aware)
    vendor_code: str | None = None
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
        for row in rows:
            mobile, task_id, status, received_at, vendor_code, ext, reference, raw = row
            # The converters, in field order, then the validator (as attrs runs them).
            if type(status) is not DeliveryStatus:
                status = _status(status)
            if not (ext is None or (type(ext) is str and ext)):
                ext = _optional_str(ext)
            if not (reference is None or (type(reference) is str and reference)):
                reference = _optional_str(reference)
            # A fixed-offset timezone always has an offset; any other goes to the validator.
            if not (
                received_at is None or (type(received_at) is _DATETIME and type(received_at.tzinfo) is _FIXED)
            ):
                _received_at(cls, received_at)
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
        (so among several refused values, the first refused column's error is raised)."""
        if set(map(type, status)) - {DeliveryStatus}:
            status = list(map(_status, status))
        _check_aware_column(cls, received_at)
        columns = {
            "mobile": mobile,
            "task_id": task_id,
            "status": status,
            "received_at": received_at,
            "vendor_code": vendor_code,
            "ext": _optional_strs(ext),
            "reference": _optional_strs(reference),
            "raw": raw,
        }
        return _from_columns(cls, provider, columns)


@_compared  # an instance dict, as DeliveryReport
@attr.frozen(kw_only=True, eq=False, repr=False, slots=False)
class InboundMessage:
    """A message a handset sent to the account (mobile-originated)."""

    provider: str
    mobile: str
    text: str = attr.field(repr=False)
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
        for row in rows:
            mobile, text, received_at, ext, task_id, raw = row
            if not (ext is None or (type(ext) is str and ext)):
                ext = _optional_str(ext)
            if not (task_id is None or (type(task_id) is str and task_id)):
                task_id = _optional_str(task_id)
            # A fixed-offset timezone always has an offset; any other goes to the validator.
            if not (
                received_at is None or (type(received_at) is _DATETIME and type(received_at.tzinfo) is _FIXED)
            ):
                _received_at(cls, received_at)
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
