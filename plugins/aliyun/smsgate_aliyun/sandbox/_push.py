"""The sandbox's pushes: reports (``SmsReport``) and inbound messages (``SmsUp``) POSTed as a
JSON array to an account's loopback callback URL, each attempt logged with whether the
receiver acknowledged it with ``{"code": 0, …}``."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import attrs
import httpx

from ._state import check_limit

__all__ = ["PushAttempt", "Pusher"]

PushKind = Literal["report", "inbound"]
_TIMEOUT = 5.0


@attrs.frozen
class PushAttempt:
    """One push: where, what, the HTTP status (``None`` when unreachable) and whether it was
    acknowledged the way the service requires."""

    url: str
    kind: PushKind
    items: tuple[dict[str, Any], ...]
    status_code: int | None
    acknowledged: bool

    def as_json(self) -> dict[str, Any]:
        """The attempt as the admin API lists it."""
        return attrs.asdict(self)


def _acknowledged(response: httpx.Response) -> bool:
    try:
        doc = json.loads(response.content)
    except ValueError:
        return False
    return response.status_code == 200 and isinstance(doc, dict) and doc.get("code") == 0


class Pusher:
    """Sends pushes in the background of the server's event loop and keeps their log: the
    last ``limit`` attempts (default 10,000, as the ipyy sandbox's push log), the older ones
    counted in :attr:`dropped`."""

    def __init__(self, limit: int = 10_000) -> None:
        check_limit("limit", limit)
        self.attempts: list[PushAttempt] = []
        self.limit = limit
        #: Attempts dropped from :attr:`attempts` over :attr:`limit` (the oldest first).
        self.dropped = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, url: str, kind: PushKind, items: list[dict[str, Any]]) -> None:
        """Push ``items`` to ``url`` soon (called from a request handler)."""
        task = asyncio.get_running_loop().create_task(self._push(url, kind, tuple(items)))
        self._tasks.add(task)  # a task nobody references may be collected before it runs
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every scheduled push has been attempted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _push(self, url: str, kind: PushKind, items: tuple[dict[str, Any], ...]) -> None:
        status: int | None = None
        acknowledged = False
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, trust_env=False) as client:
                response = await client.post(url, json=list(items))
            status, acknowledged = response.status_code, _acknowledged(response)
        except httpx.HTTPError:
            pass  # unreachable receiver: logged as an attempt without status
        self.attempts.append(PushAttempt(url, kind, items, status, acknowledged))
        excess = len(self.attempts) - self.limit
        if excess > 0:
            del self.attempts[:excess]
            self.dropped += excess
