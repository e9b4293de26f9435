"""No repr raises, not even that of an object whose ``__init__`` failed half-way: a traceback
rendered with its frames' locals (``pytest --showlocals``, error reporters) shows that
``self``, and a repr that raises there hides the error being reported."""

from __future__ import annotations

import importlib
import traceback

import pytest

import smsgate
from smsgate.exceptions import SmsGateError

# Public classes with a hand-written __init__ that can fail after setting some attributes.
CLASSES = [
    ("smsgate", "Gateway"),
    ("smsgate", "AsyncGateway"),
    ("smsgate.templates", "TextTemplates"),
    ("smsgate.default_plugins.memory", "InMemoryProvider"),
    ("smsgate_ipyy", "IpyyProvider"),
    ("smsgate_aliyun", "AliyunProvider"),
    ("smsgate.scale", "RedisState"),
    ("smsgate.scale", "RedisBreaker"),
    ("smsgate.scale", "RedisLimiter"),
    ("smsgate.celery", "RedisIdempotencyStore"),
    ("smsgate.receiver", "Receiver"),
    ("smsgate.receiver", "ServerThread"),
    ("smsgate.receiver", "SQLiteJournal"),
    ("smsgate.receiver", "PostgresJournal"),
]


@pytest.mark.parametrize(("module", "name"), CLASSES, ids=[name for _, name in CLASSES])
def test_the_repr_of_an_object_not_built_does_not_raise(module: str, name: str) -> None:
    cls = getattr(pytest.importorskip(module), name)
    assert repr(cls.__new__(cls)).startswith(("<", name))


def test_a_gateway_refusing_its_configuration_renders_with_its_locals() -> None:
    provider = smsgate.get_provider("memory")
    try:
        smsgate.Gateway([provider, provider])  # the same name twice: refused by the router
    except SmsGateError as error:
        rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    else:
        raise AssertionError("nothing raised")
    assert "<Gateway (not built)>" in rendered


def test_importing_the_listed_modules_is_what_the_test_above_checks() -> None:
    # A renamed class would make the test above skip silently: each module here exists.
    for module, name in CLASSES:
        if module.startswith(("smsgate.scale", "smsgate.celery")):
            continue  # optional extras
        assert hasattr(importlib.import_module(module), name)
