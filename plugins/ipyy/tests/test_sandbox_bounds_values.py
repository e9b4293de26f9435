"""``SandboxConfig.report_limit`` takes only a whole number of at least 1: a float, a bool or
a string is refused with a clear ``ValueError`` when the config is made or changed, not
accepted and left to fail in the middle of a send once the bound is met."""

from __future__ import annotations

from typing import Any

import pytest

from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, True, False, "5", None])
def test_a_bad_report_limit_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="report_limit"):
        SandboxConfig(report_limit=bad)


@pytest.mark.parametrize("bad", [0, 1.5, True, "5"])
def test_a_bad_report_limit_is_refused_at_runtime(bad: Any) -> None:
    config = SandboxConfig.default()
    with pytest.raises(ValueError, match="report_limit"):
        config.report_limit = bad
    assert config.report_limit == 1_000_000


def test_a_bad_report_limit_from_toml_data_is_refused() -> None:
    with pytest.raises(ValueError, match="report_limit"):
        SandboxConfig.from_dict({"report_limit": 1e5})


@pytest.mark.parametrize("good", [1, 7, 10**30])
def test_whole_numbers_are_taken(good: int) -> None:
    state = SandboxState(SandboxConfig(accounts=SandboxConfig.default().accounts, report_limit=good))
    state.submit("demo", "sms", ["13800000001", "13800000002"])
    assert state.pending_count() == min(good, 2)
    assert sum(state.dropped().values()) == 2 - min(good, 2)


def test_replacing_an_account_keeps_its_dropped_counts() -> None:
    """``dropped()`` counts since the start or the last reset: replacing an account at runtime
    (``add_account`` with a name already there) does not make its counts go back to 0."""
    config = SandboxConfig(accounts=SandboxConfig.default().accounts, report_limit=1)
    state = SandboxState(config)
    state.submit("demo", "sms", ["13800000001", "13800000002", "13800000003"])
    state.inject_inbound("demo", "13800000009", "hi")
    before = state.dropped()
    assert before == {"reports": 3, "inbound": 0}  # (one pending queue: the inbound pushed the report out)
    replaced = state.get_account("demo")
    assert replaced is not None
    state.add_account(
        Account(account="demo", password="new-pw", userid=replaced.userid, sms_balance=5, mms_balance=0)
    )
    assert state.dropped() == before
    [summary] = [item for item in state.accounts() if item["account"] == "demo"]
    assert (summary["dropped_reports"], summary["dropped_inbound"]) == (3, 0)
