"""Text a provider's reply parser hands on: no character that no codec can encode."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["replace_lone_surrogates"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone UTF-16 surrogate (U+D800 to U+DFFF) in its strings replaced
    by U+FFFD, the replacement character; lists and dicts (keys too) are walked as
    ``json.loads`` returns them, and anything else is returned as it is.

    ``json.loads`` reads an unpaired ``\\ud800`` escape (or, from bytes, a raw one) as a
    ``str`` that no codec can encode: it would fail wherever a parsed report or inbound
    message goes next (the receiver's journal, a database, a log), and a push that cannot be
    stored is pushed again, for ever, while a pull is taken off the vendor when it is read.
    A parser therefore keeps the items and marks each broken character instead::

        doc = smsgate.replace_lone_surrogates(json.loads(text))

    Lists and dicts are copied. The walk costs a pass over the whole document, so a parser
    of large replies skips it when the text holds no surrogate (the ipyy and Aliyun plugins
    search it for a ``\\uD800``-``\\uDFFF`` escape or a raw surrogate first).
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {replace_lone_surrogates(key): replace_lone_surrogates(item) for key, item in value.items()}
    return value
