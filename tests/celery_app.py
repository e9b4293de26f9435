"""The Celery app the worker tests run (``celery -A tests.celery_app worker``).

Everything comes from the environment the test gives the worker process:

``SMSGATE_TEST_BROKER``       the broker (a Redis database on the tests' loopback server)
``SMSGATE_TEST_BACKEND``      the result backend (another database)
``SMSGATE_TEST_IDEMPOTENCY``  the idempotency store (another database)
``SMSGATE_CONFIG``            the TOML file the gateway is built from (the CLI's variable)
``SMSGATE_<NAME>_PASSWORD``   the provider's password, as for the CLI
``SMSGATE_TEST_VISIBILITY``   seconds before an unacknowledged task is delivered again
``SMSGATE_TEST_PARENT_PID``   the test process: the worker exits when it is gone

The same module, imported by the test process, is the client side (``enqueue``).
"""

from __future__ import annotations

import os
import threading
import time

from celery import Celery

import smsgate.celery


def make_app(broker: str, backend: str | None, idempotency: str | None, *, visibility: float = 8.0) -> Celery:
    """The tests' app: JSON only, one task at a time per worker, late acknowledgement, a short
    visibility timeout (a killed worker's task comes back quickly), fast bounded retries."""
    app = Celery("smsgate-tests", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        accept_content=["json"],
        task_serializer="json",
        result_serializer="json",
        result_accept_content=["json"],
        # One task at a time per worker, acknowledged after it ran: a killed worker holds at
        # most the task it was running, which the broker delivers again after the timeout.
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
    )
    smsgate.celery.install(
        app,
        idempotency=idempotency,
        max_retries=int(os.environ.get("SMSGATE_TEST_MAX_RETRIES", "4")),
        retry_backoff=0.05,
        retry_backoff_max=0.2,
    )
    return app


def _exit_with_parent(parent: int) -> None:
    """Stop this worker when the test process that started it is gone (killed, or ended
    without its fixtures' teardown): no worker outlives the test run."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


if os.environ.get("SMSGATE_TEST_PARENT_PID"):
    _exit_with_parent(int(os.environ["SMSGATE_TEST_PARENT_PID"]))

app = make_app(
    os.environ.get("SMSGATE_TEST_BROKER", "memory://"),
    os.environ.get("SMSGATE_TEST_BACKEND") or None,
    os.environ.get("SMSGATE_TEST_IDEMPOTENCY") or None,
    visibility=float(os.environ.get("SMSGATE_TEST_VISIBILITY", "8")),
)
