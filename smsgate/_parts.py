"""One combinator for a send made of several requests.

A provider splits one :class:`~smsgate.Sms` by ``max_recipients`` and a batch by its own
request limits; the CLI feeds a large batch to the gateway in chunks. Each of them sends
the parts in order and, when a part fails after earlier parts were accepted, must say so:
the accepted parts must never be sent again. :func:`send_in_parts` is that rule, written
once::

    def send(self, sms: Sms) -> Flow[Receipt]:
        chunks = [sms.to[i : i + 100] for i in range(0, len(sms.to), 100)]
        receipts = yield from send_in_parts(
            chunks,
            lambda chunk: self._send_chunk(sms, chunk),
            pending=lambda rest: [attrs.evolve(sms, to=[n for c in rest for n in c])],
        )
        return Receipt.combine(receipts)
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, TypeVar

from smsgate.exceptions import PartialSendError, SmsGateError

__all__ = ["send_in_parts"]

P = TypeVar("P")
R = TypeVar("R")
Y = TypeVar("Y")
S = TypeVar("S")


def send_in_parts(
    parts: Iterable[P],
    send_part: Callable[[P], Generator[Y, S, R]],
    *,
    pending: Callable[[Sequence[P]], Sequence[Any]],
) -> Generator[Y, S, list[R]]:
    """Run ``send_part`` for each part in order (``yield from``); return their results.

    :param parts: the requests to make; an iterator is consumed one part at a time, so a
        large batch need not be built up front.
    :param send_part: the flow (or any generator) that sends one part and returns its receipt.
    :param pending: the messages behind the parts not accepted (the failed one and the rest),
        as the caller would resend them.
    :raises PartialSendError: a part failed after earlier parts were accepted. It lists their
        receipts and the pending messages; its ``cause`` is the failure, whose
        ``retry_safe`` / ``failover_safe`` it shares. A failure of the first part is raised
        as it is: nothing was accepted. A part that itself raised a :class:`PartialSendError`
        is merged into one error, so nested splits report one list of receipts.
    """
    results: list[R] = []
    remaining = iter(parts)
    for part in remaining:
        try:
            results.append((yield from send_part(part)))
        except SmsGateError as exc:
            if not results:
                raise
            rest = list(remaining)
            raise _partial(exc, results, part, rest, pending) from exc
    return results


def _partial(
    exc: SmsGateError,
    accepted: Sequence[Any],
    failed: P,
    rest: Sequence[P],
    pending: Callable[[Sequence[P]], Sequence[Any]],
) -> PartialSendError:
    if isinstance(exc, PartialSendError):
        receipts = [*accepted, *exc.receipts]
        unsent = [*exc.pending, *pending(rest)]
        cause = exc.cause
    else:
        receipts = list(accepted)
        unsent = list(pending([failed, *rest]))
        cause = exc
    error = PartialSendError(
        f"partly sent: {len(receipts)} requests accepted, then one failed; {len(unsent)} messages pending",
        receipts=receipts,
        pending=unsent,
        cause=cause,
        provider=exc.provider,
        operation=exc.operation,
    )
    error.attempts = exc.attempts
    return error
