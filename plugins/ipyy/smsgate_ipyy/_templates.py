"""Logical templates for ipyy: a name → a ``str.format``-style text with named fields.

ipyy sends free text only, so a template is rendered here, from the provider's own
``templates`` setting, into the text that goes on the wire (``"您的验证码：{code}【腾飞】"``
with ``params={"code": "1439"}`` → ``"您的验证码：1439【腾飞】"``). The rendered text then
gets the checks any text gets (signature, ``max_text_length``, GBK, batch lines).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsgate import Sms

__all__ = ["TemplateError", "Templates", "template_fields"]

#: What :class:`smsgate.Sms` accepts as a template name (so a configured name can be used).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class TemplateError(ValueError):
    """A template that cannot be used; the settings turn it into a ConfigurationError."""


def template_fields(name: object, text: object) -> frozenset[str]:
    """The parameters template ``name`` needs, from its text.

    Only named fields are allowed (``{code}``, optionally with a string format spec such as
    ``{code:>6}``): a positional (``{}``, ``{0}``), attribute (``{a.b}``), index
    (``{a[0]}``) or nested (``{a:{b}}``) field raises :class:`TemplateError`, as do a name no
    message can carry and an empty or malformed text.
    """
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise TemplateError(
            f"template name {name!r} is not a name a message can carry "
            "(a letter or '_', then letters, digits or '_')"
        )
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"template {name!r} must be a non-empty string")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"template {name!r} is not a format string: {exc}") from None
    fields: set[str] = set()
    for _literal, field, spec, _conversion in parsed:
        if field is None:
            continue
        if not (field.isidentifier() and field.isascii()) or "{" in (spec or ""):
            raise TemplateError(
                f"template {name!r} has the field {{{field}}}: only named fields such as {{code}} are allowed"
            )
        try:
            format("", spec or "")  # parameters are strings: a spec must suit a string
        except ValueError:
            raise TemplateError(
                f"template {name!r}: the format spec of {{{field}}} is not for a string"
            ) from None
        fields.add(field)
    return frozenset(fields)


class Templates:
    """The templates of one provider, checked once: what each needs, and how to fill it."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._texts = dict(table)
        self._fields = {name: template_fields(name, text) for name, text in self._texts.items()}

    def __bool__(self) -> bool:
        return bool(self._texts)

    def problem(self, sms: Sms) -> str | None:
        """Why ``sms``'s template cannot be filled from this table, or None."""
        fields = self._fields.get(sms.template or "")
        if fields is None:
            return f"no template named {sms.template!r}"
        missing = sorted(fields - set(sms.params))
        if missing:
            return f"template {sms.template!r} needs parameter {missing[0]!r}"
        return None

    def render(self, sms: Sms) -> str:
        """The text of ``sms``'s template with its parameters filled in (``problem`` is None)."""
        try:
            return self._texts[sms.template or ""].format_map(sms.params)
        except (KeyError, ValueError) as exc:  # a format spec a parameter cannot take
            raise TemplateError(f"template {sms.template!r} cannot be filled: {exc}") from None
