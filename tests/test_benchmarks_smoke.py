"""benchmarks/run.py keeps running: one tiny measure, its JSON line checked (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.mark.slow
def test_run_py_reports_one_measure_as_the_last_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", "--only", "json_pull"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(last) == ["json_pull"]
    result = last["json_pull"]
    assert result["goal"] != "error", result
    assert isinstance(result["ratio"], float)
    assert result["ratio"] > 0
    assert isinstance(result["met"], bool)


def test_run_py_lists_at_least_nine_measures() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--list"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split()) >= 9
