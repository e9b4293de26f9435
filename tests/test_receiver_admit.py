"""The ASGI adapter asks ``Receiver.admit`` only when it could refuse (issue 11, speed): with no
guard check, the provider's default ``verify_push`` and ``admit`` not overridden, a push is
never refused, so the guard's view of the request is not built. Anything that can refuse (a
guard check, a provider or an instance verifying signatures, a subclass's ``admit``) is still
asked, and refuses as before. Driven in process: the app called with an ASGI scope."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from smsgate.receiver import PushGuard, PushRequest, Receiver, Refusal
from smsgate.testing import InMemoryProvider
from tests.test_receiver import JsonPushProvider, push_body
from tests.test_receiver_deadlines import _app, _post, _whole


def _reply(receiver: Receiver) -> tuple[int, bytes]:
    body = push_body("13800000001")
    return asyncio.run(_post(_app(receiver, 5.0), body, _whole(body)))


def test_an_unguarded_receiver_of_a_provider_that_verifies_nothing_is_not_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[PushRequest] = []
    admit = Receiver.admit

    def spy(self: Receiver, request: PushRequest, body: bytes) -> Refusal | None:
        asked.append(request)
        return admit(self, request, body)

    monkeypatch.setattr(Receiver, "admit", spy)
    with Receiver(JsonPushProvider(), journal=":memory:") as receiver:
        assert _reply(receiver) == (200, b"ok")
        assert len(receiver.journal.pending()) == 1
    assert asked == []


def test_a_guard_check_still_refuses() -> None:
    with Receiver(JsonPushProvider(), journal=":memory:", guard=PushGuard(token="s3cret")) as receiver:
        assert _reply(receiver)[0] == 403
        assert receiver.journal.pending() == []


def test_a_provider_instance_verifying_its_pushes_still_refuses() -> None:
    provider = JsonPushProvider()

    def verify_push(headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return False

    provider.verify_push = verify_push  # type: ignore[method-assign]
    with Receiver(provider, journal=":memory:") as receiver:
        assert _reply(receiver)[0] == 403
        assert receiver.journal.pending() == []


def test_a_provider_class_verifying_its_pushes_still_refuses() -> None:
    class Signed(InMemoryProvider):
        def verify_push(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
            return "x-signature" in headers

    with Receiver(Signed("jsonpush"), journal=":memory:") as receiver:
        assert _reply(receiver)[0] == 403
        assert receiver.journal.pending() == []


def test_a_receiver_subclass_admit_is_still_asked() -> None:
    class Closed(Receiver):
        def admit(self, request: PushRequest, body: bytes) -> Refusal | None:
            return Refusal(503, "closed for maintenance", "maintenance")

    with Closed(JsonPushProvider(), journal=":memory:") as receiver:
        assert _reply(receiver)[0] == 503
        assert receiver.journal.pending() == []
