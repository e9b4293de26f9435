"""The CLI end to end against the ipyy sandbox: TOML config, password from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smsgate.cli import EXIT_REFUSED, EXIT_UNCERTAIN, cli

sandbox_module = pytest.importorskip("smsgate_ipyy.sandbox")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    with sandbox_module.Sandbox() as running:
        yield running


def config(box: Any, tmp_path: Path, *accounts: str) -> Path:
    lines = ['[gateway]\nstrategy = "failover"\n']
    for account in accounts:
        userid = {"demo": "1001", "poor": "1002", "push": "1003"}[account]
        lines.append(
            f'[providers.{account}]\ntype = "ipyy"\naccount = "{account}"\nuserid = "{userid}"\n'
            f'base_url = "{box.base_url}"\ntransport = "json"\n'
        )
    path = tmp_path / "smsgate.toml"
    path.write_text("\n".join(lines))
    return path


TEXT = "hi【腾飞】"
ENV = {
    "SMSGATE_DEMO_PASSWORD": "demo-password",
    "SMSGATE_POOR_PASSWORD": "poor-password",
    "SMSGATE_PUSH_PASSWORD": "push-password",
}


def invoke(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--config", str(path), "--json", *args], env=ENV, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_send_balance_and_reports_through_the_sandbox(box: Any, tmp_path: Path) -> None:
    path = config(box, tmp_path, "demo")
    code, out, _ = invoke(path, "send", "13800138000", "--text", "您的验证码：1439【腾飞】")
    assert code == 0
    receipt = json.loads(out)
    assert (receipt["provider"], receipt["accepted"]) == ("demo", 1)
    code, out, _ = invoke(path, "balance")
    assert code == 0
    assert json.loads(out)[0]["remaining"] > 0
    box.state.flush_reports()
    code, out, _ = invoke(
        path, "reports", "--task-id", receipt["task_id"], "--journal", str(tmp_path / "j.db")
    )
    assert code == 0
    [report] = json.loads(out)
    assert (report["mobile"], report["status"], report["new"]) == ("13800138000", "delivered", True)
    assert "demo-password" not in out


def test_failover_from_empty_account_and_refusal_exit_code(box: Any, tmp_path: Path) -> None:
    code, out, _ = invoke(
        config(box, tmp_path, "poor", "demo"), "send", "13800138000", "--text", "hi【腾飞】"
    )
    assert code == 0
    assert json.loads(out)["provider"] == "demo"
    code, _, err = invoke(config(box, tmp_path, "poor"), "send", "13800138000", "--text", TEXT)
    assert code == EXIT_REFUSED
    assert json.loads(err)["error"] == "InsufficientBalanceError"
    assert "poor-password" not in err


def test_dropped_connection_exits_4_without_failover(box: Any, tmp_path: Path) -> None:
    before = sum(1 for r in box.requests() if r.get("account") == "push")
    box.set_fault(kind="drop", path="/smsJson.aspx", times=1)
    code, _, err = invoke(
        config(box, tmp_path, "demo", "push"), "send", "13800138000", "--text", "hi【腾飞】"
    )
    assert code == EXIT_UNCERTAIN, err
    assert json.loads(err)["error"] == "UncertainOutcomeError"
    assert sum(1 for r in box.requests() if r.get("account") == "push") == before
