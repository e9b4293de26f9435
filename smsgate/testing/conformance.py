"""A conformance suite every provider plugin can run against its provider.

Subclass :class:`ProviderConformance` in a test module of your plugin (its name must start
with ``Test`` so pytest collects it) and override the ``make_provider`` fixture; the other
fixtures have defaults you override when your provider needs something else::

    import pytest
    import smsgate
    from smsgate.testing.conformance import ProviderConformance


    class TestAcmeConformance(ProviderConformance):
        @pytest.fixture
        def make_provider(self, acme_sandbox):
            return lambda: smsgate.get_provider("acme", base_url=acme_sandbox.url, password="pw")

        @pytest.fixture
        def secrets(self):
            return ["pw"]

Every test runs twice, through the synchronous driver (:func:`smsgate.run_flow`) and the
asynchronous one (:func:`smsgate.arun_flow`), the two paths the gateways use. Tests of
capabilities the provider does not declare are skipped, and the undeclared operations are
checked to fail with :class:`~smsgate.exceptions.UnsupportedOperationError` before any I/O.
The suite needs pytest only (no pytest-asyncio): async runs use :func:`asyncio.run`.
See ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from smsgate._drivers import arun_flow, run_flow
from smsgate._gateway import AsyncGateway, Gateway
from smsgate._models import Balance, DeliveryReport, InboundMessage, Mms, MmsPart, Receipt, Sms
from smsgate._provider import Capabilities, Flow, Operation, Provider
from smsgate.exceptions import (
    AuthenticationError,
    NotSentError,
    SmsGateError,
    UnsupportedOperationError,
    ValidationError,
)

__all__ = ["MODES", "ProviderConformance", "UnexpectedRequest"]

T = TypeVar("T")

#: The two ways every test runs: through :func:`smsgate.run_flow` and :func:`smsgate.arun_flow`.
MODES = ("sync", "async")

Start = Callable[[Provider], Flow[Any]]


class UnexpectedRequest(AssertionError):
    """A flow sent a request where the contract says it must not do any I/O."""


class _Recorder:
    """An httpx transport (sync and async) that records requests and answers with ``handler``."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)


def _forbid(request: httpx.Request) -> httpx.Response:
    raise UnexpectedRequest(
        f"a request was made before validation finished: {request.method} {request.url.path}"
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _operation_calls(sms: Sms, mms: Mms) -> dict[Operation, Start]:
    """One call per operation, with arguments valid for any provider."""
    return {
        Operation.SEND: lambda p: p.send(sms),
        Operation.SEND_BATCH: lambda p: p.send_batch([sms]),
        Operation.SEND_MMS: lambda p: p.send_mms(mms),
        Operation.BALANCE: lambda p: p.balance("sms"),
        Operation.FETCH_REPORTS: lambda p: p.fetch_reports(),
        Operation.FETCH_INBOUND: lambda p: p.fetch_inbound(),
        Operation.CHANGE_PASSWORD: lambda p: p.change_password("Conformance-2"),
    }


class ProviderConformance:
    """Base class of the provider conformance suite: subclass it as ``Test…`` and override
    :meth:`make_provider` (plus any other fixture below that your provider needs).

    Fixtures you may override:

    ``make_provider``
        **Required.** A callable returning a freshly configured, working provider, e.g.
        pointed at your sandbox. Called once per test.
    ``valid_recipients``
        Distinct numbers the provider accepts (default two mainland mobiles).
    ``valid_text``
        A text the provider accepts, signature included if it needs one.
    ``valid_mms``
        An :class:`~smsgate.Mms` the provider accepts (default: one text part).
    ``invalid_recipient``
        A number the provider's own validation refuses before any I/O, or ``None`` to skip
        that test (the default).
    ``bad_credentials_provider``
        A provider configured with wrong credentials, or ``None`` to skip (the default).
    ``secrets``
        Strings that must never appear in a repr or an error message: the password, its
        hashes, keys (default none).

    Methods you may override: :meth:`sync_client` and :meth:`async_client`, the HTTP
    clients used to reach the provider (default: plain httpx clients).
    """

    # --- fixtures a plugin overrides ------------------------------------------------------

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        """Return a callable building a freshly configured provider. Override this."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the make_provider fixture (see smsgate.testing.conformance)"
        )

    @pytest.fixture
    def valid_recipients(self) -> list[str]:
        """Distinct numbers the provider accepts."""
        return ["13800138000", "13900139000"]

    @pytest.fixture
    def valid_text(self) -> str:
        """A message text the provider accepts."""
        return "smsgate conformance check【smsgate】"

    @pytest.fixture
    def valid_mms(self, valid_recipients: list[str], valid_text: str) -> Mms:
        """An MMS the provider accepts."""
        return Mms(
            to=valid_recipients[:1],
            subject="smsgate conformance",
            parts=[MmsPart(name="1.txt", data=valid_text.encode("utf-8"))],
        )

    @pytest.fixture
    def invalid_recipient(self) -> str | None:
        """A number the provider refuses before any I/O; ``None`` skips the test."""
        return None

    @pytest.fixture
    def bad_credentials_provider(self) -> Provider | None:
        """A provider with wrong credentials; ``None`` skips the test."""
        return None

    @pytest.fixture
    def secrets(self) -> list[str]:
        """Strings that must never show in a repr or an error."""
        return []

    def sync_client(self) -> httpx.Client:
        """The client the synchronous runs use to reach the provider."""
        return httpx.Client(follow_redirects=False)

    def async_client(self) -> httpx.AsyncClient:
        """The client the asynchronous runs use to reach the provider."""
        return httpx.AsyncClient(follow_redirects=False)

    # --- the suite's own fixtures ---------------------------------------------------------

    @pytest.fixture(params=MODES)
    def mode(self, request: pytest.FixtureRequest) -> str:
        """``"sync"`` or ``"async"``: which driver runs the flows."""
        value: str = request.param
        return value

    @pytest.fixture
    def provider(self, make_provider: Callable[[], Provider]) -> Provider:
        """A fresh provider for one test."""
        built = make_provider()
        assert isinstance(built, Provider), f"make_provider returned {built!r}, not an smsgate.Provider"
        return built

    # --- helpers --------------------------------------------------------------------------

    def run(
        self,
        mode: str,
        provider: Provider,
        start: Callable[[Provider], Flow[T]],
        operation: Operation,
        *,
        transport: httpx.MockTransport | None = None,
    ) -> T:
        """Run ``start(provider)`` to completion with the driver of ``mode``.

        The flow is built inside the run, so an error raised when the operation is called
        and one raised when its flow starts are treated alike. With ``transport`` the run
        goes through it instead of the real clients.
        """
        options: dict[str, Any] = {
            "provider": provider.name,
            "operation": operation.value,
            "timeout": provider.timeout,
        }
        if mode == "sync":
            with httpx.Client(transport=transport) if transport else self.sync_client() as client:
                return run_flow(start(provider), client, **options)

        async def main() -> T:
            async with httpx.AsyncClient(transport=transport) if transport else self.async_client() as client:
                return await arun_flow(start(provider), client, **options)

        return asyncio.run(main())

    def assert_no_io(
        self,
        mode: str,
        provider: Provider,
        start: Callable[[Provider], Flow[Any]],
        operation: Operation,
        expected: type[SmsGateError],
    ) -> SmsGateError:
        """Assert that running ``start`` raises ``expected`` without making any request."""
        recorder = _Recorder(_forbid)
        with pytest.raises(expected) as info:
            self.run(mode, provider, start, operation, transport=recorder.transport)
        assert recorder.requests == [], f"{operation.value}: a request was made before refusing"
        return info.value

    def assert_discreet(self, text: str, secrets: Sequence[str], what: str) -> None:
        """Assert that no secret appears in ``text``."""
        for secret in secrets:
            assert secret not in text, f"a secret appears in {what}"

    def caps(self, provider: Provider) -> Capabilities:
        """The provider's declared capabilities."""
        return provider.capabilities

    def need(self, provider: Provider, operation: Operation) -> None:
        """Skip the test when the provider does not declare ``operation``."""
        if not provider.capabilities.supports(operation):
            pytest.skip(f"{provider.name!r} does not declare {operation.value}")

    # --- declarations ---------------------------------------------------------------------

    def test_declares_a_name_and_capabilities(self, provider: Provider, secrets: list[str]) -> None:
        """The provider has a non-empty name, Capabilities, and a repr without secrets."""
        assert isinstance(provider.name, str)
        assert provider.name
        assert isinstance(provider.capabilities, Capabilities)
        assert provider.timeout is None or provider.timeout > 0
        self.assert_discreet(repr(provider), secrets, "repr(provider)")
        self.assert_discreet(str(provider), secrets, "str(provider)")
        self.assert_discreet(repr(vars(provider).keys()), secrets, "the provider's attribute names")

    # --- sending --------------------------------------------------------------------------

    def test_send_returns_a_receipt(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """send -> Receipt naming this provider, a non-empty task id, every recipient accepted."""
        self.need(provider, Operation.SEND)
        sms = Sms(to=valid_recipients, text=valid_text)
        receipt = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        assert isinstance(receipt, Receipt)
        assert receipt.provider == provider.name
        assert isinstance(receipt.task_id, str)
        assert receipt.task_id
        assert receipt.accepted == len(valid_recipients)
        assert receipt.balance is None or isinstance(receipt.balance, Decimal)

    def test_send_to_one_recipient(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A single recipient given as a string is one accepted recipient."""
        self.need(provider, Operation.SEND)
        sms = Sms(to=valid_recipients[0], text=valid_text)
        receipt = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        assert receipt.accepted == 1

    def test_each_send_gets_its_own_task_id(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """Two sends are two tasks: reports can be matched to the right one."""
        self.need(provider, Operation.SEND)
        sms = Sms(to=valid_recipients[0], text=valid_text)
        first = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        second = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        assert first.task_id != second.task_id

    def test_scheduled_send(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A provider that declares scheduling accepts an aware ``send_at`` in the future."""
        self.need(provider, Operation.SEND)
        if not provider.capabilities.scheduling:
            pytest.skip(f"{provider.name!r} does not declare scheduling")
        sms = Sms(to=valid_recipients[0], text=valid_text, send_at=_now() + dt.timedelta(days=1))
        receipt = self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)
        assert receipt.provider == provider.name
        assert receipt.accepted == 1

    def test_send_batch_returns_one_receipt_per_request_in_order(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """send_batch -> one Receipt per request made (``max_batch`` per request), in order."""
        self.need(provider, Operation.SEND_BATCH)
        batch = [Sms(to=number, text=valid_text) for number in valid_recipients]
        receipts = self.run(mode, provider, lambda p: p.send_batch(batch), Operation.SEND_BATCH)
        assert isinstance(receipts, list)
        assert all(isinstance(r, Receipt) and r.provider == provider.name for r in receipts)
        size = provider.capabilities.max_batch or len(batch)
        assert len(receipts) == math.ceil(len(batch) / size)
        assert sum(r.accepted for r in receipts) == len(batch)
        assert all(isinstance(r.task_id, str) and r.task_id for r in receipts)
        listed = [n for r in receipts for n in r.recipients]
        if listed:  # receipts that list their recipients list them in batch order
            assert listed == [n for sms in batch for n in sms.to]

    def test_send_mms_returns_a_receipt(self, mode: str, provider: Provider, valid_mms: Mms) -> None:
        """send_mms -> Receipt naming this provider, every recipient accepted."""
        self.need(provider, Operation.SEND_MMS)
        receipt = self.run(mode, provider, lambda p: p.send_mms(valid_mms), Operation.SEND_MMS)
        assert isinstance(receipt, Receipt)
        assert receipt.provider == provider.name
        assert isinstance(receipt.task_id, str)
        assert receipt.task_id
        assert receipt.accepted == len(valid_mms.to)

    # --- reading --------------------------------------------------------------------------

    def test_balance_of_every_declared_kind(self, mode: str, provider: Provider) -> None:
        """balance(kind) -> Balance of that kind with a Decimal ``remaining``, for each kind declared."""
        self.need(provider, Operation.BALANCE)
        kinds = sorted(provider.capabilities.balance_kinds)
        assert kinds, "a provider declaring balance must declare at least one balance kind"
        for kind in kinds:

            def read(p: Provider, k: str = kind) -> Flow[Balance]:
                return p.balance(k)

            balance = self.run(mode, provider, read, Operation.BALANCE)
            assert isinstance(balance, Balance)
            assert balance.provider == provider.name
            assert balance.kind == kind
            assert isinstance(balance.remaining, Decimal)

    def test_fetch_reports_returns_reports(self, mode: str, provider: Provider) -> None:
        """fetch_reports -> a list of DeliveryReport from this provider, aware datetimes or None."""
        self.need(provider, Operation.FETCH_REPORTS)
        reports = self.run(mode, provider, lambda p: p.fetch_reports(), Operation.FETCH_REPORTS)
        assert isinstance(reports, list)
        for report in reports:
            assert isinstance(report, DeliveryReport)
            assert report.provider == provider.name
            assert report.received_at is None or report.received_at.utcoffset() is not None

    def test_fetch_inbound_returns_messages(self, mode: str, provider: Provider) -> None:
        """fetch_inbound -> a list of InboundMessage from this provider, aware datetimes or None."""
        self.need(provider, Operation.FETCH_INBOUND)
        messages = self.run(mode, provider, lambda p: p.fetch_inbound(), Operation.FETCH_INBOUND)
        assert isinstance(messages, list)
        for message in messages:
            assert isinstance(message, InboundMessage)
            assert message.provider == provider.name
            assert message.received_at is None or message.received_at.utcoffset() is not None

    # --- refusals before I/O --------------------------------------------------------------

    def test_undeclared_operations_fail_before_io(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str, valid_mms: Mms
    ) -> None:
        """Every operation the provider does not declare raises UnsupportedOperationError, no I/O."""
        calls = _operation_calls(Sms(to=valid_recipients[0], text=valid_text), valid_mms)
        undeclared = [op for op in Operation if not provider.capabilities.supports(op)]
        if not undeclared:
            pytest.skip(f"{provider.name!r} declares every operation")
        for operation in undeclared:
            self.assert_no_io(mode, provider, calls[operation], operation, UnsupportedOperationError)

    def test_undeclared_balance_kind_fails_before_io(self, mode: str, provider: Provider) -> None:
        """A balance kind the provider does not declare is a ValidationError, no I/O."""
        self.need(provider, Operation.BALANCE)
        self.assert_no_io(
            mode, provider, lambda p: p.balance("no-such-kind"), Operation.BALANCE, ValidationError
        )

    def test_invalid_recipient_fails_before_io(
        self, mode: str, provider: Provider, invalid_recipient: str | None, valid_text: str
    ) -> None:
        """A number the provider refuses is a ValidationError before any request."""
        self.need(provider, Operation.SEND)
        if invalid_recipient is None:
            pytest.skip("no invalid_recipient fixture given")
        try:
            sms = Sms(to=[invalid_recipient], text=valid_text)
        except ValidationError:
            return  # the generic model check refused it already: nothing can be sent
        self.assert_no_io(mode, provider, lambda p: p.send(sms), Operation.SEND, ValidationError)

    def test_too_long_text_fails_before_io(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """With ``max_text_length`` declared, a longer text is a ValidationError before any request."""
        self.need(provider, Operation.SEND)
        limit = provider.capabilities.max_text_length
        if limit is None:
            pytest.skip(f"{provider.name!r} declares no max_text_length")
        text = (valid_text * (limit // max(len(valid_text), 1) + 2))[: limit + 1]
        sms = Sms(to=valid_recipients[0], text=text)
        self.assert_no_io(mode, provider, lambda p: p.send(sms), Operation.SEND, ValidationError)

    # --- failures -------------------------------------------------------------------------

    def test_bad_credentials_raise_authentication_error(
        self,
        mode: str,
        bad_credentials_provider: Provider | None,
        valid_recipients: list[str],
        valid_text: str,
        secrets: list[str],
    ) -> None:
        """Wrong credentials -> AuthenticationError, whose text shows no secret."""
        if bad_credentials_provider is None:
            pytest.skip("no bad_credentials_provider fixture given")
        provider = bad_credentials_provider
        start: Callable[[Provider], Flow[Any]]
        if provider.capabilities.balance:
            start, operation = (lambda p: p.balance("sms")), Operation.BALANCE
        else:
            sms = Sms(to=valid_recipients[0], text=valid_text)
            start, operation = (lambda p: p.send(sms)), Operation.SEND
        with pytest.raises(AuthenticationError) as info:
            self.run(mode, provider, start, operation)
        assert info.value.provider in (None, provider.name)
        self.assert_discreet(str(info.value), secrets, "an AuthenticationError")
        self.assert_discreet(repr(info.value), secrets, "repr of an AuthenticationError")
        self.assert_discreet(repr(provider), secrets, "repr(provider)")

    @pytest.mark.parametrize(
        ("reply", "reads_may_succeed"),
        [
            pytest.param(
                lambda request: httpx.Response(200, content=b"\x00<<not a reply>>\xff"), False, id="garbage"
            ),
            pytest.param(
                lambda request: httpx.Response(500, content=b"Internal Server Error"), False, id="http-500"
            ),
            # An empty body may honestly mean "nothing queued" to a report or inbound pull.
            pytest.param(lambda request: httpx.Response(200, content=b""), True, id="empty"),
        ],
    )
    def test_unusable_replies_are_smsgate_errors(  # noqa: PLR0917 - pytest passes fixtures by position
        self,
        mode: str,
        provider: Provider,
        reply: Callable[[httpx.Request], httpx.Response],
        reads_may_succeed: bool,
        valid_recipients: list[str],
        valid_text: str,
        valid_mms: Mms,
        secrets: list[str],
    ) -> None:
        """Whatever comes back, every declared operation ends in an SmsGateError (never a raw
        parser exception, never a false success), and the error text shows no secret."""
        calls = _operation_calls(Sms(to=valid_recipients[0], text=valid_text), valid_mms)
        for operation, start in calls.items():
            if not provider.capabilities.supports(operation):
                continue
            recorder = _Recorder(reply)
            try:
                self.run(mode, provider, start, operation, transport=recorder.transport)
            except SmsGateError as exc:
                self.assert_discreet(str(exc), secrets, f"the error of {operation.value}")
                self.assert_discreet(repr(exc), secrets, f"the error repr of {operation.value}")
            else:
                pull = operation in (Operation.FETCH_REPORTS, Operation.FETCH_INBOUND)
                assert not recorder.requests or (pull and reads_may_succeed), (
                    f"{operation.value} treated an unusable reply as a success"
                )

    def test_unreachable_provider_is_not_sent(
        self,
        mode: str,
        provider: Provider,
        valid_recipients: list[str],
        valid_text: str,
        secrets: list[str],
    ) -> None:
        """A connection that cannot be made ends a send in NotSentError (safe to fail over)."""
        self.need(provider, Operation.SEND)

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        recorder = _Recorder(refuse)
        sms = Sms(to=valid_recipients[0], text=valid_text)
        try:
            self.run(mode, provider, lambda p: p.send(sms), Operation.SEND, transport=recorder.transport)
        except NotSentError as exc:
            assert recorder.requests, "NotSentError without any connection attempt"
            self.assert_discreet(str(exc), secrets, "a NotSentError")
        else:
            assert recorder.requests == [], "a send succeeded although its request could not be made"

    # --- through the gateways -------------------------------------------------------------

    def test_gateway_sends_through_the_provider(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """Gateway and AsyncGateway over this provider send and name it in the receipt."""
        self.need(provider, Operation.SEND)
        sms = Sms(to=valid_recipients[0], text=valid_text)
        if mode == "sync":
            with self.sync_client() as client, Gateway(provider, client=client) as gateway:
                receipt = gateway.send(sms)
        else:

            async def main() -> Receipt:
                async with self.async_client() as client, AsyncGateway(provider, client=client) as gateway:
                    return await gateway.send(sms)

            receipt = asyncio.run(main())
        assert receipt.provider == provider.name
        assert receipt.accepted == 1
        assert receipt.attempts == 1
