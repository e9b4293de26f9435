"""Sending from Celery workers: a task, a helper to enqueue it, and an idempotency key per
message claimed in Redis (``pip install 'smsgate[celery]'``).

Imported only explicitly (``import smsgate.celery``), never by ``import smsgate``.

Set up once, in the module that defines the Celery app (workers import it too)::

    # myapp/tasks.py
    from celery import Celery
    import smsgate.celery

    app = Celery("myapp", broker="redis://127.0.0.1:6379/0", backend="redis://127.0.0.1:6379/1")
    app.conf.accept_content = ["json"]          # the task's arguments are JSON, never pickle
    smsgate.celery.install(app, config="/etc/smsgate.toml", idempotency="redis://127.0.0.1:6379/2")

and enqueue from anywhere that imports it::

    result = smsgate.celery.enqueue(smsgate.Sms(to="13800138000", text="code 1234【shop】"), app=app)
    result.get()  # {"outcome": "accepted", "key": "…", "kind": "sms", "receipt": {…}, …}

Workers (``celery -A myapp.tasks worker``) build one :class:`smsgate.Gateway` per process from
the TOML file the CLI reads (passwords from ``SMSGATE_<NAME>_PASSWORD``), reuse it for every
task and close it when the process ends. Every message ends **accepted**, **refused**,
**uncertain** (it may have been sent; never sent again, reported through the result, the
``send_uncertain`` hook and a WARNING log line) or, for a batch split over several requests,
**partial**. See :func:`install` for the guarantees and the settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import celery

from smsgate.celery._codec import FORMAT_VERSION, decode_message, encode_message
from smsgate.celery._idempotency import (
    Claim,
    IdempotencyStore,
    IdempotencyStoreError,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from smsgate.celery._outcomes import decide
from smsgate.celery._pulls import register_pull_task as register_pull_task
from smsgate.celery._task import TASK_NAME, run_send
from smsgate.celery._worker import (
    CONFIG_KEY,
    REDIS_URL_KEY,
    Settings,
    close_worker_gateways,
    idempotency_store,
    register_settings,
    worker_gateway,
)
from smsgate.exceptions import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from smsgate._gateway import Gateway
    from smsgate._models import Mms, Sms

__all__ = [
    "CONFIG_KEY",
    "FORMAT_VERSION",
    "REDIS_URL_KEY",
    "TASK_NAME",
    "Claim",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "close_worker_gateways",
    "decide",
    "decode_message",
    "encode_message",
    "enqueue",
    "install",
    "outcome",
    "send_task",
    "worker_gateway",
]


def install(
    app: Any,
    *,
    config: str | Path | None = None,
    idempotency: str | IdempotencyStore | None = None,
    gateway: Callable[[], Gateway] | None = None,
    key_ttl: int = 7 * 24 * 3600,
    max_retries: int = 5,
    retry_backoff: float = 1.0,
    retry_backoff_max: float = 60.0,
    retry_jitter: bool = True,
) -> Any:
    """Register the send task (``smsgate.send``) on the Celery ``app`` and return it.

    Call it where the app is defined, at import time, so that worker processes run it too.

    :param config: the TOML file the gateway is built from, as ``smsgate --config`` reads it.
        ``None``: the Celery setting ``smsgate_config``, else ``./smsgate.toml``, else
        ``$SMSGATE_CONFIG`` (in the worker's environment). Read in each worker process, on
        its first task.
    :param idempotency: the Redis URL of the idempotency store (``redis://host:port/db``), or
        an :class:`IdempotencyStore`. ``None``: the Celery setting ``smsgate_redis_url``.
    :param gateway: instead of ``config``, a factory called once per worker process that
        returns the :class:`smsgate.Gateway` to use (it is closed at process shutdown).
    :param key_ttl: seconds a message key and its recorded outcome stay in Redis (7 days).
        Keep it longer than a redelivery can take (the broker's ``visibility_timeout``).
    :param max_retries: retries of a send that surely did not go out (then: refused).
    :param retry_backoff: bound of the first retry's delay in seconds, doubled each retry …
    :param retry_backoff_max: … up to this bound.
    :param retry_jitter: each delay drawn uniformly below its bound (full jitter); a
        provider's own ``retry_after`` is waited at least.

    The task is registered with ``acks_late=True`` and ``reject_on_worker_lost=True``: a
    message whose worker dies mid-task is delivered again, and its idempotency key makes that
    safe. Guarantees, per message key:

    - it is sent at most once by all deliveries together: each claims the key in Redis
      (``SET NX``) before sending; a surely-not-sent failure releases its own claim
      (compare-and-delete) before its retry is queued;
    - a delivery finding an outcome recorded returns it without sending (``"redelivered"``);
    - a delivery finding a claim without outcome reports **uncertain** and does not send;
    - Redis unreachable before the claim: retried later, nothing sent;
    - retried only when surely not sent, or refused with "try again" (rate limited, outage,
      circuit open); a refusal about the message or the account, and an uncertain outcome,
      never (see :func:`decide`).

    :raises ConfigurationError: an argument of the wrong kind (``config`` no path,
        ``idempotency`` neither a URL string nor an :class:`IdempotencyStore`, ``gateway`` not
        callable, a count or a delay out of range), here, before the task is registered: not
        by each task on the workers. A URL is read by each worker process, when it builds its
        store.
    """
    register_settings(
        app,
        Settings(
            config=config,
            gateway=gateway,
            idempotency=idempotency,
            key_ttl=key_ttl,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            retry_jitter=retry_jitter,
        ),
    )

    def send(self: Any, payload: dict[str, Any], key: str) -> dict[str, Any]:
        return run_send(self, payload, key)

    send.__doc__ = "Send one smsgate message (JSON, see smsgate.celery.encode_message) under its key."
    return app.task(
        send,
        name=TASK_NAME,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        serializer="json",
        max_retries=None,
        shared=False,  # this app's task only, not every app's (Celery's default for app.task)
    )


def send_task(app: Any = None) -> Any:
    """The send task :func:`install` registered on ``app`` (default: Celery's current app)."""
    app = app if app is not None else celery.current_app
    task = app.tasks.get(TASK_NAME)
    if task is None:
        raise ConfigurationError(
            f"the Celery app {app.main!r} has no {TASK_NAME} task: call smsgate.celery.install(app, …) "
            "where the app is defined"
        )
    return task


#: The longest idempotency key :func:`enqueue` takes (it becomes part of a Redis key).
_MAX_KEY = 256


def enqueue(
    message: Sms | Mms | Sequence[Sms], *, key: str | None = None, app: Any = None, **options: Any
) -> Any:
    """Queue ``message`` (an ``Sms``, an ``Mms`` or a list of ``Sms`` sent as one batch) for the
    send task; returns the Celery ``AsyncResult``.

    :param key: the message's idempotency key; a new ``uuid4`` hex when not given. It is
        fixed here, at enqueue time, so every delivery of this task carries the same one. Give
        your own (an order id …) to make a repeated ``enqueue`` of one message a no-op too.
    :param app: the Celery app :func:`install` was called on (default: the current app).
    :param options: passed to ``apply_async`` (``queue=``, ``countdown=``, ``priority=`` …).
    :raises ValidationError: ``message`` is not one of those, or ``key`` is no non-empty
        string (before anything is queued).
    :raises ConfigurationError: :func:`install` was not called on ``app``.
    """
    payload = encode_message(message)
    if key is None:
        key = uuid.uuid4().hex
    elif not (isinstance(key, str) and key.strip() == key and 0 < len(key) <= _MAX_KEY):
        raise ValidationError(
            f"key must be 1 to {_MAX_KEY} characters without blanks at either end, not {key!r}", field="key"
        )
    options.setdefault("serializer", "json")
    return send_task(app).apply_async(args=(payload, key), **options)


def outcome(key: str, *, app: Any = None) -> dict[str, Any] | None:
    """The outcome recorded in the idempotency store for message ``key`` (the task's result,
    JSON data), or ``None`` when none is recorded: not run yet, still sending, or a claim
    whose worker died before recording (its next delivery will report it uncertain).

    Independent of Celery's result backend: it holds as long as the store keeps the key.
    """
    app = app if app is not None else celery.current_app
    stored = idempotency_store(app).get(key)
    recorded = stored.get("outcome") if stored else None
    return recorded if isinstance(recorded, dict) else None
