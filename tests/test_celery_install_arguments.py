"""``smsgate.celery.install`` refuses an argument of the wrong kind itself, before the task is
registered, with a ConfigurationError naming it: not each task on the workers, one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from celery import Celery

import smsgate.celery
from smsgate import Gateway
from smsgate.celery import TASK_NAME, MemoryIdempotencyStore
from smsgate.celery._worker import Settings
from smsgate.exceptions import ConfigurationError

PASSWORD = "CeleryPw-3f9a"


def _app() -> Celery:
    return Celery("install-arguments", broker="memory://", set_as_current=False)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"idempotency": 3}, "idempotency"),
        ({"idempotency": ""}, "idempotency"),
        ({"idempotency": b"redis://127.0.0.1:6379/0"}, "idempotency"),
        ({"config": 3}, "config"),
        ({"config": ""}, "config"),
        ({"config": b"smsgate.toml"}, "config"),
        ({"gateway": 3}, "gateway"),
        ({"gateway": "smsgate.toml"}, "gateway"),
    ],
)
def test_a_wrong_kind_of_argument_is_refused_at_install(options: dict[str, Any], named: str) -> None:
    app = _app()
    with pytest.raises(ConfigurationError, match=f"^{named} must be"):
        smsgate.celery.install(app, **options)
    assert TASK_NAME not in app.tasks


@pytest.mark.parametrize(
    "options",
    [
        {"config": "smsgate.toml", "idempotency": "redis://127.0.0.1:6379/2"},
        {"config": Path("smsgate.toml"), "idempotency": MemoryIdempotencyStore()},
        {"gateway": lambda: Gateway([])},
        {},
    ],
)
def test_the_documented_kinds_are_accepted(options: dict[str, Any]) -> None:
    app = _app()
    smsgate.celery.install(app, **options)
    assert TASK_NAME in app.tasks


def test_the_refusal_of_a_store_never_shows_the_value() -> None:
    class NotAStore:
        def __repr__(self) -> str:
            return f"redis://:{PASSWORD}@127.0.0.1:6379/0"

    with pytest.raises(ConfigurationError) as info:
        smsgate.celery.install(_app(), idempotency=NotAStore())
    assert PASSWORD not in str(info.value)
    assert "NotAStore" in str(info.value)


def test_the_settings_repr_masks_the_store_password() -> None:
    settings = Settings(idempotency=f"redis://:{PASSWORD}@127.0.0.1:6379/2")
    assert PASSWORD not in repr(settings)
    assert "redis://:***@127.0.0.1:6379/2" in repr(settings)
