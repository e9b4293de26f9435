"""docs/plugins.md is the template for the next provider: its Acme modules, put together as
the page lays them out, pass the conformance suite and mypy --strict.

The page shows every module but the codes table (a table of the vendor's codes, described in
prose); the test writes a small one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

CODES = """
from __future__ import annotations

from typing import Any

from smsgate import exceptions as errors


def error_for_code(code: str, message: Any, raw: Any = None) -> errors.SmsGateError:
    kind = errors.AuthenticationError if code == "401" else errors.ProviderError
    return kind("refused", code=code, vendor_message=message, raw=raw)
"""


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smsgate-acme")
    (root / "smsgate_acme").mkdir()
    (root / "tests").mkdir()
    written = []
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        found = re.match(r"# ((?:smsgate_acme|tests)/\w+\.py)\n", block)
        if found:
            (root / found.group(1)).write_text(block, encoding="utf-8")
            written.append(found.group(1))
    assert "smsgate_acme/_provider.py" in written
    assert "tests/test_conformance.py" in written
    (root / "smsgate_acme" / "_codes.py").write_text(CODES, encoding="utf-8")
    (root / "smsgate_acme" / "py.typed").write_text("", encoding="utf-8")
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_acme_provider_of_the_page_passes_the_conformance_suite(acme: Path) -> None:
    """It did not: its send took len(sms.text) of a template-only message (TypeError, where
    the suite expects a ValidationError before any request)."""
    result = _run(acme, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_conformance.py")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_the_acme_package_of_the_page_is_mypy_strict_clean(acme: Path) -> None:
    result = _run(acme, "-m", "mypy", "--strict", "--no-incremental", "smsgate_acme")
    assert result.returncode == 0, result.stdout[-3000:]
