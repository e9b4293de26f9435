"""Flat ``<returnsms>`` documents read without building a tree (issue 11). Pure functions.

A report or inbound pull, and a push, is nearly always flat: ``<returnsms>`` holding only
boxes (``<statusbox>``, ``<callbox>``), each holding plain text fields: ``<name>text</name>``
(or an empty ``<name/>``). :func:`flat_boxes` reads such a document with regular expressions
and gives exactly the dicts the lxml walk gives (the first of each name, its text stripped,
one field of a box optionally kept as written); it answers ``None`` for anything else, which
the caller then parses with the hardened XML parser, from the same bytes. (The pulls read
their documents with it; the push reader in :mod:`smsgate_ipyy._push` still shares only its
grammar pieces, ``WS``, ``TEXT`` and ``NAME``.)

Its input is what :func:`smsgate_ipyy._xml.document_bytes` gives, the bytes the hardened
parser would read: the encoding, declaration, BOM and DTD decisions are made there, once.

What the grammar takes is a strict subset of well-formed XML that lxml reads to exactly
those texts: ASCII names without prefix or attribute, whitespace between elements only
``[ \\t\\r\\n]``, and texts without markup, references, carriage returns (the parser would
rewrite them) or characters XML 1.0 refuses. There is no comment, CDATA section, processing
instruction, DTD, entity or namespace in it. Every repetition is possessive and every choice
is decided by its next character, so a match or a refusal takes time linear in the body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from itertools import repeat
from typing import Any, NamedTuple

__all__ = ["MAX_FLAT_BYTES", "NAME", "TEXT", "WS", "Run", "flat_boxes"]

# Above this size the hardened parser decides (lxml refuses a text node of 10,000,000 bytes
# or more without huge_tree; a flat document this small cannot hold one).
MAX_FLAT_BYTES = 8_000_000

# A box holds a handful of fields; a box with more is left to the parser (each shape
# compiles an expression of its own).
_MAX_FIELDS = 32
# A document is read as runs of boxes of one name and shape (a pull is one run, a push one
# run per change between reports and inbound messages); one of more runs is left to the
# parser, which bounds the expressions a single document can make this module compile.
_MAX_RUNS = 16

_WS = "[ \t\r\n]*+"
# Character data lxml gives back unchanged: no markup, no reference, no carriage return
# (normalised to LF by the parser), nothing XML 1.0 refuses (C0 controls but tab and LF,
# U+FFFE, U+FFFF; no surrogate can be in text decoded from UTF-8).
_TEXT = "[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*+"
_NAME = "[A-Za-z][A-Za-z0-9_]{0,63}"
# A field's opening tag, to guess a box's field names (its whole run is then checked against
# exactly those names, so a wrong guess only means the parser).
_OPEN = re.compile(rf"<({_NAME})(?:>| ?/>)")
# A box's opening tag, and the root's closing tag with the space after it.
_BOX = re.compile(rf"<({_NAME})>")
_CLOSE = re.compile(rf"</({_NAME})>{_WS}")
_STRIP = str.strip
# The grammar's pieces, shared with the flat push reader in _push.
WS, TEXT, NAME = _WS, _TEXT, _NAME

#: A run of boxes of one name, and each box's fields.
Run = tuple[str, list[dict[str, str]]]


@lru_cache(maxsize=32)
def _head(root: str) -> re.Pattern[str]:
    """The document up to its first box (or the root's closing tag)."""
    return re.compile(rf"{_WS}<{root}>{_WS}")


class _Shape(NamedTuple):
    """Boxes of one name holding the same fields in the same order."""

    names: tuple[str, ...]
    # one or more such boxes, each with the space after it
    run: re.Pattern[str]
    # one such box and the space after it, each field's text as a group
    one: re.Pattern[str]


@lru_cache(maxsize=32)
def _shape(box: str, names: tuple[str, ...]) -> _Shape:
    def one_box(text: str) -> str:
        fields = "".join(f"<{name}(?:>{text}</{name}>| ?/>){_WS}" for name in names)
        return f"<{box}>{_WS}{fields}</{box}>{_WS}"

    return _Shape(names, re.compile(f"(?:{one_box(_TEXT)})++"), re.compile(one_box(f"({_TEXT})")))


# The shape last read of each box name, tried first: a push's one box is read without
# guessing its fields (a shape that does not fit is only a failed match; the dicts depend
# on the box alone).
_LAST: dict[str, _Shape] = {}


def flat_boxes(data: bytes, root: str, boxes: Mapping[str, str | None]) -> list[Run] | None:
    """The boxes of a flat ``root`` document in runs of one box name each, in document order,
    or ``None`` when ``data`` is not one (then the XML parser decides, errors included).

    ``data`` is what :func:`smsgate_ipyy._xml.document_bytes` gives (UTF-8, no declaration).
    ``boxes`` maps each box name the document may hold to the name of the field kept as
    written in it (or ``None``); any other element makes the document not flat. Each box's
    dict maps a field's name to its stripped text (``""`` when empty), that one field's
    text as written.
    """
    if len(data) > MAX_FLAT_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _head(root).match(text)
    if head is None:
        return None
    at = head.end()
    runs: list[Run] = []
    while not text.startswith("</", at):
        box = _BOX.match(text, at)
        if box is None or box.group(1) not in boxes or len(runs) == _MAX_RUNS:
            return None
        name = box.group(1)
        read = _run(text, at, box.end(), name)
        if read is None:
            return None
        names, rows, at = read
        runs.append((name, _items(names, rows, boxes[name])))
    close = _CLOSE.fullmatch(text, at)
    return runs if close is not None and close.group(1) == root else None


def _run(text: str, at: int, fields_at: int, box: str) -> tuple[tuple[str, ...], list[Any], int] | None:
    """The boxes named ``box`` from ``at`` on that hold the fields of the first of them, in
    the same order: those names, each box's texts, and where the boxes end (after the space
    that follows); ``None`` when that first box is not flat (or holds no field, a repeated
    field, or too many)."""
    shape = _LAST.get(box)
    first = shape.one.match(text, at) if shape is not None else None
    if shape is None or first is None:
        end = text.find(f"</{box}>", fields_at)
        names = tuple(_OPEN.findall(text, fields_at, end)) if end > 0 else ()
        if not names or len(names) > _MAX_FIELDS or len(set(names)) != len(names):
            return None  # an empty box, or a repeated field: the parser keeps the first
        shape = _shape(box, names)
        first = shape.one.match(text, at)
        if first is None:
            return None
        _LAST[box] = shape
    rows: list[Any] = [first.groups("")]  # a tuple of texts per box
    at = first.end()
    more = shape.run.match(text, at) if text.startswith(f"<{box}>", at) else None
    if more is not None:
        texts = shape.one.findall(text, at, more.end())  # (a text, not a tuple, when only one)
        rows += texts if len(shape.names) > 1 else zip(texts)
        at = more.end()
    return shape.names, rows, at


def _items(names: tuple[str, ...], rows: list[Any], unstripped: str | None) -> list[dict[str, str]]:
    """A dict per box of its fields' texts, stripped but the field ``unstripped``."""
    # dict(zip(names, map(str.strip, row))) for each row, in C loops (each row holds a text
    # per name: the expression has a group per field).
    items: list[dict[str, str]] = list(map(dict, map(zip, repeat(names), map(map, repeat(_STRIP), rows))))
    if unstripped in names:
        kept = names.index(unstripped)
        for item, row in zip(items, rows, strict=True):
            item[unstripped] = row[kept]
    return items
