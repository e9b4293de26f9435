"""``PartialSendError.untried``: the pending messages whose requests were never made, told
apart from the failed request's (which may have gone when the cause is uncertain). ``pending``
itself is unchanged."""

from __future__ import annotations

import pickle
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._parts import call_in_parts, send_in_parts

SMS = smsgate.Sms(to=["13800138000", "13900139000", "13700137000", "13600136000"], text="hi【shop】")


def _split(failing: int, error: errors.SmsGateError) -> errors.PartialSendError:
    """SMS sent one number a request; request ``failing`` (from 1) raises ``error``."""
    chunks = [[n] for n in SMS.to]

    def send(chunk: list[str]) -> Generator[None, None, smsgate.Receipt]:
        yield from ()
        if chunk[0] == SMS.to[failing - 1]:
            raise error
        return smsgate.Receipt(provider="p", task_id=chunk[0], accepted=1, recipients=chunk)

    flow = send_in_parts(
        chunks, send, pending=lambda rest: [attrs.evolve(SMS, to=[n for c in rest for n in c])]
    )
    with pytest.raises(errors.PartialSendError) as info:
        next(flow)
    return info.value


def _numbers(messages: Sequence[smsgate.Sms]) -> list[str]:
    return [n for m in messages for n in m.to]


def test_the_failed_request_and_the_untried_ones_are_told_apart() -> None:
    partial = _split(2, errors.UncertainOutcomeError("read timeout"))
    assert _numbers(partial.pending) == list(SMS.to[1:])  # as before
    assert _numbers(partial.untried) == list(SMS.to[2:])
    in_doubt = set(_numbers(partial.pending)) - set(_numbers(partial.untried))
    assert in_doubt == {SMS.to[1]}


def test_the_last_request_failing_leaves_nothing_untried() -> None:
    partial = _split(4, errors.UncertainOutcomeError("read timeout"))
    assert _numbers(partial.pending) == [SMS.to[3]]
    assert partial.untried == ()


def test_a_pending_callback_that_cannot_answer_for_the_rest_still_raises_the_receipts() -> None:
    calls: list[int] = []

    def pending(rest: Sequence[list[str]]) -> list[smsgate.Sms]:
        calls.append(len(rest))
        if len(calls) > 1:
            raise RuntimeError("cannot")
        return [attrs.evolve(SMS, to=[n for c in rest for n in c])]

    def send(chunk: list[str]) -> Generator[None, None, str]:
        yield from ()
        if chunk[0] == SMS.to[1]:
            raise errors.NotSentError("refused")
        return chunk[0]

    with pytest.raises(errors.PartialSendError) as info:
        next(send_in_parts([[n] for n in SMS.to], send, pending=pending))
    assert info.value.receipts == (SMS.to[0],)
    assert info.value.untried == ()  # unknown: nothing is called untried


def test_nested_splits_keep_both_levels_untried() -> None:
    def parts() -> Iterator[list[int]]:
        yield from ([1, 2], [3, 4], [5])

    def call(part: list[int]) -> list[int]:
        if part == [3, 4]:
            raise errors.PartialSendError(
                "inner", receipts=["r3"], pending=[4], cause=errors.UncertainOutcomeError("t"), untried=[]
            )
        return part

    with pytest.raises(errors.PartialSendError) as info:
        call_in_parts(parts(), call, pending=lambda rest: [m for p in rest for m in p])
    assert info.value.pending == (4, 5)
    assert info.value.untried == (5,)


def test_it_survives_pickling_and_defaults_to_nothing_known() -> None:
    sentinel = errors.PartialSendError(
        "partly", receipts=[], pending=[SMS], cause=errors.UncertainOutcomeError("t"), untried=[SMS]
    )
    copy = pickle.loads(pickle.dumps(sentinel))
    assert copy.untried == (SMS,)
    assert copy.pending == (SMS,)
    legacy = errors.PartialSendError("old", receipts=[], pending=[SMS], cause=errors.NotSentError("x"))
    assert legacy.untried == ()


class _Split(smsgate.Provider):
    """One number a request; request ``failing`` raises ``error``."""

    capabilities = smsgate.Capabilities(send=True)

    def __init__(self, name: str, failing: int, error: errors.SmsGateError) -> None:
        self.name = name
        self.failing = failing
        self.error = error

    def send(self, sms: smsgate.Sms) -> smsgate.Flow[smsgate.Receipt]:
        chunks = [[n] for n in sms.to]
        failing = sms.to[self.failing - 1] if self.failing <= len(sms.to) else None

        def one(chunk: list[str]) -> Generator[Any, Any, smsgate.Receipt]:
            yield from ()
            if chunk[0] == failing:
                raise self.error
            return smsgate.Receipt(provider=self.name, task_id=chunk[0], accepted=1, recipients=chunk)

        receipts = yield from send_in_parts(
            chunks, one, pending=lambda rest: [attrs.evolve(sms, to=[n for c in rest for n in c])]
        )
        return smsgate.Receipt.combine(receipts)


def test_an_uncertain_request_through_the_gateway_names_what_was_never_tried() -> None:
    a = _Split("a", 2, errors.UncertainOutcomeError("read timeout"))
    with smsgate.Gateway([a, smsgate.get_provider("memory", name="b")]) as gateway:
        with pytest.raises(errors.PartialSendError) as info:
            gateway.send(SMS)
    partial = info.value
    assert isinstance(partial.cause, errors.UncertainOutcomeError)
    assert _numbers(partial.pending) == list(SMS.to[1:])
    assert _numbers(partial.untried) == list(SMS.to[2:])


def test_a_resumed_send_that_ends_uncertain_names_the_second_providers_untried() -> None:
    """a sends the first number and is refused (not sent) on the second: b takes the other
    three, sends one, and its next request is uncertain."""
    a = _Split("a", 2, errors.NotSentError("refused"))
    b = _Split("b", 2, errors.UncertainOutcomeError("read timeout"))
    with smsgate.Gateway([a, b], retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        with pytest.raises(errors.PartialSendError) as info:
            gateway.send(SMS)
    partial = info.value
    assert [r.provider for r in partial.receipts] == ["a", "b"]
    assert _numbers(partial.pending) == list(SMS.to[2:])
    assert _numbers(partial.untried) == [SMS.to[3]]


def test_the_reliability_page_sample_resends_only_what_never_went() -> None:
    page = (Path(__file__).parent.parent / "docs" / "reliability.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in page.split("```python\n")[1:]]
    [sample] = [b for b in blocks if "partial.untried" in b]
    checked: list[set[str]] = []
    resent: list[set[str]] = []
    a = _Split("a", 2, errors.UncertainOutcomeError("read timeout"))
    with smsgate.Gateway(a) as gateway:
        scope: dict[str, Any] = {
            "smsgate": smsgate,
            "gateway": gateway,
            "sms": SMS,
            "check_reports_first": checked.append,
            "resend": resent.append,
        }
        exec(sample, scope)
    assert checked == [{SMS.to[1]}]
    assert resent == [set(SMS.to[2:])]
