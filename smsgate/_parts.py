"""One combinator for a send made of several requests.

A provider splits one :class:`~smsgate.Sms` by ``max_recipients`` and a batch by its own
request limits; the CLI feeds a large batch to the gateway in chunks (:func:`call_in_parts`,
the same rule for plain calls); the router resumes a partly accepted send on another
attempt. Each of them sends the parts in order and, when a part fails after earlier parts
were accepted, must say so: the accepted parts must never be sent again.
:func:`send_in_parts` is that rule, written once, and :func:`partly_sent` the one way its
error is built::

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

__all__ = ["call_in_parts", "partly_sent", "send_in_parts"]

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


def call_in_parts(
    parts: Iterable[P],
    send_part: Callable[[P], R],
    *,
    pending: Callable[[Sequence[P]], Sequence[Any]],
) -> list[R]:
    """:func:`send_in_parts` for plain calls (each part is a call such as
    ``gateway.send_batch(chunk)``, not a flow); same arguments, same errors."""

    def flow(part: P) -> Generator[None, None, R]:
        yield from ()  # a generator that makes no request: the call does its own I/O
        return send_part(part)

    try:
        next(send_in_parts(parts, flow, pending=pending))
    except StopIteration as done:
        results: list[R] = done.value
        return results
    raise RuntimeError("a plain call never yields")  # pragma: no cover - unreachable by design


def partly_sent(
    receipts: Sequence[Any],
    pending: Sequence[Any],
    cause: SmsGateError,
    *,
    stopped_by: SmsGateError | None = None,
    untried: Sequence[Any] = (),
) -> PartialSendError:
    """The error of a send whose ``receipts`` were accepted before ``cause`` stopped it.

    :param receipts: the accepted requests' receipts, in order (lists of receipts, one per
        part that made several requests, are flattened).

    :param pending: the messages not accepted, as the caller would resend them.
    :param stopped_by: the error that ended the send, when it is not ``cause`` itself (a
        group of failures): the new error takes its provider, operation and attempts.
    :param untried: the part of ``pending`` whose requests were never made
        (:attr:`PartialSendError.untried`).
    """
    source = stopped_by if stopped_by is not None else cause
    # A part may stand for several requests (a gateway call returning a list of receipts):
    # the error lists the requests themselves.
    receipts = [r for part in receipts for r in (part if isinstance(part, list) else [part])]
    error = PartialSendError(
        f"partly sent: {sum(getattr(r, 'accepted', 0) for r in receipts)} recipients accepted in "
        f"{len(receipts)} requests, then one failed; {len(pending)} messages pending",
        receipts=receipts,
        pending=pending,
        cause=cause,
        provider=source.provider,
        operation=source.operation,
        untried=untried,
    )
    error.attempts = source.attempts
    return error


def _partial(
    exc: SmsGateError,
    accepted: Sequence[Any],
    failed: P,
    rest: Sequence[P],
    pending: Callable[[Sequence[P]], Sequence[Any]],
) -> PartialSendError:
    if isinstance(exc, PartialSendError):
        later = pending(rest)
        return partly_sent(
            [*accepted, *exc.receipts],
            [*exc.pending, *later],
            exc.cause,
            stopped_by=exc,
            untried=[*exc.untried, *later],
        )
    return partly_sent(accepted, pending([failed, *rest]), exc, untried=_untried(rest, pending))


def _untried(rest: Sequence[P], pending: Callable[[Sequence[P]], Sequence[Any]]) -> Sequence[Any]:
    """The messages of the parts never sent (``rest``), or none when there are none or the
    caller's ``pending`` cannot say: the error must be raised with its receipts whatever
    this answers."""
    if not rest:
        return ()
    try:
        return pending(rest)
    except Exception:  # a partial send's receipts must never be lost to this answer
        return ()
