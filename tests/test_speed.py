"""Speed fixes that are behaviour, not timing (issue 11); the timings live in ``benchmarks/``."""

from __future__ import annotations

import importlib.metadata
import re


def test_sniffio_is_a_declared_dependency() -> None:
    """httpcore retries a failing ``import sniffio`` on every async request when it is absent
    (encode/httpcore#1103); smsgate declares it so a fresh install has it."""
    requires = importlib.metadata.requires("smsgate") or []
    names = {re.split(r"[ <>=!;\[]", req, maxsplit=1)[0].lower() for req in requires if "extra ==" not in req}
    assert "sniffio" in names
    import sniffio

    assert sniffio.current_async_library
