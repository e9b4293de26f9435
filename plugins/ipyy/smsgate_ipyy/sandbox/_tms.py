"""The sandbox's own reader of the TMS container that carries MMS parts (spec 2.2).

Spec 2.2: element name (the file name) + one NUL + the content's size as an integer + the
content, element after element. The integer is four bytes, little-endian (what .NET's
``BinaryWriter.Write(int)`` writes, wire notes §3). Written apart from the client's
``smsgate_ipyy._tms`` so that the end-to-end MMS tests check one against the other.
"""

from __future__ import annotations

__all__ = ["TmsError", "read_parts"]

_SIZE_BYTES = 4


class TmsError(ValueError):
    """The bytes are not a well-formed TMS container (mms.aspx answers ElementError)."""


def read_parts(blob: bytes) -> list[tuple[str, bytes]]:
    """The ``(file name, content)`` pairs of a TMS container, in order; strict about the
    layout: every element has a non-empty UTF-8 name, a size and all its bytes."""
    parts: list[tuple[str, bytes]] = []
    offset = 0
    while offset < len(blob):
        name, offset = _read_name(blob, offset)
        if offset + _SIZE_BYTES > len(blob):
            raise TmsError(f"element {name!r} ends before its size")
        size = int.from_bytes(blob[offset : offset + _SIZE_BYTES], "little", signed=True)
        offset += _SIZE_BYTES
        if size < 0 or offset + size > len(blob):
            raise TmsError(f"element {name!r} claims {size} bytes, more than are left")
        parts.append((name, blob[offset : offset + size]))
        offset += size
    return parts


def _read_name(blob: bytes, offset: int) -> tuple[str, int]:
    """The element name starting at ``offset`` and where its size starts."""
    nul = blob.find(b"\x00", offset)
    if nul <= offset:  # no terminator at all, or an empty name
        raise TmsError(f"the element at byte {offset} has no name ended by NUL")
    try:
        name = blob[offset:nul].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TmsError(f"the element name at byte {offset} is not UTF-8") from exc
    return name, nul + 1
