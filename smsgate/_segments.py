"""How many SMS segments a text takes, and what it costs, before anything is sent.

Carriers bill per segment. A text is encoded in GSM-7 when every character is in the GSM 03.38
alphabet (its extension characters ``^{}\\[~]|€`` take two septets), else in UCS-2:

=========  ===============  ==============================
encoding   one segment      each segment of a longer text
=========  ===============  ==============================
GSM-7      160 septets      153 septets
UCS-2      70 characters    67 characters
=========  ===============  ==============================

UCS-2 counts UTF-16 code units: a character outside the Basic Multilingual Plane (most emoji)
takes two. Chinese text is UCS-2, so 70 characters fit one message, **the 【signature】
included**: count the text as it is sent.

>>> import smsgate
>>> info = smsgate.segments("您的验证码：1439【腾飞】")
>>> info.encoding, info.characters, info.segments
('UCS-2', 14, 1)
>>> smsgate.segments("x" * 161).segments
2
>>> info.cost("0.045")
Decimal('0.045')
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import attrs

from smsgate._models import _compared
from smsgate.exceptions import ValidationError

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SegmentInfo", "estimate_cost", "segments"]

#: The GSM 03.38 default alphabet (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the GSM 03.38 extension table (two septets each: an escape and the code).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@_compared
@attrs.frozen(eq=False, repr=False)
class SegmentInfo:
    """What a text costs on the air.

    :ivar encoding: ``"GSM-7"`` or ``"UCS-2"``.
    :ivar characters: characters in the text (as ``len``).
    :ivar units: septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
    :ivar segments: messages the carrier bills (0 for an empty text).
    :ivar per_segment: units one segment holds at this length (160/70 alone, 153/67 when split).
    :ivar remaining: units left in the last segment before one more is needed.
    """

    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int

    def cost(self, price_per_segment: Decimal | str | int, *, recipients: int = 1) -> Decimal:
        """The estimated price: segments x recipients x ``price_per_segment``.

        Give the price as a Decimal or a string (``"0.045"``): a float would bring binary
        rounding into money.
        """
        return estimate_cost(self, price_per_segment, recipients=recipients)


def segments(text: str, *, signature: str | None = None) -> SegmentInfo:
    """Count the segments of ``text`` (with ``signature`` appended, when given).

    :raises ValidationError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValidationError(f"text must be a string, not {type(text).__name__}", field="text")
    if signature:
        text += signature
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    else:
        encoding = "UCS-2"
        units = len(text.encode("utf-16-le")) // 2
    single, multi = _LIMITS[encoding]
    if units <= single:
        count, per = (1 if units else 0), single
    else:
        count, per = -(-units // multi), multi
    remaining = count * per - units if count else single
    return SegmentInfo(encoding, len(text), units, count, per, remaining)


def estimate_cost(
    text: str | SegmentInfo, price_per_segment: Decimal | str | int, *, recipients: int = 1
) -> Decimal:
    """The estimated price of sending ``text`` to ``recipients`` numbers.

    :param text: the text as sent (signature included), or its :class:`SegmentInfo`.
    :param price_per_segment: what one segment costs, as a Decimal, a string or an int.
    :raises ValidationError: a float or negative price, or fewer than zero recipients.
    """
    if isinstance(price_per_segment, float | bool) or not isinstance(price_per_segment, Decimal | str | int):
        raise ValidationError("price_per_segment must be a Decimal, a str or an int", field="price")
    try:
        price = Decimal(price_per_segment)
    except ArithmeticError:
        raise ValidationError(
            f"price_per_segment {price_per_segment!r} is not a number", field="price"
        ) from None
    if not price.is_finite() or price < 0:
        raise ValidationError("price_per_segment must be a finite number, at least 0", field="price")
    if isinstance(recipients, bool) or not isinstance(recipients, int) or recipients < 0:
        raise ValidationError("recipients must be a whole number, at least 0", field="recipients")
    info = text if isinstance(text, SegmentInfo) else segments(text)
    return price * info.segments * recipients
