"""Multimedia messages (:class:`Mms`, :class:`MmsPart`), built on their first use rather than
at ``import smsgate`` (see :mod:`smsgate._models`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

# The classic ``attr`` namespace (see smsgate._models).
import attr

from smsgate._checks import (
    _bytes,
    _check_aware,
    _check_ext,
    _check_recipients,
    _check_text,
    _compared,
    _optional_str,
    _recipients,
    mask_mobile,
)
from smsgate.exceptions import ValidationError

__all__ = ["Mms", "MmsPart"]


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
        stem, dot, extension = self.name.rpartition(".")
        if not (dot and stem.strip() and extension.strip()):
            raise ValidationError(
                f"MMS part name {self.name!r} needs an extension telling its type (a.txt, b.jpg, c.smil)",
                field="name",
            )
        if not self.data:
            raise ValidationError(f"MMS part {self.name!r} is empty", field="data")


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
