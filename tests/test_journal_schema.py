"""The SQLite journal's table and stored payloads: what a commit writes got cheaper (no
``sqlite_sequence`` row for new journals, one bound stamp per row, payloads spelled without
json's encoder for plain events), while what is stored stays what earlier versions stored and
journals they made keep working."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.receiver import EventState, SQLiteJournal, event_key
from smsgate.receiver import _journal as journal_module
from smsgate.receiver._journal import Event, encode
from tests.test_journal_group_commit import report

#: The table as every version before this one created it.
OLD_SCHEMA = """CREATE TABLE smsgate_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    error      TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    stored_at  TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""


def _old_journal(path: Path, events: list[Event]) -> None:
    """A journal file as an earlier version left it: its schema, ``events`` stored (one row
    each, then the last one deleted so that the sequence is ahead of the largest rowid)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(OLD_SCHEMA)
    stamp = "2025-11-26T04:00:00+00:00"
    for key, kind, payload in encode(events):
        conn.execute(
            "INSERT INTO smsgate_events (key, kind, payload, stored_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (key, kind, payload, stamp, stamp),
        )
    conn.execute("DELETE FROM smsgate_events WHERE seq = (SELECT max(seq) FROM smsgate_events)")
    conn.close()


def test_a_new_journal_numbers_its_rows_without_a_sequence_table(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as journal:
        journal.record_each([[report(1), report(2)], [report(3)]])
        journal.record([report(4)])
    conn = sqlite3.connect(path)
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
    (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'smsgate_events'").fetchone()
    rows = conn.execute("SELECT seq, key FROM smsgate_events ORDER BY seq").fetchall()
    conn.close()
    assert "sqlite_sequence" not in names
    assert "AUTOINCREMENT" not in sql
    assert rows == [(n, event_key(report(n))) for n in (1, 2, 3, 4)]


def test_a_journal_made_by_an_earlier_version_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    _old_journal(path, [report(1), report(2), report(9)])  # 9 stored, then deleted
    with SQLiteJournal(path) as journal:
        assert journal.state(report(1)) is EventState.PENDING
        # A re-delivery of 1 is not new; 3 and 4 are, numbered after the old sequence.
        assert journal.record_each([[report(1), report(3)], [report(4)]]) == [[report(3)], [report(4)]]
        journal.mark_done(report(1))
        journal._set_done_soon([event_key(report(3))])
        journal.mark_failed(report(4), "ValueError: no")
        assert journal.pending() == [report(2), report(4)]
        entries = journal.entries()
    assert [(e.key, e.state, e.attempts) for e in entries] == [
        (event_key(report(1)), EventState.DONE, 1),
        (event_key(report(2)), EventState.PENDING, 0),
        (event_key(report(3)), EventState.DONE, 1),
        (event_key(report(4)), EventState.FAILED, 1),
    ]
    conn = sqlite3.connect(path)
    seqs = [seq for (seq,) in conn.execute("SELECT seq FROM smsgate_events ORDER BY seq")]
    (sequence,) = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'smsgate_events'").fetchone()
    conn.close()
    # AUTOINCREMENT kept: 3 (the deleted 9's) is not given again, and the sequence moves on.
    assert seqs[:2] == [1, 2]
    assert 3 < seqs[2] < seqs[3] == sequence


def test_a_stored_row_has_one_stamp_for_stored_at_and_updated_at(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as journal:
        journal.record_each([[report(1)], [report(2), report(3)]])
        journal.record([report(4)])
        journal.mark_done(report(4))
        assert journal._conn is not None
        rows = journal._conn.execute(
            "SELECT stored_at, updated_at FROM smsgate_events ORDER BY seq"
        ).fetchall()
    assert all(stored == updated for stored, updated in rows[:3])
    assert rows[0][0] == rows[1][0] == rows[2][0]  # one group commit, one stamp
    assert rows[3][1] >= rows[3][0]
    for stored, _ in rows:
        assert dt.datetime.fromisoformat(stored).tzinfo is not None


W = dt.datetime(2025, 11, 26, 12, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=8)))

#: Payloads as the versions before this one stored them (json.dumps), byte for byte.
PINNED: list[tuple[Event, str]] = [
    (
        DeliveryReport(
            provider="ipyy",
            mobile="13800138000",
            task_id="T1",
            status=DeliveryStatus.DELIVERED,
            received_at=W,
            vendor_code="DELIVRD",
            reference="r-1",
            raw={"mobile": "13800138000", "errorcode": "DELIVRD", "extno": ""},
        ),
        '{"provider": "ipyy", "mobile": "13800138000", "task_id": "T1", "received_at": '
        '"2025-11-26T12:00:00.250000+08:00", "ext": null, "raw": {"mobile": "13800138000", '
        '"errorcode": "DELIVRD", "extno": ""}, "status": "delivered", "vendor_code": "DELIVRD", '
        '"reference": "r-1"}',
    ),
    (
        InboundMessage(
            provider="ipyy",
            mobile="13800138000",
            text='你好 "quoted"\n\ttab',
            ext="7",
            raw={"content": "你好", "none": None},
        ),
        '{"provider": "ipyy", "mobile": "13800138000", "task_id": null, "received_at": null, '
        '"ext": "7", "raw": {"content": "你好", "none": null}, "text": "你好 \\"quoted\\"\\n\\ttab"}',
    ),
]


@pytest.mark.parametrize(("event", "payload"), PINNED)
def test_payloads_are_the_text_earlier_versions_stored(event: Event, payload: str) -> None:
    ((_, _, stored),) = encode([event])
    assert stored == payload


def test_a_plain_event_is_spelled_without_json_s_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: object) -> str:
        raise AssertionError("json's encoder was used")

    monkeypatch.setattr(journal_module, "_json", refuse)
    assert [row[2] for row in encode([event for event, _ in PINNED])] == [payload for _, payload in PINNED]


_TEXT = st.text(max_size=12)  # any code point, surrogates and controls included
_OPTIONAL = st.none() | _TEXT
#: Mostly flat dicts of text (what providers parse), sometimes anything else json may meet.
_RAW = (
    st.none()
    | st.dictionaries(_TEXT, _OPTIONAL, max_size=5)
    | st.dictionaries(_TEXT, st.integers() | st.floats() | st.lists(_TEXT, max_size=2), max_size=2)
    | st.dictionaries(st.integers() | st.booleans(), _TEXT, max_size=2)
    | st.lists(_TEXT, max_size=2)
    | _TEXT
    | st.integers()
)
_WHEN = st.none() | st.datetimes(timezones=st.timezones())


@st.composite
def _events(draw: st.DrawFn) -> Event:
    base = {
        "provider": draw(_TEXT),
        "mobile": draw(_TEXT),
        "task_id": draw(_OPTIONAL),
        "received_at": draw(_WHEN),
        "ext": draw(_OPTIONAL),
        "raw": draw(_RAW),
    }
    if draw(st.booleans()):
        return InboundMessage(text=draw(_TEXT), **base)
    status = draw(st.sampled_from(list(DeliveryStatus)))
    return DeliveryReport(status=status, vendor_code=draw(_OPTIONAL), reference=draw(_OPTIONAL), **base)


@given(_events())
def test_every_payload_is_what_json_dumps_makes_of_the_event_s_fields(event: Event) -> None:
    when = event.received_at.isoformat() if event.received_at else None
    data = journal_module._data(event, when)
    assert journal_module._dump(event, when) == json.dumps(data, ensure_ascii=False, default=str)


class _Shifted(dt.datetime):
    """A datetime whose own isoformat says something else: never taken from the last one spelled."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "shifted " + super().isoformat(sep, timespec)


def test_a_receive_time_is_spelled_as_isoformat_whatever_was_spelled_before() -> None:
    # The last receive time's text is used again only for an equal datetime in the same time
    # zone object and fold: these neighbours compare equal (or share the clock time) yet spell
    # differently.
    zone = zoneinfo.ZoneInfo("America/New_York")
    first = dt.datetime(2025, 11, 2, 1, 30, tzinfo=zone)  # 01:30 EDT; fold=1 is 01:30 EST
    utc = dt.datetime(2025, 11, 2, 5, 30, tzinfo=dt.UTC)  # the same instant
    cst = dt.timezone(dt.timedelta(hours=8), "CST")
    times = [
        first,
        first,
        first.replace(fold=1),
        first,
        utc,
        first,
        first.replace(tzinfo=None),
        first,
        _Shifted(2025, 11, 2, 1, 30, tzinfo=zone),
        first,
        dt.datetime(2025, 11, 26, 12, tzinfo=cst),
        dt.datetime(2025, 11, 26, 12, tzinfo=dt.timezone(dt.timedelta(hours=8), "CST")),
        dt.datetime(2025, 11, 26, 12, 0, 0, 1, tzinfo=cst),
    ]
    assert [journal_module._iso(when) for when in times] == [when.isoformat() for when in times]
    assert first == first.replace(fold=1)  # what a cache keyed on equality alone would mix up


@given(
    st.lists(st.sampled_from(range(4)), max_size=12),
    st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8)), zoneinfo.ZoneInfo("Asia/Shanghai")]),
)
def test_keys_of_events_received_at_repeated_times_are_the_keys_of_each_event(
    picks: list[int], zone: dt.tzinfo
) -> None:
    base = dt.datetime(2025, 11, 26, 12, tzinfo=zone)
    events: list[Event] = [
        attrs.evolve(report(pick), received_at=base + dt.timedelta(microseconds=pick % 2)) for pick in picks
    ]
    expected = [
        journal_module._key(event, event.received_at.isoformat() if event.received_at else "")
        for event in events
    ]
    assert [event_key(event) for event in events] == expected
    assert [row[0] for row in encode(events)] == expected
