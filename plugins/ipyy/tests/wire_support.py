"""Test-only inverses of the client's wire encodings (the production code never reads them)."""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib


def decompress(blob: bytes) -> bytes:
    """Inverse of ``_build.compress``, sniffing the format by its magic bytes: PK zip (first
    entry), gzip, zlib, then raw deflate."""
    if blob.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            names = archive.namelist()
            if not names:
                raise ValueError("empty zip archive")
            return archive.read(names[0])
    if blob.startswith(b"\x1f\x8b"):
        return gzip.decompress(blob)
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return zlib.decompress(blob, -15)
