"""The flat pull documents read without building a tree (issue 11). Pure functions.

A report or inbound pull is nearly always flat: ``<returnsms>`` holding only boxes
(``<statusbox>`` or ``<callbox>``), each holding the same fields in the same order, each field
plain text: ``<name>text</name>`` (or an empty ``<name/>``). :func:`flat_boxes` reads such a
document with regular expressions and gives exactly the dicts the lxml walk gives (the first
of each name, its text stripped, one field optionally kept as written); it answers ``None``
for anything else, which the caller then parses with the hardened XML parser as before.

What the grammar takes is a strict subset of well-formed XML that lxml reads to exactly
those texts: ASCII names without prefix or attribute, whitespace between elements only
``[ \\t\\r\\n]``, and texts without markup, references, carriage returns (the parser would
rewrite them) or characters XML 1.0 refuses. There is no comment, CDATA section, processing
instruction, DTD or entity in it. Every repetition is possessive and every choice is decided
by its next character, so a match or a refusal takes time linear in the body.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["MAX_FLAT_BYTES", "NAME", "TEXT", "WS", "flat_boxes"]

# Above this size the hardened parser decides (lxml refuses a text node of 10,000,000 bytes
# or more without huge_tree; a flat document this small cannot hold one).
MAX_FLAT_BYTES = 8_000_000

# A box holds a handful of fields; a first box with more is left to the parser (each shape
# compiles an expression of its own).
_MAX_FIELDS = 32

# The grammar's pieces (WS, TEXT, NAME) are shared with the flat push reader in _push.
WS = "[ \t\r\n]*+"
# Character data lxml gives back unchanged: no markup, no reference, no carriage return
# (normalised to LF by the parser), nothing XML 1.0 refuses (C0 controls but tab and LF,
# U+FFFE, U+FFFF; no surrogate can be in text decoded from UTF-8).
TEXT = "[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*+"
NAME = "[A-Za-z][A-Za-z0-9_]{0,63}"
# A field's opening tag, to guess the first box's field names (the whole document is then
# checked against exactly those names, so a wrong guess only means the general path).
_OPEN = re.compile(rf"<({NAME})(?:>| ?/>)")
_STRIP = str.strip


@lru_cache(maxsize=32)
def _head(root: str, box: str) -> re.Pattern[str]:
    """The document up to its first box's opening tag, or the whole of an empty pull."""
    return re.compile(rf"{WS}<{root}>{WS}(?:<{box}>|</{root}>{WS}\Z)")


@lru_cache(maxsize=32)
def _patterns(root: str, box: str, names: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The whole document with every box holding exactly ``names`` in order, and one box with
    each field's text as a group."""

    def one_box(text: str) -> str:
        fields = "".join(f"<{name}(?:>{text}</{name}>| ?/>){WS}" for name in names)
        return f"<{box}>{WS}{fields}</{box}>"

    document = re.compile(rf"{WS}<{root}>{WS}(?:{one_box(TEXT)}{WS})*+</{root}>{WS}")
    return document, re.compile(one_box(f"({TEXT})"))


def flat_boxes(
    data: bytes, root: str, box: str, unstripped: str | None = None
) -> list[dict[str, str]] | None:
    """The fields of each ``box`` of a flat ``root`` document, or ``None`` when ``data`` is not
    one (then the XML parser decides, errors included).

    ``data`` is what :func:`smsgate_ipyy._xml.document_bytes` gives (UTF-8, no declaration).
    Each dict maps a field's name to its stripped text (``""`` when empty), but the field
    named ``unstripped`` keeps its text as written.
    """
    if len(data) > MAX_FLAT_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _head(root, box).match(text)
    if head is None:
        return None
    if not head.group().endswith(f"<{box}>"):
        return []  # <root></root>: an empty pull
    end = text.find(f"</{box}>", head.end())
    names = tuple(_OPEN.findall(text, head.end(), end)) if end > 0 else ()
    if not names or len(names) > _MAX_FIELDS or len(set(names)) != len(names):
        return None  # an empty box, or a repeated field: the general path keeps the first
    document, one_box = _patterns(root, box, names)
    if document.fullmatch(text) is None:
        return None
    rows: list[Any] = one_box.findall(text)  # a tuple of texts per box (a text when only one)
    if len(names) == 1:
        rows = list(zip(rows))
    if unstripped not in names:
        return [dict(zip(names, map(_STRIP, row), strict=True)) for row in rows]
    kept = names.index(unstripped)
    items = []
    for row in rows:
        item = dict(zip(names, map(_STRIP, row), strict=True))
        item[unstripped] = row[kept]
        items.append(item)
    return items
