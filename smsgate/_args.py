"""The checks of the core's arguments: one meaning for each word the errors use.

The configuration objects (routing policies, Celery settings, shared state) refuse a wrong
argument with a :class:`~smsgate.exceptions.ConfigurationError` naming it, before anything is
sent or created. Each kind of value is tested here, once, the same way everywhere:

*number*
    any real number (:class:`numbers.Real`: an int, a float, a ``Fraction``, numpy's), but
    never a bool (``True`` is no count of seconds). A ``Decimal`` is not one: it is no
    ``numbers.Real`` and mixes with floats only by raising ``TypeError``.
*finite*
    a number a float holds that is neither NaN nor infinite: an int (or a ``Fraction``) too
    large for a float is not finite either, and is refused with the error, never with the
    ``OverflowError`` converting it would raise.
*seconds*
    a finite number, positive (or ``0`` too where zero is allowed): the same test as the
    receiver's (``smsgate.receiver._limits.is_seconds``).
*whole number*
    any integral number (:class:`numbers.Integral`) but a bool, that a float holds: counts
    meet floats (a burst divided by a rate), and a count past ``1.8e308`` means nothing.
*flag*
    ``True`` or ``False``, nothing else (``"no"`` is true).

:func:`must` makes an attrs validator of a test and the words of its error, which always
reads ``"<field> <must ...>, not <value>"``.

This module imports nothing of smsgate but its exceptions: every layer may use it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, TypeAlias

import attrs

from smsgate.exceptions import ConfigurationError

__all__ = [
    "Validator",
    "finite",
    "flag",
    "is_finite",
    "is_flag",
    "is_number",
    "is_positive",
    "is_seconds",
    "is_whole",
    "must",
    "to_float",
    "to_int",
]

#: An attrs validator: called with the object being built, the field and the value.
Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def is_number(value: object) -> bool:
    """Whether ``value`` is a number (a real number, not a bool) and not NaN. An int too large
    for a float, or an infinity, is one (:func:`finite` tells them apart)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return not math.isnan(value)
    except OverflowError:  # an int or a Fraction beyond a float's range: a number all the same
        return True


def finite(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else ``None``: for a bool, a
    non-number (a string, a ``Decimal``, ``None``), NaN, an infinity and a number too large
    for a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int or a Fraction beyond a float's range
        return None
    return number if math.isfinite(number) else None


def is_finite(value: object) -> bool:
    """Whether ``value`` is a finite number."""
    return finite(value) is not None


def is_positive(value: object, *, zero: bool = False) -> bool:
    """Whether ``value`` is a finite number above ``0`` (or ``0`` too when ``zero``)."""
    number = finite(value)
    return number is not None and (number >= 0 if zero else number > 0)


def is_seconds(value: object, *, zero: bool = False) -> bool:
    """Whether ``value`` is a finite number of seconds: positive, or ``0`` too when ``zero``
    (the receiver's test of a duration, with the same answers)."""
    return is_positive(value, zero=zero)


def is_whole(value: object, *, least: int | None = None) -> bool:
    """Whether ``value`` is a whole number (any integral number, not a bool) a float holds,
    and at least ``least`` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return False
    try:
        float(value)  # counts meet floats (a burst over a rate): one beyond them is no count
    except OverflowError:
        return False
    return least is None or int(value) >= least


def is_flag(value: object) -> bool:
    """Whether ``value`` is ``True`` or ``False``."""
    return isinstance(value, bool)


def to_float(value: Any) -> Any:
    """An attrs converter: a finite number that is neither an int nor a float (a
    ``Fraction``, numpy's) as a float, since ``threading.Event.wait`` and ``timedelta`` refuse
    a ``Fraction``; anything else as it is (the validator names it as it was given)."""
    if isinstance(value, int | float):
        return value
    number = finite(value)
    return value if number is None else number


def to_int(value: Any) -> Any:
    """An attrs converter: a whole number that is no int (numpy's ``int64``) as an int, since
    some callees check for ``int``; anything else as it is, for the validator to name."""
    return int(value) if not isinstance(value, int) and is_whole(value) else value


def must(test: Callable[[object], bool], words: str, *, none: bool = False) -> Validator:
    """An attrs validator raising ``ConfigurationError("<field> <words>, not <value!r>")`` for
    a value ``test`` refuses (``None`` passes when ``none``)::

        attempts: int = attrs.field(validator=must(is_whole, "must be a whole number"))
    """

    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not (test(value) or (none and value is None)):
            raise ConfigurationError(f"{attribute.name} {words}, not {value!r}")

    return check


#: The validator of a flag: ``"<field> must be True or False, not <value>"``.
flag: Validator = must(is_flag, "must be True or False")
