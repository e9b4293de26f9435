"""Base64 as the gateway reads it: .NET's ``Convert.FromBase64String``, which skips line breaks.

Clients wrap long base64 in lines (Java's ``sun.misc.BASE64Encoder`` every 76 characters, with
LF or CRLF; MIME encoders likewise), and the gateway accepts them, so ``Text64``, the batch
content and the MMS content all go through :func:`from_base64`.
"""

from __future__ import annotations

import base64

__all__ = ["from_base64"]

# Line breaks and tabs are skipped. A space is not: in a form it is usually a '+' that was
# never percent-encoded, and taking it out would decode different bytes without a word.
_LINE_BREAKS = str.maketrans("", "", "\t\r\n")


def from_base64(text: str) -> bytes:
    """The bytes of ``text``, line breaks and tabs ignored; ``binascii.Error`` (a
    ``ValueError``) for anything else that is not base64."""
    return base64.b64decode(text.translate(_LINE_BREAKS), validate=True)
