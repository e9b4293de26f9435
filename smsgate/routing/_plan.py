"""The vocabulary of a plan: the commands it yields, the outcomes it receives, and the
bookkeeping of one operation (attempts made, failures seen, receipts kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, TypeAlias, TypeVar, cast

import attrs

from smsgate._models import Receipt, Sms, _compared
from smsgate._parts import partly_sent
from smsgate._provider import Flow, Operation, Provider
from smsgate.exceptions import (
    AllProvidersFailedError,
    CircuitOpenError,
    PartialSendError,
    RateLimitedError,
    SmsGateError,
    UncertainOutcomeError,
)
from smsgate.routing._policies import RetryPolicy

__all__ = ["Attempt", "Call", "Command", "Failure", "Outcome", "Plan", "Sleep", "Success"]

T = TypeVar("T")


@_compared
@attrs.frozen(eq=False, repr=False)
class Attempt:
    """Command: run ``provider``'s flow for ``message`` and send back the outcome.

    :ivar number: the attempt's rank on this provider (1 = first try).
    :ivar message: what is being sent (a resumed send narrows it to what is pending), or
        the argument of a read (a pull's limit); ``None`` for most reads.
    """

    provider: Provider
    operation: Operation
    call: Callable[[Provider, Any], Flow[Any]]
    message: Any
    number: int

    def start(self) -> Flow[Any]:
        """The provider's flow for this attempt, ready for :func:`smsgate.run_flow`."""
        return self.call(self.provider, self.message)


@_compared
@attrs.frozen(eq=False, repr=False)
class Sleep:
    """Command: wait ``seconds`` and send back ``None``."""

    seconds: float
    reason: str = "backoff"


@attrs.frozen
class Success:
    """Outcome of an :class:`Attempt` whose flow returned ``value``."""

    value: Any


@attrs.frozen
class Failure:
    """Outcome of an :class:`Attempt` whose flow raised ``error``."""

    error: SmsGateError


#: What a plan yields to the gateway: run an :class:`Attempt`, or wait out a :class:`Sleep`.
Command: TypeAlias = Attempt | Sleep
#: What the gateway sends back into a plan for an :class:`Attempt`: :class:`Success` or :class:`Failure`.
Outcome: TypeAlias = Success | Failure
#: A plan for one operation: yields commands, receives outcomes, returns the result ``T``.
Plan: TypeAlias = Generator[Command, Outcome | None, T]
#: Builds one provider's flow for a payload (the payload changes when a send is resumed).
Call: TypeAlias = Callable[[Provider, Any], Flow[T]]


def _with_attempts(value: Any, attempts: int) -> Any:
    if isinstance(value, Receipt):
        return attrs.evolve(value, attempts=attempts)
    if isinstance(value, list) and value and all(isinstance(v, Receipt) for v in value):
        return [attrs.evolve(v, attempts=attempts) for v in value]
    return value


def _reference(payload: Any) -> str | None:
    """The reference a receipt of ``payload`` carries when its provider leaves it out: the
    message's, or for a batch the one all its messages share."""
    if isinstance(payload, Sms):
        return payload.reference
    if isinstance(payload, tuple) and payload and all(isinstance(m, Sms) for m in payload):
        shared = {m.reference for m in payload}
        return shared.pop() if len(shared) == 1 else None
    return None


def _finished(
    receipt: Receipt, reference: str | None, now: dt.datetime, attempts: int | None = None
) -> Receipt:
    """``receipt`` as the caller gets it, rebuilt at most once: the ``attempts`` made (when
    given) and what the gateway knows that the provider may have left out — the message's
    ``reference`` and the time it was accepted (its parts' too)."""
    changes: dict[str, Any] = {}
    if attempts is not None and receipt.attempts != attempts:
        changes["attempts"] = attempts
    if receipt.accepted_at is None or (receipt.reference is None and reference is not None):
        changes["reference"] = receipt.reference if receipt.reference is not None else reference
        changes["accepted_at"] = receipt.accepted_at or now
        changes["parts"] = [p if p.accepted_at else attrs.evolve(p, accepted_at=now) for p in receipt.parts]
    return _evolved(receipt, changes) if changes else receipt


# Receipt's constructor arguments and the attributes they come from, read once: attrs.evolve
# walks the class's fields again on every call (most of what a rebuilt receipt cost).
_RECEIPT_ARGUMENTS = tuple((a.alias or a.name, a.name) for a in attrs.fields(Receipt) if a.init)


def _evolved(receipt: Receipt, changes: dict[str, Any]) -> Receipt:
    """``attrs.evolve(receipt, **changes)``: the constructor (its conversions and checks) with
    the changed arguments and every other one as ``receipt`` has it."""
    for argument, name in _RECEIPT_ARGUMENTS:
        if argument not in changes:
            changes[argument] = getattr(receipt, name)
    return Receipt(**changes)


def _pending_payload(operation: Operation, pending: Sequence[Any]) -> Any:
    """What to send when resuming after a :class:`PartialSendError`: the pending messages
    of a batch, or for a single message the one message narrowed to its pending recipients."""
    if operation is Operation.SEND_BATCH or not pending:
        return tuple(pending)
    first = pending[0]
    if len(pending) == 1 or not isinstance(first, Sms):
        return first
    return attrs.evolve(first, to=[n for m in pending for n in m.to])


@attrs.define
class Run(Generic[T]):
    """The bookkeeping of one operation's plan, and the rules that read it.

    :ivar payload: what is still to send (narrowed after a partial send).
    :ivar errors: the failed attempts so far, oldest first.
    :ivar kept: receipts of requests accepted before a failure (never sent again).
    :ivar made: attempts made, over every provider.
    :ivar reference: what the receipts carry when the provider leaves the reference out (the
        message's, or the one a batch's messages share; see :meth:`succeeded`).
    """

    operation: Operation
    payload: Any
    retry: RetryPolicy
    failover_on_uncertain: bool
    started: float
    errors: list[SmsGateError] = attrs.field(factory=list)
    kept: list[Receipt] = attrs.field(factory=list)
    made: int = 0
    may_move_on: bool = True
    reference: str | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.reference = _reference(self.payload)

    def skipped(self, provider: Provider) -> None:
        """Note a provider whose circuit is open: not tried at all."""
        self.errors.append(
            CircuitOpenError(
                f"skipped: circuit open after repeated failures of {provider.name!r}",
                provider=provider.name,
                operation=self.operation.value,
            )
        )

    def succeeded(self, value: Any) -> T:
        """The result: kept receipts merged in, and each receipt finished in one step: the
        attempt count, the message's reference and the time it was accepted when the provider
        left them out."""
        now = dt.datetime.now(dt.UTC)
        if isinstance(value, Receipt):
            # A send split into requests: one receipt for the whole message.
            value = Receipt.combine([*self.kept, value]) if self.kept else value
            return cast("T", _finished(value, self.reference, now, self.made))
        if not isinstance(value, list):
            return cast("T", value)
        # A batch: one receipt per request (the attempt count only on a list of receipts).
        attempts = self.made if value and all(isinstance(v, Receipt) for v in value) else None
        items = [_finished(v, self.reference, now, attempts) if isinstance(v, Receipt) else v for v in value]
        if not self.kept:
            return cast("T", items)
        return cast("T", [*(_finished(r, self.reference, now) for r in self.kept), *items])

    def failed(self, error: SmsGateError) -> bool:
        """Take in a failed attempt; return whether this provider may be retried.

        Raises the final error when neither a retry nor a failover is safe.
        """
        decisive = error
        if isinstance(error, PartialSendError):
            # Only what was not accepted may be tried again, here or elsewhere.
            self.kept.extend(_with_attempts(list(error.receipts), self.made))
            self.payload = _pending_payload(self.operation, error.pending)
            decisive = error.cause
        # A password change is not safely repeatable either: after an uncertain outcome the
        # old password may no longer work.
        careful = self.operation.delivers or self.operation is Operation.CHANGE_PASSWORD
        uncertain = isinstance(decisive, UncertainOutcomeError)
        retry_ok = decisive.retry_safe or (uncertain and not careful)
        failover_ok = decisive.failover_safe or (uncertain and (not careful or self.failover_on_uncertain))
        if not (retry_ok or failover_ok):
            raise self.final(error)
        self.errors.append(error)
        self.may_move_on = failover_ok
        return retry_ok

    def moves_on(self, number: int, others: Callable[[], bool]) -> bool:
        """After failed attempt ``number`` on a provider that may be retried: whether to leave
        it now (for the next provider, or to end the plan) instead of waiting to retry.

        It leaves when no retry is left, and when the failure allows failover and ``others()``
        says another provider can take the message: a refused connection or an outage then
        costs the next provider's round trip, not a backoff. It stays (the retries and their
        backoff apply) on the last provider able to take the message, and when the provider
        said when to come back (``RateLimitedError.retry_after``). Nothing uncertain ever gets
        here for a send: :meth:`failed` allowed neither a retry nor a failover for it.
        """
        if number >= self.retry.attempts:
            return True
        if not self.may_move_on:
            return False
        decisive = self.errors[-1]
        if isinstance(decisive, PartialSendError):
            decisive = decisive.cause
        if isinstance(decisive, RateLimitedError) and decisive.retry_after is not None:
            return False
        return others()

    def backoff(self, number: int, draw: Callable[[], float], clock: Callable[[], float]) -> float | None:
        """The wait before retry ``number`` + 1 on this provider, or ``None`` to stop here.

        :param draw: the jitter source (floats in ``[0, 1)``); drawn only for a retry.
        """
        if number >= self.retry.attempts:
            return None
        decisive = self.errors[-1]
        if isinstance(decisive, PartialSendError):
            decisive = decisive.cause
        delay = self.retry.ceiling(number) * draw()
        if isinstance(decisive, RateLimitedError) and decisive.retry_after is not None:
            delay = max(delay, decisive.retry_after)
        if clock() - self.started + delay > self.retry.total:
            return None
        return delay

    def stop(self) -> SmsGateError:
        """The error when the last provider tried may not be left: its own, last failure."""
        return self.final(self.errors.pop())

    def exhausted(self, providers: int) -> SmsGateError:
        """The error when every provider was tried."""
        if providers == 1:
            # One provider only (a single-provider gateway, change_password, a per-provider
            # pull): its own typed error is the answer; earlier tries are in ``attempts``.
            return self.stop()
        group = AllProvidersFailedError(
            f"{self.operation.value} failed on every provider ({self.made} attempts, "
            f"{len(self.errors)} failures)",
            self.errors,
            operation=self.operation.value,
        )
        # The group keeps its own attempts (every failure); a partial error lists them too.
        return self.final(group) if self.kept else group

    def final(self, error: SmsGateError) -> SmsGateError:
        """The error that ends the plan, carrying the earlier attempts and any kept receipts."""
        error.attempts = tuple(self.errors)
        if not self.kept:
            return error
        pending = self.payload
        if pending is None:
            pending = ()
        elif not isinstance(pending, tuple | list):
            pending = (pending,)  # a single message narrowed to its pending recipients
        cause = error.cause if isinstance(error, PartialSendError) else error
        now = dt.datetime.now(dt.UTC)
        kept = [_finished(r, self.reference, now) for r in self.kept]
        # The payload is the last partial send's pending part: its untried part stays untried.
        untried = error.untried if isinstance(error, PartialSendError) else ()
        return partly_sent(kept, pending, cause, stopped_by=error, untried=untried)
