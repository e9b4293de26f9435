"""Request paths as the gateway's IIS reads them: repeated slashes collapsed.

A client built on a white-label host often joins a base URL ending in ``/`` with a path
starting with one, and asks for ``//smsGBK.aspx``; IIS serves that as ``/smsGBK.aspx``. The
app (routing, the admin API) and the fault middleware (rule paths) both see the collapsed path.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CollapseSlashes", "collapse_slashes"]

_REPEATED = re.compile(r"//+")
_REPEATED_RAW = re.compile(rb"//+")


def collapse_slashes(path: str) -> str:
    """``path`` with every run of slashes made one: ``//smsGBK.aspx`` → ``/smsGBK.aspx``."""
    return _REPEATED.sub("/", path) if "//" in path else path


class CollapseSlashes:
    """ASGI middleware: the wrapped app sees ``path`` and ``raw_path`` with repeated slashes
    collapsed (the query string is left alone)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = dict(scope, path=collapse_slashes(scope["path"]))
            raw = scope.get("raw_path")
            if raw is not None:
                scope["raw_path"] = _REPEATED_RAW.sub(b"/", raw)
        await self.app(scope, receive, send)
