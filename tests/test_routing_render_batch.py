"""Routing asks a provider about a whole batch at once (``Provider.cannot_render_batch``), and
its error names the first message a provider cannot take exactly as the per-message loop did:
``message N of the batch: <reason>``, the scheduling rule winning when it fails first."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import Capabilities, Operation, Provider, Sms
from smsgate.exceptions import UnrenderableMessageError
from smsgate.routing import Router

LATER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
UNSCHEDULED = "does not schedule sends, and the message has a send_at"


class Picky(Provider):
    """Cannot render a text holding "bad"; schedules when told to."""

    def __init__(self, name: str, *, scheduling: bool) -> None:
        self.name = name
        self.capabilities = Capabilities(batch=True, scheduling=scheduling)
        self.asked_batches = 0

    def cannot_render(self, message: Sms) -> str | None:
        return f"refuses {message.text!r}" if "bad" in (message.text or "") else None

    def cannot_render_batch(self, messages: object) -> tuple[int, str] | None:
        self.asked_batches += 1
        return super().cannot_render_batch(messages)  # type: ignore[arg-type]


def old_reason(provider: Provider, messages: list[Sms]) -> str | None:
    """Routing's answer before cannot_render_batch: each message asked in order."""
    for index, message in enumerate(messages):
        reason = provider.cannot_render(message)
        if reason is None and message.send_at is not None and not provider.capabilities.scheduling:
            reason = UNSCHEDULED
        if reason is not None:
            return reason if len(messages) == 1 else f"message {index + 1} of the batch: {reason}"
    return None


def error_text(providers: list[Provider], batch: tuple[Sms, ...]) -> str | None:
    router = Router(providers, clock=lambda: 0.0)
    try:
        router.renderable(Operation.SEND_BATCH, list(providers), batch)
    except UnrenderableMessageError as exc:
        return exc.message
    return None


MESSAGES = st.builds(
    Sms,
    to=st.just("13800138000"),
    text=st.sampled_from(["ok", "bad", "fine【x】"]),
    send_at=st.none() | st.just(LATER),
)


@given(batch=st.lists(MESSAGES, min_size=1, max_size=8), scheduling=st.booleans())
def test_the_error_text_is_the_per_message_loops(batch: list[Sms], scheduling: bool) -> None:
    provider = Picky("picky", scheduling=scheduling)
    expected = old_reason(provider, batch)
    got = error_text([provider], tuple(batch))
    assert got == (
        None if expected is None else f"no configured provider can render this message (picky: {expected})"
    )


def test_the_scheduling_rule_wins_when_it_fails_first() -> None:
    batch = (Sms(to="13800138000", text="ok"), Sms(to="13800138000", text="ok", send_at=LATER))
    batch += (Sms(to="13800138000", text="bad"),)
    text = error_text([Picky("a", scheduling=False), Picky("b", scheduling=True)], batch)
    assert text == (
        "no configured provider can render this message "
        f"(a: message 2 of the batch: {UNSCHEDULED}; b: message 3 of the batch: refuses 'bad')"
    )


def test_the_render_reason_wins_on_the_same_message() -> None:
    batch = (Sms(to="13800138000", text="ok"), Sms(to="13800138000", text="bad", send_at=LATER))
    text = error_text([Picky("a", scheduling=False)], batch)
    assert text == "no configured provider can render this message (a: message 2 of the batch: refuses 'bad')"


def test_a_batch_is_asked_at_once_and_one_message_as_before() -> None:
    provider = Picky("a", scheduling=True)
    router = Router([provider], clock=lambda: 0.0)
    batch = (Sms(to="13800138000", text="ok"),) * 3
    assert router.renderable(Operation.SEND_BATCH, [provider], batch) == [provider]
    assert provider.asked_batches == 1
    with pytest.raises(UnrenderableMessageError, match=r"\(a: refuses 'bad'\)"):
        router.renderable(Operation.SEND, [provider], Sms(to="13800138000", text="bad"))
    assert provider.asked_batches == 1
