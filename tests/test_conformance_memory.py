"""The public conformance suite, run against InMemoryProvider; and proof that it catches
broken providers and that the opt-in pytest fixtures work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

import smsgate
from smsgate import Capabilities, Provider, Sms
from smsgate.exceptions import AuthenticationError, NotSentError
from smsgate.testing import InMemoryProvider
from smsgate.testing.conformance import ProviderConformance
from tests.conformance_support import (
    PYTESTER_OPTIONS,
    SharedTLSClients,
    assert_caught,
    failures_by_test,
    share_tls_clients,
)

pytest_plugins = ["pytester"]

PASSWORD = "hunter2-Conformance"


def _locked(name: str, capabilities: Capabilities | None = None) -> Provider:
    """An in-memory provider whose next request is refused as a wrong password."""
    provider = InMemoryProvider(name, password=PASSWORD, capabilities=capabilities)
    provider.fail_next(AuthenticationError("password refused", code="1005"))
    return provider


class TestInMemoryConformance(SharedTLSClients, ProviderConformance):
    """Every capability declared (templates too), no text limit, no number rule of its own
    beyond the model: every test runs, sync and async (none is skipped)."""

    template_example = ("verify", {"code": "1439"})

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        templates = {"verify": "code {code}【smsgate】"}
        return lambda: InMemoryProvider("memory", password=PASSWORD, templates=templates)

    @pytest.fixture
    def performs_io(self) -> bool:
        return False  # it answers from memory; see test_memory_provider_not_sent_fails_over

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [PASSWORD]

    @pytest.fixture
    def bad_credentials_provider(self) -> Provider | None:
        return _locked("locked")


LIMITED = Capabilities(send=True, balance=True, max_text_length=40, max_recipients=1, max_batch=1)


class TestLimitedInMemoryConformance(SharedTLSClients, ProviderConformance):
    """Few capabilities and limits: the undeclared-operation, scheduling and limit tests take
    their other branch; only the tests of the undeclared operations are skipped."""

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        return lambda: InMemoryProvider("limited", capabilities=LIMITED)

    @pytest.fixture
    def performs_io(self) -> bool:
        return False

    @pytest.fixture
    def valid_text(self) -> str:
        return "short text【smsgate】"

    @pytest.fixture
    def bad_credentials_provider(self) -> Provider | None:
        return _locked("limited-locked", LIMITED)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_memory_provider_not_sent_fails_over(flavour: str) -> None:
    """The in-memory equivalent of ``test_unreachable_provider_is_not_sent`` (it has no
    connection to refuse): a NotSentError it is scripted to raise ends the send with nothing
    recorded as sent, and a gateway fails over to the next provider, which sends it."""
    sms = Sms(to="13800138000", text="code 1234【shop】")
    alone = InMemoryProvider("alone")
    alone.fail_next(NotSentError("connection refused"))
    with pytest.raises(NotSentError), httpx.Client() as client:
        smsgate.run_flow(alone.send(sms), client, provider="alone", operation="send")
    assert alone.outbox == []

    down, spare = InMemoryProvider("down"), InMemoryProvider("spare")
    down.fail_next(NotSentError("connection refused"))
    once = smsgate.RetryPolicy(attempts=1)  # no retry on "down": the next attempt is a failover
    if flavour == "sync":
        with smsgate.Gateway([down, spare], retry=once) as gateway:
            receipt = gateway.send(sms)
    else:

        async def main() -> smsgate.Receipt:
            async with smsgate.AsyncGateway([down, spare], retry=once) as gateway:
                return await gateway.send(sms)

        receipt = asyncio.run(main())
    assert (receipt.provider, receipt.attempts) == ("spare", 2)
    assert down.outbox == []
    assert [entry.receipt.task_id for entry in spare.outbox] == [receipt.task_id]


BROKEN_PROVIDERS = '''
import pytest
import attrs
import smsgate
from smsgate.testing import InMemoryProvider
from smsgate.testing.conformance import ProviderConformance


class WrongName(InMemoryProvider):
    """Receipts name another provider."""
    def send(self, sms):
        receipt = yield from super().send(sms)
        return attrs.evolve(receipt, provider="someone-else")


class LeakyRepr(InMemoryProvider):
    """Shows its password in repr."""
    def __repr__(self):
        return f"<LeakyRepr password={self._password}>"


class LazyValidation(InMemoryProvider):
    """Makes a request before refusing a long text."""
    capabilities = smsgate.Capabilities(send=True, max_text_length=10)

    def __init__(self):
        super().__init__("lazy", capabilities=self.capabilities)

    def send(self, sms):
        import httpx
        yield httpx.Request("POST", "http://127.0.0.1:9/send")
        return (yield from super().send(sms))


class RawParser(smsgate.Provider):
    """Lets a parser exception out as-is... through a flow the driver cannot rescue."""
    capabilities = smsgate.Capabilities(send=True)
    name = "raw"

    def send(self, sms):
        import httpx
        reply = yield httpx.Request("POST", "http://127.0.0.1:9/send")
        return smsgate.Receipt(provider=self.name, task_id="t", accepted=len(sms.to))


class SwallowsRefusal(InMemoryProvider):
    """Catches the refused connection and reports a success: a lost message."""
    def send(self, sms):
        import httpx
        try:
            yield httpx.Request("POST", "http://127.0.0.1:9/send")
        except smsgate.SmsGateError:
            pass
        return (yield from super().send(sms))


class HidesMms(InMemoryProvider):
    """Declares MMS but refuses every one as unsupported."""
    def send_mms(self, mms):
        return smsgate.Provider.send_mms(self, mms)


class OffByOne(InMemoryProvider):
    """Declares max_text_length 40 but refuses a text of exactly 40 characters."""
    def __init__(self):
        super().__init__("off-by-one", capabilities=smsgate.Capabilities(send=True, max_text_length=40))

    def send(self, sms):
        if len(sms.text) >= 40:
            raise smsgate.ValidationError("text too long", field="text")
        return (yield from super().send(sms))


class SendsScheduledAtOnce(InMemoryProvider):
    """Declares no scheduling, yet sends a message scheduled for tomorrow right now."""
    def __init__(self):
        super().__init__("at-once", capabilities=smsgate.Capabilities(send=True))

    def _check_schedule(self, send_at):
        pass


class MainlandOnly(InMemoryProvider):
    """Refuses foreign numbers, although the suite was given no invalid_recipient."""
    def send(self, sms):
        if any(number.startswith("+") for number in sms.to):
            raise smsgate.ValidationError("mainland numbers only", field="to")
        return (yield from super().send(sms))


class Memory(ProviderConformance):
    """In-memory providers make no request."""
    @pytest.fixture
    def performs_io(self):
        return False


class TestSwallowsRefusal(ProviderConformance):
    @pytest.fixture
    def make_provider(self):
        return lambda: SwallowsRefusal("swallows")


class TestClaimsNoIO(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: SwallowsRefusal("claims-no-io")


class TestHidesMms(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: HidesMms("hides-mms")


class TestOffByOne(Memory):
    @pytest.fixture
    def make_provider(self):
        return OffByOne


class TestSendsScheduledAtOnce(Memory):
    @pytest.fixture
    def make_provider(self):
        return SendsScheduledAtOnce


class TestMainlandOnly(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: MainlandOnly("mainland")


class TestWrongName(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: WrongName("wrong")


class TestLeakyRepr(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: LeakyRepr("leaky", password="s3cret-pw")

    @pytest.fixture
    def secrets(self):
        return ["s3cret-pw"]


class TestLazyValidation(ProviderConformance):
    @pytest.fixture
    def make_provider(self):
        return LazyValidation


class TestRawParser(ProviderConformance):
    @pytest.fixture
    def make_provider(self):
        return RawParser


class TestForgotToOverride(ProviderConformance):
    pass
'''


def test_suite_catches_broken_providers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each deliberate contract breach fails the test that guards it (the suite is not vacuous)."""
    share_tls_clients(monkeypatch)
    pytester.makepyfile(test_broken=BROKEN_PROVIDERS)
    guards = (  # the tests checked below (the others would only slow this run down)
        "send_returns_a_receipt or too_long or unreachable or undeclared_operations or scheduled_send"
        " or invalid_recipient or unusable_replies or declares_a_name or balance_of_every"
    )
    recorder = pytester.inline_run("-p", "no:cacheprovider", "-k", guards, *PYTESTER_OPTIONS)
    failures = failures_by_test(recorder)
    caught = {  # test that fails: what its message must say (expected, and what came)
        "TestWrongName::test_send_returns_a_receipt": "receipt.provider == 'wrong', got 'someone-else'",
        "TestLazyValidation::test_too_long_text_fails_before_io": "made before validation finished",
        "TestSwallowsRefusal::test_unreachable_provider_is_not_sent": "NotSentError, the call returned",
        "TestClaimsNoIO::test_unreachable_provider_is_not_sent": "False, but the send made requests",
        "TestHidesMms::test_undeclared_operations_fail_before_io": "send_mms is declared, but raised",
        "TestOffByOne::test_too_long_text_fails_before_io": "(max_text_length 40): expected a result, got",
        "TestSendsScheduledAtOnce::test_scheduled_send": "ValidationError, the call returned Receipt",
        "TestMainlandOnly::test_invalid_recipient_fails_before_io": "expected a result, got ValidationError",
    }
    assert_caught(failures, caught)
    for mode in ("sync", "async"):
        # A success reported for garbage is a lost message: the suite refuses it.
        assert f"TestRawParser::test_unusable_replies_are_smsgate_errors[{mode}-garbage]" in failures
    assert "TestLeakyRepr::test_declares_a_name_and_capabilities" in failures
    forgot = [report for node, report in failures.items() if node.startswith("TestForgotToOverride::")]
    assert forgot
    assert "must override the make_provider fixture" in forgot[0].longreprtext
    # The correct parts of the broken providers still pass.
    assert "TestWrongName::test_balance_of_every_declared_kind[sync]" not in failures
    assert "TestLeakyRepr::test_send_returns_a_receipt[sync]" not in failures
    assert "TestOffByOne::test_send_returns_a_receipt[sync]" not in failures
    assert "TestSwallowsRefusal::test_send_returns_a_receipt[sync]" not in failures


FIXTURE_TESTS = """
import pytest
import smsgate

pytest_plugins = ["smsgate.testing.pytest_plugin"]


def test_sync(sms_gateway, sms_outbox, memory_provider):
    receipt = sms_gateway.send(smsgate.Sms(to="13800138000", text="code 1234【shop】"))
    [entry] = sms_outbox
    assert entry.receipt == receipt
    assert entry.message.text == "code 1234【shop】"
    assert sms_gateway.providers == (memory_provider,)


def test_fresh_each_time(sms_outbox, memory_provider):
    assert sms_outbox == []
    assert memory_provider.outbox is sms_outbox


@pytest.mark.asyncio
async def test_async(async_sms_gateway, sms_outbox):
    receipt = await async_sms_gateway.send(smsgate.Sms(to=["13800138000", "13900139000"], text="hi"))
    assert receipt.accepted == 2
    assert [e.receipt for e in sms_outbox] == [receipt]

"""


def test_pytest_plugin_fixtures(pytester: pytest.Pytester) -> None:
    """The opt-in fixtures give a fresh provider, a gateway over it and its outbox, sync and
    async (pytest-asyncio in strict mode, the stricter of its two modes)."""
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", *PYTESTER_OPTIONS)
    result.assert_outcomes(passed=3)


def test_sms_gateway_is_closed_after_the_test(pytester: pytest.Pytester) -> None:
    """The gateway fixture closes its gateway at teardown."""
    pytester.makepyfile(
        test_close="""
        pytest_plugins = ["smsgate.testing.pytest_plugin"]
        SEEN = []

        def test_use(sms_gateway):
            SEEN.append(sms_gateway)
            assert not sms_gateway.closed

        def test_after():
            assert SEEN[0].closed
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", *PYTESTER_OPTIONS)
    result.assert_outcomes(passed=2)


def test_a_make_provider_returning_the_provider_itself_says_so(pytester: pytest.Pytester) -> None:
    """The obvious slip (``return InMemoryProvider()`` in place of a callable building one) failed
    every test with "'InMemoryProvider' object is not callable"; each now says what to return."""
    pytester.makepyfile(
        test_slip="""
        import pytest
        from smsgate.testing import InMemoryProvider
        from smsgate.testing.conformance import ProviderConformance

        class TestSlip(ProviderConformance):
            @pytest.fixture
            def make_provider(self):
                return InMemoryProvider("slip")

            def test_only_this(self, provider):
                pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_only_this", *PYTESTER_OPTIONS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*make_provider returned the provider*itself: return a callable*"])
