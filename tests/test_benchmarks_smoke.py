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


CELERY_THROUGHPUT = RUN.parent / "celery_throughput.py"


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_celery_throughput_runs_and_reports_a_ratio_as_the_last_json_line() -> None:
    """benchmarks/celery_throughput.py --quick: Redis, the sandbox and two workers come up, the
    ratio and the overhead pieces are reported, and nothing is left running (no timing asserted)."""
    proc = subprocess.run(
        [sys.executable, str(CELERY_THROUGHPUT), "--quick", "--json", "--messages", "30", "--pairs", "1"],
        capture_output=True,
        text=True,
        timeout=160,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])["celery_throughput"]
    assert result["ratio"] > 0
    pieces = ("json_codec_us", "idempotency_claim_record_us", "result_store_and_get_us", "noop_task_wall_us")
    assert all(result[piece] > 0 for piece in pieces)
