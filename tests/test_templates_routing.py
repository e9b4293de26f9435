"""Routing and the gateways with logical templates, references and query_status: every
scenario runs over Gateway and AsyncGateway (``make_gateway``)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import smsgate
from smsgate import Capabilities, DeliveryStatus, Sms
from smsgate import exceptions as errors
from smsgate._gateway import RetryPolicy
from smsgate.testing import ALL_CAPABILITIES, InMemoryProvider

TO = "13800138000"
VERIFY = Sms(to=TO, template="verify", params={"code": "1439"}, reference="order-42")
TEXT = Sms(to=TO, text="您的验证码：1439【腾飞】")
NO_RETRY = RetryPolicy(attempts=1)
TEMPLATE_ONLY = attrs.evolve(ALL_CAPABILITIES, free_text=False)


def texts_only(name: str) -> InMemoryProvider:
    """A provider that renders no templates (like ipyy without ``templates``)."""
    return InMemoryProvider(name)


def templated(name: str, capabilities: Capabilities | None = None, **templates: str) -> InMemoryProvider:
    return InMemoryProvider(name, capabilities=capabilities, templates=templates or {"verify": "code {code}"})


# --- the skip rule --------------------------------------------------------------------------


def test_a_provider_that_cannot_render_is_skipped_before_any_io(make_gateway: Any) -> None:
    plain, able = texts_only("plain"), templated("able")
    receipt = make_gateway([plain, able]).send(VERIFY)
    assert (receipt.provider, receipt.attempts) == ("able", 1)
    assert plain.calls["send"] == 0  # no flow of it ran at all
    assert able.outbox[0].texts == ("code 1439",)


def test_free_text_never_reaches_a_template_only_provider(make_gateway: Any) -> None:
    vendor, texts = templated("vendor", TEMPLATE_ONLY), texts_only("texts")
    receipt = make_gateway([vendor, texts]).send(TEXT)
    assert receipt.provider == "texts"
    assert vendor.calls["send"] == 0


def test_a_template_one_provider_lacks_routes_to_the_other(make_gateway: Any) -> None:
    a = templated("a", welcome="welcome {name}")
    b = templated("b", verify="code {code}")
    receipt = make_gateway([a, b]).send(VERIFY)
    assert receipt.provider == "b"
    assert a.calls["send"] == 0


def test_a_missing_parameter_skips_the_provider(make_gateway: Any) -> None:
    a = templated("a", verify="code {code} for {user}")
    b = templated("b", verify="code {code}")
    assert make_gateway([a, b]).send(VERIFY).provider == "b"
    assert a.calls["send"] == 0


def test_with_text_and_template_each_provider_uses_what_it_can(make_gateway: Any) -> None:
    both = attrs.evolve(VERIFY, text="您的验证码：1439【腾飞】")
    texts, vendor = texts_only("texts"), templated("vendor", TEMPLATE_ONLY)
    gateway = make_gateway([texts, vendor], retry=NO_RETRY)
    assert gateway.send(both).provider == "texts"
    assert texts.outbox[0].texts == ("您的验证码：1439【腾飞】",)
    texts.fail_next(errors.NotSentError)
    assert gateway.send(both).provider == "vendor"
    assert vendor.outbox[0].texts == ("code 1439",)


def test_when_no_provider_can_render_the_error_gives_each_reason(make_gateway: Any) -> None:
    plain, other = texts_only("plain"), templated("other", welcome="hi {name}")
    with pytest.raises(errors.UnsupportedOperationError) as caught:
        make_gateway([plain, other]).send(VERIFY)
    message = str(caught.value)
    assert "plain: renders no templates, and the message has no text" in message
    assert "other: no template named 'verify'" in message
    assert caught.value.operation == "send"
    assert (plain.calls["send"], other.calls["send"]) == (0, 0)


def test_uncertain_on_the_first_renderer_never_reaches_the_second(make_gateway: Any) -> None:
    plain, a, b = texts_only("plain"), templated("a"), templated("b")
    a.fail_next(errors.UncertainOutcomeError)
    with pytest.raises(errors.UncertainOutcomeError):
        make_gateway([plain, a, b]).send(VERIFY)
    assert (plain.calls["send"], a.calls["send"], b.calls["send"]) == (0, 1, 0)


def test_not_sent_on_the_first_renderer_fails_over_to_the_next(make_gateway: Any) -> None:
    a, b = templated("a"), templated("b")
    a.fail_next(errors.NotSentError)
    receipt = make_gateway([a, b], retry=NO_RETRY).send(VERIFY)
    assert (receipt.provider, receipt.attempts) == ("b", 2)


def test_a_batch_skips_a_provider_unable_to_render_any_of_its_messages(make_gateway: Any) -> None:
    batch = [TEXT, attrs.evolve(VERIFY, to=["13900139000"])]
    texts, both = texts_only("texts"), templated("both")
    receipts = make_gateway([texts, both]).send_batch(batch)
    assert {r.provider for r in receipts} == {"both"}
    assert texts.calls["send_batch"] == 0
    with pytest.raises(
        errors.UnsupportedOperationError, match="message 2 of the batch: renders no templates"
    ):
        make_gateway([texts]).send_batch(batch)


def test_round_robin_rotates_among_the_providers_that_can_render(make_gateway: Any) -> None:
    plain, a, b = texts_only("plain"), templated("a"), templated("b")
    gateway = make_gateway([plain, a, b], strategy="round_robin")
    used = [gateway.send(VERIFY).provider for _ in range(4)]
    assert set(used) == {"a", "b"}
    assert plain.calls["send"] == 0


def test_a_missing_capability_is_still_reported_as_such(make_gateway: Any) -> None:
    no_send = InMemoryProvider("no-send", capabilities=Capabilities(send=False, balance=True))
    with pytest.raises(errors.UnsupportedOperationError, match="no configured provider supports send"):
        make_gateway([no_send]).send(VERIFY)


# --- references and acceptance time ---------------------------------------------------------


def test_the_gateway_fills_in_the_reference_a_provider_leaves_out(make_gateway: Any, hooks: Any) -> None:
    silent = InMemoryProvider("silent", capabilities=attrs.evolve(ALL_CAPABILITIES, references=False))
    receipt = make_gateway([silent]).send(attrs.evolve(TEXT, reference="order-7"))
    assert silent.outbox[0].receipt.reference is None  # the provider did not carry it
    assert receipt.reference == "order-7"
    assert receipt.accepted_at is not None
    assert receipt.accepted_at.utcoffset() is not None
    [sent] = hooks.named("message_sent")
    assert sent["receipt"].reference == "order-7"


def test_a_batch_receipt_carries_the_reference_its_messages_share(make_gateway: Any) -> None:
    silent = InMemoryProvider("silent", capabilities=attrs.evolve(ALL_CAPABILITIES, references=False))
    shared = [attrs.evolve(TEXT, reference="r1"), attrs.evolve(TEXT, to=["13900139000"], reference="r1")]
    assert [r.reference for r in make_gateway([silent]).send_batch(shared)] == ["r1"]
    mixed = [shared[0], attrs.evolve(shared[1], reference="r2")]
    assert [r.reference for r in make_gateway([silent]).send_batch(mixed)] == [None]


def test_receipts_of_a_partial_send_are_stamped_too(make_gateway: Any) -> None:
    split = InMemoryProvider("split", capabilities=attrs.evolve(ALL_CAPABILITIES, max_recipients=1))
    split.script(None, errors.AuthenticationError)
    sms = Sms(to=[TO, "13900139000"], text="hi【shop】", reference="order-9")
    with pytest.raises(errors.PartialSendError) as caught:
        make_gateway([split], retry=NO_RETRY).send(sms)
    [kept] = caught.value.receipts
    assert kept.reference == "order-9"
    assert kept.accepted_at is not None


# --- query_status -------------------------------------------------------------------------


def test_query_status_asks_the_provider_of_the_receipt_only(make_gateway: Any, hooks: Any) -> None:
    a, b = templated("a"), templated("b")
    a.fail_next(errors.NotSentError)
    gateway = make_gateway([a, b], retry=NO_RETRY)
    receipt = gateway.send(VERIFY)
    assert receipt.provider == "b"
    reports = gateway.query_status(receipt)
    assert [(r.provider, r.mobile, r.task_id, r.status, r.reference) for r in reports] == [
        ("b", TO, receipt.task_id, DeliveryStatus.PENDING, "order-42")
    ]
    assert (a.calls["query_status"], b.calls["query_status"]) == (0, 1)
    assert [h["report"] for h in hooks.named("report_received")] == reports


def test_query_status_is_a_lookup_not_a_drain(make_gateway: Any) -> None:
    a = InMemoryProvider("a", auto_report=DeliveryStatus.DELIVERED)
    gateway = make_gateway([a])
    receipt = gateway.send(TEXT)
    first = gateway.query_status(receipt)
    assert [r.status for r in first] == [DeliveryStatus.DELIVERED]
    assert gateway.query_status(receipt) == first
    assert len(gateway.fetch_reports()) == 1  # the queued report is still there for the pull


def test_query_status_retries_but_never_fails_over(make_gateway: Any) -> None:
    a, b = templated("a"), templated("b")
    gateway = make_gateway([a, b])
    receipt = gateway.send(VERIFY)
    a.fail_next(errors.ProviderOutageError, operation="query_status")
    assert len(gateway.query_status(receipt)) == 1
    assert a.calls["query_status"] == 2
    a.fail_next(errors.AuthenticationError, operation="query_status")
    with pytest.raises(errors.AuthenticationError):
        gateway.query_status(receipt)
    assert b.calls["query_status"] == 0


def test_query_status_of_a_receipt_from_elsewhere_is_a_configuration_error(make_gateway: Any) -> None:
    a = templated("a")
    foreign = smsgate.Receipt(provider="elsewhere", task_id="1", accepted=1)
    with pytest.raises(errors.ConfigurationError, match="no provider named 'elsewhere'"):
        make_gateway([a]).query_status(foreign)
    assert a.calls["query_status"] == 0


def test_query_status_of_a_provider_without_the_capability_is_unsupported(make_gateway: Any) -> None:
    blind = InMemoryProvider("blind", capabilities=attrs.evolve(ALL_CAPABILITIES, query_status=False))
    gateway = make_gateway([blind])
    receipt = gateway.send(TEXT)
    with pytest.raises(errors.UnsupportedOperationError, match="cannot look messages up") as caught:
        gateway.query_status(receipt)
    assert caught.value.operation == "query_status"
    assert blind.calls["query_status"] == 0


def test_query_status_takes_a_receipt(make_gateway: Any) -> None:
    with pytest.raises(errors.ValidationError, match="takes a Receipt"):
        make_gateway([templated("a")]).query_status("a-1")


def test_query_status_of_a_send_resumed_elsewhere_asks_each_provider(make_gateway: Any) -> None:
    capabilities = attrs.evolve(ALL_CAPABILITIES, max_recipients=1)
    a, b = InMemoryProvider("a", capabilities=capabilities), InMemoryProvider("b")
    a.script(None, errors.NotSentError)
    gateway = make_gateway([a, b], retry=NO_RETRY)
    receipt = gateway.send(Sms(to=[TO, "13900139000"], text="hi【shop】"))
    assert receipt.provider == "a,b"
    reports = gateway.query_status(receipt)
    assert sorted((r.provider, r.mobile) for r in reports) == [("a", TO), ("b", "13900139000")]
    assert (a.calls["query_status"], b.calls["query_status"]) == (1, 1)
