"""Lint, format and type checks are part of the test suite.

Each tool runs once per test session, as a subprocess from the repository root, with the
ruff and mypy installed next to the running interpreter; a failure shows the tool's output.
They are marked ``slow`` (mypy takes several seconds): ``-m "not slow"`` skips them while
iterating, the full suite and ``.ci/run`` always run them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(tool: str, *args: str) -> None:
    executable = BIN / tool
    assert executable.exists(), f"{tool} is not installed next to {sys.executable} (pip install -e '.[dev]')"
    proc = subprocess.run(
        [str(executable), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{tool} {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def test_ruff_check() -> None:
    """``ruff check .`` reports nothing (rules in pyproject.toml)."""
    _run("ruff", "check", "--no-cache", "--output-format=concise", ".")


def test_ruff_format() -> None:
    """``ruff format --check .``: every file is formatted."""
    _run("ruff", "format", "--no-cache", "--check", ".")


@pytest.mark.timeout(300)
def test_mypy_strict() -> None:
    """``mypy`` (strict, packages smsgate and smsgate_ipyy, config in pyproject.toml) is clean."""
    _run("mypy")
