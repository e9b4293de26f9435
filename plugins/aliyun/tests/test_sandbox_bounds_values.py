"""``SandboxState(record_limit=…)`` and ``Pusher(limit=…)`` take only a whole number of at
least 1 (and one a ``deque`` can hold): a float, a bool, a string or a number too large is
refused with a clear ``ValueError`` naming it, not an ``OverflowError`` or a ``TypeError``
from inside, nor (a float for the push log) a failure later in the background push task."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

from smsgate_aliyun.sandbox import Sandbox, SandboxState
from smsgate_aliyun.sandbox._push import Pusher

_BAD = [0, -1, 1.5, 2.0, True, False, "5", None, sys.maxsize + 1, 10**30]


@pytest.mark.parametrize("bad", _BAD)
def test_a_bad_record_limit_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="record_limit"):
        SandboxState(record_limit=bad)


@pytest.mark.parametrize("bad", _BAD)
def test_a_bad_push_log_limit_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        Pusher(limit=bad)


@pytest.mark.parametrize("good", [1, 7, sys.maxsize])
def test_whole_numbers_are_taken(good: int) -> None:
    assert SandboxState(record_limit=good).record_limit == good
    assert Pusher(limit=good).limit == good


async def test_the_admin_count_of_dropped_push_attempts_waits_for_the_pushes_under_way() -> None:
    """As ``GET /admin/pushes``, ``GET /admin/dropped`` answers once the pushes under way were
    attempted, so its ``push_attempts`` agrees with the push log it is read beside."""
    sandbox = Sandbox(state=SandboxState(), pusher=Pusher(limit=1))
    for index in range(3):
        # port 9 on loopback: nothing listens, so each attempt fails without a status
        sandbox.pusher.schedule("http://127.0.0.1:9/report", "report", [{"index": index}])
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9") as http:
        assert (await http.get("/admin/dropped")).json()["push_attempts"] == 2
        assert len((await http.get("/admin/pushes")).json()) == 1
