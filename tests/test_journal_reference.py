"""A report's reference survives the receiver's journal (a redispatched report keeps it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smsgate import DeliveryReport, DeliveryStatus
from smsgate.receiver import SQLiteJournal


def test_a_journaled_report_keeps_its_reference(tmp_path: Path) -> None:
    report = DeliveryReport(
        provider="aliyun",
        mobile="13800138000",
        task_id="1234^5678",
        status=DeliveryStatus.DELIVERED,
        received_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        vendor_code="DELIVERED",
        reference="order-42",
    )
    with SQLiteJournal(tmp_path / "journal.db") as journal:
        journal.record([report])
        [pending] = journal.pending()
        [entry] = journal.entries()
    assert isinstance(pending, DeliveryReport)
    assert isinstance(entry.event, DeliveryReport)
    assert pending.reference == "order-42"
    assert entry.event.reference == "order-42"
    assert pending == report
