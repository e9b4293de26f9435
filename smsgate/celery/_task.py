"""The send task: one message (an ``Sms``, an ``Mms`` or a batch) through this process's
gateway, guarded by its idempotency key, with retries mapped from the error classification.

One delivery of the task, in order:

1. decode the message (JSON; a message the models refuse ends **refused**);
2. take this process's gateway (:func:`~smsgate.celery._worker.worker_gateway`);
3. claim the key in the idempotency store. Redis unreachable: retry later (nothing sent).
   Key already claimed: return the outcome recorded under it without sending, or, when none
   was recorded, report the message **uncertain** (an earlier delivery may have sent it);
4. send, then record the outcome under the claim, and return it.

A send that surely did not go out (see :mod:`smsgate.celery._outcomes`) releases its claim
and retries with exponential backoff and full jitter (never sooner than
:data:`MIN_RETRY_DELAY`, nor than a provider's ``retry_after``), up to ``max_retries`` (then
it ends **refused**). Nothing else is ever retried. An uncertain outcome is recorded, returned, logged
at WARNING and announced to the ``send_uncertain`` hook.

The result is a JSON object::

    {"outcome": "accepted", "key": "…", "kind": "sms", "receipt": {…}}           # Sms, Mms
    {"outcome": "accepted", "key": "…", "kind": "batch", "receipts": [{…}, …]}
    {"outcome": "refused" | "uncertain", "key": "…", "kind": "…", "error": {"type": …,
     "message": …, "provider": …, "operation": …, "code": …}}
    {"outcome": "partial", …, "error": {…, "cause": {…}}, "receipts": [{…}], "pending": 3}

plus ``"retries"`` (how many retries this delivery followed) and, on an outcome read back
from the store, ``"redelivered": true``.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import attrs

from smsgate._models import Mms, Receipt, Sms, mask_mobile
from smsgate._plugins import notify
from smsgate.celery._codec import Message, decode_message, message_kind
from smsgate.celery._idempotency import IdempotencyStore, IdempotencyStoreError
from smsgate.celery._outcomes import decide, error_info, receipt_info, retry_after
from smsgate.celery._worker import Settings, idempotency_store, settings_of, worker_gateway
from smsgate.exceptions import PartialSendError, SmsGateError, UncertainOutcomeError, ValidationError

__all__ = ["MIN_RETRY_DELAY", "TASK_NAME", "run_send"]

#: The name the send task is registered under.
TASK_NAME = "smsgate.send"

log = logging.getLogger("smsgate.celery")


def _numbers(message: Message) -> str:
    recipients = message.to if isinstance(message, Sms | Mms) else tuple(n for m in message for n in m.to)
    shown = ", ".join(mask_mobile(n) for n in recipients[:3])
    return shown + (f" …+{len(recipients) - 3}" if len(recipients) > 3 else "")


def _result(outcome: str, key: str, kind: str, task: Any, **fields: Any) -> dict[str, Any]:
    return {"outcome": outcome, "key": key, "kind": kind, "retries": int(task.request.retries or 0), **fields}


#: The shortest delay before a retry, in seconds. ``Task.retry`` queues the retry *before*
#: the worker stores this delivery's RETRY state; a retry that ran and stored SUCCESS within
#: that gap would be overwritten by RETRY (seen in a test run), and ``AsyncResult.get()``
#: would wait for ever. Half a second makes the gap unreachable in practice.
MIN_RETRY_DELAY = 0.5


def _backoff(settings: Settings, retries: int, error: BaseException | None) -> float:
    bound = min(settings.retry_backoff_max, settings.retry_backoff * (2**retries))
    delay = random.uniform(0, bound) if settings.retry_jitter else bound  # noqa: S311 - jitter
    asked = retry_after(error) if error is not None else None
    return max(delay, asked or 0.0, MIN_RETRY_DELAY)


def _announce_uncertain(key: str, message: Message, error: SmsGateError, result: dict[str, Any]) -> None:
    log.warning(
        "smsgate.celery: message %s to %s is UNCERTAIN (%s: %s); not retried, check its delivery reports",
        key,
        _numbers(message),
        type(error).__name__,
        error,
    )
    notify("send_uncertain", key=key, message=message, error=error, result=result)


def _send(gateway: Any, message: Message) -> dict[str, Any]:
    if isinstance(message, Sms):
        return {"receipt": receipt_info(gateway.send(message))}
    if isinstance(message, Mms):
        return {"receipt": receipt_info(gateway.send_mms(message))}
    receipts: list[Receipt] = gateway.send_batch(message)
    return {"receipts": [receipt_info(r) for r in receipts]}


def _retry_or_refuse(
    task: Any, settings: Settings, error: BaseException, result: dict[str, Any]
) -> dict[str, Any]:
    """Retry later when retries remain (``task.retry`` raises); else the refused result."""
    retries = int(task.request.retries or 0)
    if retries < settings.max_retries:
        countdown = _backoff(settings, retries, error)
        log.info(
            "smsgate.celery: message %s not sent (%s); retry %d of %d in %.1f s",
            result["key"],
            type(error).__name__,
            retries + 1,
            settings.max_retries,
            countdown,
        )
        raise task.retry(countdown=countdown, max_retries=None)
    return {**result, "outcome": "refused"}


def run_send(task: Any, payload: Any, key: str) -> dict[str, Any]:
    """The body of the send task (``task`` is the bound Celery task)."""
    app = task.app
    settings = settings_of(app)
    try:
        message = decode_message(payload)
    except ValidationError as exc:
        return _result("refused", key, "unknown", task, error=error_info(exc))
    try:
        delivery = _Delivery(task, settings, idempotency_store(app), key, message)
        gateway = worker_gateway(app)
    except SmsGateError as exc:
        # No store or no gateway in this worker (no Redis URL, a missing or invalid config
        # file, an unknown provider): nothing was claimed or sent; refused with the reason.
        log.error("smsgate.celery: worker not set up, message %s refused: %s", key, exc)
        return _result("refused", key, message_kind(message), task, error=error_info(exc))
    try:
        claim = delivery.store.claim(key)
    except IdempotencyStoreError as exc:
        # Nothing was sent: the claim comes first.
        return _retry_or_refuse(task, settings, exc, delivery.result("refused", error=error_info(exc)))
    if claim.outcome is not None:
        return {**claim.outcome, "redelivered": True}
    if claim.token is None:
        return delivery.claimed_without_outcome()
    return delivery.send(gateway, claim.token)


@attrs.frozen
class _Delivery:
    """One delivery of the task for one message key."""

    task: Any
    settings: Settings
    store: IdempotencyStore
    key: str
    message: Message

    def result(self, outcome: str, **fields: Any) -> dict[str, Any]:
        return _result(outcome, self.key, message_kind(self.message), self.task, **fields)

    def claimed_without_outcome(self) -> dict[str, Any]:
        error = UncertainOutcomeError(
            "an earlier delivery of this task claimed the message and recorded no outcome "
            "(its worker died or is still sending): it may have been sent, so it is not sent again"
        )
        result = self.result("uncertain", error=error_info(error), redelivered=True)
        try:
            self.store.mark_uncertain(self.key, result)
        except IdempotencyStoreError:
            log.warning("smsgate.celery: could not record the uncertain outcome of message %s", self.key)
        _announce_uncertain(self.key, self.message, error, result)
        return result

    def send(self, gateway: Any, token: str) -> dict[str, Any]:
        try:
            result = self.result("accepted", **_send(gateway, self.message))
        except Exception as exc:  # every failure is classified; none escapes unrecorded
            return self.failed(token, exc)
        self.record(token, result)
        return result

    def failed(self, token: str, exc: Exception) -> dict[str, Any]:
        decision = decide(exc)
        result = self.result(decision, error=error_info(exc))
        if decision == "retry":
            if int(self.task.request.retries or 0) < self.settings.max_retries:
                # Release before the retry is queued, so the retry finds the key free.
                self.release(token)
                _retry_or_refuse(self.task, self.settings, exc, result)
            result["outcome"] = "refused"
        elif decision == "partial" and isinstance(exc, PartialSendError):
            result["receipts"] = [receipt_info(r) for r in exc.receipts]
            result["pending"] = len(exc.pending)
        elif decision == "uncertain" and not isinstance(exc, SmsGateError):
            log.error("smsgate.celery: unexpected error sending message %s", self.key, exc_info=exc)
        self.record(token, result)
        if decision == "uncertain" or (
            isinstance(exc, PartialSendError) and decide(exc.cause) == "uncertain"
        ):
            # A partial send whose last request is uncertain: its pending part may have gone.
            error = exc if isinstance(exc, SmsGateError) else UncertainOutcomeError(type(exc).__name__)
            _announce_uncertain(self.key, self.message, error, result)
        return result

    def release(self, token: str) -> None:
        try:
            self.store.release(self.key, token)
        except IdempotencyStoreError:
            # The retry will find the claim and report the message uncertain instead of
            # sending it: safe (never twice), just pessimistic.
            log.warning(
                "smsgate.celery: could not release the claim of message %s before its retry", self.key
            )

    def record(self, token: str, result: dict[str, Any]) -> None:
        try:
            if not self.store.record(self.key, token, result):
                log.warning(
                    "smsgate.celery: the claim of message %s changed hands; outcome not recorded", self.key
                )
        except IdempotencyStoreError:
            log.warning(
                "smsgate.celery: could not record the %s outcome of message %s (a redelivery: uncertain)",
                result["outcome"],
                self.key,
            )
