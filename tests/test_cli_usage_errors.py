"""A bad option is a usage error (exit 2) naming the option, never an error of the layer below
it: ``receive --host ""``, ``send --dry-run --price 1e999999``, ``sandbox --host 0.0.0.0``
(which names ``--allow-public``, not the sandbox's ``allow_public=True``). Nothing listens and
nothing is sent in these tests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from smsgate.cli import EXIT_VALIDATION, cli

MEMORY = '[providers.p]\ntype = "memory"\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    (tmp_path / "smsgate.toml").write_text(MEMORY, encoding="utf-8")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _usage_error(result: Result, option: str) -> None:
    assert result.exit_code == EXIT_VALIDATION, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("host", ["", "   "])
def test_receive_with_an_empty_host_is_a_usage_error(workdir: Path, host: str) -> None:
    pytest.importorskip("uvicorn")
    result = run("receive", "--host", host, "--port", "0", "--journal", str(workdir / "j.sqlite3"))
    _usage_error(result, "--host")
    assert "ConfigurationError" not in result.output
    assert not (workdir / "j.sqlite3").exists()  # refused before the journal is opened


NOT_PRICES = ["1e999999", "1E+30", "1000000000", "nan", "-inf", "Infinity", "-1", "-0.01", "abc", "0x10"]
NOT_PRICES += ["1e-13", "\u0661"]  # 13 decimal places; an Arabic-Indic 1, which Decimal reads


@pytest.mark.parametrize("price", NOT_PRICES)
def test_a_price_that_is_no_plain_amount_is_a_usage_error(workdir: Path, price: str) -> None:
    result = run("send", "13800138000", "--text", "x【shop】", "--dry-run", "--price", price)
    _usage_error(result, "--price")
    assert "estimated cost" not in result.output


@pytest.mark.parametrize(
    ("price", "cost"),
    [("0.045", "0.045"), ("0", "0"), ("4.5E-2", "0.045"), ("999999999.5", "999999999.5"), (" 1 ", "1")],
)
def test_a_plain_price_is_priced(workdir: Path, price: str, cost: str) -> None:
    result = run("send", "13800138000", "--text", "x【shop】", "--dry-run", "--price", price)
    assert result.exit_code == 0, result.output
    assert f"estimated cost {Decimal(cost)}" in result.output


def test_sandbox_on_a_public_host_names_the_cli_option(workdir: Path) -> None:
    pytest.importorskip("smsgate_ipyy")
    result = run("sandbox", "--host", "0.0.0.0", "--port", "0")
    _usage_error(result, "--host")
    assert "--allow-public" in result.output
    assert "allow_public=True" not in result.output


@pytest.mark.parametrize(
    ("host", "extra"),
    [("127.0.0.1", ()), ("::1", ()), ("[::1]", ()), ("localhost", ()), ("0.0.0.0", ("--allow-public",))],
)
def test_sandbox_serves_a_loopback_host_or_an_allowed_public_one(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, host: str, extra: tuple[str, ...]
) -> None:
    """The command's check lets through what the sandbox serves (its ``serve`` replaced here:
    nothing listens)."""
    runner = pytest.importorskip("smsgate_ipyy.sandbox._runner")
    served: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        runner, "serve", lambda host, *_, allow_public, **__: served.append((host, allow_public))
    )
    result = run("sandbox", "--host", host, "--port", "0", *extra)
    assert result.exit_code == 0, result.output
    assert served == [(host, bool(extra))]


def test_the_demo_help_does_not_promise_ten_seconds() -> None:
    pytest.importorskip("smsgate_ipyy")
    result = run("demo", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "~10 seconds" not in text
    assert "a few seconds" in text
