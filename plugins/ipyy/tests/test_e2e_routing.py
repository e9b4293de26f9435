"""End to end, both gateways: routing over real HTTP with the sandbox's fault injection.

Two providers share the session sandbox through two accounts and two endpoints: ``primary``
(account ``demo``, form transport, ``/sms.aspx``) and ``backup`` (account ``push``, JSON
transport, ``/smsJson.aspx``). A fault rule on ``/sms.aspx`` therefore hits only the primary,
and the inspection log per account shows what each provider's gateway really received.
"""

from __future__ import annotations

from typing import Any

import pytest

import smsgate
from smsgate import BreakerPolicy, BreakerState, RetryPolicy
from smsgate.exceptions import (
    AllProvidersFailedError,
    AuthenticationError,
    CircuitOpenError,
    MalformedReplyError,
    NotSentError,
    ProviderOutageError,
    SignatureError,
    UncertainOutcomeError,
)
from smsgate_ipyy.sandbox import Sandbox

from .e2e_support import (
    MOBILES,
    TEXT,
    Flavour,
    account_state,
    closed_port_url,
    flavour_fixture,  # noqa: F401 - the flavour fixture
    ipyy,
    requests_of,
)

pytest_plugins = ["smsgate_ipyy.pytest_plugin"]

pytestmark = pytest.mark.e2e

PRIMARY_PATH = "/sms.aspx"
SMS = smsgate.Sms(to=MOBILES[0], text=TEXT)
# Retries without waiting (the flavour's sleep is a no-op): 2 tries per provider.
RETRY = RetryPolicy(attempts=2, base=0.0)


def primary(sandbox: Sandbox, **settings: Any) -> smsgate.Provider:
    """The preferred provider: account demo over sms.aspx."""
    return ipyy(sandbox, "demo", name="primary", transport="form", **settings)


def backup(sandbox: Sandbox, **settings: Any) -> smsgate.Provider:
    """The fallback provider: account push over smsJson.aspx."""
    return ipyy(sandbox, "push", name="backup", transport="json", **settings)


def accepted_by(sandbox: Sandbox, account: str) -> list[str]:
    """Task ids of the sends the sandbox accepted for ``account``."""
    return [
        e["outcome"]["task_id"] for e in requests_of(sandbox, account=account) if e["outcome"]["code"] == "OK"
    ]


def test_refused_connection_fails_over_and_the_receipt_names_the_backup(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Nothing listens at the primary's address: the connect error is NotSentError and, since
    the backup can take the message, the backup sends at once (no retry of the primary, no
    backoff); the receipt names it and counts every attempt."""
    gateway = flavour.gateway(
        [primary(ipyy_sandbox_clean, base_url=closed_port_url()), backup(ipyy_sandbox_clean)], retry=RETRY
    )
    receipt = gateway.send(SMS)
    assert receipt.provider == "backup"
    assert receipt.attempts == 2  # one try at the primary, one at the backup
    assert accepted_by(ipyy_sandbox_clean, "push") == [receipt.task_id]
    assert requests_of(ipyy_sandbox_clean, account="demo") == []


def test_dropped_connection_after_the_gateway_acted_is_uncertain_and_not_failed_over(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """``drop``: the sandbox accepts and charges the send, then closes the connection before the
    reply. The gateway raises UncertainOutcomeError naming the primary; the backup's account
    got no request (resending could deliver the message twice)."""
    ipyy_sandbox_clean.set_fault(kind="drop", path=PRIMARY_PATH)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    with pytest.raises(UncertainOutcomeError) as caught:
        gateway.send(SMS)
    assert caught.value.provider == "primary"
    assert len(accepted_by(ipyy_sandbox_clean, "demo")) == 1  # it really was sent, once
    assert account_state(ipyy_sandbox_clean, "demo")["sms_sent"] == 1
    assert requests_of(ipyy_sandbox_clean, account="push") == []


def test_dropped_connection_fails_over_only_when_the_application_allows_duplicates(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """failover_on_uncertain=True sends to the next provider (never the same one again)."""
    ipyy_sandbox_clean.set_fault(kind="drop", path=PRIMARY_PATH)
    gateway = flavour.gateway(
        [primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY, failover_on_uncertain=True
    )
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("backup", 2)
    assert len(accepted_by(ipyy_sandbox_clean, "demo")) == 1
    assert accepted_by(ipyy_sandbox_clean, "push") == [receipt.task_id]


def test_hanging_gateway_times_out_as_uncertain_without_failover(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """``hang`` with a short client timeout: the read timeout is UncertainOutcomeError (the
    request was written), raised at once; the backup got nothing."""
    ipyy_sandbox_clean.set_fault(kind="hang", path=PRIMARY_PATH, seconds=5)
    gateway = flavour.gateway(
        [primary(ipyy_sandbox_clean, timeout=0.3), backup(ipyy_sandbox_clean)], retry=RETRY
    )
    with pytest.raises(UncertainOutcomeError) as caught:
        gateway.send(SMS)
    assert not isinstance(caught.value, NotSentError)
    assert caught.value.provider == "primary"
    assert requests_of(ipyy_sandbox_clean, account="push") == []


def test_one_503_is_retried_on_the_same_provider(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """HTTP 503 means the gateway refused before acting: with no other provider to take the
    message, retry the primary, which succeeds."""
    ipyy_sandbox_clean.set_fault(kind="status", path=PRIMARY_PATH, status=503, times=1)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean)], retry=RETRY)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("primary", 2)
    assert accepted_by(ipyy_sandbox_clean, "demo") == [receipt.task_id]


def test_a_503_fails_over_at_once(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """503 at the primary while the backup can take the message: the backup sends at once."""
    ipyy_sandbox_clean.set_fault(kind="status", path=PRIMARY_PATH, status=503)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("backup", 2)
    assert requests_of(ipyy_sandbox_clean, account="demo") == []  # the fault answered before the app


def test_http_500_is_uncertain_and_neither_retried_nor_failed_over(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """A 5xx other than 503 may come after the server acted: UncertainOutcomeError at once."""
    ipyy_sandbox_clean.set_fault(kind="status", path=PRIMARY_PATH, status=500)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    with pytest.raises(UncertainOutcomeError) as caught:
        gateway.send(SMS)
    assert caught.value.attempts == ()
    assert requests_of(ipyy_sandbox_clean, account="push") == []


def test_garbage_reply_to_a_send_is_malformed_and_not_resent(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """A 200 reply that is neither XML nor JSON: MalformedReplyError (uncertain), no failover."""
    ipyy_sandbox_clean.set_fault(kind="garbage", path=PRIMARY_PATH)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    with pytest.raises(MalformedReplyError):
        gateway.send(SMS)
    assert requests_of(ipyy_sandbox_clean, account="push") == []


def test_balance_read_after_a_garbage_reply_is_retried(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """Reads cannot send anything: an unparsable balance reply is retried, and the retry answers
    (one provider: with a backup, the read would go there at once)."""
    ipyy_sandbox_clean.set_fault(kind="garbage", path=PRIMARY_PATH, times=1)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean)], retry=RETRY)
    balance = gateway.balance()
    assert balance.provider == "primary"
    assert balance.remaining == account_state(ipyy_sandbox_clean, "demo")["sms_balance"]


def test_vendor_amount_not_enough_fails_over_at_once(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """1111 AmountNotEnough from the primary: no retry there, the backup sends."""
    ipyy_sandbox_clean.set_fault(kind="vendor", path=PRIMARY_PATH, code=1111)
    gateway = flavour.gateway(
        [primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RetryPolicy(attempts=3, base=0.0)
    )
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("backup", 2)
    assert accepted_by(ipyy_sandbox_clean, "push") == [receipt.task_id]


def test_real_zero_balance_account_fails_over_to_the_backup(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The same decision with the sandbox's own refusal: the ``poor`` account has no balance."""
    poor = ipyy(ipyy_sandbox_clean, "poor", name="poor")
    gateway = flavour.gateway([poor, backup(ipyy_sandbox_clean)], retry=RETRY)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("backup", 2)
    [refused] = requests_of(ipyy_sandbox_clean, account="poor")
    assert refused["outcome"]["code"] == "AmountNotEnough"


def test_vendor_signature_refusal_is_not_failed_over(flavour: Flavour, ipyy_sandbox_clean: Sandbox) -> None:
    """2113 RequiredSuffix: the message itself is refused; another provider would refuse it too."""
    ipyy_sandbox_clean.set_fault(kind="vendor", path=PRIMARY_PATH, code=2113)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    with pytest.raises(SignatureError) as caught:
        gateway.send(SMS)
    assert caught.value.provider == "primary"
    assert requests_of(ipyy_sandbox_clean, account="push") == []


def test_every_provider_failing_lists_every_attempt_in_order(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Primary with a wrong password (tried once, no retry), backup unreachable (the last
    provider: tried twice): AllProvidersFailedError carries the three attempts, each naming
    its provider."""
    gateway = flavour.gateway(
        [
            primary(ipyy_sandbox_clean, password="not-the-password"),
            backup(ipyy_sandbox_clean, base_url=closed_port_url()),
        ],
        retry=RETRY,
    )
    with pytest.raises(AllProvidersFailedError) as caught:
        gateway.send(SMS)
    attempts = [(type(e), e.provider, e.operation) for e in caught.value.exceptions]
    assert attempts == [
        (AuthenticationError, "primary", "send"),
        (NotSentError, "backup", "send"),
        (NotSentError, "backup", "send"),
    ]
    assert caught.value.operation == "send"


def test_lasting_outage_of_every_provider_ends_in_all_providers_failed(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """503 on every endpoint: the primary is left at once for the backup, the last provider,
    which is retried; then the gateway gives up."""
    ipyy_sandbox_clean.set_fault(kind="status", status=503)
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)
    with pytest.raises(AllProvidersFailedError) as caught:
        gateway.send(SMS)
    assert [(type(e), e.provider) for e in caught.value.exceptions] == [
        (ProviderOutageError, "primary"),
        (ProviderOutageError, "backup"),
        (ProviderOutageError, "backup"),
    ]
    assert requests_of(ipyy_sandbox_clean) == []  # every request was answered by the fault


def test_breaker_opens_after_repeated_connection_failures_and_skips_the_provider(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """Two consecutive connection failures open the primary's circuit: health() says so, and
    the next send goes straight to the backup without trying the primary."""
    gateway = flavour.gateway(
        [primary(ipyy_sandbox_clean, base_url=closed_port_url()), backup(ipyy_sandbox_clean)],
        retry=RetryPolicy(attempts=1),
        breaker=BreakerPolicy(failures=2, cool_down=60.0),
    )

    first = gateway.send(SMS)
    second = gateway.send(SMS)
    assert [(r.provider, r.attempts) for r in (first, second)] == [("backup", 2), ("backup", 2)]
    primary_health = gateway.health()[0]
    assert (primary_health.name, primary_health.state) == ("primary", BreakerState.OPEN)
    assert primary_health.consecutive_failures == 2

    third = gateway.send(SMS)
    assert (third.provider, third.attempts) == ("backup", 1)
    assert len(accepted_by(ipyy_sandbox_clean, "push")) == 3


def test_open_circuit_of_the_only_provider_refuses_without_io(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """After two connection failures the only provider is skipped: the third call raises
    CircuitOpenError (a NotSentError: nothing was sent)."""
    gateway = flavour.gateway(
        primary(ipyy_sandbox_clean, base_url=closed_port_url()),
        retry=RetryPolicy(attempts=1),
        breaker=BreakerPolicy(failures=2, cool_down=60.0),
    )
    for _ in range(2):
        with pytest.raises(NotSentError) as caught:
            gateway.send(SMS)
        assert type(caught.value) is NotSentError
    with pytest.raises(CircuitOpenError) as skipped:
        gateway.send(SMS)
    assert skipped.value.provider == "primary"


def test_batch_interrupted_by_a_refusal_sends_only_the_pending_lines_to_the_backup(
    flavour: Flavour, ipyy_sandbox_clean: Sandbox
) -> None:
    """The primary can pay for its first batch request only; the second is refused with 1111.
    Only the lines not yet accepted go to the backup, and the result lists every receipt, the
    primary's first."""
    ipyy_sandbox_clean.state.update_account("demo", sms_balance=2)
    first_text, second_text = "第一批【腾飞】", "第二批【腾飞】"
    gateway = flavour.gateway([primary(ipyy_sandbox_clean), backup(ipyy_sandbox_clean)], retry=RETRY)

    receipts = gateway.send_batch(
        [smsgate.Sms(to=list(MOBILES), text=first_text), smsgate.Sms(to=MOBILES[0], text=second_text)]
    )

    assert [(r.provider, r.recipients) for r in receipts] == [("primary", MOBILES), ("backup", (MOBILES[0],))]
    demo = requests_of(ipyy_sandbox_clean, account="demo", endpoint="BatchSms.ashx")
    assert [e["outcome"]["code"] for e in demo] == ["OK", "AmountNotEnough"]
    [sent_by_backup] = requests_of(ipyy_sandbox_clean, account="push", endpoint="BatchSms.ashx")
    assert sent_by_backup["fields"]["lines"] == [{"mobile": MOBILES[0], "content": second_text}]
    assert receipts[1].task_id == sent_by_backup["outcome"]["task_id"]
