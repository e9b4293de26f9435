"""Unreadable pushes (dead letters): a push the provider cannot parse is kept in the journal
before it is answered "retry", once per body however often it is delivered, and can be read
again once the parser is fixed (``Receiver.reparse_unreadable``), its events then stored and
dispatched once. The body (phone numbers, message texts) never shows in a log line, a repr or
an error.

Both journals (SQLite, and a real PostgreSQL through ``tests/pg_support.py``), the sync
receiver (``handle`` / ``handle_push`` / ``receive``) and the async batched path under a real
uvicorn (``ServerThread`` over a loopback socket), with ipyy (an unparseable XML body) and
Aliyun (a JSON batch one item of which is invalid: the whole batch is unreadable).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import DeliveryReport, InboundMessage
from smsgate.exceptions import ConfigurationError, JournalError, ValidationError
from smsgate.receiver import (
    EventState,
    Journal,
    PostgresJournal,
    Receiver,
    ServerThread,
    SQLiteJournal,
    UnreadablePush,
    UnreadableStore,
    _journal,
)
from smsgate.receiver._unreadable import unreadable_error, unreadable_key
from tests.test_journal_group_commit import report
from tests.test_journal_schema import _old_journal
from tests.test_receiver import OK, RETRY, JsonPushProvider, push_body
from tests.test_receiver_arguments import pull_only

Event = DeliveryReport | InboundMessage

# --- the pushes ---------------------------------------------------------------------------------

#: What must never show anywhere but in the journal: a phone number and a message text.
SECRET_MOBILE = "13912345678"
SECRET_TEXT = "meet-at-the-old-mill"


def ipyy() -> smsgate.Provider:
    return smsgate.get_provider("ipyy", account="a", password="p", userid="1")


def aliyun() -> smsgate.Provider:
    return smsgate.get_provider(
        "aliyun",
        access_key_id="LTAIunreadable0001",
        access_key_secret="UnreadableSecret77",
        sign_name="阿里云",
    )


#: An ipyy push the parser refuses (a callbox without its closing tags), holding a secret.
IPYY_GARBLED = (
    '<?xml version="1.0" encoding="utf-8" ?><returnsms><callbox><mobile>'
    f"{SECRET_MOBILE}</mobile><content>{SECRET_TEXT}</content><receivetime>2026-12-01 10:00"
).encode()


def ipyy_push(text: str, mobile: str = "13800138000") -> bytes:
    box = (
        f"<callbox><mobile>{mobile}</mobile><taskid></taskid><content>{text}</content>"
        "<receivetime>2026-12-01 10:00:00</receivetime><extno></extno></callbox>"
    )
    return f'<?xml version="1.0" encoding="utf-8" ?><returnsms>{box}</returnsms>'.encode()


def aliyun_item(mobile: str, biz_id: str, success: object = True) -> dict[str, Any]:
    return {
        "phone_number": mobile,
        "send_time": "2026-12-01 10:00:00",
        "report_time": "2026-12-01 10:00:05",
        "success": success,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": "order-1",
    }


#: An Aliyun report batch of three: the second item's ``success`` is the string "true" (not
#: JSON's true), which makes the whole array unreadable for the stock parser.
ALIYUN_BATCH = json.dumps(
    [
        aliyun_item("13800000001", "900001^0"),
        aliyun_item(SECRET_MOBILE, "900002^0", success="true"),
        aliyun_item("13800000003", "900003^0"),
    ]
).encode()
ALIYUN_MOBILES = ["13800000001", SECRET_MOBILE, "13800000003"]


def lenient(provider: smsgate.Provider) -> Callable[[bytes, str | None], list[Event]]:
    """A fixed parser for ``provider`` (Aliyun): ``success`` given as "true" / "false" is read
    as the boolean, then the stock parser reads the batch."""
    stock = provider.parse_callback

    def parse(body: bytes, content_type: str | None = None) -> list[Event]:
        items = json.loads(body)
        for item in items:
            if isinstance(item.get("success"), str):
                item["success"] = item["success"] == "true"
        return list(stock(json.dumps(items).encode(), content_type))

    return parse


def no_secret_in(text: str) -> bool:
    return SECRET_MOBILE not in text and SECRET_TEXT not in text


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's rendered message and arguments, as a reporter would see them."""
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)


class Seen:
    """A handler recording the events it was given (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)


# --- the journals -------------------------------------------------------------------------------

Opener = Callable[[], Any]


@pytest.fixture(params=["sqlite", "postgres"])
def open_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens journals on one store (the same file, or the same database); closes them after."""
    opened: list[Any] = []
    if request.param == "sqlite":

        def opener() -> Any:
            opened.append(SQLiteJournal(tmp_path / "journal.sqlite3"))
            return opened[-1]
    else:
        url: str = request.getfixturevalue("postgres_url")

        def opener() -> Any:
            opened.append(PostgresJournal(url))
            return opened[-1]

    yield opener
    for journal in opened:
        journal.close()


def test_both_journals_are_unreadable_stores(open_journal: Opener) -> None:
    assert isinstance(open_journal(), UnreadableStore)


def test_one_body_delivered_three_times_is_one_record_counting_its_deliveries(open_journal: Opener) -> None:
    journal = open_journal()
    before = dt.datetime.now(dt.UTC)
    keys = [
        journal.record_unreadable("ipyy", IPYY_GARBLED, "text/xml", f"ValidationError: try {n}")
        for n in range(3)
    ]
    after = dt.datetime.now(dt.UTC)
    assert keys == [unreadable_key("ipyy", IPYY_GARBLED)] * 3
    [kept] = journal.unreadable()
    assert kept.key == keys[0]
    assert (kept.provider, kept.content_type, kept.body) == ("ipyy", "text/xml", IPYY_GARBLED)
    assert (kept.deliveries, kept.error) == (3, "ValidationError: try 2")  # the last error
    assert kept.first_seen.utcoffset() == dt.timedelta(0) == kept.last_seen.utcoffset()
    assert (
        before - dt.timedelta(seconds=1)
        <= kept.first_seen
        <= kept.last_seen
        <= after + dt.timedelta(seconds=1)
    )


def test_the_key_is_over_provider_and_body_and_records_are_oldest_first(open_journal: Opener) -> None:
    journal = open_journal()
    first = journal.record_unreadable("ipyy", b"<a", None, "E: one")
    other_provider = journal.record_unreadable("aliyun", b"<a", None, "E: two")
    other_body = journal.record_unreadable("ipyy", b"<b", None, "E: three")
    assert len({first, other_provider, other_body}) == 3
    assert [p.key for p in journal.unreadable()] == [first, other_provider, other_body]
    journal.record_unreadable("ipyy", b"<a", "text/plain", "E: again")  # stays first
    assert [p.key for p in journal.unreadable()] == [first, other_provider, other_body]


def test_any_bytes_and_awkward_error_texts_round_trip_and_survive_reopening(open_journal: Opener) -> None:
    body = bytes(range(256)) + IPYY_GARBLED  # not UTF-8, NUL included
    journal = open_journal()
    key = journal.record_unreadable("ipyy", memoryview(body), None, "ValueError: nul \x00 and \udc80")
    journal.close()
    [kept] = open_journal().unreadable()
    assert (kept.key, kept.body, kept.content_type) == (key, body, None)
    assert kept.error == "ValueError: nul \\x00 and \\udc80"


def test_discard_and_update_find_a_record_by_its_key(open_journal: Opener) -> None:
    journal = open_journal()
    key = journal.record_unreadable("ipyy", IPYY_GARBLED, None, "E: before")
    assert journal.update_unreadable(key, "E: after") is True
    [kept] = journal.unreadable()
    assert (kept.error, kept.deliveries) == ("E: after", 1)  # not a delivery
    assert journal.update_unreadable("0" * 64, "E: x") is False
    assert journal.discard_unreadable(key) is True
    assert journal.discard_unreadable(key) is False
    assert journal.unreadable() == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda j: j.record_unreadable("ipyy", IPYY_GARBLED.decode(), None, "E"), "body"),
        (lambda j: j.record_unreadable("", IPYY_GARBLED, None, "E"), "provider"),
        (lambda j: j.record_unreadable(None, IPYY_GARBLED, None, "E"), "provider"),
        (lambda j: j.record_unreadable("ipyy", IPYY_GARBLED, b"text/xml", "E"), "content_type"),
        (lambda j: j.record_unreadable("ipyy", IPYY_GARBLED, None, None), "error"),
        (lambda j: j.discard_unreadable(5), "key"),
        (lambda j: j.update_unreadable(None, "E"), "key"),
        (lambda j: j.update_unreadable("k", 5), "error"),
    ],
)
def test_wrong_arguments_are_validation_errors_that_never_quote_the_body(
    open_journal: Opener, call: Callable[[Any], object], field: str
) -> None:
    journal = open_journal()
    with pytest.raises(ValidationError) as caught:
        call(journal)
    assert caught.value.field == field
    assert no_secret_in(str(caught.value))
    assert no_secret_in(repr(caught.value))
    assert journal.unreadable() == []


def test_a_sqlite_journal_made_before_dead_letters_keeps_working_and_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_journal(path, [report(1), report(2)])
    with SQLiteJournal(path) as journal:
        assert journal.unreadable() == []
        key = journal.record_unreadable("ipyy", IPYY_GARBLED, None, "E: x")
        assert journal.pending() == [report(1)]  # the old events are there (2 was deleted)
        assert journal.record([report(3)]) == [report(3)]
    with SQLiteJournal(path) as journal:
        assert [p.key for p in journal.unreadable()] == [key]


def test_the_sqlite_record_is_committed_with_synchronous_full_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as journal:
        assert journal._conn is not None
        assert journal._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        key = journal.record_unreadable("ipyy", IPYY_GARBLED, None, "E: x")
        with sqlite3.connect(path) as other:  # another connection sees it: committed
            assert other.execute("SELECT key, deliveries FROM smsgate_unreadable").fetchall() == [(key, 1)]


def test_a_postgres_journal_made_before_dead_letters_gets_the_table(postgres_url: str) -> None:
    import psycopg

    PostgresJournal(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE smsgate_unreadable")
    journal = PostgresJournal(postgres_url)
    try:
        assert journal.unreadable() == []
        journal.record_unreadable("ipyy", IPYY_GARBLED, None, "E: x")
        assert len(journal.unreadable()) == 1
    finally:
        journal.close()


# --- the model ----------------------------------------------------------------------------------


def test_the_repr_of_a_kept_push_shows_the_bodys_size_never_the_body() -> None:
    when = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    push = UnreadablePush(
        key="k" * 64,
        provider="ipyy",
        content_type="text/xml",
        body=IPYY_GARBLED,
        error="ValidationError: bad",
        first_seen=when,
        last_seen=when,
        deliveries=2,
    )
    shown = repr(push)
    assert no_secret_in(shown)
    assert f"body=<{len(IPYY_GARBLED)} bytes>" in shown
    assert "deliveries=2" in shown
    assert "'ipyy'" in shown
    with pytest.raises(AttributeError):
        push.deliveries = 3  # type: ignore[misc]  # frozen


def test_the_repr_and_str_never_show_the_errors_message_which_can_quote_a_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parse error quoting one field of the body (ipyy's "'…' is not a number" on a phone
    number) is kept whole, but a repr or str() of the kept push shows its class and size only."""
    provider = ipyy()

    def quoting(body: bytes, content_type: str | None = None) -> list[Event]:
        raise ValidationError(f"{SECRET_MOBILE!r} is not a number", field="body")

    monkeypatch.setattr(provider, "parse_callback", quoting)
    with Receiver(provider, Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        receiver.handle(IPYY_GARBLED)
        [kept] = receiver.unreadable()
    assert SECRET_MOBILE in kept.error  # kept for whoever reads the journal
    assert kept.error_class == "ValidationError"
    for shown in (repr(kept), str(kept), repr([kept]), f"{kept}"):
        assert no_secret_in(shown)
        assert "error=<ValidationError>" in shown
        assert f"body=<{len(IPYY_GARBLED)} bytes>" in shown


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("KeyError: 'biz_id'", "KeyError"),
        ("smsgate.exceptions.ValidationError: x", "smsgate.exceptions.ValidationError"),
        ("ValueError", "ValueError"),
        (f"call {SECRET_MOBILE}: no", ""),  # not a class name: nothing of it
        (f"{SECRET_MOBILE}", ""),
        ("", ""),
    ],
)
def test_the_error_class_is_the_text_up_to_the_first_colon_when_it_is_a_class_name(
    error: str, shown: str
) -> None:
    when = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    push = UnreadablePush(
        key="k", provider="p", content_type=None, body=b"", error=error, first_seen=when, last_seen=when
    )
    assert push.error_class == shown
    assert f"error=<{shown or 'error'}>" in repr(push)
    assert no_secret_in(repr(push))


def test_the_kept_error_never_quotes_the_body() -> None:
    body = IPYY_GARBLED
    assert unreadable_error(ValueError(f"cannot read {body.decode()}"), body) == (
        "ValueError: (message not kept: it quotes the push)"
    )
    assert unreadable_error(ValueError(f"cannot read {body!r}"), body) == (
        "ValueError: (message not kept: it quotes the push)"
    )
    assert unreadable_error(ValidationError("item 1 is invalid", field="body"), body) == (
        "ValidationError: item 1 is invalid"
    )

    class Unrenderable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert unreadable_error(Unrenderable(), body) == "Unrenderable: (message not renderable)"
    assert len(unreadable_error(ValueError("x" * 5000), body)) == 1000


# --- the receiver, sync -------------------------------------------------------------------------


def test_an_unreadable_ipyy_push_is_kept_once_across_deliveries_then_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    with Receiver(ipyy(), seen, journal=tmp_path / "j.sqlite3") as receiver:
        retry = receiver.provider.callback_reply(False)
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            assert receiver.handle(IPYY_GARBLED, "text/xml") == retry
            assert receiver.handle_push(IPYY_GARBLED, None).reply == retry
            intake = receiver.receive(IPYY_GARBLED, "application/xml")
        assert (intake.reply, intake.stored, intake.new) == (retry, False, ())
        [kept] = receiver.unreadable()
        assert (kept.provider, kept.body, kept.deliveries) == ("ipyy", IPYY_GARBLED, 3)
        assert kept.content_type == "application/xml"  # the last delivery's
        assert kept.error.startswith("ValidationError: ")
        assert no_secret_in(kept.error)
        assert seen.events == []
        assert receiver.journal.pending() == []
        assert no_secret_in(repr(receiver.unreadable()))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # one per delivery, as before
    assert all(
        "kept as unreadable push" in r.getMessage() and kept.key[:12] in r.getMessage() for r in warnings
    )
    assert no_secret_in(logged(caplog))
    assert no_secret_in(repr(kept))


def test_an_aliyun_batch_with_one_invalid_item_is_kept_then_read_by_a_fixed_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    provider = aliyun()
    with Receiver(provider, seen, journal=tmp_path / "j.sqlite3") as receiver:
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            for _ in range(3):
                reply = receiver.handle(ALIYUN_BATCH, "application/json")
                assert (reply.status_code, reply.body) == (500, provider.callback_reply(False).body)
        [kept] = receiver.unreadable()
        assert (kept.deliveries, kept.body) == (3, ALIYUN_BATCH)
        assert "item 1" in kept.error
        assert receiver.reparse_unreadable() == 0  # the parser still cannot read it
        assert receiver.unreadable()[0].deliveries == 3  # a re-read is no delivery
        assert seen.events == []

        monkeypatch.setattr(provider, "parse_callback", lenient(provider))
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            assert receiver.reparse_unreadable() == 1
        assert [e.mobile for e in seen.events] == ALIYUN_MOBILES  # every item, once
        assert receiver.unreadable() == []
        assert isinstance(receiver.journal, SQLiteJournal)
        assert [e.state for e in receiver.journal.entries()] == [EventState.DONE] * 3
        assert receiver.reparse_unreadable() == 0
        # The vendor's next delivery of the batch is now read, and is a re-delivery.
        assert receiver.handle(ALIYUN_BATCH, "application/json") == provider.callback_reply(True)
        assert len(seen.events) == 3
    assert no_secret_in(logged(caplog))


def test_a_push_still_unreadable_at_reparse_stays_with_its_new_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = aliyun()
    with Receiver(provider, Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        receiver.handle(ALIYUN_BATCH)

        def still_broken(body: bytes, content_type: str | None = None) -> list[Event]:
            raise KeyError("biz_id")

        monkeypatch.setattr(provider, "parse_callback", still_broken)
        assert receiver.reparse_unreadable() == 0
        [kept] = receiver.unreadable()
        assert (kept.error, kept.deliveries) == ("KeyError: 'biz_id'", 1)


def test_reparse_leaves_other_providers_pushes_and_dispatches_pulled_style(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with SQLiteJournal(path) as journal:
        journal.record_unreadable("someone-else", push_body("13800000009"), None, "E: theirs")
        journal.record_unreadable("jsonpush", push_body("13800000001", "13800000002"), None, "E: was broken")
        seen = Seen()
        receiver = Receiver(JsonPushProvider(), seen, journal=journal)
        assert receiver.reparse_unreadable() == 1
        assert [e.mobile for e in seen.events] == ["13800000001", "13800000002"]
        assert [p.provider for p in receiver.unreadable()] == ["someone-else"]
        receiver.close()


def test_discard_unreadable_on_the_receiver(tmp_path: Path) -> None:
    with Receiver(ipyy(), Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        receiver.handle(IPYY_GARBLED)
        [kept] = receiver.unreadable()
        assert receiver.discard_unreadable(kept.key) is True
        assert receiver.discard_unreadable(kept.key) is False
        assert receiver.unreadable() == []
        with pytest.raises(ValidationError) as caught:
            receiver.discard_unreadable(kept)  # type: ignore[arg-type]  # the push, not its key
        assert caught.value.field == "key"
        assert no_secret_in(str(caught.value))


def test_reparse_refuses_a_provider_that_cannot_parse_pushes(tmp_path: Path) -> None:
    with Receiver(pull_only(), Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ConfigurationError):
            receiver.reparse_unreadable()


class _KeepFails(SQLiteJournal):
    """A SQLite journal whose dead-letter write fails."""

    def _keep_unreadable(self, *args: object, **kwargs: object) -> bool:
        raise JournalError("journal write failed (OperationalError: disk I/O error)")


def test_a_dead_letter_that_cannot_be_written_is_still_answered_retry_with_an_error_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = _KeepFails(tmp_path / "j.sqlite3")
    with Receiver(ipyy(), Seen(), journal=journal) as receiver:
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            assert receiver.handle(IPYY_GARBLED) == receiver.provider.callback_reply(False)
        assert receiver.unreadable() == []
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "not kept (JournalError: " in error.getMessage()
    assert "disk I/O error" in error.getMessage()
    assert no_secret_in(logged(caplog))
    journal.close()


class OwnJournal:
    """An application's journal: the Journal protocol only (no dead letters)."""

    def __init__(self, path: Path) -> None:
        self._inner = SQLiteJournal(path)

    def record(self, events: Sequence[Event]) -> list[Event]:
        return self._inner.record(events)

    def mark_done(self, event: Event) -> None:
        self._inner.mark_done(event)

    def mark_failed(self, event: Event, error: str) -> None:
        self._inner.mark_failed(event, error)

    def state(self, event: Event) -> EventState | None:
        return self._inner.state(event)

    def pending(self) -> list[Event]:
        return self._inner.pending()

    def close(self) -> None:
        self._inner.close()


def test_a_journal_without_dead_letters_answers_retry_as_before_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = OwnJournal(tmp_path / "j.sqlite3")
    assert isinstance(journal, Journal)
    assert not isinstance(journal, UnreadableStore)
    with Receiver(JsonPushProvider(), Seen(), journal=journal) as receiver:
        with caplog.at_level(logging.WARNING, logger="smsgate"):
            assert receiver.handle(b"not json " + SECRET_MOBILE.encode()).body == RETRY
            assert receiver.handle(b"still not json").body == RETRY
        assert receiver.unreadable() == []
        assert receiver.discard_unreadable("0" * 64) is False
        assert receiver.reparse_unreadable() == 0
    messages = [r.getMessage() for r in caplog.records]
    assert sum("rejected" in m for m in messages) == 2
    assert sum("cannot keep unreadable pushes" in m for m in messages) == 1
    assert no_secret_in(logged(caplog))
    journal.close()


def test_the_receiver_keeps_and_reads_again_with_a_postgres_journal(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = aliyun()
    seen = Seen()
    journal = PostgresJournal(postgres_url)
    try:
        with Receiver(provider, seen, journal=journal) as receiver:
            for _ in range(3):
                assert receiver.handle(ALIYUN_BATCH) == provider.callback_reply(False)
            [kept] = receiver.unreadable()
            assert (kept.deliveries, kept.body) == (3, ALIYUN_BATCH)
            monkeypatch.setattr(provider, "parse_callback", lenient(provider))
            assert receiver.reparse_unreadable() == 1
            assert [e.mobile for e in seen.events] == ALIYUN_MOBILES
            assert receiver.unreadable() == []
            assert receiver.journal.pending() == []
    finally:
        journal.close()


# --- the receiver, async ------------------------------------------------------------------------


def _kept_on_disk(path: Path) -> list[tuple[bytes, int]]:
    """The dead letters another connection reads: only what was committed."""
    with sqlite3.connect(path) as other:
        return [
            (bytes(body), n) for body, n in other.execute("SELECT body, deliveries FROM smsgate_unreadable")
        ]


def _threads_keeping_unreadable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that build a SQLite journal's unreadable-push writes, as
    they build them (the journal's writer is wrapped for the test)."""
    batched: list[str] = []
    write = SQLiteJournal._unreadable_write

    def spy(*args: Any, **kwargs: Any) -> Any:
        batched.append(threading.current_thread().name)
        return write(*args, **kwargs)

    monkeypatch.setattr(SQLiteJournal, "_unreadable_write", staticmethod(spy))
    return batched


def test_an_aliyun_batch_served_by_uvicorn_is_kept_before_each_retry_then_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """End to end over a loopback socket, through the intake thread's batched commit: each
    "retry" reply arrives only once the delivery is counted on disk."""
    batched = _threads_keeping_unreadable(monkeypatch)
    path = tmp_path / "j.sqlite3"
    provider = aliyun()
    seen = Seen()
    with (
        caplog.at_level(logging.DEBUG, logger="smsgate"),
        Receiver(provider, seen, journal=path) as receiver,
        ServerThread(receiver.asgi_app()) as server,
        httpx.Client(timeout=10) as client,
    ):
        assert server.url.startswith("http://127.0.0.1:")
        for n in range(1, 4):
            reply = client.post(
                server.url, content=ALIYUN_BATCH, headers={"content-type": "application/json"}
            )
            assert (reply.status_code, reply.content) == (500, provider.callback_reply(False).body)
            assert _kept_on_disk(path) == [(ALIYUN_BATCH, n)]
        assert len(batched) == 3
        assert all(name.endswith("-intake") for name in batched)
        assert seen.events == []

        monkeypatch.setattr(provider, "parse_callback", lenient(provider))
        assert asyncio.run(receiver.areparse_unreadable()) == 1
        assert [e.mobile for e in seen.events] == ALIYUN_MOBILES
        assert receiver.unreadable() == []
        reply = client.post(server.url, content=ALIYUN_BATCH)  # read now: a re-delivery
        assert (reply.status_code, reply.content) == (200, provider.callback_reply(True).body)
    assert len(seen.events) == 3
    assert no_secret_in(logged(caplog))


def test_an_unreadable_ipyy_push_served_by_uvicorn_is_kept_and_a_readable_one_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    seen = Seen()
    with (
        caplog.at_level(logging.DEBUG, logger="smsgate"),
        Receiver(ipyy(), seen, journal=path) as receiver,
        ServerThread(receiver.asgi_app()) as server,
        httpx.Client(timeout=10) as client,
    ):
        for _ in range(3):
            reply = client.post(server.url, content=IPYY_GARBLED)
            assert reply.content == receiver.provider.callback_reply(False).body
        assert client.post(server.url, content=ipyy_push("hello")).content == b"1"
        [kept] = receiver.unreadable()
        assert (kept.body, kept.deliveries) == (IPYY_GARBLED, 3)
    assert [getattr(e, "text", None) for e in seen.events] == ["hello"]
    assert no_secret_in(logged(caplog))


async def test_an_unreadable_push_rides_in_the_commit_of_its_batch(tmp_path: Path) -> None:
    """Pushes handed over together are committed together, the dead letter with the events."""
    with Receiver(JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        journal = receiver.journal
        assert isinstance(journal, SQLiteJournal)
        assert journal._conn is not None
        statements: list[str] = []
        journal._conn.set_trace_callback(statements.append)
        bodies = [push_body("13800000001"), b"not json " + SECRET_MOBILE.encode(), push_body("13800000002")]
        results = await asyncio.gather(*(receiver._aserve_push(body, None) for body in bodies))
        journal._conn.set_trace_callback(None)
        assert [r.reply.body for r in results] == [OK, RETRY, OK]
        assert statements.count("COMMIT") == 1
        assert [p.deliveries for p in receiver.unreadable()] == [1]


async def test_a_batched_dead_letter_that_cannot_be_written_is_answered_retry_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        def job(conn: sqlite3.Connection) -> str:
            raise sqlite3.OperationalError("disk I/O error")

        return _journal._Write(job)

    monkeypatch.setattr(SQLiteJournal, "_unreadable_write", staticmethod(failing))
    with Receiver(JsonPushProvider(), Seen(), journal=tmp_path / "j.sqlite3") as receiver:
        with caplog.at_level(logging.DEBUG, logger="smsgate"):
            bodies = [push_body("13800000001"), b"not json " + SECRET_MOBILE.encode()]
            results = await asyncio.gather(*(receiver._aserve_push(body, None) for body in bodies))
        assert [r.reply.body for r in results] == [OK, RETRY]
        assert receiver.unreadable() == []
        assert [e.mobile for e in receiver.journal.pending()] in ([], ["13800000001"])  # stored
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "not kept (JournalError: " in error.getMessage()
    assert "disk I/O error" in error.getMessage()
    assert no_secret_in(logged(caplog))


def test_with_an_async_handler_ahandle_push_keeps_the_push_through_the_batched_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A coroutine handler takes ``ahandle_push`` (``areceive`` through the intake thread):
    the dead letter is kept in the batch's commit there too, and read again asynchronously."""
    batched = _threads_keeping_unreadable(monkeypatch)
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.mobile)

    provider = aliyun()
    path = tmp_path / "j.sqlite3"
    with (
        Receiver(provider, handler, journal=path) as receiver,
        ServerThread(receiver.asgi_app()) as server,
        httpx.Client(timeout=10) as client,
    ):
        for n in range(1, 4):
            assert client.post(server.url, content=ALIYUN_BATCH).status_code == 500
            assert _kept_on_disk(path) == [(ALIYUN_BATCH, n)]
        assert len(batched) == 3
        assert all(name.endswith("-intake") for name in batched)
        monkeypatch.setattr(provider, "parse_callback", lenient(provider))
        assert asyncio.run(receiver.areparse_unreadable()) == 1
        assert seen == ALIYUN_MOBILES
        assert receiver.unreadable() == []


def test_reparse_without_dispatch_leaves_the_events_pending_for_redispatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dispatch=False`` (what ``smsgate unreadable --reparse`` uses): stored, no hook, no
    handler; the next redispatch hands them over."""
    provider = aliyun()
    seen = Seen()
    observed: list[object] = []
    with Receiver(provider, seen, journal=tmp_path / "j.sqlite3") as receiver:
        receiver.handle(ALIYUN_BATCH)
        monkeypatch.setattr(provider, "parse_callback", lenient(provider))
        monkeypatch.setattr(smsgate._plugins, "notify_event", observed.append)
        assert receiver.reparse_unreadable(dispatch=False) == 1
        assert asyncio.run(receiver.areparse_unreadable(dispatch=False)) == 0
        assert (seen.events, observed) == ([], [])
        assert [e.mobile for e in receiver.journal.pending()] == ALIYUN_MOBILES
        assert receiver.unreadable() == []
        monkeypatch.undo()
        assert receiver.redispatch() == 3
    assert [e.mobile for e in seen.events] == ALIYUN_MOBILES
