"""The public conformance suite, run against InMemoryProvider; and proof that it catches
broken providers and that the opt-in pytest fixtures work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smsgate import Capabilities, Provider
from smsgate.exceptions import AuthenticationError
from smsgate.testing import InMemoryProvider
from smsgate.testing.conformance import ProviderConformance

pytest_plugins = ["pytester"]

PASSWORD = "hunter2-Conformance"
# The inner runs have no pyproject.toml: say explicitly how pytest-asyncio should behave.
PYTESTER_OPTIONS = ("-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function")


class TestInMemoryConformance(ProviderConformance):
    """Every capability declared: every positive test runs, sync and async."""

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        return lambda: InMemoryProvider("memory", password=PASSWORD)

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [PASSWORD]

    @pytest.fixture
    def invalid_recipient(self) -> str | None:
        return "not-a-number"

    @pytest.fixture
    def bad_credentials_provider(self) -> Provider | None:
        provider = InMemoryProvider("locked", password=PASSWORD)
        provider.fail_next(AuthenticationError("password refused", code="1005"))
        return provider


class TestLimitedInMemoryConformance(ProviderConformance):
    """Few capabilities and limits: the undeclared-operation and limit tests run."""

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        capabilities = Capabilities(
            send=True, balance=True, max_text_length=40, max_recipients=1, max_batch=1
        )
        return lambda: InMemoryProvider("limited", capabilities=capabilities)

    @pytest.fixture
    def valid_text(self) -> str:
        return "short text【smsgate】"


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


class TestWrongName(ProviderConformance):
    @pytest.fixture
    def make_provider(self):
        return lambda: WrongName("wrong")


class TestLeakyRepr(ProviderConformance):
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


def test_suite_catches_broken_providers(pytester: pytest.Pytester) -> None:
    """Each deliberate contract breach fails the test that guards it (the suite is not vacuous)."""
    pytester.makepyfile(test_broken=BROKEN_PROVIDERS)
    recorder = pytester.inline_run("-p", "no:cacheprovider", *PYTESTER_OPTIONS)
    failures = {report.nodeid.split("::", 1)[1]: report for report in recorder.getfailures()}
    for mode in ("sync", "async"):
        assert f"TestWrongName::test_send_returns_a_receipt[{mode}]" in failures
        assert f"TestLazyValidation::test_too_long_text_fails_before_io[{mode}]" in failures
        # A success reported for garbage is a lost message: the suite refuses it.
        assert f"TestRawParser::test_unusable_replies_are_smsgate_errors[{mode}-garbage]" in failures
    assert "TestLeakyRepr::test_declares_a_name_and_capabilities" in failures
    forgot = [report for node, report in failures.items() if node.startswith("TestForgotToOverride::")]
    assert forgot
    assert "must override the make_provider fixture" in forgot[0].longreprtext
    # The correct parts of the broken providers still pass.
    assert "TestWrongName::test_balance_of_every_declared_kind[sync]" not in failures
    assert "TestLeakyRepr::test_send_returns_a_receipt[sync]" not in failures


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
