"""Which messages of a batch each receipt covers is worked out for an observer of
``message_sent`` or the debug log, and only then (issue 11: it was a fifth of a batch's time
through the gateway when nobody was told)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import smsgate
from smsgate import _gateway
from smsgate._provider import Capabilities
from smsgate.testing import InMemoryProvider

BATCH = [smsgate.Sms(to=f"1380013800{i}", text=f"code {i}") for i in range(5)]


def _batch_provider() -> InMemoryProvider:
    return InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=3))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    positions = _gateway._positions

    def counted(message: Any) -> Any:
        calls.append(len(message))
        return positions(message)

    monkeypatch.setattr(_gateway, "_positions", counted)
    return calls


def test_nobody_told_nothing_worked_out(make_gateway: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    receipts = make_gateway([_batch_provider()]).send_batch(BATCH)
    assert [r.accepted for r in receipts] == [3, 2]
    assert calls == []


def test_an_observer_gets_the_messages_of_each_request(
    make_gateway: Any, hooks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    make_gateway([_batch_provider()]).send_batch(BATCH)
    assert [h["message"] for h in hooks.named("message_sent")] == [tuple(BATCH[:3]), tuple(BATCH[3:])]
    assert calls == [5]  # once per batch, not per receipt


def test_the_debug_log_names_the_numbers_of_each_request(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsgate.gateway")
    make_gateway([_batch_provider()]).send_batch(BATCH)
    accepted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("accepted ")]
    assert [m.rsplit(" to ", 1)[1] for m in accepted if " to " in m] == [
        "138****8000,138****8001,138****8002",
        "138****8003,138****8004",
    ]
