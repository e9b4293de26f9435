"""End to end, both gateways: delivery reports and inbound messages pushed by the sandbox (spec
chapter 6) to a real ``smsgate.receiver.Receiver`` served by uvicorn on loopback, with its
SQLite journal in ``tmp_path``; the receiver's ``error`` reply makes the sandbox retry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate
from smsgate.receiver import EventState, Receiver, ServerThread, event_key
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    wait_until,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

PUSH_ACCOUNT = "push"


class Recorder:
    """A receiver handler that records events and can fail the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            self.calls.append(event)
            if self.failures > 0:
                self.failures -= 1
                raise RuntimeError("handler not ready yet")


ServeReceiver = Callable[..., Receiver]


@pytest.fixture
def serve_receiver(ipyy_sandbox_clean: Sandbox, tmp_path: Path) -> Iterator[ServeReceiver]:
    """Start a Receiver for the ``push`` account under uvicorn and point the account's callback
    URL at it through the sandbox's admin API; everything is stopped and closed afterwards."""
    started: list[tuple[Receiver, Any]] = []

    def serve(handler: Any, **options: Any) -> Receiver:
        receiver = Receiver(
            ipyy(ipyy_sandbox_clean, PUSH_ACCOUNT),
            handler,
            journal=tmp_path / f"journal-{len(started)}.sqlite3",
            **options,
        )
        server = ServerThread(receiver.asgi_app()).start()
        started.append((receiver, server))
        with httpx.Client(base_url=ipyy_sandbox_clean.base_url) as admin:
            admin.put(
                f"/_sandbox/accounts/{PUSH_ACCOUNT}", json={"callback_url": server.url}
            ).raise_for_status()
        return receiver

    try:
        yield serve
    finally:
        ipyy_sandbox_clean.state.update_account(PUSH_ACCOUNT, callback_url=None)
        for receiver, server in reversed(started):
            server.stop()
            receiver.close()


def done_entries(receiver: Receiver, count: int) -> Callable[[], list[Any]]:
    """A polling condition: the journal's entries once ``count`` of them are done."""

    def check() -> list[Any]:
        entries = receiver.journal.entries()  # type: ignore[attr-defined]
        done = [e for e in entries if e.state is EventState.DONE]
        return entries if len(done) >= count else []

    return check


def test_pushed_reports_and_inbound_reach_the_receiver_journal_and_handler(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, serve_receiver: ServeReceiver
) -> None:
    """A send's reports and an injected reply are pushed to the receiver, journaled, acknowledged
    with ``1`` on the first try and handed to the handler; nothing is left to pull."""
    handler = Recorder()
    receiver = serve_receiver(handler)
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, PUSH_ACCOUNT))

    receipt = gateway.send(smsgate.Sms(to=list(MOBILES), text=TEXT))
    ipyy_sandbox_clean.inject_inbound(MOBILES[0], "收到，谢谢", account=PUSH_ACCOUNT, ext="7")

    entries = wait_until(done_entries(receiver, 3), what="three journaled events")
    reports = [e.event for e in entries if isinstance(e.event, smsgate.DeliveryReport)]
    inbound = [e.event for e in entries if isinstance(e.event, smsgate.InboundMessage)]
    assert sorted(r.mobile for r in reports) == sorted(MOBILES)
    assert {(r.task_id, r.status, r.vendor_code) for r in reports} == {
        (receipt.task_id, smsgate.DeliveryStatus.DELIVERED, "DELIVRD")
    }
    assert [(m.mobile, m.text, m.ext) for m in inbound] == [(MOBILES[0], "收到，谢谢", "7")]
    assert all(e.received_at is not None and e.received_at.utcoffset() is not None for e in reports + inbound)
    assert sorted(event_key(e) for e in handler.calls) == sorted(e.key for e in entries)
    pushes = wait_until(
        lambda: len(ipyy_sandbox_clean.state.pushes()) >= 2 and ipyy_sandbox_clean.state.pushes()
    )
    assert all(p["ok"] and p["attempts"] == 1 for p in pushes)
    assert sorted(p["kind"] for p in pushes) == ["inbound", "report"]
    assert gateway.fetch_reports() == []
    assert gateway.fetch_inbound() == []


def test_receiver_answering_error_once_makes_the_sandbox_retry_the_push(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, serve_receiver: ServeReceiver
) -> None:
    """With ack_before_dispatch=False a failing handler turns the reply into ``error``; the
    sandbox tries again (spec 6.4), the re-delivered event is dispatched again and the push
    log shows two attempts ending in success."""
    handler = Recorder(failures=1)
    receiver = serve_receiver(handler, ack_before_dispatch=False)
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, PUSH_ACCOUNT))

    receipt = gateway.send(smsgate.Sms(to=MOBILES[0], text=TEXT))

    [entry] = wait_until(done_entries(receiver, 1), what="the journaled report")
    assert entry.event.task_id == receipt.task_id
    [push] = wait_until(ipyy_sandbox_clean.state.pushes, what="the push outcome")
    assert (push["kind"], push["attempts"], push["ok"]) == ("report", 2, True)
    assert len(handler.calls) == 2  # the failed dispatch and the one after the re-delivery
    assert handler.calls[0] == handler.calls[1]


def test_sandbox_gives_up_after_three_tries_when_the_receiver_keeps_answering_error(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox, serve_receiver: ServeReceiver
) -> None:
    """spec 6.4 "最多尝试3次": three tries in total, then the push is recorded as failed; the
    event stays in the journal (stored before the reply) for a later redispatch."""
    handler = Recorder(failures=100)
    receiver = serve_receiver(handler, ack_before_dispatch=False)
    gateway = flavour.gateway(ipyy(ipyy_sandbox_clean, PUSH_ACCOUNT))

    gateway.send(smsgate.Sms(to=MOBILES[1], text=TEXT))

    [push] = wait_until(ipyy_sandbox_clean.state.pushes, what="the push outcome")
    assert (push["attempts"], push["ok"]) == (3, False)
    assert len(handler.calls) == 3
    [entry] = receiver.journal.entries()  # type: ignore[attr-defined]
    assert entry.state is EventState.FAILED
    handler.failures = 0
    assert receiver.redispatch() == 1
    assert receiver.journal.state(entry.event) is EventState.DONE
