"""The retry mapping: what the send task does with each error, and the JSON of its result.

=============================================  =========  ===============================
error                                          decision   why
=============================================  =========  ===============================
:class:`~smsgate.NotSentError` (and            retry      surely not sent: trying again
:class:`~smsgate.CircuitOpenError`),                      cannot duplicate it
:class:`~smsgate.RateLimitedError`,
:class:`~smsgate.ProviderOutageError` (every
error whose ``retry_safe`` is set)
:class:`~smsgate.AllProvidersFailedError`      retry      every provider refused or was
with at least one retry-safe attempt                      unreachable, one said "later"
:class:`~smsgate.UncertainOutcomeError`        uncertain  it may have gone: never again
:class:`~smsgate.PartialSendError`             partial    some requests were accepted:
                                                          never resent as a whole
any other exception (a bug, not a smsgate      uncertain  where it failed is unknown
error)
everything else: :class:`~smsgate.ValidationError`,       refused    about the message or the
:class:`~smsgate.MessageRejectedError`,                   account: trying again cannot help
:class:`~smsgate.AuthenticationError`,
:class:`~smsgate.InsufficientBalanceError`,
:class:`~smsgate.ConfigurationError` …
=============================================  =========  ===============================

A retry that runs out (``max_retries``) ends **refused**: nothing was sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from smsgate._models import Receipt
from smsgate.exceptions import (
    AllProvidersFailedError,
    PartialSendError,
    ProviderError,
    RateLimitedError,
    SmsGateError,
    UncertainOutcomeError,
)

__all__ = ["Decision", "decide", "error_info", "receipt_info", "retry_after"]

#: What the task does with a failed send.
Decision = Literal["retry", "refused", "uncertain", "partial"]


def decide(error: BaseException) -> Decision:
    """The task's decision for ``error`` (see the module's table)."""
    if isinstance(error, PartialSendError):
        return "partial"
    if isinstance(error, UncertainOutcomeError):
        return "uncertain"
    if isinstance(error, AllProvidersFailedError):
        attempts = error.attempts
        if any(isinstance(a, UncertainOutcomeError) for a in attempts):
            return "uncertain"
        return "retry" if any(a.retry_safe for a in attempts) else "refused"
    if not isinstance(error, SmsGateError):
        return "uncertain"
    return "retry" if error.retry_safe else "refused"


def retry_after(error: BaseException) -> float | None:
    """The wait a provider asked for (``RateLimitedError.retry_after``), the largest among the
    attempts of an ``AllProvidersFailedError``; None when none said."""
    errors = error.attempts if isinstance(error, AllProvidersFailedError) else (error,)
    waits = [e.retry_after for e in errors if isinstance(e, RateLimitedError) and e.retry_after is not None]
    return max(waits) if waits else None


def error_info(error: BaseException) -> dict[str, Any]:
    """The error as JSON: its class name, its text, and the provider, operation and vendor
    code when known (smsgate errors carry no secret; another exception gives only its class
    name and no text, which could hold anything)."""
    if not isinstance(error, SmsGateError):
        return {
            "type": type(error).__name__,
            "message": "unexpected error in the send task (see the worker log)",
        }
    info: dict[str, Any] = {
        "type": type(error).__name__,
        "message": str(error),
        "provider": error.provider,
        "operation": error.operation,
    }
    if isinstance(error, ProviderError):
        info["code"] = error.code
    if isinstance(error, PartialSendError):
        info["cause"] = error_info(error.cause)
    return info


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def receipt_info(receipt: Receipt) -> dict[str, Any]:
    """A receipt as JSON: provider, task id(s), accepted count, attempts, reference, time."""
    return {
        "provider": receipt.provider,
        "task_id": receipt.task_id,
        "task_ids": list(receipt.task_ids),
        "accepted": receipt.accepted,
        "attempts": receipt.attempts,
        "reference": receipt.reference,
        "accepted_at": _when(receipt.accepted_at),
    }
