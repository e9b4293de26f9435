"""The command line and the unreadable pushes (dead letters) a receiver keeps: ``smsgate
receive`` passes its bound on them to the receiver, and ``smsgate unreadable`` lists them
(never a body), reads them again with the configured provider (their events stored in the
same journal, pending for the receiver's redispatch) or discards one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import smsgate.receiver
from smsgate.cli import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with one configured provider (the in-memory one, named mem)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    (tmp_path / "smsgate.toml").write_text('[providers.mem]\ntype = "memory"\n', encoding="utf-8")
    return tmp_path


def _built_receivers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every Receiver ``receive`` builds; its server then cannot
    listen (exit 5), so nothing is served."""
    built: list[dict[str, Any]] = []
    original = smsgate.receiver.Receiver.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs)
        original(self, *args, **kwargs)

    def start(self: Any) -> None:
        raise RuntimeError("address already in use")

    monkeypatch.setattr(smsgate.receiver.Receiver, "__init__", init)
    monkeypatch.setattr(smsgate.receiver.ServerThread, "start", start)
    return built


def test_receive_keeps_ten_thousand_unreadable_pushes_and_64_mib_by_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _built_receivers(monkeypatch)
    result = CliRunner().invoke(cli, ["receive", "--port", "0", "--journal", "j.sqlite3"])
    assert result.exit_code == 5, result.output
    [kwargs] = built
    assert (kwargs["max_unreadable"], kwargs["max_unreadable_bytes"]) == (10_000, 64 * 1024 * 1024)


def test_receive_passes_its_bound_on_unreadable_pushes_to_the_receiver(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _built_receivers(monkeypatch)
    args = ["receive", "--port", "0", "--journal", "j.sqlite3"]
    args += ["--max-unreadable", "0", "--max-unreadable-bytes", "4096"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 5, result.output
    [kwargs] = built
    assert (kwargs["max_unreadable"], kwargs["max_unreadable_bytes"]) == (0, 4096)


@pytest.mark.parametrize("option", ["--max-unreadable", "--max-unreadable-bytes"])
@pytest.mark.parametrize("value", ["-1", "1.5", "lots"])
def test_a_wrong_bound_is_a_usage_error_before_any_file(workdir: Path, option: str, value: str) -> None:
    result = CliRunner().invoke(cli, ["receive", "--port", "0", "--journal", "j.sqlite3", option, value])
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert not (workdir / "j.sqlite3").exists()
