"""send_in_parts, call_in_parts and partly_sent: the one rule for a send made of several requests."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import pytest

import smsgate
from smsgate._parts import call_in_parts, partly_sent
from smsgate.exceptions import InsufficientBalanceError, NotSentError, PartialSendError

Part = Generator[None, None, smsgate.Receipt]


def receipt(task: str, accepted: int = 1) -> smsgate.Receipt:
    return smsgate.Receipt(provider="p", task_id=task, accepted=accepted)


def sender(failing: set[int]) -> tuple[list[int], Callable[[int], Part]]:
    """A part sender that fails on the parts in ``failing`` and records what it was asked."""
    asked: list[int] = []

    def send(part: int) -> Part:
        yield from ()
        asked.append(part)
        if part in failing:
            raise NotSentError(f"part {part} refused", provider="p", operation="send")
        return receipt(str(part))

    return asked, send


def drive(flow: Generator[None, None, list[smsgate.Receipt]]) -> list[smsgate.Receipt]:
    try:
        next(flow)
    except StopIteration as done:
        result: list[smsgate.Receipt] = done.value
        return result
    pytest.fail("the parts made a request")


def flatten(rest: Sequence[int]) -> list[int]:
    return list(rest)


def test_every_part_is_sent_in_order_and_its_result_returned() -> None:
    asked, send = sender(set())
    results = drive(smsgate.send_in_parts([1, 2, 3], send, pending=flatten))
    assert [r.task_id for r in results] == ["1", "2", "3"]
    assert asked == [1, 2, 3]


def test_a_failing_first_part_is_raised_as_it_is() -> None:
    """Nothing was accepted: the caller gets the plain error, never a partial one."""
    asked, send = sender({1})
    with pytest.raises(NotSentError) as info:
        drive(smsgate.send_in_parts([1, 2], send, pending=flatten))
    assert not isinstance(info.value, PartialSendError)
    assert asked == [1]


def test_a_later_failure_lists_the_accepted_and_the_pending_and_stops() -> None:
    asked, send = sender({2})
    with pytest.raises(PartialSendError) as info:
        drive(smsgate.send_in_parts([1, 2, 3], send, pending=flatten))
    error = info.value
    assert [r.task_id for r in error.receipts] == ["1"]
    assert error.pending == (2, 3)
    assert isinstance(error.cause, NotSentError)
    assert error.retry_safe  # as its cause
    assert error.failover_safe
    assert (error.provider, error.operation) == ("p", "send")
    assert asked == [1, 2]  # part 3 was never tried


def test_a_nested_partial_send_is_merged_into_one_error() -> None:
    """A part that itself was sent in parts: one list of receipts, one list of pending."""

    def send(part: int) -> Part:
        yield from ()
        if part == 2:
            inner = InsufficientBalanceError("empty")
            raise partly_sent([receipt("2a")], ["2b"], inner)
        return receipt(str(part))

    with pytest.raises(PartialSendError) as info:
        drive(smsgate.send_in_parts([1, 2, 3], send, pending=flatten))
    error = info.value
    assert [r.task_id for r in error.receipts] == ["1", "2a"]
    assert error.pending == ("2b", 3)
    assert isinstance(error.cause, InsufficientBalanceError)


def test_call_in_parts_applies_the_same_rule_to_plain_calls() -> None:
    """The CLI's chunks: each call returns a list of receipts; the error lists them flat."""
    calls: list[list[str]] = []

    def send_chunk(chunk: list[str]) -> list[smsgate.Receipt]:
        calls.append(chunk)
        if chunk == ["c"]:
            raise InsufficientBalanceError("empty", provider="p")
        return [receipt(task) for task in chunk]

    assert call_in_parts([["a"], ["b"]], send_chunk, pending=list) == [[receipt("a")], [receipt("b")]]
    with pytest.raises(PartialSendError) as info:
        call_in_parts([["a", "b"], ["c"], ["d"]], send_chunk, pending=list)
    error = info.value
    assert [r.task_id for r in error.receipts] == ["a", "b"]
    assert error.pending == (["c"], ["d"])
    assert "2 recipients accepted in 2 requests" in str(error)
