"""Messages as JSON, for a task's arguments: never pickle.

A task message may sit in a broker that other programs read and write, so the worker never
unpickles it. An :class:`~smsgate.Sms`, an :class:`~smsgate.Mms` or a batch (a sequence of
``Sms``) becomes a JSON object with a ``kind`` and a format version ``v``::

    {"v": 1, "kind": "sms", "to": ["13800138000"], "text": "…", "template": null,
     "params": {}, "reference": null, "send_at": null, "ext": null}
    {"v": 1, "kind": "mms", "to": […], "subject": "…", "parts": [{"name": "a.txt",
     "data": "<base64>", "content_type": null}], "send_at": "2026-12-01T08:00:00+00:00",
     "ext": null}
    {"v": 1, "kind": "batch", "messages": [<sms without v/kind>, …]}

:func:`decode_message` rebuilds the models, so they validate again in the worker; anything it
cannot read is a :class:`~smsgate.ValidationError` (nothing is sent).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from smsgate._models import Mms, MmsPart, Sms
from smsgate.exceptions import ValidationError

__all__ = ["FORMAT_VERSION", "Message", "decode_message", "encode_message", "message_kind"]

#: The version written in ``v``; a worker refuses a version it does not know.
FORMAT_VERSION = 1
#: What the send task carries: one SMS, one MMS, or a batch of SMS.
Message = Sms | Mms | tuple[Sms, ...]

_SMS_KEYS = frozenset({"to", "text", "template", "params", "reference", "send_at", "ext"})
_MMS_KEYS = frozenset({"to", "subject", "parts", "send_at", "ext"})
_PART_KEYS = frozenset({"name", "data", "content_type"})
_Model = TypeVar("_Model", Sms, Mms)


def message_kind(message: Message) -> str:
    """``"sms"``, ``"mms"`` or ``"batch"``."""
    if isinstance(message, Sms):
        return "sms"
    if isinstance(message, Mms):
        return "mms"
    return "batch"


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _sms(sms: Sms) -> dict[str, Any]:
    return {
        "to": list(sms.to),
        "text": sms.text,
        "template": sms.template,
        "params": dict(sms.params),
        "reference": sms.reference,
        "send_at": _when(sms.send_at),
        "ext": sms.ext,
    }


def encode_message(message: Sms | Mms | Sequence[Sms]) -> dict[str, Any]:
    """The JSON-ready object for ``message`` (an ``Sms``, an ``Mms`` or a sequence of ``Sms``).

    :raises ValidationError: anything else, or an empty batch.
    """
    if isinstance(message, Sms):
        return {"v": FORMAT_VERSION, "kind": "sms", **_sms(message)}
    if isinstance(message, Mms):
        parts = [
            {"name": p.name, "data": base64.b64encode(p.data).decode("ascii"), "content_type": p.content_type}
            for p in message.parts
        ]
        return {
            "v": FORMAT_VERSION,
            "kind": "mms",
            "to": list(message.to),
            "subject": message.subject,
            "parts": parts,
            "send_at": _when(message.send_at),
            "ext": message.ext,
        }
    if not isinstance(message, Sequence) or isinstance(message, str | bytes):  # type: ignore[unreachable]
        raise ValidationError(
            f"cannot enqueue {type(message).__name__}: give an Sms, an Mms or a list of Sms"
        )
    if not message or not all(isinstance(item, Sms) for item in message):
        raise ValidationError("a batch is a non-empty list of Sms", field="messages")
    return {"v": FORMAT_VERSION, "kind": "batch", "messages": [_sms(item) for item in message]}


def _fields(data: object, known: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError(f"{what} must be a JSON object")
    unknown = set(data) - known
    if unknown:
        raise ValidationError(f"{what} has unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    return data


def _datetime(value: object, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be an ISO 8601 string", field=field)
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{field} is not an ISO 8601 date and time", field=field) from None


def _built(what: str, build: Callable[[], _Model]) -> _Model:
    """``build()``, a model's refusal (``TypeError``, ``ValueError``) as a ValidationError
    naming ``what``; a ValidationError passes as it is."""
    try:
        return build()
    except ValidationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is invalid: {exc}") from None


def _decode_sms(data: object) -> Sms:
    fields = _fields(data, _SMS_KEYS, "an encoded Sms")
    params = fields.get("params") or {}
    if not isinstance(params, Mapping):
        raise ValidationError("params must be a JSON object", field="params")
    return _built(
        "an encoded Sms",
        lambda: Sms(
            to=fields.get("to", ()),
            text=fields.get("text"),
            template=fields.get("template"),
            params=params,
            reference=fields.get("reference"),
            send_at=_datetime(fields.get("send_at"), "send_at"),
            ext=fields.get("ext"),
        ),
    )


def _decode_part(data: object) -> MmsPart:
    fields = _fields(data, _PART_KEYS, "an encoded MMS part")
    raw = fields.get("data")
    if not isinstance(raw, str):
        raise ValidationError("an MMS part's data must be a base64 string", field="parts")
    try:
        payload = base64.b64decode(raw.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValidationError("an MMS part's data is not base64", field="parts") from None
    name = fields.get("name")
    if not isinstance(name, str):
        raise ValidationError("an MMS part needs a name", field="parts")
    return MmsPart(name=name, data=payload, content_type=fields.get("content_type"))


def _decode_mms(data: Mapping[str, Any]) -> Mms:
    fields = _fields(data, _MMS_KEYS, "an encoded Mms")
    parts = fields.get("parts")
    if not isinstance(parts, list):
        raise ValidationError("an Mms needs a list of parts", field="parts")
    return _built(
        "an encoded Mms",
        lambda: Mms(
            to=fields.get("to", ()),
            subject=fields.get("subject", ""),
            parts=[_decode_part(part) for part in parts],  # an MmsPart's refusal named too
            send_at=_datetime(fields.get("send_at"), "send_at"),
            ext=fields.get("ext"),
        ),
    )


def decode_message(data: object) -> Message:
    """The message :func:`encode_message` encoded (a batch comes back as a tuple).

    :raises ValidationError: not an encoded message, an unknown version or kind, or a message
        the models refuse.
    """
    if not isinstance(data, Mapping):
        raise ValidationError("an encoded message must be a JSON object")
    if data.get("v") != FORMAT_VERSION:
        raise ValidationError(f"unknown message format version {data.get('v')!r} (this worker reads 1)")
    body = {k: v for k, v in data.items() if k not in ("v", "kind")}
    kind = data.get("kind")
    if kind == "sms":
        return _decode_sms(body)
    if kind == "mms":
        return _decode_mms(body)
    if kind == "batch":
        fields = _fields(body, frozenset({"messages"}), "an encoded batch")
        items = fields.get("messages")
        if not isinstance(items, list) or not items:
            raise ValidationError("a batch needs a non-empty list of messages", field="messages")
        return tuple(_decode_sms(item) for item in items)
    raise ValidationError(f"unknown message kind {kind!r} (expected sms, mms or batch)")
