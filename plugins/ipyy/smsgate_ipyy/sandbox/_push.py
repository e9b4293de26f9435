"""The sandbox's push worker: delivers reports and inbound messages to callback URLs (spec ch. 6).

When an account has a ``callback_url``, the sandbox state puts due delivery reports and inbound
messages in a push outbox instead of the pull queues. This worker, an asyncio task running on the
server's event loop for the lifetime of the app, takes the due pushes every few tens of
milliseconds and POSTs each body (the chapter 6 ``<returnsms>`` XML) to its URL.

Retry rule (spec 6.4):

- the receiver answers ``error`` → failure, try again;
- a network error (refused, reset, timeout …) → failure, try again;
- anything else — ``1``, an empty body, any other text, whatever the HTTP status — → success.

"最多尝试3次" reads "at most 3 *tries*": the sandbox makes at most three attempts in total (the
first delivery and two retries), ``retry_delay`` apart, then records the push as failed.

Only loopback receivers are ever contacted: a callback URL whose host is not in 127.0.0.0/8,
``::1`` or ``localhost`` is recorded as failed (zero attempts) with a warning, so a sandbox fed a
production config can never post real customers' data anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import urllib.parse
from typing import TYPE_CHECKING, Final

import attrs
import httpx

if TYPE_CHECKING:
    from ._state import Push, SandboxState

__all__ = ["MAX_ATTEMPTS", "PushWorker", "is_loopback_url"]

#: spec 6.4: "最多尝试3次" — three tries in total.
MAX_ATTEMPTS: Final = 3

log = logging.getLogger("smsgate_ipyy.sandbox")


def is_loopback_url(url: str) -> bool:
    """True when ``url`` is http(s) to 127.0.0.0/8, ``::1`` or ``localhost`` — the only
    receivers the sandbox will post to."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _asks_retry(body: bytes) -> bool:
    # spec 6.4: only the string "error" asks for another try; surrounding whitespace (a trailing
    # newline from a PHP echo) is forgiven, and so is the case.
    return body.strip().lower() == b"error"


@attrs.define(eq=False)
class PushWorker:
    """Delivers the state's due pushes with the spec 6.4 retry rule.

    ``state`` is the :class:`~smsgate_ipyy.sandbox.SandboxState`; ``content_type`` the header
    sent with each push (``SandboxConfig.push_content_type``). :meth:`start` and :meth:`stop`
    must be called on the event loop that serves the app (the runner does it from the lifespan).
    ``transport`` replaces the HTTP transport (tests use it to prove what is never sent).
    """

    state: SandboxState
    content_type: str = attrs.field(default="text/xml; charset=utf-8", kw_only=True)
    interval: float = attrs.field(default=0.03, kw_only=True)
    timeout: float = attrs.field(default=3.0, kw_only=True)
    retry_delay: float = attrs.field(default=0.1, kw_only=True)
    max_attempts: int = attrs.field(default=MAX_ATTEMPTS, kw_only=True)
    _transport: httpx.AsyncBaseTransport | None = attrs.field(default=None, kw_only=True)
    _task: asyncio.Task[None] | None = attrs.field(default=None, init=False)
    _deliveries: set[asyncio.Task[None]] = attrs.field(factory=set, init=False)
    _client: httpx.AsyncClient | None = attrs.field(default=None, init=False)

    def start(self) -> None:
        """Start the polling task on the running loop (idempotent)."""
        if self._task is None:
            # Pushes go to loopback only, so no proxy from the environment may get in between.
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, transport=self._transport)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-push-worker")

    async def stop(self) -> None:
        """Stop polling, cancel deliveries in flight and close the HTTP client."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending = list(self._deliveries)
        for delivery in pending:
            delivery.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                due = self.state.take_due_pushes(self.state.now())
            except Exception:  # a state bug must not kill pushing for the rest of the session
                log.exception("sandbox push worker: taking due pushes failed")
                due = []
            for push in due:
                delivery = asyncio.get_running_loop().create_task(self._deliver(push))
                self._deliveries.add(delivery)
                delivery.add_done_callback(self._deliveries.discard)
            await asyncio.sleep(self.interval)

    async def _deliver(self, push: Push) -> None:
        if not is_loopback_url(push.url):
            log.warning(
                "sandbox push not sent: callback URL of account %r is not a loopback address", push.account
            )
            self.state.record_push_result(push, 0, False)
            return
        attempts, ok = await self.deliver(push)
        self.state.record_push_result(push, attempts, ok)

    async def deliver(self, push: Push) -> tuple[int, bool]:
        """POST one push with the retry rule; returns ``(attempts made, delivered)``.

        Does not check the URL: callers go through the loopback check first.
        """
        client = self._client
        if client is None:
            raise RuntimeError("PushWorker.deliver() needs start() first")
        headers = {"Content-Type": self.content_type}
        for attempt in range(1, self.max_attempts + 1):
            try:
                reply = await client.post(push.url, content=push.body, headers=headers)
            except Exception as exc:  # spec 6.4: a network failure is a failed try
                # Not only httpx.HTTPError: the connection layer can raise others (an exception
                # group from the connect); whatever it is, the try failed and must be recorded.
                log.info("sandbox push %s to %s: attempt %d failed: %r", push.kind, push.url, attempt, exc)
            else:
                if not _asks_retry(reply.content):
                    return attempt, True
                log.info("sandbox push %s to %s: receiver asked for a retry", push.kind, push.url)
            if attempt < self.max_attempts:
                await asyncio.sleep(self.retry_delay)
        return self.max_attempts, False
