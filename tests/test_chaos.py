"""The chaos run (``benchmarks/chaos.py``) at a small N: through a two-sandbox failover gateway
with faults in the first sandbox, nothing is accepted twice and every message is accounted for;
and the check itself catches the duplicates the unsafe mode makes."""

from __future__ import annotations

import collections
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHAOS = Path(__file__).resolve().parents[1] / "benchmarks" / "chaos.py"


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(CHAOS), "--json", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1]
    return done.returncode, json.loads(last)


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos", CHAOS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chaos_run_at_200_messages_has_no_duplicate_and_nothing_unaccounted() -> None:
    code, summary = _run("--messages", "200")
    assert (summary["duplicates"], summary["unaccounted"]) == (0, 0), summary
    assert code == 0
    assert summary["messages"] == 200
    assert summary["accepted"] + summary["refused"] + summary["uncertain"] == 200
    assert summary["faults_injected"] > 0
    assert set(summary["faults_by_kind"]) == {"status", "hang", "drop", "garbage", "truncate"}
    assert summary["accepted_by_sandbox"]["secondary"] > 0  # failover happened


def test_the_check_catches_duplicates_when_failing_over_after_uncertainty() -> None:
    code, summary = _run("--messages", "120", "--failover-on-uncertain")
    assert summary["duplicates"] > 0
    assert code == 1


def test_compare_counts_each_contradiction() -> None:
    compare = _module().compare
    told = {"a": "accepted", "b": "accepted", "c": "refused", "d": "uncertain", "e": "uncertain"}
    recorded = collections.Counter({"a": 1, "c": 1, "d": 1, "e": 2, "stray": 1})
    summary = compare(told, recorded)
    assert summary["duplicates"] == 1  # e
    assert summary["unaccounted"] == 3  # b never accepted, c accepted though refused, stray never sent
    assert (summary["accepted"], summary["refused"], summary["uncertain"]) == (2, 1, 2)
