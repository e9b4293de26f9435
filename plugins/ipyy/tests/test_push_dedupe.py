"""Issue 9, defect 9: inbound de-duplication uses what an ipyy push carries (spec 6.3: mobile,
task id, content, receive time to the second, extension number) and the item's repeat number
within its push; re-deliveries of one push stay one set of events."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import smsgate
from smsgate import InboundMessage
from smsgate.receiver import Receiver, ServerThread, SQLiteJournal


def callbox(
    mobile: str = "15023239810", text: str = "你好", when: str = "2026-12-01 10:00:00", ext: str = ""
) -> str:
    return (
        f"<callbox><mobile>{mobile}</mobile><taskid></taskid><content>{text}</content>"
        f"<receivetime>{when}</receivetime><extno>{ext}</extno></callbox>"
    )


def push(*boxes: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8" ?><returnsms>' + "".join(boxes) + "</returnsms>").encode()


@pytest.fixture
def receiver(tmp_path: Path) -> Receiver:
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    seen: list[InboundMessage] = []
    receiver = Receiver(provider, seen.append, journal=tmp_path / "j.sqlite3")  # type: ignore[arg-type]
    receiver.seen = seen  # type: ignore[attr-defined]
    return receiver


def _texts(receiver: Receiver) -> list[tuple[str, str | None]]:
    return [(e.text, e.ext) for e in receiver.seen]  # type: ignore[attr-defined]


def test_identical_messages_to_different_extension_numbers_are_two_events(receiver: Receiver) -> None:
    with receiver:
        assert receiver.handle(push(callbox(ext="01"))).body == b"1"
        assert receiver.handle(push(callbox(ext="02"))).body == b"1"
        assert _texts(receiver) == [("你好", "01"), ("你好", "02")]


def test_two_identical_items_in_one_push_are_two_events_and_its_redelivery_none(receiver: Receiver) -> None:
    body = push(callbox(), callbox(), callbox(text="再见"))
    with receiver:
        assert receiver.handle(body).body == b"1"
        assert receiver.handle(body).body == b"1"  # the gateway re-sends after a timeout
        assert _texts(receiver) == [("你好", None), ("你好", None), ("再见", None)]
        assert len(receiver.journal.pending()) == 0  # each was marked done under its own key


def test_a_redelivered_push_is_one_event_and_byte_identical_pushes_cannot_be_told_apart(
    receiver: Receiver,
) -> None:
    """The documented limit: a second push byte-identical to the first is read as its
    re-delivery (nothing on the wire says otherwise)."""
    with receiver:
        receiver.handle(push(callbox()))
        receiver.handle(push(callbox()))
        receiver.handle(push(callbox(when="2026-12-01 10:00:01")))
        assert _texts(receiver) == [("你好", None), ("你好", None)]


def test_repeats_survive_a_restart_under_their_own_keys(tmp_path: Path) -> None:
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    body = push(callbox(), callbox())
    with Receiver(provider, journal=tmp_path / "j.sqlite3") as first:
        first.handle(body)  # no handler: stored, pending
    seen: list[object] = []
    with Receiver(provider, seen.append, journal=tmp_path / "j.sqlite3") as second:
        assert second.handle(body).body == b"1"  # re-delivery after the restart: nothing new
        assert second.redispatch() == 2
        assert second.redispatch() == 0
    with SQLiteJournal(tmp_path / "j.sqlite3") as journal:
        assert len(journal.entries()) == 2


def test_over_a_socket_two_pushes_differing_in_ext_are_both_stored(tmp_path: Path) -> None:
    provider = smsgate.get_provider("ipyy", account="a", password="p", userid="1")
    with Receiver(provider, journal=tmp_path / "j.sqlite3") as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            for ext in ("01", "02", "02"):
                assert httpx.post(server.url, content=push(callbox(ext=ext))).content == b"1"
    with SQLiteJournal(tmp_path / "j.sqlite3") as journal:
        assert sorted(e.event.ext or "" for e in journal.entries()) == ["01", "02"]
