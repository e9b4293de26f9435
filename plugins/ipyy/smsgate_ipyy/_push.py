"""The pushes the gateway makes to the application (spec 6), without I/O.

A push is a ``<returnsms>`` of ``<statusbox>`` and/or ``<callbox>`` items, the same items a
pull returns, so the item parsers are shared with :mod:`smsgate_ipyy._parse`.

A push as the gateway writes it (the pull's XML, wire notes §6) is flat: UTF-8, at most the
plain declaration, then boxes of plain ``<name>text</name>`` fields. Such a body is read by
linear regular expressions (the grammar of :mod:`smsgate_ipyy._flatxml`) into the same
values the hardened XML parse gives; any other body, every refusal included, goes through
that parse as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from smsgate import CallbackReply, DeliveryReport, InboundMessage
from smsgate.exceptions import SmsGateError, ValidationError
from smsgate_ipyy._codes import report_status
from smsgate_ipyy._flatxml import MAX_FLAT_BYTES, NAME, TEXT, WS
from smsgate_ipyy._parse import (
    I_CONTENT,
    I_ERROR_CODE,
    I_EXT,
    I_MOBILE,
    I_RECEIVE_TIME,
    I_STATUS,
    I_TASK_ID,
    R_CALL_BOX,
    R_ROOT,
    R_STATUS_BOX,
    box_fields,
    inbound_item,
    parse_china_time,
    report_item,
)
from smsgate_ipyy._xml import XmlError, local_name, parse_xml

__all__ = ["callback_reply", "parse_push"]

_ITEMS: dict[str, Callable[[Mapping[str, Any], str], DeliveryReport | InboundMessage]] = {
    R_STATUS_BOX: report_item,
    R_CALL_BOX: inbound_item,
}

# The flat push. Its declaration is one parse_xml drops as it stands (UTF-8 declared, or
# nothing declared: UTF-8 by default), at the very start (no BOM, no space before it); its
# text holds no "<!" (no DTD or entity) and nothing lxml would refuse or rewrite.
_FLAT_HEAD = re.compile(rf'(?:<\?xml version="1\.0"(?: encoding="(?:utf|UTF)-8")? ?\?>)?{WS}<{R_ROOT}>{WS}')
_FLAT_TAIL = re.compile(rf"</{R_ROOT}>{WS}")
_FLAT_FIELD = f"<(?P<field>{NAME})(?:>{TEXT}</(?P=field)>| ?/>)"
# Any flat box: its name, and the span of its fields.
_FLAT_BOX = re.compile(rf"<({R_STATUS_BOX}|{R_CALL_BOX})>({WS}(?:{_FLAT_FIELD}{WS})*+)</\1>{WS}")
# Each field of a box's span: its name and its text as written.
_FIELDS = re.compile(f"<({NAME})(?:>({TEXT})</\\1>| ?/>)")


def _gateway_box(box: str, names: tuple[str, ...]) -> re.Pattern[str]:
    """A box with exactly ``names`` in this order, each field's text as a group (``None``
    when written as an empty tag)."""
    fields = "".join(f"<{name}(?:>({TEXT})</{name}>| ?/>){WS}" for name in names)
    return re.compile(f"<{box}>{WS}{fields}</{box}>{WS}")


# The boxes as the gateway writes them (spec 4.3 / 5.3, wire notes §4), read in one match.
_REPORT_NAMES = (I_MOBILE, I_TASK_ID, I_STATUS, I_RECEIVE_TIME, I_ERROR_CODE, I_EXT)
_INBOUND_NAMES = (I_MOBILE, I_TASK_ID, I_CONTENT, I_RECEIVE_TIME, I_EXT)
_REPORT_BOX = _gateway_box(R_STATUS_BOX, _REPORT_NAMES)
_INBOUND_BOX = _gateway_box(R_CALL_BOX, _INBOUND_NAMES)
_STRIP = str.strip


def parse_push(body: bytes, *, provider: str) -> list[DeliveryReport | InboundMessage]:
    """spec 6.2 / 6.3: a pushed ``<returnsms>`` of ``<statusbox>`` and/or ``<callbox>`` items.

    The body is sniffed (Content-Type is not to be trusted, wire notes §6) and read as UTF-8
    unless its declaration says otherwise. Anything else raises :class:`ValidationError`.
    """
    flat = _flat_push(body, provider)
    if flat is not None:
        return flat
    try:
        root = parse_xml(body)
    except XmlError as exc:
        raise ValidationError(f"not an ipyy push: {exc}") from exc
    if local_name(root) != R_ROOT:
        raise ValidationError(f"not an ipyy push: root is <{local_name(root)}>")
    out: list[DeliveryReport | InboundMessage] = []
    for child in root:
        item = _ITEMS.get(local_name(child))
        if item is None:
            raise ValidationError(f"not an ipyy push: unexpected <{local_name(child)}>")
        try:
            out.append(item(box_fields(child), provider))
        except ValidationError:
            raise
        except SmsGateError as exc:
            raise ValidationError(f"not an ipyy push: {exc}") from exc
    if not all(item.mobile for item in out):
        raise ValidationError("not an ipyy push: an item has no mobile")
    return out


def _flat_push(body: bytes, provider: str) -> list[DeliveryReport | InboundMessage] | None:
    """What :func:`parse_push` gives for a flat push whose items all have a mobile, read
    without the XML parser; ``None`` for any other body, which the hardened parse then reads
    or refuses."""
    if len(body) > MAX_FLAT_BYTES:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _FLAT_HEAD.match(text)
    if head is None:
        return None
    out: list[DeliveryReport | InboundMessage] = []
    at = head.end()
    while (read := _flat_box(text, at)) is not None:
        kind, item, at = read
        if not item.get(I_MOBILE):
            return None  # refused by the parse
        try:
            out.append(_report(item, provider) if kind == R_STATUS_BOX else _inbound(item, provider))
        except SmsGateError:
            return None  # refused by the model: the parse raises it as a push refusal
    if _FLAT_TAIL.fullmatch(text, at) is None:
        return None
    return out


def _flat_box(text: str, at: int) -> tuple[str, dict[str, str], int] | None:
    """The box at ``at``: its name, :func:`box_fields` of it, and where it ends (after the
    space that follows); ``None`` when there is none (or a field name repeats in it)."""
    box = _REPORT_BOX.match(text, at)
    if box is not None:
        return R_STATUS_BOX, dict(zip(_REPORT_NAMES, map(_STRIP, box.groups("")), strict=True)), box.end()
    box = _INBOUND_BOX.match(text, at)
    if box is not None:
        item = dict(zip(_INBOUND_NAMES, map(_STRIP, box.groups("")), strict=True))
        item[I_CONTENT] = box.group(3) or ""  # inbound text kept as written
        return R_CALL_BOX, item, box.end()
    box = _FLAT_BOX.match(text, at)
    if box is None:
        return None
    pairs = _FIELDS.findall(text, box.start(2), box.end(2))
    item = {name: value.strip() for name, value in pairs}
    if len(item) != len(pairs):
        return None  # the parse keeps the first of each name
    if box.group(1) == R_CALL_BOX and I_CONTENT in item:
        item[I_CONTENT] = dict(pairs)[I_CONTENT]
    return box.group(1), item, box.end()


def _report(item: dict[str, str], provider: str) -> DeliveryReport:
    """:func:`report_item` of a box's fields (stripped strings), ``item`` kept as ``raw``."""
    get = item.get
    code = get(I_ERROR_CODE, "")
    row = (
        item[I_MOBILE],
        get(I_TASK_ID) or None,
        report_status(get(I_STATUS, ""), code),
        parse_china_time(get(I_RECEIVE_TIME)),
        code or None,
        get(I_EXT) or None,
        None,
        item,
    )
    return DeliveryReport._many(provider, (row,))[0]


def _inbound(item: dict[str, str], provider: str) -> InboundMessage:
    """:func:`inbound_item` of a box's fields (stripped but the content), ``item`` as ``raw``."""
    get = item.get
    row = (
        item[I_MOBILE],
        get(I_CONTENT, ""),
        parse_china_time(get(I_RECEIVE_TIME)),
        get(I_EXT) or None,
        get(I_TASK_ID) or None,
        item,
    )
    return InboundMessage._many(provider, (row,))[0]


def callback_reply(ok: bool) -> CallbackReply:
    """spec 6.4: ``1`` when the push was stored, ``error`` to make the gateway retry (3 tries)."""
    return CallbackReply(
        status_code=200, body=b"1" if ok else b"error", media_type="text/plain; charset=utf-8"
    )
