"""smsgate.celery in one process: the JSON codec, the retry mapping, the idempotency store on a
real Redis, and the send task run eagerly (``task_always_eager``) over the in-memory provider.

The task's behaviour across real worker processes is in ``test_celery_workers.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from celery import Celery

import smsgate
import smsgate.celery
from smsgate import BreakerPolicy, Gateway, Mms, MmsPart, RetryPolicy, Sms
from smsgate.celery import (
    IdempotencyStore,
    IdempotencyStoreError,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    decide,
    decode_message,
    encode_message,
)
from smsgate.exceptions import (
    AllProvidersFailedError,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    ContentError,
    InsufficientBalanceError,
    InvalidRecipientError,
    MalformedReplyError,
    NotSentError,
    PartialSendError,
    ProviderOutageError,
    RateLimitedError,
    SmsGateError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate.testing import InMemoryProvider

SMS = Sms(to="13800138000", text="code 1234【shop】")

# --- the codec -------------------------------------------------------------------------------


MESSAGES: list[Any] = [
    SMS,
    Sms(
        to=["13800138000", "+8613900139000"],
        text="你好【店】",
        template="verify",
        params={"code": "0123", "name": "Ann"},
        reference="order-17",
        send_at=dt.datetime(2027, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        ext="12",
    ),
    Mms(
        to="13800138000",
        subject="photo",
        parts=[MmsPart(name="a.txt", data="hi".encode("gbk")), MmsPart(name="b.jpg", data=bytes(range(256)))],
        send_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    ),
    (SMS, Sms(to="13800138001", text="second【shop】")),
]


@pytest.mark.parametrize("message", MESSAGES, ids=["sms", "sms-all-fields", "mms", "batch"])
def test_codec_round_trips_through_json(message: Any) -> None:
    """Every message survives encode → JSON text → decode unchanged (a batch as a tuple)."""
    wire = json.dumps(encode_message(message))
    assert decode_message(json.loads(wire)) == message


def test_codec_takes_a_list_as_a_batch() -> None:
    """A list of Sms is a batch; it comes back as a tuple."""
    assert decode_message(encode_message([SMS, SMS])) == (SMS, SMS)


def test_mms_bytes_travel_as_base64() -> None:
    """Binary parts are base64 in the JSON, so no byte is lost or mangled."""
    data = encode_message(MESSAGES[2])
    assert base64.b64decode(data["parts"][1]["data"]) == bytes(range(256))


@pytest.mark.parametrize(
    "bad",
    [
        "a string",
        [],
        ["not an sms"],
        [SMS, Mms(to="13800138000", parts=[MmsPart(name="a.txt", data=b"x")])],
        42,
    ],
)
def test_encode_refuses_what_is_not_a_message(bad: Any) -> None:
    """Only an Sms, an Mms or a non-empty list of Sms can be enqueued."""
    with pytest.raises(ValidationError):
        encode_message(bad)


GOOD = encode_message(SMS)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "text",
        {**GOOD, "v": 2},
        {**GOOD, "kind": "fax"},
        {**GOOD, "extra": 1},
        {**GOOD, "to": []},
        {**GOOD, "to": "not a number"},
        {**GOOD, "params": ["x"]},
        {**GOOD, "send_at": "yesterday"},
        {**GOOD, "send_at": "2027-01-01T00:00:00"},  # naive: refused by the model
        {"v": 1, "kind": "batch", "messages": []},
        {"v": 1, "kind": "batch", "messages": [{"to": ["13800138000"]}]},
        {**encode_message(MESSAGES[2]), "parts": [{"name": "a.txt", "data": "@@@", "content_type": None}]},
        {**encode_message(MESSAGES[2]), "parts": [{"name": 3, "data": "", "content_type": None}]},
        {**encode_message(MESSAGES[2]), "parts": "x"},
    ],
)
def test_decode_raises_only_validation_errors(bad: Any) -> None:
    """Whatever a broker hands the worker, decoding raises ValidationError or succeeds."""
    with pytest.raises(ValidationError):
        decode_message(bad)


# --- the retry mapping -----------------------------------------------------------------------


def _all_failed(*errors: SmsGateError) -> AllProvidersFailedError:
    return AllProvidersFailedError("every provider failed", list(errors))


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (NotSentError("connect refused"), "retry"),
        (CircuitOpenError("breaker open"), "retry"),
        (RateLimitedError("slow down", retry_after=2.0), "retry"),
        (ProviderOutageError("HTTP 503"), "retry"),
        (_all_failed(ProviderOutageError("503"), AuthenticationError("pw")), "retry"),
        (_all_failed(AuthenticationError("pw"), InsufficientBalanceError("poor")), "refused"),
        (ContentError("blocked word"), "refused"),
        (InvalidRecipientError("bad number"), "refused"),
        (ValidationError("bad input"), "refused"),
        (AuthenticationError("pw"), "refused"),
        (InsufficientBalanceError("poor"), "refused"),
        (ConfigurationError("no provider"), "refused"),
        (UncertainOutcomeError("read timeout"), "uncertain"),
        (MalformedReplyError("garbage"), "uncertain"),
        (_all_failed(NotSentError("x"), UncertainOutcomeError("y")), "uncertain"),
        (RuntimeError("a bug"), "uncertain"),
        (
            PartialSendError("half", receipts=[], pending=[SMS], cause=NotSentError("x")),
            "partial",
        ),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else value,
)
def test_retry_mapping(error: BaseException, decision: str) -> None:
    """Retry only what surely did not go out or was refused with "try again"; never an
    uncertain outcome, never a refusal about the message or the account."""
    assert decide(error) == decision


# --- the idempotency store (real Redis, and the in-memory one with the same rules) -----------


@pytest.fixture(params=["redis", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[IdempotencyStore]:
    """Each store, empty."""
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisIdempotencyStore(url, ttl=600)
    yield redis_store
    redis_store.close()


def test_first_claim_wins_and_the_second_sees_no_outcome(store: IdempotencyStore) -> None:
    """SET NX: one claim gets a token; a later one gets none and no outcome (uncertain)."""
    first = store.claim("k")
    second = store.claim("k")
    assert first.claimed
    assert first.token
    assert not second.claimed
    assert second.outcome is None


def test_a_recorded_outcome_is_returned_to_later_claims(store: IdempotencyStore) -> None:
    """After record(), a claim of the same key returns the outcome instead of a token."""
    token = store.claim("k").token
    assert token is not None
    assert store.record("k", token, {"outcome": "accepted", "key": "k"})
    again = store.claim("k")
    assert (again.token, again.outcome) == (None, {"outcome": "accepted", "key": "k"})


def test_record_and_release_compare_the_token(store: IdempotencyStore) -> None:
    """Another delivery's token neither records nor releases; the owner's releases."""
    token = store.claim("k").token
    assert token is not None
    assert not store.record("k", "someone-else", {"outcome": "accepted"})
    assert not store.release("k", "someone-else")
    assert store.release("k", token)
    assert store.claim("k").claimed, "the released key could not be claimed again"


def test_a_recorded_claim_is_never_released(store: IdempotencyStore) -> None:
    """Once an outcome is recorded the key stays, even for its owner's release."""
    token = store.claim("k").token
    assert token is not None
    store.record("k", token, {"outcome": "uncertain"})
    assert not store.release("k", token)
    assert store.claim("k").outcome == {"outcome": "uncertain"}


def test_mark_uncertain_keeps_the_owner_able_to_record(store: IdempotencyStore) -> None:
    """A redelivery marks an unrecorded claim uncertain; the original delivery, if it was
    still running, then records its real outcome over it."""
    token = store.claim("k").token
    assert token is not None
    assert store.mark_uncertain("k", {"outcome": "uncertain"})
    assert not store.mark_uncertain("k", {"outcome": "uncertain", "second": True})
    assert store.record("k", token, {"outcome": "accepted"})
    assert store.claim("k").outcome == {"outcome": "accepted"}


def test_redis_keys_expire(redis_url: str) -> None:
    """The claim carries the store's TTL, and recording keeps it."""
    import redis

    store = RedisIdempotencyStore(redis_url, ttl=321)
    token = store.claim("k").token
    assert token is not None
    store.record("k", token, {"outcome": "accepted"})
    with redis.Redis.from_url(redis_url) as client:
        ttl = client.ttl("smsgate:idem:k")
    assert 0 < ttl <= 321
    store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_redis_is_an_idempotency_store_error() -> None:
    """A Redis that cannot be reached raises IdempotencyStoreError, whose text has no URL."""
    store = RedisIdempotencyStore(f"redis://:hunter2@127.0.0.1:{_closed_port()}/0", timeout=1)
    with pytest.raises(IdempotencyStoreError) as info:
        store.claim("k")
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(store)


# --- the task, run eagerly --------------------------------------------------------------------


class Eager:
    """A Celery app running the send task in this process, over an in-memory provider."""

    def __init__(self, store: IdempotencyStore, *, max_retries: int = 3) -> None:
        self.provider = InMemoryProvider("mem")
        self.store = store
        self.app = Celery(f"eager-{id(self)}", broker="memory://", set_as_current=False)
        self.app.conf.task_always_eager = True
        smsgate.celery.install(
            self.app,
            gateway=lambda: Gateway(
                self.provider, retry=RetryPolicy(attempts=1), breaker=BreakerPolicy.off()
            ),
            idempotency=store,
            max_retries=max_retries,
            retry_backoff=0.01,
            retry_backoff_max=0.01,
        )

    def gateway(self) -> Gateway:
        """One attempt per send (the task's retries are under test), no breaker."""
        return Gateway(self.provider, retry=RetryPolicy(attempts=1), breaker=BreakerPolicy.off())

    def send(self, message: Any = SMS, key: str = "k-1") -> dict[str, Any]:
        result: dict[str, Any] = smsgate.celery.enqueue(message, key=key, app=self.app).get()
        return result


@pytest.fixture
def eager(redis_url: str) -> Iterator[Callable[..., Eager]]:
    """Builds Eager apps on a fresh Redis database; closes their gateways after the test."""
    stores: list[RedisIdempotencyStore] = []

    def build(**options: Any) -> Eager:
        stores.append(RedisIdempotencyStore(redis_url, ttl=600))
        return Eager(stores[-1], **options)

    yield build
    smsgate.celery.close_worker_gateways()
    for item in stores:
        item.close()


class Uncertain:
    """Records send_uncertain calls."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_uncertain(self, key: str, message: Any, error: Any, result: Any) -> None:
        self.calls.append({"key": key, "message": message, "error": error, "result": result})


def test_accepted_result_is_json_with_the_receipt(eager: Callable[..., Eager]) -> None:
    """An accepted send returns its receipt as JSON data and records it under the key."""
    app = eager()
    result = app.send()
    assert result["outcome"] == "accepted"
    assert result["key"] == "k-1"
    assert result["kind"] == "sms"
    assert result["receipt"]["provider"] == "mem"
    assert result["receipt"]["accepted"] == 1
    json.dumps(result)
    assert app.store.get("k-1")["outcome"] == result  # type: ignore[index]


@pytest.mark.parametrize("message", MESSAGES[2:], ids=["mms", "batch"])
def test_mms_and_batch_are_sent(eager: Callable[..., Eager], message: Any) -> None:
    """An Mms goes through send_mms, a batch through send_batch (one receipt per request)."""
    app = eager()
    result = app.send(message)
    assert result["outcome"] == "accepted", result
    assert app.provider.calls["send_mms" if isinstance(message, Mms) else "send_batch"] == 1


def test_outcome_reads_the_store(eager: Callable[..., Eager]) -> None:
    """smsgate.celery.outcome(key) is the recorded result; None before the send."""
    app = eager()
    assert smsgate.celery.outcome("k-1", app=app.app) is None
    result = app.send()
    assert smsgate.celery.outcome("k-1", app=app.app) == result


def test_same_key_twice_sends_once(eager: Callable[..., Eager]) -> None:
    """A second delivery with the key returns the recorded outcome and sends nothing."""
    app = eager()
    first = app.send()
    second = app.send()
    assert len(app.provider.outbox) == 1
    assert second == {**first, "redelivered": True}


def test_not_sent_is_retried_then_accepted(eager: Callable[..., Eager]) -> None:
    """A surely-not-sent failure releases the claim and retries; the retry sends."""
    app = eager()
    app.provider.fail_next(NotSentError("connection refused"))
    result = app.send()
    assert (result["outcome"], result["retries"]) == ("accepted", 1), result
    assert app.provider.calls["send"] == 2
    assert len(app.provider.outbox) == 1


@pytest.mark.parametrize(
    "error", [RateLimitedError("slow down"), ProviderOutageError("HTTP 503"), CircuitOpenError("open")]
)
def test_try_again_refusals_are_retried(eager: Callable[..., Eager], error: SmsGateError) -> None:
    """Rate limited, outage and circuit open: retried, then accepted."""
    app = eager()
    app.provider.fail_next(error)
    assert app.send()["outcome"] == "accepted"
    assert app.provider.calls["send"] == 2


def test_retries_are_bounded_and_end_refused(eager: Callable[..., Eager]) -> None:
    """After max_retries retries the message is refused (nothing was sent), and recorded."""
    app = eager(max_retries=2)
    app.provider.fail_next(NotSentError("connection refused"), times=10)
    result = app.send()
    assert (result["outcome"], result["retries"]) == ("refused", 2), result
    assert result["error"]["type"] == "NotSentError"
    assert app.provider.calls["send"] == 3
    assert not app.provider.outbox
    assert app.store.get("k-1")["outcome"]["outcome"] == "refused"  # type: ignore[index]


@pytest.mark.parametrize("error", [ContentError("blocked"), AuthenticationError("password refused")])
def test_refusals_about_the_message_or_account_are_not_retried(
    eager: Callable[..., Eager], error: SmsGateError
) -> None:
    """A refusal that retrying cannot change ends refused after one attempt."""
    app = eager()
    app.provider.fail_next(error)
    result = app.send()
    assert result["outcome"] == "refused"
    assert result["retries"] == 0
    assert result["error"]["type"] == type(error).__name__
    assert app.provider.calls["send"] == 1


def test_uncertain_is_not_retried_and_is_reported(
    eager: Callable[..., Eager], caplog: pytest.LogCaptureFixture
) -> None:
    """Uncertain: one attempt, the result says so, the hook fires, a WARNING is logged, and
    a redelivery returns the recorded uncertain outcome without sending."""
    app = eager()
    app.provider.fail_next(UncertainOutcomeError("read timeout", request_sent=True))
    seen = Uncertain()
    with smsgate.observe(seen):
        result = app.send()
        again = app.send()
    assert result["outcome"] == "uncertain"
    assert result["error"]["type"] == "UncertainOutcomeError"
    assert app.provider.calls["send"] == 1
    assert [call["key"] for call in seen.calls] == ["k-1"]
    assert seen.calls[0]["result"] == result
    assert any("UNCERTAIN" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert again == {**result, "redelivered": True}


def test_claim_without_outcome_is_uncertain_and_not_sent(eager: Callable[..., Eager]) -> None:
    """A key claimed by a delivery that died before recording: reported uncertain, not sent."""
    app = eager()
    assert app.store.claim("k-1").claimed  # the dead delivery's claim
    seen = Uncertain()
    with smsgate.observe(seen):
        result = app.send()
    assert (result["outcome"], result["redelivered"]) == ("uncertain", True), result
    assert not app.provider.outbox
    assert app.provider.calls["send"] == 0
    assert len(seen.calls) == 1
    assert isinstance(seen.calls[0]["error"], UncertainOutcomeError)
    assert app.store.get("k-1")["outcome"]["outcome"] == "uncertain"  # type: ignore[index]


def test_unreachable_redis_before_the_claim_retries_and_sends_nothing() -> None:
    """Redis down: the task retries (bounded) and never sends without a claim."""
    store = RedisIdempotencyStore(f"redis://127.0.0.1:{_closed_port()}/0", timeout=1)
    app = Eager(store, max_retries=1)
    try:
        result = app.send()
    finally:
        smsgate.celery.close_worker_gateways()
    assert (result["outcome"], result["retries"]) == ("refused", 1), result
    assert result["error"]["type"] == "IdempotencyStoreError"
    assert app.provider.calls["send"] == 0


def test_invalid_payload_is_refused_without_a_claim(eager: Callable[..., Eager]) -> None:
    """A payload that is no message is refused; nothing is claimed or sent."""
    app = eager()
    task = smsgate.celery.send_task(app.app)
    result = task.apply_async(args=({"v": 1, "kind": "fax"}, "k-bad")).get()
    assert result["outcome"] == "refused"
    assert result["error"]["type"] == "ValidationError"
    assert app.store.get("k-bad") is None


def test_enqueue_assigns_a_key_once(eager: Callable[..., Eager]) -> None:
    """Without a key, enqueue picks a uuid4 hex; the result carries it."""
    app = eager()
    result = smsgate.celery.enqueue(SMS, app=app.app).get()
    assert len(result["key"]) == 32
    assert int(result["key"], 16) >= 0


def test_install_is_required_in_the_process() -> None:
    """A task of an app without install() says what to do."""
    from smsgate.celery._worker import settings_of

    with pytest.raises(ConfigurationError, match="install"):
        settings_of(Celery("bare", set_as_current=False))


def test_import_smsgate_does_not_import_celery() -> None:
    """smsgate.celery is loaded only when imported explicitly."""
    import subprocess
    import sys

    code = (
        "import sys, smsgate; smsgate.Gateway; "
        "print('celery' in sys.modules, 'smsgate.celery' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_gateway_is_built_once_per_process_from_the_toml(tmp_path: Any) -> None:
    """worker_gateway builds the gateway from the config file on first use and reuses it."""
    path = tmp_path / "smsgate.toml"
    path.write_text('[providers.mem]\ntype = "memory"\n', encoding="utf-8")
    app = Celery("toml", broker="memory://", set_as_current=False)
    smsgate.celery.install(app, config=path, idempotency=MemoryIdempotencyStore())
    try:
        first = smsgate.celery.worker_gateway(app)
        assert smsgate.celery.worker_gateway(app) is first
        assert [p.name for p in first.providers] == ["mem"]
    finally:
        smsgate.celery.close_worker_gateways()
    assert first.closed
    assert smsgate.celery.worker_gateway(app) is not first
    smsgate.celery.close_worker_gateways()


def test_smsgate_names_stay_importable() -> None:
    """The package's public names resolve (guards the lazy exports next to it)."""
    assert smsgate.celery.TASK_NAME == "smsgate.send"
    assert {"install", "enqueue", "send_task", "worker_gateway"} <= set(smsgate.celery.__all__)


def test_partial_batch_is_reported_not_retried(eager: Callable[..., Eager]) -> None:
    """A batch whose second request fails after the first was accepted: outcome partial with
    the accepted receipts and the pending count, never resent; an uncertain cause is also
    announced to send_uncertain."""
    app = eager()
    app.provider.capabilities = attrs.evolve(app.provider.capabilities, max_batch=1)
    app.provider.script(None, UncertainOutcomeError("read timeout"), operation="send_batch")
    seen = Uncertain()
    with smsgate.observe(seen):
        result = app.send(
            [SMS, Sms(to="13800138001", text="b【shop】"), Sms(to="13800138002", text="c【shop】")]
        )
    assert result["outcome"] == "partial", result
    assert (len(result["receipts"]), result["pending"]) == (1, 2)
    assert result["error"]["cause"]["type"] == "UncertainOutcomeError"
    assert len(app.provider.outbox) == 1  # the first request only; nothing resent
    assert [call["key"] for call in seen.calls] == ["k-1"]


def test_missing_config_refuses_without_claiming(tmp_path: Any) -> None:
    """A worker whose config file is missing refuses the message with the reason; nothing is
    claimed, so the message can be sent once the worker is fixed."""
    store = MemoryIdempotencyStore()
    app = Celery("noconf", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    smsgate.celery.install(app, config=tmp_path / "missing.toml", idempotency=store)
    result = smsgate.celery.enqueue(SMS, key="k-1", app=app).get()
    assert (result["outcome"], result["error"]["type"]) == ("refused", "ConfigurationError")
    assert store.get("k-1") is None


def test_retry_delay_is_bounded_jittered_and_never_too_short() -> None:
    """Exponential bound capped by retry_backoff_max, full jitter below it, never under
    MIN_RETRY_DELAY (Celery stores RETRY after queueing the retry), and at least what a
    provider's retry_after asked."""
    from smsgate.celery._task import MIN_RETRY_DELAY, _backoff
    from smsgate.celery._worker import Settings

    settings = Settings(retry_backoff=1.0, retry_backoff_max=8.0)
    delays = [_backoff(settings, retries, None) for retries in range(10) for _ in range(50)]
    assert min(delays) >= MIN_RETRY_DELAY
    assert max(delays) <= 8.0
    assert len({round(d, 3) for d in delays}) > 100, "no jitter"
    fixed = Settings(retry_backoff=1.0, retry_backoff_max=8.0, retry_jitter=False)
    assert [_backoff(fixed, r, None) for r in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert _backoff(fixed, 0, RateLimitedError("slow down", retry_after=30.0)) == 30.0


def test_missing_idempotency_store_refuses_without_sending() -> None:
    """No Redis URL given (install argument or Celery setting): refused with the reason."""
    app = Celery("nostore", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    provider = InMemoryProvider("mem")
    smsgate.celery.install(app, gateway=lambda: Gateway(provider))
    result = smsgate.celery.enqueue(SMS, key="k-1", app=app).get()
    assert (result["outcome"], result["error"]["type"]) == ("refused", "ConfigurationError")
    assert not provider.outbox
