"""The pushes the gateway makes to the application (spec 6), without I/O.

A push is a ``<returnsms>`` of ``<statusbox>`` and/or ``<callbox>`` items, the same items a
pull returns, so the item parsers are shared with :mod:`smsgate_ipyy._parse`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from smsgate import CallbackReply, DeliveryReport, InboundMessage
from smsgate.exceptions import SmsGateError, ValidationError
from smsgate_ipyy._parse import R_CALL_BOX, R_ROOT, R_STATUS_BOX, box_fields, inbound_item, report_item
from smsgate_ipyy._xml import XmlError, local_name, parse_xml

__all__ = ["callback_reply", "parse_push"]

_ITEMS: dict[str, Callable[[Mapping[str, Any], str], DeliveryReport | InboundMessage]] = {
    R_STATUS_BOX: report_item,
    R_CALL_BOX: inbound_item,
}


def parse_push(body: bytes, *, provider: str) -> list[DeliveryReport | InboundMessage]:
    """spec 6.2 / 6.3: a pushed ``<returnsms>`` of ``<statusbox>`` and/or ``<callbox>`` items.

    The body is sniffed (Content-Type is not to be trusted, wire notes §6) and read as UTF-8
    unless its declaration says otherwise. Anything else raises :class:`ValidationError`.
    """
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


def callback_reply(ok: bool) -> CallbackReply:
    """spec 6.4: ``1`` when the push was stored, ``error`` to make the gateway retry (3 tries)."""
    return CallbackReply(
        status_code=200, body=b"1" if ok else b"error", media_type="text/plain; charset=utf-8"
    )
