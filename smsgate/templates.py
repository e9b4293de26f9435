"""Text templates for providers that send free text and render logical templates themselves.

A logical template (:attr:`smsgate.Sms.template` with :attr:`~smsgate.Sms.params`) is
rendered by each provider from its own configuration. A vendor with registered templates
(Aliyun) maps the name to its template code; a provider that sends free text (ipyy, the
in-memory and console providers) fills in a ``str.format``-style text with named fields::

    >>> from smsgate.templates import TextTemplates
    >>> import smsgate
    >>> table = TextTemplates({"verify": "您的验证码：{code}【腾飞】"})
    >>> sms = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"})
    >>> table.problem(sms) is None, table.render(sms)
    (True, '您的验证码：1439【腾飞】')

The table is checked once, when it is built: only named fields are allowed, so a message's
parameters are all a template can reach.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from smsgate.exceptions import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from smsgate._models import Sms

__all__ = ["TextTemplates", "template_fields"]

#: What :class:`smsgate.Sms` accepts as a template name (so a configured name can be used).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def template_fields(name: object, text: object) -> frozenset[str]:
    """The parameters template ``name`` needs, read from its ``text``.

    Only named fields are allowed (``{code}``, optionally with a format spec a string can
    take, such as ``{code:>6}``). A positional (``{}``, ``{0}``), attribute (``{a.b}``), index
    (``{a[0]}``) or nested (``{a:{b}}``) field, a ``!r`` or ``!a`` conversion (it would send
    the parameter quoted or escaped), a name no message can carry, and an empty or malformed
    text are a :class:`~smsgate.exceptions.ConfigurationError`.
    """
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise ConfigurationError(
            f"template name {name!r} is not a name a message can carry "
            "(a letter or '_', then letters, digits or '_')"
        )
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"template {name!r} must be a non-empty string")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigurationError(f"template {name!r} is not a format string: {exc}") from None
    fields: set[str] = set()
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not (field.isidentifier() and field.isascii()) or "{" in (spec or ""):
            raise ConfigurationError(
                f"template {name!r} has the field {{{field}}}: only named fields such as {{code}} are allowed"
            )
        if not _NAME.fullmatch(field):  # longer than a message's parameter names may be
            raise ConfigurationError(
                f"template {name!r} has the field {{{field[:20]}…}}: no message can carry a parameter "
                "of that name (64 characters at most)"
            )
        if conversion not in (None, "s"):  # !r quotes the text, !a escapes every Chinese character
            raise ConfigurationError(
                f"template {name!r}: {{{field}!{conversion}}} would send the parameter quoted or "
                f"escaped; write {{{field}}}"
            )
        try:
            format("", spec or "")  # parameters are strings: a spec must suit a string
        except ValueError:
            raise ConfigurationError(
                f"template {name!r}: the format spec of {{{field}}} is not for a string"
            ) from None
        fields.add(field)
    return frozenset(fields)


class TextTemplates:
    """A provider's text templates, checked once: what each needs, and how to fill it.

    :param table: template name → ``str.format``-style text with named fields.
    :raises ConfigurationError: ``table`` is no mapping, or a template cannot be used (see
        :func:`template_fields`).
    """

    def __init__(self, table: Mapping[str, str]) -> None:
        if not isinstance(table, Mapping):
            raise ConfigurationError(
                f"templates must be a mapping of template names to texts, not {type(table).__name__}"
            )
        self._texts = dict(table)
        self._fields = {name: template_fields(name, text) for name, text in self._texts.items()}

    @property
    def texts(self) -> Mapping[str, str]:
        """The templates, read-only: name → text."""
        return MappingProxyType(self._texts)

    def __bool__(self) -> bool:
        return bool(self._texts)

    def __repr__(self) -> str:
        # Never raises, not even half-built (a traceback rendered with locals shows it).
        return f"TextTemplates({sorted(getattr(self, '_texts', ()))!r})"

    def problem(self, sms: Sms) -> str | None:
        """Why ``sms``'s template cannot be filled from this table, or ``None`` when it can."""
        fields = self._fields.get(sms.template or "")
        if fields is None:
            return f"no template named {sms.template!r}"
        missing = sorted(fields - set(sms.params))
        if missing:
            return f"template {sms.template!r} needs parameter {missing[0]!r}"
        return None

    def render(self, sms: Sms) -> str:
        """The text of ``sms``'s template with its parameters filled in.

        :raises ValidationError: the template cannot be filled (see :meth:`problem`).
        """
        reason = self.problem(sms)
        if reason is not None:
            raise ValidationError(reason, field="template")
        try:
            return self._texts[sms.template or ""].format_map(sms.params)
        except (KeyError, ValueError) as exc:  # a format spec a parameter cannot take
            reason = f"template {sms.template!r} cannot be filled: {exc}"
            raise ValidationError(reason, field="params") from None
