"""The sandbox's own reading of spec 1.5: the DES-encrypted ``Text64``, the ``Secret`` and the
MD5 password form.

Written from the spec alone, apart from the client's ``smsgate_ipyy._crypto``: every test that
runs the client against the sandbox then checks one implementation against the other, and a
mistake in either side fails it instead of being shared by both.
"""

from __future__ import annotations

import hashlib

from Crypto.Cipher import DES

from ._base64 import from_base64

__all__ = ["decrypt_text64", "md5_upper", "secret_of"]

_BLOCK = 8


def md5_upper(text: str) -> str:
    """The 32 upper-case hex digits of the MD5 of ``text``'s UTF-8 bytes (spec 1.5, wire
    notes §7: the form a client may send instead of the plain password)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def secret_of(password: str, stamp: str) -> str:
    """spec 1.5: ``Secret`` is MD5(password + Stamp), 32 upper-case hex digits."""
    return md5_upper(password + stamp)


def _key(password: str) -> bytes:
    # spec 1.5: the password's bytes, the first 8 of them, zero bytes added on the right
    raw = password.encode("utf-8")[:_BLOCK]
    return raw + b"\x00" * (_BLOCK - len(raw))


def decrypt_text64(text64: str, password: str) -> bytes:
    """The JSON bytes inside a ``Text64``: base64 (line breaks skipped, as .NET does), then
    DES-CBC with key = IV = the password's first 8 bytes, then PKCS7 padding removed (spec 1.5).

    ``ValueError`` when the text is not base64, not whole DES blocks, or not padded as
    PKCS7 (the gateway answers ``Text64Error`` to each)."""
    cipher_bytes = from_base64(text64)  # line breaks skipped; binascii.Error is a ValueError
    if not cipher_bytes or len(cipher_bytes) % _BLOCK:
        raise ValueError("Text64 is not a whole number of DES blocks")
    key = _key(password)
    plain = DES.new(key, DES.MODE_CBC, iv=key).decrypt(cipher_bytes)  # noqa: S304 - spec 1.5
    fill = plain[-1]
    if not 1 <= fill <= _BLOCK or plain[-fill:] != bytes([fill]) * fill:
        raise ValueError("Text64 does not end in PKCS7 padding")
    return plain[:-fill]
