"""Audit of the bound on the unreadable pushes, over a real socket (uvicorn on loopback):
many distinct bodies at once, bodies of exactly ``max_body``, one byte over it; a full store
still answers "retry", and a kept push's re-delivery still counts."""

from __future__ import annotations

import concurrent.futures
import sqlite3
from pathlib import Path

import httpx

from smsgate.receiver import Receiver, ServerThread
from smsgate.receiver._unreadable import MAX_CONTENT_TYPE
from tests.test_receiver import RETRY, JsonPushProvider

MAX_BODY = 4096


def garbage(n: int, size: int = MAX_BODY) -> bytes:
    """A distinct unparseable body of ``size`` bytes."""
    head = f"garbage {n} ".encode()
    return head + b"x" * (size - len(head))


def _kept(path: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT length(body), deliveries FROM smsgate_unreadable ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_distinct_bodies_posted_at_once_never_pass_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with (
        Receiver(
            JsonPushProvider(), journal=path, max_unreadable=None, max_unreadable_bytes=3 * MAX_BODY
        ) as receiver,
        ServerThread(receiver.asgi_app(max_body=MAX_BODY)) as server,
        httpx.Client(timeout=30) as client,
    ):

        def post(body: bytes) -> tuple[int, bytes]:
            reply = client.post(server.url, content=body)
            return reply.status_code, reply.content

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(post, [garbage(n) for n in range(64)]))
        assert {content for _, content in replies} == {RETRY}
        assert all(status >= 400 for status, _ in replies)
        kept = _kept(path)
        assert len(kept) == 3
        assert all(size == MAX_BODY for size, _ in kept)
        assert receiver.journal.unreadable_usage() == (3, 3 * MAX_BODY)  # type: ignore[attr-defined]
        # One byte over max_body: refused before parsing, never kept.
        assert client.post(server.url, content=garbage(99, MAX_BODY + 1)).status_code == 413
        # A kept one delivered again still counts; the store being full changes nothing for it.
        first = next(push for push in receiver.unreadable())
        assert post(first.body)[1] == RETRY
        assert sorted(deliveries for _, deliveries in _kept(path)) == [1, 1, 2]


def test_max_unreadable_zero_keeps_none_and_still_answers_retry(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with (
        Receiver(JsonPushProvider(), journal=path, max_unreadable=0) as receiver,
        ServerThread(receiver.asgi_app(max_body=MAX_BODY)) as server,
        httpx.Client(timeout=30) as client,
    ):
        for n in range(3):
            assert client.post(server.url, content=garbage(n, 10)).content == RETRY
        assert receiver.unreadable() == []


def test_a_content_type_of_kilobytes_does_not_ride_along_past_the_bound(tmp_path: Path) -> None:
    """The bound counts bodies: a kept push's Content-Type is cut to MAX_CONTENT_TYPE
    characters, so 8 KB headers on distinct 10-byte bodies cannot fill the disk past it."""
    path = tmp_path / "j.sqlite3"
    content_type = "application/json; x=" + "y" * 8000
    with (
        Receiver(JsonPushProvider(), journal=path, max_unreadable_bytes=1000) as receiver,
        ServerThread(receiver.asgi_app(max_body=MAX_BODY)) as server,
        httpx.Client(timeout=30) as client,
    ):
        for n in range(50):
            reply = client.post(server.url, content=garbage(n, 20), headers={"content-type": content_type})
            assert reply.content == RETRY
        kept = receiver.unreadable()
    assert len(kept) == 50
    assert all(push.content_type == content_type[:MAX_CONTENT_TYPE] for push in kept)
    conn = sqlite3.connect(path)
    try:
        stored = conn.execute("SELECT sum(length(content_type)) FROM smsgate_unreadable").fetchone()[0]
    finally:
        conn.close()
    assert stored <= 50 * MAX_CONTENT_TYPE
