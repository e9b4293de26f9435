"""Gateway and AsyncGateway routing rules: every scenario runs over both (``make_gateway``)."""

from __future__ import annotations

import logging
import random
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Capabilities
from smsgate.routing import BreakerPolicy, BreakerState, RateLimit, RetryPolicy
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to="13800138000", text="验证码 1439【腾飞】")
NO_RETRY = RetryPolicy(attempts=1)


def providers(*names: str, **kwargs: Any) -> list[InMemoryProvider]:
    return [InMemoryProvider(name, **kwargs) for name in names]


# --- failover and classification ---------------------------------------------------------


def test_not_sent_fails_over_to_the_next_provider(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.NotSentError)
    receipt = make_gateway([a, b], retry=NO_RETRY).send(SMS)
    assert (receipt.provider, receipt.attempts) == ("b", 2)
    assert (a.calls["send"], b.calls["send"]) == (1, 1)


def test_not_sent_moves_on_at_once_when_another_provider_can_take_it(make_gateway: Any) -> None:
    """With the default RetryPolicy: no backoff on the first provider while the next one can
    take the message (a refused connection costs the next provider's round trip)."""
    a, b = providers("a", "b")
    a.fail_next(errors.NotSentError)
    receipt = make_gateway([a, b]).send(SMS)
    assert (receipt.provider, receipt.attempts) == ("b", 2)
    assert (a.calls["send"], b.calls["send"]) == (1, 1)
    assert make_gateway.clock.sleeps == []


def test_not_sent_is_retried_where_the_other_circuits_are_open(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    gateway = make_gateway([a, b], breaker=BreakerPolicy(failures=2, cool_down=100))
    for _ in range(2):
        gateway._router.breakers["b"].record(errors.NotSentError("down"))  # b's circuit opens
    a.fail_next(errors.NotSentError)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("a", 2)
    assert b.calls["send"] == 0
    assert len(make_gateway.clock.sleeps) == 1


def test_uncertain_outcome_stops_without_calling_another_provider(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.script(errors.RateLimitedError("slow down", retry_after=0.1), errors.UncertainOutcomeError)
    with pytest.raises(errors.UncertainOutcomeError) as info:
        make_gateway([a, b]).send(SMS)
    assert b.calls["send"] == 0
    assert a.calls["send"] == 2  # one retry when asked to come back, none after uncertain
    assert info.value.provider == "a"
    assert [type(e) for e in info.value.attempts] == [errors.RateLimitedError]


def test_uncertain_outcome_fails_over_when_opted_in_but_never_retries(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.MalformedReplyError)
    receipt = make_gateway([a, b], failover_on_uncertain=True).send(SMS)
    assert receipt.provider == "b"
    assert a.calls["send"] == 1


def test_uncertain_outcome_of_a_read_is_retried(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    a.fail_next(errors.UncertainOutcomeError, operation="balance")
    balance = make_gateway([a]).balance()
    assert balance.provider == "a"
    assert a.calls["balance"] == 2


def test_uncertain_outcome_of_a_read_fails_over_at_once(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.UncertainOutcomeError, operation="balance")
    balance = make_gateway([a, b]).balance()
    assert balance.provider == "b"
    assert (a.calls["balance"], b.calls["balance"]) == (1, 1)


@pytest.mark.parametrize(
    "refusal", [errors.InvalidRecipientError, errors.ContentError, errors.SignatureError]
)
def test_refusal_about_the_message_does_not_fail_over(make_gateway: Any, refusal: type[Exception]) -> None:
    a, b = providers("a", "b")
    a.fail_next(refusal)
    with pytest.raises(refusal):
        make_gateway([a, b]).send(SMS)
    assert (a.calls["send"], b.calls["send"]) == (1, 0)


def test_validation_error_from_a_provider_is_raised_at_once(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(max_text_length=3))
    b = InMemoryProvider("b")
    with pytest.raises(errors.ValidationError) as info:
        make_gateway([a, b]).send(SMS)
    assert info.value.provider == "a"
    assert b.calls["send"] == 0


@pytest.mark.parametrize(
    "refusal",
    [
        errors.AuthenticationError,
        errors.InsufficientBalanceError,
        errors.NoChannelError,
        errors.PermissionDeniedError,
    ],
)
def test_refusal_about_the_provider_fails_over_without_retrying(
    make_gateway: Any, refusal: type[Exception]
) -> None:
    a, b = providers("a", "b")
    a.fail_next(refusal)
    receipt = make_gateway([a, b]).send(SMS)
    assert receipt.provider == "b"
    assert a.calls["send"] == 1
    assert make_gateway.clock.sleeps == []


def test_all_failing_raises_a_group_of_every_attempt_in_order(make_gateway: Any) -> None:
    a, b, c = providers("a", "b", "c")
    a.fail_next(errors.NotSentError)
    b.fail_next(errors.AuthenticationError)
    c.fail_next(errors.ProviderOutageError, times=2)
    gateway = make_gateway([a, b, c], retry=RetryPolicy(attempts=2))
    with pytest.raises(errors.AllProvidersFailedError) as info:
        gateway.send(SMS)
    group = info.value
    assert isinstance(group, ExceptionGroup)
    assert isinstance(group, smsgate.SmsGateError)
    # a and b are left at once for the next provider; c, the last, is retried.
    assert [(type(e).__name__, e.provider) for e in group.exceptions] == [
        ("NotSentError", "a"),
        ("AuthenticationError", "b"),
        ("ProviderOutageError", "c"),
        ("ProviderOutageError", "c"),
    ]
    assert group.operation == "send"
    assert all(e.operation == "send" for e in group.exceptions)


def test_receipt_names_the_provider_and_counts_attempts(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.NotSentError)
    b.fail_next(errors.NotSentError, times=2)
    receipt = make_gateway([a, b], retry=RetryPolicy(attempts=3)).send(SMS)
    assert (receipt.provider, receipt.attempts) == ("b", 4)
    assert b.outbox[0].receipt.task_id == receipt.task_id


def test_a_successful_send_finishes_its_receipt_in_one_rebuild(
    make_gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt count, the message's reference and the acceptance time are set in one
    rebuild of the provider's receipt (the router and the gateway each rebuilt it)."""
    silent = InMemoryProvider(
        "silent", capabilities=attrs.evolve(InMemoryProvider().capabilities, references=False)
    )
    gateway = make_gateway([silent])
    built: list[int] = []
    init = smsgate.Receipt.__init__

    def counting(self: smsgate.Receipt, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(smsgate.Receipt, "__init__", counting)
    receipt = gateway.send(attrs.evolve(SMS, reference="order-7"))
    assert (receipt.reference, receipt.attempts) == ("order-7", 1)
    assert receipt.accepted_at is not None
    assert silent.outbox[0].receipt.reference is None  # the provider left it out
    assert len(built) == 2  # the provider's receipt, then the finished one


def test_single_provider_is_accepted_without_a_list(make_gateway: Any) -> None:
    gateway = make_gateway(InMemoryProvider())
    assert [p.name for p in gateway.providers] == ["memory"]
    assert gateway.send(SMS).attempts == 1


# --- retry ---------------------------------------------------------------------------------


def test_retry_delays_follow_exponential_ceilings_times_the_jitter_draw(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    a.fail_next(errors.NotSentError, times=4)
    draws = iter([0.5, 0.25, 0.9, 0.999])
    policy = RetryPolicy(attempts=5, base=0.4, cap=1.0, total=100)
    receipt = make_gateway([a], retry=policy, random=lambda: next(draws)).send(SMS)
    assert receipt.attempts == 5
    # ceilings 0.4, 0.8, 1.0 (capped), 1.0
    assert make_gateway.clock.sleeps == pytest.approx([0.2, 0.2, 0.9, 0.999])


def test_retry_delays_stay_within_the_full_jitter_bounds(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    policy = RetryPolicy(attempts=6, base=0.1, cap=0.5, total=1000)
    gateway = make_gateway([a], retry=policy, breaker=BreakerPolicy(failures=1000), random=random.Random(7))
    for _ in range(20):
        a.fail_next(errors.ProviderOutageError, times=5)
        gateway.send(SMS)
    sleeps = make_gateway.clock.sleeps
    assert len(sleeps) == 100
    for index, delay in enumerate(sleeps):
        ceiling = min(0.5, 0.1 * 2 ** (index % 5))
        assert 0 <= delay <= ceiling
    assert len(set(sleeps)) > 90  # jittered, not constant


def test_retries_stop_when_the_total_time_budget_would_be_exceeded(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    # A provider saying when to come back is retried although b could take the message.
    a.fail_next(errors.RateLimitedError("slow down", retry_after=0.5), times=10)
    policy = RetryPolicy(attempts=10, base=1.0, cap=1.0, total=2.5)
    receipt = make_gateway([a, b], retry=policy, random=lambda: 0.99).send(SMS)
    # 0.99 + 0.99 = 1.98 spent; a third wait would end at 2.97 > 2.5: fail over instead.
    assert make_gateway.clock.sleeps == pytest.approx([0.99, 0.99])
    assert a.calls["send"] == 3
    assert (receipt.provider, receipt.attempts) == ("b", 4)


def test_rate_limited_retry_after_is_the_minimum_delay(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    a.fail_next(errors.RateLimitedError("slow down", retry_after=3.0))
    receipt = make_gateway([a], random=lambda: 0.0).send(SMS)
    assert receipt.attempts == 2
    assert make_gateway.clock.sleeps == [3.0]


# --- circuit breaker -------------------------------------------------------------------


def test_breaker_opens_skips_then_probes_after_cool_down_and_closes(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.NotSentError, times=2)
    gateway = make_gateway([a, b], retry=NO_RETRY, breaker=BreakerPolicy(failures=2, cool_down=10))
    gateway.send(SMS)
    assert gateway.health()[0].consecutive_failures == 1
    gateway.send(SMS)
    assert gateway.health()[0].state is BreakerState.OPEN

    b.fail_next(errors.AuthenticationError)
    with pytest.raises(errors.AllProvidersFailedError) as info:
        gateway.send(SMS)
    assert a.calls["send"] == 2  # skipped, not called
    assert [type(e) for e in info.value.exceptions] == [errors.CircuitOpenError, errors.AuthenticationError]
    assert info.value.exceptions[0].provider == "a"

    make_gateway.clock.now += 10
    assert gateway.health()[0].state is BreakerState.HALF_OPEN
    receipt = gateway.send(SMS)
    assert receipt.provider == "a"
    assert gateway.health()[0].state is BreakerState.CLOSED
    assert gateway.health()[0].consecutive_failures == 0


def test_failed_half_open_probe_reopens_the_circuit(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.ProviderOutageError, times=2)
    gateway = make_gateway([a, b], retry=NO_RETRY, breaker=BreakerPolicy(failures=1, cool_down=5))
    gateway.send(SMS)
    make_gateway.clock.now += 5
    assert gateway.send(SMS).provider == "b"  # the probe to a failed
    assert a.calls["send"] == 2
    assert gateway.health()[0].state is BreakerState.OPEN
    assert gateway.send(SMS).provider == "b"
    assert a.calls["send"] == 2


def test_message_rejections_do_not_count_towards_the_breaker(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    gateway = make_gateway([a], breaker=BreakerPolicy(failures=2))
    for _ in range(3):
        a.fail_next(errors.InvalidRecipientError)
        with pytest.raises(errors.InvalidRecipientError):
            gateway.send(SMS)
    assert gateway.health()[0].state is BreakerState.CLOSED
    assert gateway.health()[0].consecutive_failures == 0


def test_a_success_resets_the_consecutive_failure_count(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    gateway = make_gateway([a, b], retry=NO_RETRY, breaker=BreakerPolicy(failures=2))
    a.script(errors.NotSentError, None, errors.NotSentError)
    for _ in range(3):
        gateway.send(SMS)
    assert gateway.health()[0].state is BreakerState.CLOSED
    assert gateway.health()[0].consecutive_failures == 1


# --- rate limit ------------------------------------------------------------------------


def test_rate_limit_spaces_calls_by_the_computed_wait(make_gateway: Any) -> None:
    a = InMemoryProvider("a")
    gateway = make_gateway([a], rate_limit=RateLimit(rate=2, burst=1))
    for _ in range(3):
        gateway.send(SMS)
    assert make_gateway.clock.sleeps == pytest.approx([0.5, 0.5])


def test_rate_limit_burst_then_steady_rate_per_provider(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    gateway = make_gateway([a, b], strategy="round_robin", rate_limit={"a": RateLimit(rate=1, burst=3)})
    for _ in range(8):  # a gets 4 calls, b (unlimited) 4
        gateway.send(SMS)
    assert make_gateway.clock.sleeps == pytest.approx([1.0])


# --- strategies ------------------------------------------------------------------------


def test_round_robin_rotates_the_first_choice(make_gateway: Any) -> None:
    gateway = make_gateway(providers("a", "b", "c"), strategy="round_robin")
    assert [gateway.send(SMS).provider for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_round_robin_falls_back_to_the_rest_in_order(make_gateway: Any) -> None:
    a, b, c = providers("a", "b", "c")
    gateway = make_gateway([a, b, c], strategy="round_robin")
    gateway.send(SMS)  # a; next call starts at b
    b.fail_next(errors.AuthenticationError)
    assert gateway.send(SMS).provider == "c"
    c.fail_next(errors.AuthenticationError)
    b.fail_next(errors.AuthenticationError)
    assert gateway.send(SMS).provider == "a"  # starts at c, then a


def test_weighted_first_choice_follows_the_draw(make_gateway: Any) -> None:
    draws = iter([0.1, 0.5, 0.99])
    gateway = make_gateway(
        providers("a", "b"), strategy="weighted", weights=[1, 3], random=lambda: next(draws)
    )
    assert [gateway.send(SMS).provider for _ in range(3)] == ["a", "b", "b"]


def test_weighted_distribution_matches_the_weights(make_gateway: Any) -> None:
    gateway = make_gateway(
        providers("a", "b", "c"),
        strategy="weighted",
        weights={"a": 1, "b": 3, "c": 0},
        random=random.Random(1),
    )
    chosen = [gateway.send(SMS).provider for _ in range(800)]
    assert chosen.count("c") == 0
    assert 0.68 < chosen.count("b") / 800 < 0.82


def test_weighted_fallbacks_go_heaviest_first(make_gateway: Any) -> None:
    a, b, c = providers("a", "b", "c")
    gateway = make_gateway([a, b, c], strategy="weighted", weights=[1, 2, 5], random=lambda: 0.0)
    a.fail_next(errors.AuthenticationError)
    assert gateway.send(SMS).provider == "c"
    a.fail_next(errors.AuthenticationError)
    c.fail_next(errors.AuthenticationError)
    assert gateway.send(SMS).provider == "b"


# --- capabilities ----------------------------------------------------------------------


def test_balance_goes_to_the_only_provider_declaring_it(make_gateway: Any) -> None:
    sender = InMemoryProvider("sender", capabilities=Capabilities(send=True))
    counter = InMemoryProvider("counter", capabilities=Capabilities(send=True, balance=True), balance=42)
    assert make_gateway([sender, counter]).balance().remaining == Decimal(42)
    assert sender.calls["balance"] == 0


def test_balance_kind_routes_to_a_provider_with_that_kind(make_gateway: Any) -> None:
    sms_only = InMemoryProvider("sms", capabilities=Capabilities(balance=True))
    both = InMemoryProvider("both", balance=7)
    balance = make_gateway([sms_only, both]).balance(kind="mms")
    assert (balance.provider, balance.kind) == ("both", "mms")


def test_operation_nobody_supports_raises_unsupported_before_any_attempt(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(send=True))
    gateway = make_gateway([a])
    mms = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])
    with pytest.raises(errors.UnsupportedOperationError):
        gateway.send_mms(mms)
    with pytest.raises(errors.UnsupportedOperationError):
        gateway.balance()
    assert sum(a.calls.values()) == 0


def test_send_mms_and_batch_route_like_send(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.NoChannelError, times=2)
    gateway = make_gateway([a, b])
    mms = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])
    assert gateway.send_mms(mms).provider == "b"
    batch = [smsgate.Sms(to="13800138000", text="one"), smsgate.Sms(to="13900139000", text="two")]
    receipts = gateway.send_batch(batch)
    assert [(r.provider, r.attempts) for r in receipts] == [("b", 2)]


# --- batches ---------------------------------------------------------------------------

BATCH = [smsgate.Sms(to=f"1380013800{i}", text=f"code {i}") for i in range(5)]


def test_partial_batch_sends_only_the_pending_messages_elsewhere(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=2))
    b = InMemoryProvider("b")
    a.script(None, errors.AuthenticationError, operation="send_batch")
    receipts = make_gateway([a, b]).send_batch(BATCH)
    assert [(r.provider, r.accepted, r.attempts) for r in receipts] == [("a", 2, 1), ("b", 3, 2)]
    assert b.sent == [tuple(BATCH[2:])]


def test_partial_batch_retries_the_pending_part_on_the_same_provider(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=2))
    a.script(None, errors.NotSentError, operation="send_batch")
    receipts = make_gateway([a]).send_batch(BATCH)
    assert [r.accepted for r in receipts] == [2, 2, 1]
    assert [entry.message for entry in a.outbox] == [tuple(BATCH[0:2]), tuple(BATCH[2:4]), (BATCH[4],)]


def test_partial_batch_that_cannot_continue_carries_the_accepted_receipts(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=2))
    b = InMemoryProvider("b")
    a.script(None, errors.UncertainOutcomeError, operation="send_batch")
    with pytest.raises(errors.PartialBatchError) as info:
        make_gateway([a, b]).send_batch(BATCH)
    assert [r.provider for r in info.value.receipts] == ["a"]
    assert info.value.pending == tuple(BATCH[2:])
    assert isinstance(info.value.cause, errors.UncertainOutcomeError)
    assert b.calls["send_batch"] == 0


def test_partial_batch_exhausting_every_provider_keeps_its_receipts(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=2))
    b = InMemoryProvider("b")
    a.script(None, errors.AuthenticationError, operation="send_batch")
    b.fail_next(errors.InsufficientBalanceError)
    with pytest.raises(errors.PartialBatchError) as info:
        make_gateway([a, b]).send_batch(BATCH)
    assert [r.provider for r in info.value.receipts] == ["a"]
    assert isinstance(info.value.cause, errors.AllProvidersFailedError)
    assert [e.provider for e in info.value.cause.exceptions] == ["a", "b"]
    assert info.value.cause.attempts == tuple(info.value.cause.exceptions), "the group keeps its attempts"
    assert info.value.attempts == tuple(info.value.cause.exceptions)


def test_send_split_into_requests_resumes_only_the_pending_recipients_elsewhere(make_gateway: Any) -> None:
    """A send the provider split by max_recipients fails after its first request: the accepted
    recipient is not sent again, the rest go to the next provider, and one receipt covers both."""
    a = InMemoryProvider("a", capabilities=Capabilities(send=True, max_recipients=1))
    b = InMemoryProvider("b")
    a.script(None, errors.AuthenticationError, operation="send")
    sms = smsgate.Sms(to=["13800138000", "13900139000", "13700137000"], text="code【x】")
    receipt = make_gateway([a, b]).send(sms)
    assert [entry.message.to for entry in a.outbox] == [("13800138000",)]
    assert [entry.message.to for entry in b.outbox] == [("13900139000", "13700137000")]
    assert receipt.provider == "a,b"
    assert receipt.accepted == 3
    assert receipt.attempts == 2
    assert [p.provider for p in receipt.parts] == ["a", "b"]
    assert len(receipt.task_ids) == 2


def test_send_split_into_requests_that_cannot_continue_reports_what_went_out(make_gateway: Any) -> None:
    """An uncertain failure after a first accepted request raises PartialBatchError with that
    request's receipt and the pending recipients; no other provider is called."""
    a = InMemoryProvider("a", capabilities=Capabilities(send=True, max_recipients=1))
    b = InMemoryProvider("b")
    a.script(None, errors.UncertainOutcomeError, operation="send")
    sms = smsgate.Sms(to=["13800138000", "13900139000"], text="code【x】")
    with pytest.raises(errors.PartialBatchError) as info:
        make_gateway([a, b]).send(sms)
    assert [r.recipients for r in info.value.receipts] == [("13800138000",)]
    assert [m.to for m in info.value.pending] == [("13900139000",)]
    assert b.calls["send"] == 0


# --- pulls and password --------------------------------------------------------------------


def test_fetch_reports_pulls_from_every_capable_provider_with_limit(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.queue_report("13800138000", task_id="t1")
    b.queue_report("13800138001", task_id="t2")
    b.queue_report("13800138002", task_id="t3")
    gateway = make_gateway([a, b])
    assert [r.task_id for r in gateway.fetch_reports(limit=2)] == ["t1", "t2"]
    assert [r.task_id for r in gateway.fetch_reports()] == ["t3"]


def test_fetch_keeps_what_one_provider_returned_when_another_fails(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.AuthenticationError, operation="fetch_inbound")
    b.queue_inbound("13800138000", "hello")
    inbound = make_gateway([a, b]).fetch_inbound()
    assert [m.provider for m in inbound] == ["b"]


def test_fetch_never_discards_what_was_pulled_when_a_later_provider_fails_otherwise(
    make_gateway: Any,
) -> None:
    """Pulls are destructive: reports already taken from "a" must be returned even when "b"
    then fails with an error that says nothing about availability (here a bare refusal)."""
    a, b = providers("a", "b")
    a.queue_report("13800138000", task_id="t1")
    b.fail_next(errors.ProviderError("unexpected vendor code", code="9999"), operation="fetch_reports")
    reports = make_gateway([a, b]).fetch_reports()
    assert [r.task_id for r in reports] == ["t1"]
    assert a.pending_reports == ()


def test_fetch_raises_when_every_provider_failed(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.AuthenticationError, operation="fetch_reports")
    b.fail_next(errors.AuthenticationError, operation="fetch_reports")
    with pytest.raises(errors.AllProvidersFailedError) as info:
        make_gateway([a, b]).fetch_reports()
    assert [e.provider for e in info.value.exceptions] == ["a", "b"]


def test_fetch_by_task_id_passes_it_to_the_provider(make_gateway: Any) -> None:
    a = InMemoryProvider("a", auto_report=smsgate.DeliveryStatus.DELIVERED)
    gateway = make_gateway([a])
    first = gateway.send(SMS)
    gateway.send(SMS)
    assert [r.task_id for r in gateway.fetch_reports(task_id=first.task_id)] == [first.task_id]
    assert len(a.pending_reports) == 1


def test_change_password_targets_the_only_capable_provider(make_gateway: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(send=True))
    b = InMemoryProvider("b", password="old")
    make_gateway([a, b]).change_password("new")
    assert b.check_password("new")


def test_change_password_never_fails_over(make_gateway: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.NotSentError, operation="change_password")
    with pytest.raises(errors.NotSentError) as info:
        make_gateway([a, b], retry=NO_RETRY).change_password("new", provider="a")
    assert info.value.provider == "a"
    assert b.calls["change_password"] == 0


def test_a_single_provider_raises_its_own_typed_error_with_earlier_tries_attached(
    make_gateway: Any,
) -> None:
    """With one provider there is nothing to fail over to: the last error itself is raised
    (not a one-member group), and the retried attempts before it are in ``attempts``."""
    (a,) = providers("a")
    a.fail_next(errors.NotSentError, times=2)
    a.fail_next(errors.AuthenticationError)
    with pytest.raises(errors.AuthenticationError) as info:
        make_gateway(a).send(smsgate.Sms(to="13800138000", text="hi"))
    assert info.value.provider == "a"
    assert [type(e) for e in info.value.attempts] == [errors.NotSentError, errors.NotSentError]


def test_change_password_needs_a_name_when_several_can(make_gateway: Any) -> None:
    gateway = make_gateway(providers("a", "b"))
    with pytest.raises(errors.ConfigurationError, match="name one"):
        gateway.change_password("new")
    with pytest.raises(errors.ConfigurationError):
        gateway.change_password("new", provider="zzz")


# --- hooks, logging, lifecycle -------------------------------------------------------------


def test_hooks_observe_failures_sends_reports_and_inbound(make_gateway: Any, hooks: Any) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.AuthenticationError)
    b.queue_report("13800138000", task_id="t1")
    b.queue_inbound("13800138000", "hi")
    gateway = make_gateway([a, b])
    receipt = gateway.send(SMS)
    reports = gateway.fetch_reports()
    inbound = gateway.fetch_inbound()
    failed = hooks.named("send_failed")
    assert [(f["provider"], f["operation"], type(f["error"])) for f in failed] == [
        ("a", "send", errors.AuthenticationError)
    ]
    assert failed[0]["message"] is SMS
    assert hooks.named("message_sent") == [{"receipt": receipt, "message": SMS}]
    assert [h["report"] for h in hooks.named("report_received")] == reports
    assert [h["message"] for h in hooks.named("inbound_received")] == inbound


def test_batch_hook_gets_the_messages_of_each_request(make_gateway: Any, hooks: Any) -> None:
    a = InMemoryProvider("a", capabilities=Capabilities(batch=True, max_batch=3))
    make_gateway([a]).send_batch(BATCH)
    assert [h["message"] for h in hooks.named("message_sent")] == [tuple(BATCH[:3]), tuple(BATCH[3:])]


def test_logs_above_debug_hold_neither_text_nor_full_numbers(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = providers("a", "b")
    a.fail_next(errors.InvalidRecipientError("bad number", code="2001"))
    sms = smsgate.Sms(to=["13812345678", "13987654321"], text="secret code 987654")
    gateway = make_gateway([a, b])
    caplog.set_level(logging.INFO, logger="smsgate")
    with pytest.raises(errors.InvalidRecipientError):
        gateway.send(sms)
    gateway.send(sms)
    gateway.send_batch([sms])
    messages = [r.getMessage() for r in caplog.records]
    assert any("accepted by a" in m for m in messages)
    assert any("InvalidRecipientError" in m and "2001" in m for m in messages)
    logged = "\n".join(messages)
    for secret in ("13812345678", "13987654321", "987654", "secret code"):
        assert secret not in logged


def test_owned_client_is_closed_and_caller_client_is_not(make_gateway: Any) -> None:
    owned = make_gateway(InMemoryProvider())
    owned_client = owned.client
    supplied = make_gateway.client(lambda request: httpx.Response(200))
    borrower = make_gateway(InMemoryProvider(), client=supplied)
    close = "aclose" if make_gateway.flavour == "async" else "close"
    getattr(owned, close)()
    getattr(borrower, close)()
    assert owned_client.is_closed
    assert not supplied.is_closed
    assert borrower.client is supplied


def test_owned_client_verifies_tls_and_does_not_follow_redirects(make_gateway: Any) -> None:
    gateway = make_gateway(InMemoryProvider())
    assert gateway.client.follow_redirects is False


def test_closed_gateway_refuses_further_calls(make_gateway: Any) -> None:
    gateway = make_gateway(InMemoryProvider())
    getattr(gateway, "aclose" if make_gateway.flavour == "async" else "close")()
    assert gateway.closed
    with pytest.raises(errors.ConfigurationError, match="closed"):
        gateway.send(SMS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "random"}, "unknown strategy"),
        ({"weights": [1, 2]}, "only used"),
        ({"strategy": "weighted", "weights": [1]}, "one each"),
        ({"strategy": "weighted", "weights": [1, -1]}, "negative"),
        ({"rate_limit": {"zzz": RateLimit(rate=1)}}, "unknown providers"),
    ],
)
def test_invalid_configuration_is_refused(make_gateway: Any, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=match):
        make_gateway(providers("a", "b"), **kwargs)


def test_duplicate_provider_names_are_refused(make_gateway: Any) -> None:
    with pytest.raises(errors.ConfigurationError, match="'a'"):
        make_gateway(providers("a", "a"))


def test_no_provider_is_refused(make_gateway: Any) -> None:
    with pytest.raises(errors.ConfigurationError):
        make_gateway([])
