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
asynchronous one (:func:`smsgate.arun_flow`), the two paths the gateways use. A test of an
operation the provider does not declare is skipped (the only skips besides a missing
``bad_credentials_provider``); the undeclared operations are checked to fail with
:class:`~smsgate.exceptions.UnsupportedOperationError` before any I/O, the declared ones
never to. A breach fails with :class:`ConformanceFailure`, whose message says what was
expected and what came. The suite needs pytest only (no pytest-asyncio): async runs use
:func:`asyncio.run`. See ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from smsgate._drivers import arun_flow, run_flow
from smsgate._gateway import AsyncGateway, Gateway, default_async_client
from smsgate._models import Balance, DeliveryReport, InboundMessage, Mms, MmsPart, Receipt, Sms
from smsgate._provider import Capabilities, Flow, Operation, Provider
from smsgate.exceptions import (
    AuthenticationError,
    NotSentError,
    SmsGateError,
    UnsupportedOperationError,
    ValidationError,
)

__all__ = [
    "FOREIGN_NUMBER",
    "LONG_TEXT_LENGTH",
    "MODES",
    "ConformanceFailure",
    "ProviderConformance",
    "UnexpectedRequest",
    "expect",
]

T = TypeVar("T")

#: The two ways every test runs: through :func:`smsgate.run_flow` and :func:`smsgate.arun_flow`.
MODES = ("sync", "async")

#: The length of the text a provider declaring no ``max_text_length`` must accept.
LONG_TEXT_LENGTH = 2000

#: A number :class:`~smsgate.Sms` accepts (a UK drama number) that a provider with no
#: ``invalid_recipient`` of its own must send to.
FOREIGN_NUMBER = "+447700900123"

Start = Callable[[Provider], Flow[Any]]


class ConformanceFailure(AssertionError):
    """The provider breaks the contract; the message says what was expected and what came."""


class UnexpectedRequest(ConformanceFailure):
    """A flow sent a request where the contract says it must not do any I/O."""


def expect(condition: object, message: str) -> None:
    """Fail the running test with :class:`ConformanceFailure` (``message``) unless ``condition``.

    Unlike ``assert`` it also runs under ``python -O``, and the message is always there.
    """
    __tracebackhide__ = True
    if not condition:
        raise ConformanceFailure(message)


class _Recorder:
    """An httpx transport (sync and async) that records requests and answers with ``handler``."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)

    def paths(self) -> list[str]:
        """``METHOD path`` of every request so far, for failure messages."""
        return [f"{request.method} {request.url.path}" for request in self.requests]


def _forbid(request: httpx.Request) -> httpx.Response:
    raise UnexpectedRequest(
        f"a request was made before validation finished: {request.method} {request.url.path}"
    )


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _operation_calls(sms: Sms, mms: Mms) -> dict[Operation, Start]:
    """One call per operation, with arguments valid for any provider."""

    def query(p: Provider) -> Flow[list[DeliveryReport]]:
        # a receipt as the provider would have issued it, for a message it never saw
        receipt = Receipt(
            provider=p.name, task_id="1000001", accepted=1, recipients=sms.to[:1], accepted_at=_now()
        )
        return p.query_status(receipt)

    return {
        Operation.SEND: lambda p: p.send(sms),
        Operation.SEND_BATCH: lambda p: p.send_batch([sms]),
        Operation.SEND_MMS: lambda p: p.send_mms(mms),
        Operation.BALANCE: lambda p: p.balance("sms"),
        Operation.FETCH_REPORTS: lambda p: p.fetch_reports(),
        Operation.FETCH_INBOUND: lambda p: p.fetch_inbound(),
        Operation.CHANGE_PASSWORD: lambda p: p.change_password("Conformance-2"),
        Operation.QUERY_STATUS: query,
    }


def _text_of_length(length: int, valid_text: str) -> str:
    """A text of exactly ``length`` characters ending like ``valid_text`` (its signature kept
    last), padded in front with ``valid_text`` repeated; cut from ``valid_text`` if shorter."""
    if len(valid_text) >= length:
        return valid_text[:length]
    pad = length - len(valid_text)
    return (valid_text * (pad // len(valid_text) + 1))[:pad] + valid_text


def _check_receipt(receipt: object, provider: Provider, accepted: int, what: str) -> None:
    """A Receipt naming ``provider``, with a non-empty str task id and ``accepted`` recipients."""
    __tracebackhide__ = True
    if not isinstance(receipt, Receipt):
        raise ConformanceFailure(f"{what}: expected a Receipt, got {receipt!r}")
    expect(
        receipt.provider == provider.name,
        f"{what}: expected receipt.provider == {provider.name!r}, got {receipt.provider!r}",
    )
    expect(
        isinstance(receipt.task_id, str) and receipt.task_id,
        f"{what}: expected a non-empty str task_id, got {receipt.task_id!r}",
    )
    expect(receipt.accepted == accepted, f"{what}: expected accepted == {accepted}, got {receipt.accepted!r}")
    expect(
        receipt.balance is None or isinstance(receipt.balance, Decimal),
        f"{what}: expected balance None or a Decimal, got {receipt.balance!r}",
    )


def _check_aware(value: dt.datetime | None, what: str) -> None:
    __tracebackhide__ = True
    expect(
        value is None or value.utcoffset() is not None,
        f"{what}: expected an aware datetime or None, got {value!r}",
    )


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
        A number :class:`~smsgate.Sms` accepts but the provider's own validation refuses
        before any I/O. ``None`` (the default) says the provider has no rule of its own: the
        suite then checks that it sends to :data:`FOREIGN_NUMBER`.
    ``bad_credentials_provider``
        A provider configured with wrong credentials, or ``None`` to skip (the default).
    ``performs_io``
        ``True`` (the default) when the provider's flows make HTTP requests; ``False`` for a
        provider that answers from memory, whose flows the suite then checks make none.
    ``secrets``
        Strings that must never appear in a repr or an error message: the password, its
        hashes, keys (default none).

    Class attribute you set when your provider renders templates:

    :attr:`template_example`
        ``(name, params)`` of a template the provider built by ``make_provider`` knows, with
        every parameter it needs (``("verify", {"code": "1439"})``). Required when the
        provider declares ``templates``; a provider that sends templates only
        (``free_text=False``) gets it in place of ``valid_text`` in every send of the suite.

    Methods you may override: :meth:`sync_client` and :meth:`async_client`, the HTTP
    clients used to reach the provider (default: plain httpx clients).
    """

    #: ``(name, params)`` of a template the provider under test renders (see the class docs).
    template_example: ClassVar[tuple[str, Mapping[str, str]] | None] = None

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
        """A number the provider refuses before any I/O; ``None``: it has no rule of its own."""
        return None

    @pytest.fixture
    def bad_credentials_provider(self) -> Provider | None:
        """A provider with wrong credentials; ``None`` skips the test."""
        return None

    @pytest.fixture
    def performs_io(self) -> bool:
        """Whether the provider's flows make HTTP requests (``False``: it answers from memory)."""
        return True

    @pytest.fixture
    def secrets(self) -> list[str]:
        """Strings that must never show in a repr or an error."""
        return []

    def sync_client(self) -> httpx.Client:
        """The client the synchronous runs use to reach the provider."""
        return httpx.Client(follow_redirects=False)

    def async_client(self) -> httpx.AsyncClient:
        """The client the asynchronous runs use to reach the provider: the one an
        :class:`~smsgate.AsyncGateway` opens by default (over aiohttp when it is installed)."""
        return default_async_client()

    # --- the suite's own fixtures ---------------------------------------------------------

    @pytest.fixture(params=MODES)
    def mode(self, request: pytest.FixtureRequest) -> str:
        """``"sync"`` or ``"async"``: which driver runs the flows."""
        value: str = request.param
        return value

    @pytest.fixture
    def provider(self, make_provider: Callable[[], Provider]) -> Provider:
        """A fresh provider for one test."""
        expect(
            not isinstance(make_provider, Provider),
            f"make_provider returned the provider {make_provider!r} itself: return a callable "
            "building a fresh one (lambda: smsgate.get_provider(...))",
        )
        built = make_provider()
        expect(isinstance(built, Provider), f"make_provider returned {built!r}, not an smsgate.Provider")
        return built

    # --- helpers --------------------------------------------------------------------------

    def send_sms(self, mode: str, provider: Provider, sms: Sms) -> Receipt:
        """Send ``sms`` through ``provider`` with the driver of ``mode`` (see :meth:`run`)."""
        return self.run(mode, provider, lambda p: p.send(sms), Operation.SEND)

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

    def raises(
        self,
        expected: type[SmsGateError],
        what: str,
        call: Callable[[], object],
    ) -> SmsGateError:
        """Return the ``expected`` error ``call()`` raises; fail saying what came instead
        (a result, or another error, chained as the cause)."""
        __tracebackhide__ = True
        try:
            result = call()
        except expected as exc:
            return exc
        except Exception as exc:
            raise ConformanceFailure(
                f"{what}: expected {expected.__name__}, got {type(exc).__name__}: {exc}"
            ) from exc
        raise ConformanceFailure(f"{what}: expected {expected.__name__}, the call returned {result!r}")

    def assert_no_io(
        self,
        mode: str,
        provider: Provider,
        start: Callable[[Provider], Flow[Any]],
        operation: Operation,
        expected: type[SmsGateError],
    ) -> SmsGateError:
        """Assert that running ``start`` raises ``expected`` without making any request."""
        __tracebackhide__ = True
        recorder = _Recorder(_forbid)
        error = self.raises(
            expected,
            f"{operation.value} before any request",
            lambda: self.run(mode, provider, start, operation, transport=recorder.transport),
        )
        expect(
            recorder.requests == [],
            f"{operation.value}: expected no request before refusing, got {recorder.paths()}",
        )
        return error

    def assert_discreet(self, text: str, secrets: Sequence[str], what: str) -> None:
        """Assert that no secret appears in ``text``."""
        __tracebackhide__ = True
        for index, secret in enumerate(secrets):
            # the message names the secret by its place in the fixture, never by its value
            expect(secret not in text, f"secrets[{index}] appears in {what}")

    def caps(self, provider: Provider) -> Capabilities:
        """The provider's declared capabilities."""
        return provider.capabilities

    def need(self, provider: Provider, operation: Operation) -> None:
        """Skip the test when the provider does not declare ``operation``."""
        if not provider.capabilities.supports(operation):
            pytest.skip(f"{provider.name!r} does not declare {operation.value}")

    def need_template(self, provider: Provider) -> tuple[str, Mapping[str, str]]:
        """:attr:`template_example`; a failure when the provider needs one and it is not set."""
        __tracebackhide__ = True
        if self.template_example is None:
            raise ConformanceFailure(
                f"{provider.name!r} declares templates=True or free_text=False, but "
                f"{type(self).__name__}.template_example is not set: give (name, params) of a "
                "template the provider knows"
            )
        return self.template_example

    def sms(self, provider: Provider, to: str | Iterable[str], text: str, **fields: Any) -> Sms:
        """A message ``provider`` can render: ``text`` for a provider that accepts free text,
        else :attr:`template_example`. ``fields`` go to :class:`~smsgate.Sms` as they are."""
        if provider.capabilities.free_text:
            return Sms(to=to, text=text, **fields)
        name, params = self.need_template(provider)
        return Sms(to=to, template=name, params=params, **fields)

    # --- declarations ---------------------------------------------------------------------

    def test_declares_a_name_and_capabilities(self, provider: Provider, secrets: list[str]) -> None:
        """The provider has a non-empty name, Capabilities, and a repr without secrets."""
        expect(
            isinstance(provider.name, str) and provider.name,
            f"expected a non-empty str name, got {provider.name!r}",
        )
        expect(
            isinstance(provider.capabilities, Capabilities),
            f"expected Capabilities, got {provider.capabilities!r}",
        )
        expect(
            provider.timeout is None or provider.timeout > 0,
            f"expected a positive timeout or None, got {provider.timeout!r}",
        )
        self.assert_discreet(repr(provider), secrets, "repr(provider)")
        self.assert_discreet(str(provider), secrets, "str(provider)")
        self.assert_discreet(repr(vars(provider).keys()), secrets, "the provider's attribute names")

    # --- sending --------------------------------------------------------------------------

    def test_send_returns_a_receipt(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """send -> Receipt naming this provider, a non-empty task id, every recipient accepted."""
        self.need(provider, Operation.SEND)
        sms = self.sms(provider, valid_recipients, valid_text)
        receipt = self.send_sms(mode, provider, sms)
        _check_receipt(receipt, provider, len(valid_recipients), "send")

    def test_send_to_one_recipient(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A single recipient given as a string is one accepted recipient."""
        self.need(provider, Operation.SEND)
        sms = self.sms(provider, valid_recipients[0], valid_text)
        receipt = self.send_sms(mode, provider, sms)
        _check_receipt(receipt, provider, 1, "send to one recipient")

    def test_each_send_gets_its_own_task_id(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """Two sends are two tasks: reports can be matched to the right one."""
        self.need(provider, Operation.SEND)
        sms = self.sms(provider, valid_recipients[0], valid_text)
        first = self.send_sms(mode, provider, sms)
        second = self.send_sms(mode, provider, sms)
        expect(
            first.task_id != second.task_id,
            f"expected two task ids for two sends, got {first.task_id!r} twice",
        )

    def test_scheduled_send(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A provider that declares scheduling accepts an aware ``send_at`` in the future; one
        that does not refuses it with a ValidationError before any request (rather than
        sending at once)."""
        self.need(provider, Operation.SEND)
        sms = self.sms(provider, valid_recipients[0], valid_text, send_at=_now() + dt.timedelta(days=1))
        if not provider.capabilities.scheduling:
            self.assert_no_io(mode, provider, lambda p: p.send(sms), Operation.SEND, ValidationError)
            return
        receipt = self.send_sms(mode, provider, sms)
        _check_receipt(receipt, provider, 1, "scheduled send")

    def test_send_batch_returns_one_receipt_per_request_in_order(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """send_batch -> one Receipt per request made (``max_batch`` per request), in order."""
        self.need(provider, Operation.SEND_BATCH)
        batch = [self.sms(provider, number, valid_text) for number in valid_recipients]
        receipts = self.run(mode, provider, lambda p: p.send_batch(batch), Operation.SEND_BATCH)
        expect(isinstance(receipts, list), f"send_batch: expected a list of Receipt, got {receipts!r}")
        size = provider.capabilities.max_batch or len(batch)
        requests = math.ceil(len(batch) / size)
        expect(
            len(receipts) == requests,
            f"send_batch of {len(batch)} with max_batch {provider.capabilities.max_batch}: expected "
            f"{requests} receipts, got {len(receipts)}: {receipts!r}",
        )
        for index, receipt in enumerate(receipts):
            # the last request carries the remainder, every other one a full max_batch
            carried = min(size, len(batch) - index * size)
            _check_receipt(receipt, provider, carried, f"send_batch receipt {index}")
        listed = [n for r in receipts for n in r.recipients]
        expected = [n for sms in batch for n in sms.to]
        expect(
            not listed or listed == expected,
            f"send_batch: receipts that list recipients must list them in batch order: expected "
            f"{expected}, got {listed}",
        )

    def test_send_mms_returns_a_receipt(self, mode: str, provider: Provider, valid_mms: Mms) -> None:
        """send_mms -> Receipt naming this provider, every recipient accepted."""
        self.need(provider, Operation.SEND_MMS)
        receipt = self.run(mode, provider, lambda p: p.send_mms(valid_mms), Operation.SEND_MMS)
        _check_receipt(receipt, provider, len(valid_mms.to), "send_mms")

    # --- reading --------------------------------------------------------------------------

    def test_balance_of_every_declared_kind(self, mode: str, provider: Provider) -> None:
        """balance(kind) -> Balance of that kind with a Decimal ``remaining``, for each kind declared."""
        self.need(provider, Operation.BALANCE)
        kinds = sorted(provider.capabilities.balance_kinds)
        expect(kinds, "a provider declaring balance must declare at least one balance kind; got none")
        for kind in kinds:

            def read(p: Provider, k: str = kind) -> Flow[Balance]:
                return p.balance(k)

            balance = self.run(mode, provider, read, Operation.BALANCE)
            expect(isinstance(balance, Balance), f"balance({kind!r}): expected a Balance, got {balance!r}")
            expect(
                (balance.provider, balance.kind) == (provider.name, kind),
                f"balance({kind!r}): expected provider {provider.name!r} and kind {kind!r}, "
                f"got {balance.provider!r} and {balance.kind!r}",
            )
            expect(
                isinstance(balance.remaining, Decimal),
                f"balance({kind!r}): expected a Decimal remaining, got {balance.remaining!r}",
            )

    def test_fetch_reports_returns_reports(self, mode: str, provider: Provider) -> None:
        """fetch_reports -> a list of DeliveryReport from this provider, aware datetimes or None."""
        self.need(provider, Operation.FETCH_REPORTS)
        reports = self.run(mode, provider, lambda p: p.fetch_reports(), Operation.FETCH_REPORTS)
        self._check_pulled(reports, DeliveryReport, provider)

    def test_fetch_inbound_returns_messages(self, mode: str, provider: Provider) -> None:
        """fetch_inbound -> a list of InboundMessage from this provider, aware datetimes or None."""
        self.need(provider, Operation.FETCH_INBOUND)
        messages = self.run(mode, provider, lambda p: p.fetch_inbound(), Operation.FETCH_INBOUND)
        self._check_pulled(messages, InboundMessage, provider)

    def _check_pulled(
        self, items: object, model: type[DeliveryReport | InboundMessage], provider: Provider
    ) -> None:
        __tracebackhide__ = True
        what = f"a pull of {model.__name__}"
        if not isinstance(items, list):
            raise ConformanceFailure(f"{what}: expected a list, got {items!r}")
        for item in items:
            expect(isinstance(item, model), f"{what}: expected only {model.__name__}, got {item!r}")
            expect(
                item.provider == provider.name,
                f"{what}: expected provider {provider.name!r}, got {item.provider!r}",
            )
            _check_aware(item.received_at, f"{what}: received_at")

    # --- what is declared is what runs ----------------------------------------------------

    def test_undeclared_operations_fail_before_io(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str, valid_mms: Mms
    ) -> None:
        """Capabilities tell the truth both ways: every operation the provider does not declare
        raises UnsupportedOperationError before any request, and no declared one does (run over
        a transport that refuses every connection, so nothing leaves the machine)."""
        calls = _operation_calls(self.sms(provider, valid_recipients[0], valid_text), valid_mms)
        for operation in Operation:
            if not provider.capabilities.supports(operation):
                self.assert_no_io(mode, provider, calls[operation], operation, UnsupportedOperationError)
                continue
            recorder = _Recorder(_refuse)
            try:
                self.run(mode, provider, calls[operation], operation, transport=recorder.transport)
            except UnsupportedOperationError as exc:
                raise ConformanceFailure(
                    f"{operation.value} is declared, but raised UnsupportedOperationError: {exc}"
                ) from exc
            except SmsGateError:
                pass  # a refused connection (or a scripted failure) is not a refusal to try

    def test_undeclared_balance_kind_fails_before_io(self, mode: str, provider: Provider) -> None:
        """A balance kind the provider does not declare is a ValidationError, no I/O."""
        self.need(provider, Operation.BALANCE)
        self.assert_no_io(
            mode, provider, lambda p: p.balance("no-such-kind"), Operation.BALANCE, ValidationError
        )

    def test_invalid_recipient_fails_before_io(
        self, mode: str, provider: Provider, invalid_recipient: str | None, valid_text: str
    ) -> None:
        """``invalid_recipient`` is refused by the provider with a ValidationError before any
        request; with no ``invalid_recipient`` the provider claims no rule of its own beyond
        :class:`~smsgate.Sms`, and must send to :data:`FOREIGN_NUMBER`."""
        self.need(provider, Operation.SEND)
        number = FOREIGN_NUMBER if invalid_recipient is None else invalid_recipient
        try:
            sms = self.sms(provider, [number], valid_text)
        except ValidationError as exc:
            raise ConformanceFailure(
                f"invalid_recipient {number!r} is refused by smsgate.Sms itself ({exc}), so it cannot "
                "show the provider's own check: give a number only your provider refuses, or None"
            ) from exc
        if invalid_recipient is None:
            what = f"a send to {FOREIGN_NUMBER} (no invalid_recipient given)"
            receipt = self.raises_nothing(lambda: self.send_sms(mode, provider, sms), what)
            _check_receipt(receipt, provider, 1, what)
            return
        self.assert_no_io(mode, provider, lambda p: p.send(sms), Operation.SEND, ValidationError)

    def test_too_long_text_fails_before_io(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """With ``max_text_length`` declared, a text of exactly that length is sent and a longer
        one is a ValidationError before any request; with none declared, a text of
        :data:`LONG_TEXT_LENGTH` characters is sent."""
        self.need(provider, Operation.SEND)
        if not provider.capabilities.free_text:
            pytest.skip(f"{provider.name!r} sends templates only (free_text=False)")
        limit = provider.capabilities.max_text_length
        if limit is not None:
            too_long = Sms(to=valid_recipients[0], text=_text_of_length(limit + 1, valid_text))
            self.assert_no_io(mode, provider, lambda p: p.send(too_long), Operation.SEND, ValidationError)
        longest = Sms(to=valid_recipients[0], text=_text_of_length(limit or LONG_TEXT_LENGTH, valid_text))
        what = f"a text of {len(longest.text or '')} characters (max_text_length {limit})"
        receipt = self.raises_nothing(
            lambda: self.run(mode, provider, lambda p: p.send(longest), Operation.SEND), what
        )
        _check_receipt(receipt, provider, 1, what)

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
            sms = self.sms(provider, valid_recipients[0], valid_text)
            start, operation = (lambda p: p.send(sms)), Operation.SEND
        error = self.raises(
            AuthenticationError,
            f"{operation.value} with bad credentials",
            lambda: self.run(mode, provider, start, operation),
        )
        expect(
            error.provider in (None, provider.name),
            f"expected the error to name provider {provider.name!r} (or none), got {error.provider!r}",
        )
        self.assert_discreet(str(error), secrets, "an AuthenticationError")
        self.assert_discreet(repr(error), secrets, "repr of an AuthenticationError")
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
        calls = _operation_calls(self.sms(provider, valid_recipients[0], valid_text), valid_mms)
        for operation, start in calls.items():
            if not provider.capabilities.supports(operation):
                continue
            recorder = _Recorder(reply)
            try:
                result = self.run(mode, provider, start, operation, transport=recorder.transport)
            except SmsGateError as exc:
                self.assert_discreet(str(exc), secrets, f"the error of {operation.value}")
                self.assert_discreet(repr(exc), secrets, f"the error repr of {operation.value}")
                continue
            except Exception as exc:
                raise ConformanceFailure(
                    f"{operation.value}: expected an SmsGateError for an unusable reply, got "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            pull = operation in (Operation.FETCH_REPORTS, Operation.FETCH_INBOUND)
            expect(
                not recorder.requests or (pull and reads_may_succeed),
                f"{operation.value}: expected an SmsGateError after {recorder.paths()} got an "
                f"unusable reply, got a success: {result!r}",
            )

    def test_unreachable_provider_is_not_sent(  # noqa: PLR0917 - pytest passes fixtures by position
        self,
        mode: str,
        provider: Provider,
        performs_io: bool,
        valid_recipients: list[str],
        valid_text: str,
        secrets: list[str],
    ) -> None:
        """A connection that cannot be made ends a send in NotSentError (safe to fail over),
        after at least one attempt. For a provider declared with ``performs_io = False`` the
        same run proves the declaration: the send succeeds without any request."""
        self.need(provider, Operation.SEND)
        recorder = _Recorder(_refuse)
        sms = self.sms(provider, valid_recipients[0], valid_text)

        def send() -> Receipt:
            return self.run(
                mode, provider, lambda p: p.send(sms), Operation.SEND, transport=recorder.transport
            )

        if not performs_io:
            receipt = self.raises_nothing(send, "a send of a provider declared performs_io=False")
            _check_receipt(receipt, provider, 1, "a send of a provider declared performs_io=False")
            expect(
                recorder.requests == [],
                f"performs_io is False, but the send made requests: {recorder.paths()}",
            )
            return
        error = self.raises(NotSentError, "a send whose connection is refused", send)
        expect(
            recorder.requests,
            f"expected a connection attempt before NotSentError, got none (error: {error})",
        )
        self.assert_discreet(str(error), secrets, "a NotSentError")

    def raises_nothing(self, call: Callable[[], T], what: str) -> T:
        """Return ``call()``; an error fails the test naming it."""
        __tracebackhide__ = True
        try:
            return call()
        except Exception as exc:
            raise ConformanceFailure(f"{what}: expected a result, got {type(exc).__name__}: {exc}") from exc

    # --- through the gateways -------------------------------------------------------------

    def test_gateway_sends_through_the_provider(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """Gateway and AsyncGateway over this provider send and name it in the receipt."""
        self.need(provider, Operation.SEND)
        sms = self.sms(provider, valid_recipients[0], valid_text)
        if mode == "sync":
            with self.sync_client() as client, Gateway(provider, client=client) as gateway:
                receipt = gateway.send(sms)
        else:

            async def main() -> Receipt:
                async with self.async_client() as client, AsyncGateway(provider, client=client) as gateway:
                    return await gateway.send(sms)

            receipt = asyncio.run(main())
        _check_receipt(receipt, provider, 1, f"{type(self).__name__}: a gateway send")
        expect(receipt.attempts == 1, f"gateway send: expected 1 attempt, got {receipt.attempts}")

    # --- templates, references, lookups -----------------------------------------------------

    def check_cannot_render(self, mode: str, provider: Provider, sms: Sms, what: str) -> None:
        """Assert that ``provider.cannot_render(sms)`` gives a reason, and that a send of it is
        a ValidationError before any request (routing never hands it such a message, a direct
        call must not send it either)."""
        __tracebackhide__ = True
        reason = provider.cannot_render(sms)
        expect(
            isinstance(reason, str) and reason,
            f"{what}: expected cannot_render() to give a reason, got {reason!r}",
        )
        if provider.capabilities.send:
            self.assert_no_io(mode, provider, lambda p: p.send(sms), Operation.SEND, ValidationError)

    def test_templates_are_rendered_as_declared(
        self, mode: str, provider: Provider, valid_recipients: list[str]
    ) -> None:
        """A provider declaring ``templates`` renders :attr:`template_example`: cannot_render()
        says None and a send is accepted. One that does not cannot render a template-only
        message: it says why, and refuses to send it before any request."""
        self.need(provider, Operation.SEND)
        if not provider.capabilities.templates:
            probe = Sms(to=valid_recipients[0], template="smsgate_conformance_probe")
            self.check_cannot_render(mode, provider, probe, "a template-only message, templates undeclared")
            return
        name, params = self.need_template(provider)
        sms = Sms(to=valid_recipients[0], template=name, params=params)
        reason = provider.cannot_render(sms)
        expect(reason is None, f"template_example {name!r}: expected cannot_render() None, got {reason!r}")
        what = f"a send of template {name!r}"
        receipt = self.raises_nothing(lambda: self.send_sms(mode, provider, sms), what)
        _check_receipt(receipt, provider, 1, what)

    def test_unknown_template_or_missing_parameter_cannot_be_rendered(
        self, mode: str, provider: Provider, valid_recipients: list[str]
    ) -> None:
        """A template the provider does not know, or its template without a parameter it needs,
        cannot be rendered: cannot_render() says why and a send refuses it before any request."""
        if not provider.capabilities.templates:
            pytest.skip(f"{provider.name!r} does not declare templates")
        name, params = self.need_template(provider)
        unknown = Sms(to=valid_recipients[0], template="smsgate_conformance_unknown", params=params)
        self.check_cannot_render(mode, provider, unknown, "an unknown template")
        if params:
            first = sorted(params)[0]
            short = Sms(
                to=valid_recipients[0], template=name, params={k: v for k, v in params.items() if k != first}
            )
            self.check_cannot_render(mode, provider, short, f"template {name!r} without parameter {first!r}")

    def test_free_text_is_accepted_as_declared(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A provider declaring ``free_text`` can render a text-only message; one declaring
        ``free_text=False`` cannot (it says why and refuses it before any request)."""
        self.need(provider, Operation.SEND)
        sms = Sms(to=valid_recipients[0], text=valid_text)
        if provider.capabilities.free_text:
            reason = provider.cannot_render(sms)
            expect(
                reason is None, f"a text-only message, free_text declared: cannot_render() gave {reason!r}"
            )
            return
        self.check_cannot_render(mode, provider, sms, "a text-only message, free_text=False")

    def test_references_are_carried_as_declared(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """A provider declaring ``references`` puts the message's reference on its receipt
        (and carries it to the vendor); any provider accepts a message with a reference, and
        through a gateway the receipt always carries it."""
        self.need(provider, Operation.SEND)
        reference = "conformance-ref-1"
        sms = self.sms(provider, valid_recipients[0], valid_text, reference=reference)
        receipt = self.raises_nothing(lambda: self.send_sms(mode, provider, sms), "a send with a reference")
        _check_receipt(receipt, provider, 1, "a send with a reference")
        if provider.capabilities.references:
            expect(
                receipt.reference == reference,
                f"references declared: expected receipt.reference == {reference!r}, "
                f"got {receipt.reference!r}",
            )
        with self.sync_client() as client, Gateway(provider, client=client) as gateway:
            through = gateway.send(sms)
        expect(
            through.reference == reference,
            f"a gateway send: expected receipt.reference == {reference!r}, got {through.reference!r}",
        )

    def test_query_status_looks_up_a_sent_message(
        self, mode: str, provider: Provider, valid_recipients: list[str], valid_text: str
    ) -> None:
        """query_status(receipt) of a message just sent -> a non-empty list of DeliveryReport
        from this provider, each for a recipient and a task id of the receipt (``PENDING``
        while the carrier has not answered), carrying the reference where references are
        declared; a second lookup finds them again (a lookup never drains)."""
        self.need(provider, Operation.QUERY_STATUS)
        self.need(provider, Operation.SEND)
        reference = "conformance-ref-2"
        sms = self.sms(provider, valid_recipients[0], valid_text, reference=reference)
        receipt = self.send_sms(mode, provider, sms)
        found = [
            self.run(mode, provider, lambda p: p.query_status(receipt), Operation.QUERY_STATUS)
            for _ in range(2)
        ]
        for reports in found:
            self._check_pulled(reports, DeliveryReport, provider)
            expect(reports, f"query_status of {receipt.task_id!r} just sent: expected its reports, got none")
        expect(
            len(found[1]) == len(found[0]),
            f"a second query_status found {len(found[1])} reports, the first {len(found[0])}: "
            "a lookup must not drain them",
        )
        for report in found[0]:
            expect(
                report.mobile in sms.to and report.task_id in receipt.task_ids,
                f"query_status: expected reports of {list(receipt.task_ids)} to {list(sms.to)}, "
                f"got {report!r}",
            )
            expect(
                not provider.capabilities.references or report.reference == reference,
                f"references declared: expected report.reference == {reference!r}, got {report.reference!r}",
            )
