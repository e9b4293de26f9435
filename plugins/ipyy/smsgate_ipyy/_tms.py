"""The TMS container of spec 2.2 that carries MMS parts. Pure functions.

Each element is ``name`` + ``0x00`` + size as a 4-byte little-endian int + the bytes, one
after another (the byte order is what the production client in the wire notes §3 uses,
and what .NET's ``BinaryWriter.Write(int)`` writes).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["TmsError", "pack", "unpack"]

_SIZE = struct.Struct("<i")


class TmsError(ValueError):
    """The bytes are not a well-formed TMS container."""


def pack(parts: Iterable[tuple[str, bytes]]) -> bytes:
    """Pack ``(file name, content)`` pairs, in order. Names are encoded as UTF-8 (the
    wire notes §3: only ASCII names are known to work, and the provider enforces that)."""
    out = bytearray()
    for name, data in parts:
        encoded = name.encode("utf-8")
        if b"\0" in encoded:
            raise TmsError(f"element name {name!r} contains a NUL byte")
        out += encoded + b"\0" + _SIZE.pack(len(data)) + data
    return bytes(out)


def unpack(blob: bytes) -> list[tuple[str, bytes]]:
    """Split a TMS container back into ``(name, content)`` pairs; strict about layout."""
    parts: list[tuple[str, bytes]] = []
    pos = 0
    view = memoryview(blob)
    while pos < len(blob):
        end = blob.find(b"\0", pos)
        if end < 0 or end == pos:
            raise TmsError(f"element at byte {pos} has no name terminator")
        try:
            name = bytes(view[pos:end]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TmsError(f"element name at byte {pos} is not UTF-8") from exc
        if end + 5 > len(blob):
            raise TmsError(f"element {name!r} is truncated before its size")
        (size,) = _SIZE.unpack_from(blob, end + 1)
        start = end + 5
        if size < 0 or start + size > len(blob):
            raise TmsError(f"element {name!r} declares {size} bytes but fewer remain")
        parts.append((name, bytes(view[start : start + size])))
        pos = start + size
    return parts
