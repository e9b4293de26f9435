"""``SandboxConfig.report_limit`` takes only a whole number of at least 1: a float, a bool or
a string is refused with a clear ``ValueError`` when the config is made or changed, not
accepted and left to fail in the middle of a send once the bound is met."""

from __future__ import annotations

from typing import Any

import pytest

from smsgate_ipyy.sandbox import SandboxConfig, SandboxState


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
