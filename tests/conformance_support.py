"""Proof that the public conformance suite catches broken providers: the options its inner
pytest runs (``pytester``) need, and the checks of what those runs report.

Imported by ``test_conformance_memory`` and ``test_templates_memory``
(``from tests.conformance_support import …``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

# The inner runs have no pyproject.toml: say explicitly how pytest-asyncio should behave.
PYTESTER_OPTIONS = ("-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function")


def failures_by_test(recorder: pytest.HookRecorder) -> dict[str, Any]:
    """The inner run's failed reports by ``Class::test[params]``."""
    return {report.nodeid.split("::", 1)[1]: report for report in recorder.getfailures()}


def assert_caught(
    failures: Mapping[str, Any], caught: Mapping[str, str], modes: Iterable[str] = ("sync", "async")
) -> None:
    """Each test of ``caught`` failed in every mode with a ConformanceFailure whose message
    says what ``caught`` gives (what was expected, and what came)."""
    for mode in modes:
        for test, message in caught.items():
            report = failures.get(f"{test}[{mode}]")
            assert report is not None, f"{test}[{mode}] passed against a provider that breaks it"
            assert "ConformanceFailure" in report.longreprtext, report.longreprtext
            assert message in report.longreprtext, report.longreprtext
