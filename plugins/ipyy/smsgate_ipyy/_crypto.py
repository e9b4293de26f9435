"""The ipyy hashing and encryption primitives (spec 1.2 and 1.5). Pure functions.

Both the client and the sandbox use these, so the worked example of spec 1.5 pins both.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib

from Crypto.Cipher import DES
from Crypto.Util.Padding import pad, unpad

__all__ = ["CHINA", "des_decrypt", "des_encrypt", "des_key", "md5_upper", "secret", "stamp"]

#: China Standard Time; the gateway's clock and every time field on the wire (no DST).
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def md5_upper(text: str) -> str:
    """MD5 of the UTF-8 bytes as 32 upper-case hex digits (spec 1.2: ``abc123`` →
    ``E99A18C428CB38D5F260853678922E03``)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def stamp(now: dt.datetime) -> str:
    """The ``Stamp`` of spec 1.5: ``MMddHHmmss`` in China time. ``now`` must be aware."""
    if now.tzinfo is None:
        raise ValueError("stamp() needs a timezone-aware datetime")
    return now.astimezone(CHINA).strftime("%m%d%H%M%S")


def secret(password: str, stamp_value: str) -> str:
    """spec 1.5: ``Secret = MD5(password + Stamp)``, upper case, with the *plain* password."""
    return md5_upper(password + stamp_value)


def des_key(password: str) -> bytes:
    """spec 1.5: the password's first 8 bytes, right-padded with zero bytes."""
    return password.encode("utf-8")[:8].ljust(8, b"\0")


def des_encrypt(plaintext: bytes, password: str) -> str:
    """DES-CBC, key = IV = :func:`des_key`, PKCS7, then standard base64 (the ``Text64``)."""
    key = des_key(password)
    cipher = DES.new(key, DES.MODE_CBC, iv=key)  # noqa: S304 - spec 1.5 mandates DES-CBC
    return base64.b64encode(cipher.encrypt(pad(plaintext, 8))).decode("ascii")


def des_decrypt(text64: str, password: str) -> bytes:
    """Inverse of :func:`des_encrypt`. Raises :class:`ValueError` on bad base64, length
    or padding (the gateway answers ``Text64Error`` then)."""
    try:
        data = base64.b64decode(text64, validate=True)
    except binascii.Error as exc:
        raise ValueError("Text64 is not valid base64") from exc
    if not data or len(data) % 8:
        raise ValueError("Text64 is not a whole number of DES blocks")
    key = des_key(password)
    return unpad(DES.new(key, DES.MODE_CBC, iv=key).decrypt(data), 8)  # noqa: S304 - spec 1.5
