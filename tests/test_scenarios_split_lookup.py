"""A message ipyy took part of and Aliyun finished (receipt provider ``"ipyy,aliyun"``) is
looked up part by part over the two loopback sandboxes: Aliyun answers for its numbers, and
the ipyy part, which ipyy cannot look up, is reported as an UnsupportedOperationError to the
``send_failed`` observers instead of failing the whole lookup. Sync and async alike. (A send cut
short by an uncertain ipyy request telling the number that may have gone from the one never
tried, ``PartialSendError.untried``, is in test_scenarios_cross_vendor.)"""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import GatewayFactory
from tests.test_scenarios_cross_vendor import (  # noqa: F401 - the sandboxes' fixtures
    THREE,
    aliyun,
    aliyun_box,
    aliyun_running,
    fault_on_request,
    ipyy,
    ipyy_box,
    ipyy_running,
    make_gateway,
)

pytestmark = pytest.mark.e2e


def test_the_aliyun_part_of_a_split_send_is_looked_up(
    make_gateway: GatewayFactory,  # noqa: F811 - the imported fixtures
    ipyy_box: Any,  # noqa: F811
    aliyun_box: Any,  # noqa: F811
    hooks: Any,
) -> None:
    with (
        fault_on_request(ipyy_box, 2, kind="outage") as client,
        smsgate.Gateway([ipyy(ipyy_box, max_recipients=1), aliyun(aliyun_box)], client=client) as sender,
    ):
        receipt = sender.send(THREE)
    assert receipt.provider == "ipyy,aliyun"
    by_aliyun = sorted(r.phone for r in aliyun_box.state.records)
    assert len(by_aliyun) == 2
    gateway = make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)])
    reports = gateway.query_status(receipt)
    assert sorted(r.mobile for r in reports) == by_aliyun
    aliyun_ids = {p.task_id for p in receipt.parts if p.provider == "aliyun"}
    assert {r.task_id for r in reports} <= aliyun_ids
    skipped = [f for f in hooks.named("send_failed") if f["operation"] == "query_status"]
    assert [(f["provider"], type(f["error"])) for f in skipped] == [
        ("ipyy", errors.UnsupportedOperationError)
    ]
    assert [h["report"] for h in hooks.named("report_received")] == reports
    # ipyy's part alone is refused, as any ipyy receipt is.
    [ipyy_part] = [p for p in receipt.parts if p.provider == "ipyy"]
    with pytest.raises(errors.UnsupportedOperationError, match="ipyy"):
        gateway.query_status(ipyy_part)
