"""The ASGI adapter's body deadline (issue 11, speed): one timer per event loop for every push
being read, instead of one ``asyncio.timeout`` each. A body that does not come in time still
gets 408 at its own deadline, a body that comes is read, and a read cancelled by someone else
stays cancelled. Driven in process: the app called with an ASGI scope, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from smsgate.receiver import Receiver, ServerLimits
from tests.test_receiver import JsonPushProvider, push_body

Message = dict[str, Any]


def _scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }


async def _post(
    app: Callable[..., Awaitable[None]], body: bytes, receive: Callable[[], Awaitable[Message]]
) -> tuple[int, bytes]:
    """The status and body of the app's reply to one POST of ``body`` read with ``receive``."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(body), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _whole(body: bytes) -> Callable[[], Awaitable[Message]]:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _after(seconds: float, body: bytes) -> Callable[[], Awaitable[Message]]:
    """A body that comes ``seconds`` after it is asked for (``inf``: never)."""

    async def receive() -> Message:
        await asyncio.sleep(seconds) if seconds != float("inf") else await asyncio.Event().wait()
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _app(receiver: Receiver, seconds: float) -> Any:
    return receiver.asgi_app(limits=ServerLimits(body_timeout=seconds))


def test_fifty_bodies_being_read_hold_one_timer_of_the_loop() -> None:
    """Fifty pushes waiting for their bodies at once hold one timer of the event loop between
    them (an ``asyncio.timeout`` each held fifty), and all fifty are read and stored."""

    async def main() -> int:
        arrived = asyncio.Event()

        def waiting(body: bytes) -> Callable[[], Awaitable[Message]]:
            async def receive() -> Message:
                await arrived.wait()
                return {"type": "http.request", "body": body, "more_body": False}

            return receive

        with Receiver(JsonPushProvider(), journal=":memory:") as receiver:
            app = _app(receiver, 30.0)
            bodies = [push_body(f"1380000{n:04d}") for n in range(50)]
            posts = [asyncio.create_task(_post(app, body, waiting(body))) for body in bodies]
            await asyncio.sleep(0.05)
            timers = len(asyncio.get_running_loop()._scheduled)  # type: ignore[attr-defined]
            arrived.set()
            assert await asyncio.gather(*posts) == [(200, b"ok")] * 50
            assert len(receiver.journal.pending()) == 50
            return timers

    assert asyncio.run(main()) == 1


def test_each_slow_body_gets_408_at_its_own_deadline_and_the_others_are_read() -> None:
    """Bodies started at different times time out at their own deadlines; one that comes
    before its deadline is read and stored, even while others around it time out."""

    async def main() -> list[tuple[float, tuple[int, bytes]]]:
        loop = asyncio.get_running_loop()
        with Receiver(JsonPushProvider(), journal=":memory:") as receiver:
            app = _app(receiver, 0.3)
            started = loop.time()

            async def post(delay: float, comes_after: float, mobile: str) -> tuple[float, tuple[int, bytes]]:
                await asyncio.sleep(delay)
                body = push_body(mobile)
                reply = await _post(app, body, _after(comes_after, body))
                return loop.time() - started, reply

            results = await asyncio.gather(
                post(0.0, float("inf"), "13800000001"),  # never: 408 at ~0.3
                post(0.2, float("inf"), "13800000002"),  # never: 408 at ~0.5, not at 0.3
                post(0.25, 0.1, "13800000003"),  # comes at ~0.35, after the first one's deadline
            )
            assert len(receiver.journal.pending()) == 1
            return list(results)

    (first, second, third) = asyncio.run(main())
    assert first[1] == second[1] == (408, b"body too slow")
    assert 0.25 <= first[0] < 0.45
    assert 0.45 <= second[0] < 0.7
    assert third[1] == (200, b"ok")


def test_a_read_cancelled_by_someone_else_stays_cancelled() -> None:
    """Cancelling the request's task (the server shutting down, a client gone) cancels it: it
    is not turned into a 408, and the deadline does not fire later for it."""

    async def main() -> None:
        with Receiver(JsonPushProvider(), journal=":memory:") as receiver:
            app = _app(receiver, 0.2)
            body = push_body("13800000001")
            task = asyncio.create_task(_post(app, body, _after(float("inf"), body)))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.3)  # past the deadline: nothing to cancel any more
            assert await _post(app, body, _whole(body)) == (200, b"ok")

    asyncio.run(main())
