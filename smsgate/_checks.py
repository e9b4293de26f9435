"""The checks, conversions and methods the value classes share (:mod:`smsgate._models`,
:mod:`smsgate._mms`, :mod:`smsgate._reports` and the routing's value classes).

The validators and converters here are what the models' attrs fields name; ``_compared``
gives a frozen attrs class its ``__eq__``, ``__hash__`` and ``__repr__``.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, DecimalException
from typing import Any, TypeVar

# The classic ``attr`` namespace: the same functions as ``attrs.frozen`` / ``attrs.field``, without
# the ``attrs`` package that re-exports them (six more modules, ~2.2M instructions of
# ``import smsgate``; issue 11).
import attr

from smsgate.exceptions import ValidationError

__all__ = ["mask_mobile"]


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


def mask_mobile(number: object) -> str:
    """Hide the middle of a phone number for logs and messages: ``138****8000``.

    Never raises: it serves logs and reprs, so a value that is no string (a number, ``None``)
    is masked as its ``str()``."""
    if not isinstance(number, str):
        number = str(number)
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}"
