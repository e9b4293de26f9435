"""A negative weight is refused where the configuration is built: a config file's error names
the file and its ``[gateway]`` table, as every other config error does (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import smsgate
from smsgate.cli import cli
from smsgate.exceptions import ConfigurationError
from smsgate.routing import RoutingConfig

NEGATIVE = '[gateway]\nstrategy = "weighted"\nweights = {p = -1, q = 2}\n[providers.p]\ntype = "memory"\n'
NEGATIVE += '[providers.q]\ntype = "memory"\n'


def test_the_file_and_its_table_are_named(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text(NEGATIVE, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="negative") as info:
        smsgate.load_config(path)
    assert str(info.value).startswith(f"{path}: [gateway] weights must not be negative")


def test_the_cli_says_where_before_anything_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    (tmp_path / "smsgate.toml").write_text(NEGATIVE, encoding="utf-8")
    result = CliRunner().invoke(cli, ["send", "13800138000", "--text", "x【shop】"])
    assert result.exit_code == 1
    assert "smsgate.toml: [gateway] weights must not be negative" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("weights", [[1, -1], (0, -0.5), {"a": 1, "b": -2}])
def test_a_routing_config_refuses_it_when_built(weights: Any) -> None:
    with pytest.raises(ConfigurationError, match="weights must not be negative"):
        RoutingConfig(strategy="weighted", weights=weights)


@pytest.mark.parametrize("weights", [[1, 0], [0.0, -0.0], {"a": 0, "b": 3}])
def test_zero_and_positive_weights_are_accepted(weights: Any) -> None:
    assert RoutingConfig(strategy="weighted", weights=weights).weights == weights
