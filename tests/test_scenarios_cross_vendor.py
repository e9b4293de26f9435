"""An application's scenarios across both vendors, through the public API only, over real
loopback sockets: a gateway with ipyy first and Aliyun second (and the other way round), one
logical template each renders its own way, every failure of the first vendor, reports and
inbound messages pulled and pushed into one journal, batches and MMS where a vendor cannot do
them, and a configuration file that swaps the vendors. Each scenario runs over ``Gateway`` and
``AsyncGateway``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.receiver import Receiver, ServerThread, SQLiteJournal, event_key
from smsgate.testing import GatewayFactory, frames_with_secrets

ipyy_sandbox = pytest.importorskip("smsgate_ipyy.sandbox")
aliyun_sandbox = pytest.importorskip("smsgate_aliyun.sandbox")

pytestmark = pytest.mark.e2e

IPYY_TEMPLATES = {"verify": "您的验证码：{code}，5分钟内有效。【腾飞】", "promo": "{what}大促【腾飞】"}
SMS = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, reference="order-42")
IPYY_TEXT = "您的验证码：1439，5分钟内有效。【腾飞】"
ALIYUN_SECRET = aliyun_sandbox.DEMO_SECRET


# --- the two sandboxes, started as the docs start them ---------------------------------------


@pytest.fixture(scope="module")
def ipyy_running() -> Iterator[Any]:
    with ipyy_sandbox.Sandbox() as box:
        yield box


@pytest.fixture(scope="module")
def aliyun_running() -> Iterator[Any]:
    with aliyun_sandbox.Sandbox.demo() as box:
        yield box


@pytest.fixture
def ipyy_box(ipyy_running: Any) -> Any:
    ipyy_running.reset()
    return ipyy_running


@pytest.fixture
def aliyun_box(aliyun_running: Any) -> Any:
    aliyun_running.reset()
    aliyun_running.add_account(aliyun_sandbox.demo_account())
    return aliyun_running


@pytest.fixture(params=["sync", "async"])
def make_gateway(request: pytest.FixtureRequest) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(request.param, sleep=lambda seconds: None)
    yield factory
    factory.close()


def closed_url() -> str:
    """A loopback URL nothing listens on: a connection there is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def ipyy(box: Any, **changes: Any) -> smsgate.Provider:
    settings = {
        **attrs.asdict(box.credentials),
        "base_url": box.base_url,
        "templates": IPYY_TEMPLATES,
        "timeout": 2.0,
        **changes,
    }
    return smsgate.get_provider("ipyy", **settings)


def aliyun(box: Any, **changes: Any) -> smsgate.Provider:
    return smsgate.get_provider("aliyun", **{**box.credentials(), "timeout": 2.0, **changes})


def ipyy_sends(box: Any) -> list[dict[str, Any]]:
    """The send requests the ipyy sandbox acted on."""
    return [
        r
        for r in box.requests()
        if r["endpoint"] == "sms.aspx"
        and r["action"] == "send"
        and (r["injected"] or {}).get("acted") is not False
    ]


def leaks(error: BaseException, secrets: list[str]) -> list[str]:
    """The frames below the test holding a secret (the test's own frame and its helpers' hold
    them: they are left out)."""
    ours = ("test_", "ipyy:", "aliyun:")
    return [frame for frame in frames_with_secrets(error, secrets) if not frame.startswith(ours)]


def ipyy_secrets(box: Any) -> list[str]:
    import hashlib

    password = box.credentials.password
    return [password, hashlib.md5(password.encode()).hexdigest().upper()]  # the wire's MD5 form


# --- one message, two vendors: what the first vendor's failure does ----------------------------


def test_ipyy_accepts_and_aliyun_is_never_called(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    gateway = make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)])
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts, receipt.reference) == ("ipyy", 1, "order-42")
    [sent] = ipyy_sends(ipyy_box)
    assert sent["fields"]["content"] == IPYY_TEXT
    assert sent["outcome"]["task_id"] == receipt.task_id
    assert aliyun_box.state.records == []


def test_ipyy_refusing_the_connection_fails_over_to_aliyun_in_its_form(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    gateway = make_gateway([ipyy(ipyy_box, base_url=closed_url()), aliyun(aliyun_box)])
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts, receipt.reference) == ("aliyun", 2, "order-42")
    [record] = aliyun_box.state.records
    assert record.biz_id == receipt.task_id
    assert (record.template_code, record.sign_name, record.out_id) == ("SMS_100001", "腾飞", "order-42")
    assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "outage"}, errors.ProviderOutageError),
        ({"kind": "status", "status": 503}, errors.ProviderOutageError),
        ({"kind": "status", "status": 429}, errors.RateLimitedError),
        ({"kind": "vendor", "code": "AmountNotEnough"}, errors.InsufficientBalanceError),
        ({"kind": "vendor", "code": "PasswordError"}, errors.AuthenticationError),
        ({"kind": "vendor", "code": "NoChannel"}, errors.NoChannelError),
    ],
)
def test_ipyy_answering_a_refusal_about_itself_fails_over_once(
    make_gateway: GatewayFactory,
    ipyy_box: Any,
    aliyun_box: Any,
    fault: dict[str, Any],
    error: type[Exception],
) -> None:
    ipyy_box.set_fault(path="/sms.aspx", times=1, **fault)
    seen: list[tuple[str, str]] = []

    class Watcher:
        def send_failed(self, provider: str, error: Exception) -> None:
            seen.append((provider, type(error).__name__))

        def message_sent(self, receipt: smsgate.Receipt, message: Any) -> None:
            seen.append((receipt.provider, "sent" if message == SMS else repr(message)))

    with smsgate.observe(Watcher()):
        receipt = make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)]).send(SMS)
    assert (receipt.provider, receipt.attempts) == ("aliyun", 2)
    assert seen == [("ipyy", error.__name__), ("aliyun", "sent")]
    assert ipyy_sends(ipyy_box) == []
    [record] = aliyun_box.state.records
    assert (record.template_code, record.out_id) == ("SMS_100001", "order-42")
    assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("MsisdnError", errors.InvalidRecipientError),
        ("SensitiveWords", errors.ContentError),
        ("SuffixError", errors.SignatureError),
    ],
)
def test_ipyy_refusing_the_message_is_raised_and_aliyun_never_called(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, code: str, error: type[Exception]
) -> None:
    ipyy_box.set_fault(kind="vendor", path="/sms.aspx", code=code, times=1)
    with pytest.raises(error) as info:
        make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)]).send(SMS)
    assert info.value.provider == "ipyy"
    assert aliyun_box.state.records == []
    assert leaks(info.value, ipyy_secrets(ipyy_box)) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "hang", "seconds": 5.0},  # the request read, no reply before the read timeout
        {"kind": "drop"},  # acted on, then the connection closed
        {"kind": "truncate"},  # acted on, half a reply
        {"kind": "status", "status": 500},  # the client cannot know
        {"kind": "garbage"},
    ],
    ids=lambda fault: fault["kind"] + str(fault.get("status", "")),
)
def test_ipyy_uncertain_is_raised_never_resent_nor_failed_over(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, fault: dict[str, Any]
) -> None:
    ipyy_box.set_fault(path="/sms.aspx", times=1, **fault)
    gateway = make_gateway([ipyy(ipyy_box, timeout=0.3), aliyun(aliyun_box)])
    with pytest.raises(errors.UncertainOutcomeError) as info:
        gateway.send(SMS)
    assert info.value.provider == "ipyy"
    assert not info.value.retry_safe
    assert not info.value.failover_safe
    assert aliyun_box.state.records == []
    assert len([r for r in ipyy_box.requests() if r["endpoint"] == "sms.aspx"]) == 1  # never resent
    assert leaks(info.value, ipyy_secrets(ipyy_box)) == []


def test_failover_on_uncertain_sends_once_more_at_aliyun_only(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    ipyy_box.set_fault(kind="hang", path="/sms.aspx", times=1, seconds=5.0)
    gateway = make_gateway([ipyy(ipyy_box, timeout=0.3), aliyun(aliyun_box)], failover_on_uncertain=True)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("aliyun", 2)
    assert len(aliyun_box.state.records) == 1
    assert len([r for r in ipyy_box.requests() if r["endpoint"] == "sms.aspx"]) == 1


def test_aliyun_first_refusing_fails_over_to_ipyy_as_text(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    aliyun_box.faults.add(
        aliyun_sandbox.FaultRule(kind="code", code="isv.AMOUNT_NOT_ENOUGH", message="余额不足")
    )
    receipt = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send(SMS)
    assert (receipt.provider, receipt.attempts, receipt.reference) == ("ipyy", 2, "order-42")
    [sent] = ipyy_sends(ipyy_box)
    assert sent["fields"]["content"] == IPYY_TEXT
    assert aliyun_box.state.records == []


@pytest.mark.parametrize(
    ("status", "error"), [(503, errors.ProviderOutageError), (429, errors.RateLimitedError)]
)
def test_aliyun_behind_a_front_refusing_with_a_page_fails_over_to_ipyy(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, status: int, error: type[Exception]
) -> None:
    """A 503 or 429 HTML page (no ``Code``: what a load balancer in front of the service
    answers) refused the request before the service read it: nothing was sent, ipyy sends."""
    aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind="status", status=status))
    seen: list[tuple[str, str]] = []

    class Watcher:
        def send_failed(self, provider: str, error: Exception) -> None:
            seen.append((provider, type(error).__name__))

    with smsgate.observe(Watcher()):
        receipt = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send(SMS)
    assert (receipt.provider, receipt.attempts, receipt.reference) == ("ipyy", 2, "order-42")
    assert seen == [("aliyun", error.__name__)]
    assert aliyun_box.state.records == []
    [sent] = ipyy_sends(ipyy_box)
    assert sent["fields"]["content"] == IPYY_TEXT


@pytest.mark.parametrize(
    ("status", "error"), [(403, errors.ProviderError), (502, errors.UncertainOutcomeError)]
)
def test_aliyun_behind_a_front_refusing_otherwise_is_raised_and_ipyy_never_called(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, status: int, error: type[Exception]
) -> None:
    """A 403 page (a firewall: nothing sent, but a configuration matter) and a 502 (the service
    may have acted) are raised; neither is sent elsewhere."""
    aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind="status", status=status))
    with pytest.raises(error) as info:
        make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send(SMS)
    assert info.value.provider == "aliyun"
    assert not info.value.failover_safe
    assert isinstance(info.value, errors.UncertainOutcomeError) == (status == 502)
    assert ipyy_sends(ipyy_box) == []
    assert leaks(info.value, [ALIYUN_SECRET]) == []


@pytest.mark.parametrize("kind", ["drop", "garbage"])
def test_aliyun_first_uncertain_is_raised_and_settled_by_its_reference(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, kind: str
) -> None:
    aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind=kind))
    provider = aliyun(aliyun_box)
    with pytest.raises(errors.UncertainOutcomeError) as info:
        make_gateway([provider, ipyy(ipyy_box)]).send(SMS)
    assert info.value.provider == "aliyun"
    assert ipyy_sends(ipyy_box) == []
    assert leaks(info.value, [ALIYUN_SECRET]) == []
    assert ALIYUN_SECRET not in str(info.value) + repr(info.value)
    with httpx.Client() as client:
        found = smsgate.run_flow(provider.find_reference("13800138000", "order-42"), client)
    assert [report.reference for report in found] == ["order-42"]  # it went: do not resend


def test_text_and_template_each_vendor_sends_the_form_it_can(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    both = smsgate.Sms(
        to="13800138000", text="验证码1439【腾飞】", template="verify", params={"code": "1439"}
    )
    plain_ipyy = ipyy(ipyy_box, templates={})  # ipyy without templates sends the text
    receipt = make_gateway([plain_ipyy, aliyun(aliyun_box)]).send(both)
    assert receipt.provider == "ipyy"
    assert ipyy_sends(ipyy_box)[-1]["fields"]["content"] == "验证码1439【腾飞】"
    receipt = make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)]).send(both)
    assert ipyy_sends(ipyy_box)[-1]["fields"]["content"] == IPYY_TEXT  # a known template wins
    receipt = make_gateway([aliyun(aliyun_box), plain_ipyy]).send(both)
    assert receipt.provider == "aliyun"
    assert aliyun_box.state.records[-1].template_code == "SMS_100001"


# --- reports and inbound messages from both vendors, into one journal ------------------------


class Recorder:
    """The application's handler: every event it was given, in order."""

    def __init__(self) -> None:
        self.events: list[smsgate.DeliveryReport | smsgate.InboundMessage] = []
        self.lock = threading.Lock()

    def __call__(self, event: smsgate.DeliveryReport | smsgate.InboundMessage) -> None:
        with self.lock:
            self.events.append(event)

    def wait_for(self, count: int, seconds: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.01)
        with self.lock:
            return list(self.events)

    def keys(self) -> list[str]:
        with self.lock:
            return [event_key(event) for event in self.events]


class Tap:
    """ASGI middleware in front of the receivers: keeps each push (path, body) so the test can
    deliver it again, as a vendor does when it missed the acknowledgement."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pushes: list[tuple[str, bytes, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        self.pushes.append((scope["path"], body, headers.get(b"content-type", b"").decode()))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    with SQLiteJournal(tmp_path / "events.sqlite3") as opened:
        yield opened


def test_pushes_of_both_vendors_reach_one_journal_once_even_when_pushed_again(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, journal: SQLiteJournal
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    handler = Recorder()
    ipyy_push = ipyy(ipyy_box, account="push", password="push-password", userid="1003")
    ali = aliyun(aliyun_box)
    receivers = [Receiver(ipyy_push, handler, journal=journal), Receiver(ali, handler, journal=journal)]
    app = Tap(
        Starlette(
            routes=[
                Mount("/ipyy", app=receivers[0].asgi_app()),
                Mount("/aliyun", app=receivers[1].asgi_app()),
            ]
        )
    )
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as client:
        admin = httpx.put(
            f"{ipyy_box.base_url}_sandbox/accounts/push",
            json={"callback_url": f"{server.url}ipyy/"},
            timeout=5,
        )
        assert admin.status_code == 200, admin.text
        aliyun_box.add_account(aliyun_sandbox.demo_account(callback_url=f"{server.url}aliyun/"))
        gateway = make_gateway([ipyy_push, ali])
        by_ipyy = gateway.send(SMS)
        by_aliyun = gateway.send(smsgate.Sms(to="13900139000", template="shipped", params={"name": "张三"}))
        ipyy_box.inject_inbound("13700137000", "TD", account="push")
        inbound = httpx.post(
            f"{aliyun_box.base_url}admin/inbound",
            json={"key_id": aliyun_sandbox.DEMO_KEY_ID, "phone_number": "13600136000", "content": "好的"},
            timeout=5,
        )
        assert inbound.status_code == 200, inbound.text
        events = handler.wait_for(4)
        assert sorted((type(e).__name__, e.provider, e.mobile) for e in events) == [
            ("DeliveryReport", "aliyun", "13900139000"),
            ("DeliveryReport", "ipyy", "13800138000"),
            ("InboundMessage", "aliyun", "13600136000"),
            ("InboundMessage", "ipyy", "13700137000"),
        ]
        reports = {e.provider: e for e in events if isinstance(e, smsgate.DeliveryReport)}
        assert reports["ipyy"].task_id == by_ipyy.task_id
        assert (reports["aliyun"].task_id, reports["aliyun"].status) == (
            by_aliyun.task_id,
            smsgate.DeliveryStatus.DELIVERED,
        )
        # Every push delivered again, as a vendor does when it missed the acknowledgement.
        for path, body, content_type in list(app.pushes):
            again = client.post(path, content=body, headers={"content-type": content_type})
            assert again.status_code == 200
            expected = receivers[0 if path.startswith("/ipyy") else 1].provider.callback_reply(True)
            assert again.content == expected.body
        time.sleep(0.1)  # a wrongly dispatched re-delivery would land by now
        assert len(handler.events) == 4
        assert len(set(handler.keys())) == 4
    for receiver in receivers:
        receiver.close()
    assert sorted(entry.state.value for entry in journal.entries()) == ["done"] * 4


def test_pulled_reports_and_inbound_of_both_vendors_are_stored_and_handled_once(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, journal: SQLiteJournal
) -> None:
    """One receiver stores what the application pulled from both vendors (a pull needs no
    parsing by the receiver's provider): ipyy's queues drained, Aliyun's report looked up."""
    handler = Recorder()
    providers = [ipyy(ipyy_box), aliyun(aliyun_box)]
    receiver = Receiver(providers[0], handler, journal=journal)
    gateway = make_gateway(providers)
    by_ipyy = gateway.send(SMS)
    by_aliyun = gateway.send(smsgate.Sms(to="13900139000", template="shipped", params={"name": "张三"}))
    ipyy_box.inject_inbound("13700137000", "TD")

    pulled: list[Any] = [*gateway.fetch_reports(observe=False), *gateway.fetch_inbound(observe=False)]
    assert {(type(e).__name__, e.provider) for e in pulled} == {
        ("DeliveryReport", "ipyy"),
        ("InboundMessage", "ipyy"),
    }
    looked_up = gateway.query_status(by_aliyun)  # Aliyun does not drain: it is looked up
    assert [(r.provider, r.task_id, r.status) for r in looked_up] == [
        ("aliyun", by_aliyun.task_id, smsgate.DeliveryStatus.DELIVERED)
    ]
    assert receiver.dispatch(receiver.store_pulled([*pulled, *looked_up])) == 3
    # Asked again: ipyy's queue is empty now, Aliyun answers the same report, stored once.
    assert gateway.fetch_reports(observe=False) == []
    assert receiver.store_pulled(gateway.query_status(by_aliyun)) == []
    assert receiver.store_pulled(pulled) == []
    assert sorted((type(e).__name__, e.provider) for e in handler.events) == [
        ("DeliveryReport", "aliyun"),
        ("DeliveryReport", "ipyy"),
        ("InboundMessage", "ipyy"),
    ]
    report = next(e for e in handler.events if e.provider == "ipyy" and isinstance(e, smsgate.DeliveryReport))
    assert report.task_id == by_ipyy.task_id
    receiver.close()


# --- batches, MMS and other operations one vendor cannot do --------------------------------

MMS = smsgate.Mms(
    to="13800138000", subject="电子发票", parts=[smsgate.MmsPart(name="a.txt", data="发票已开具".encode())]
)


def endpoint_requests(box: Any, endpoint: str) -> list[dict[str, Any]]:
    return [r for r in box.requests() if r["endpoint"] == endpoint]


def test_mms_skips_aliyun_and_goes_to_ipyy(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    receipt = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send_mms(MMS)
    assert (receipt.provider, receipt.attempts) == ("ipyy", 1)
    [entry] = [e for e in endpoint_requests(ipyy_box, "mms.aspx") if e["action"] == "send"]
    assert entry["outcome"]["task_id"] == receipt.task_id
    assert aliyun_box.state.records == []


def test_operations_aliyun_cannot_do_are_refused_before_any_request(
    make_gateway: GatewayFactory, aliyun_box: Any
) -> None:
    gateway = make_gateway(aliyun(aliyun_box))
    for call in (
        lambda: gateway.send_mms(MMS),
        gateway.balance,
        gateway.fetch_reports,
        gateway.fetch_inbound,
        lambda: gateway.change_password("new-password-1"),
    ):
        with pytest.raises(errors.UnsupportedOperationError):
            call()
    with pytest.raises(errors.UnsupportedOperationError), httpx.Client() as client:
        smsgate.run_flow(aliyun(aliyun_box).send_mms(MMS), client)
    assert aliyun_box.state.records == []
    assert aliyun_box.pusher.attempts == []


def test_reads_go_to_the_vendor_that_can_answer(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    gateway = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)])
    assert gateway.balance().provider == "ipyy"
    assert gateway.balance("mms").kind == "mms"
    assert gateway.fetch_reports() == []
    assert gateway.fetch_inbound() == []


def test_a_template_batch_goes_to_the_first_vendor_each_in_its_form(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    batch = [
        smsgate.Sms(to="13800138000", template="verify", params={"code": "1111"}),
        smsgate.Sms(to="13900139000", template="verify", params={"code": "2222"}),
    ]
    [by_ipyy] = make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)]).send_batch(batch)
    [entry] = endpoint_requests(ipyy_box, "BatchSms.ashx")
    assert entry["fields"]["lines"] == [
        {"mobile": "13800138000", "content": "您的验证码：1111，5分钟内有效。【腾飞】"},
        {"mobile": "13900139000", "content": "您的验证码：2222，5分钟内有效。【腾飞】"},
    ]
    assert (by_ipyy.provider, by_ipyy.accepted) == ("ipyy", 2)
    [by_aliyun] = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send_batch(batch)
    assert (by_aliyun.provider, by_aliyun.accepted) == ("aliyun", 2)
    assert [(r.phone, r.content) for r in aliyun_box.state.records] == [
        ("13800138000", "【腾飞】您的验证码：1111，5分钟内有效。"),
        ("13900139000", "【腾飞】您的验证码：2222，5分钟内有效。"),
    ]
    assert len(endpoint_requests(ipyy_box, "BatchSms.ashx")) == 1


def test_a_batch_with_free_text_skips_aliyun_whole(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    batch = [
        smsgate.Sms(to="13800138000", template="verify", params={"code": "1111"}),
        smsgate.Sms(to="13900139000", text="周末大促【腾飞】"),
    ]
    [receipt] = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send_batch(batch)
    assert (receipt.provider, receipt.attempts, receipt.accepted) == ("ipyy", 1, 2)
    assert aliyun_box.state.records == []


def test_a_batch_ipyy_cannot_send_fails_over_whole_to_aliyun(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    batch = [
        smsgate.Sms(to="13800138000", template="verify", params={"code": "1111"}, reference="b-1"),
        smsgate.Sms(to="13900139000", template="shipped", params={"name": "张三"}, reference="b-1"),
    ]
    ipyy_box.set_fault(kind="outage", path="/BatchSms.ashx", times=1)
    templates = {**IPYY_TEMPLATES, "shipped": "{name}，您的订单已发货。【腾飞】"}
    receipts = make_gateway([ipyy(ipyy_box, templates=templates), aliyun(aliyun_box)]).send_batch(batch)
    assert {(r.provider, r.attempts) for r in receipts} == {("aliyun", 2)}
    assert sum(r.accepted for r in receipts) == 2
    assert sorted((r.phone, r.template_code, r.out_id) for r in aliyun_box.state.records) == [
        ("13800138000", "SMS_100001", "b-1"),
        ("13900139000", "SMS_100002", "b-1"),
    ]


def test_a_batch_no_vendor_can_send_whole_is_refused_naming_each_reason(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    batch = [
        smsgate.Sms(to="13800138000", template="shipped", params={"name": "张三"}),  # ipyy: unknown
        smsgate.Sms(to="13900139000", text="周末大促【腾飞】"),  # Aliyun: free text
    ]
    with pytest.raises(errors.UnsupportedOperationError) as info:
        make_gateway([ipyy(ipyy_box), aliyun(aliyun_box)]).send_batch(batch)
    assert "shipped" in str(info.value)
    assert "ipyy" in str(info.value)
    assert "aliyun" in str(info.value)
    assert endpoint_requests(ipyy_box, "BatchSms.ashx") == []
    assert aliyun_box.state.records == []


def test_a_scheduled_message_skips_aliyun(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    import datetime as dt

    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    sms = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, send_at=later)
    receipt = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).send(sms)
    assert (receipt.provider, receipt.attempts) == ("ipyy", 1)
    assert aliyun_box.state.records == []


# --- the vendors from a configuration file, in either order ----------------------------------


def config_file(tmp_path: Path, ipyy_box: Any, aliyun_box: Any, *, aliyun_first: bool) -> Path:
    creds = aliyun_box.credentials()
    tables = {
        "ipyy": f"""
[providers.ipyy]
type = "ipyy"
account = "{ipyy_box.credentials.account}"
userid = "{ipyy_box.credentials.userid}"
base_url = "{ipyy_box.base_url}"
timeout = 2.0
templates = {{ verify = "{IPYY_TEMPLATES["verify"]}" }}
""",
        "aliyun": f"""
[providers.aliyun]
type = "aliyun"
access_key_id = "{creds["access_key_id"]}"
sign_name = "{creds["sign_name"]}"
base_url = "{aliyun_box.base_url}"
timeout = 2.0
templates = {{ verify = "SMS_100001", shipped = {{ code = "SMS_100002", params = ["name"] }} }}
""",
    }
    order = ["aliyun", "ipyy"] if aliyun_first else ["ipyy", "aliyun"]
    text = '[gateway]\nstrategy = "failover"\n\n[gateway.retry]\nattempts = 1\n'
    path = tmp_path / "smsgate.toml"
    path.write_text(text + "".join(tables[name] for name in order), encoding="utf-8")
    return path


def passwords(ipyy_box: Any) -> dict[str, str]:
    return {"SMSGATE_IPYY_PASSWORD": ipyy_box.credentials.password, "SMSGATE_ALIYUN_PASSWORD": ALIYUN_SECRET}


@pytest.mark.parametrize("aliyun_first", [False, True], ids=["ipyy-first", "aliyun-first"])
def test_the_file_order_is_the_failover_order(
    tmp_path: Path, ipyy_box: Any, aliyun_box: Any, aliyun_first: bool
) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=aliyun_first)
    config = smsgate.load_config(path)
    assert [p.name for p in config.providers] == (["aliyun", "ipyy"] if aliyun_first else ["ipyy", "aliyun"])
    assert config.routing.retry.attempts == 1
    with smsgate.Gateway.from_config(path, env=passwords(ipyy_box)) as gateway:
        assert [p.name for p in gateway.providers] == [p.name for p in config.providers]
        first = gateway.send(SMS)
        if aliyun_first:  # the first provider in an outage: the second sends it
            aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind="code", code="isp.SYSTEM_ERROR"))
        else:
            ipyy_box.set_fault(kind="outage", path="/sms.aspx", times=1)
        second = gateway.send(SMS)
    assert (first.provider, first.attempts) == (config.providers[0].name, 1)
    assert (second.provider, second.attempts) == (config.providers[1].name, 2)


async def test_the_async_gateway_reads_the_same_file(tmp_path: Path, ipyy_box: Any, aliyun_box: Any) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=True)
    async with smsgate.AsyncGateway.from_config(path, env=passwords(ipyy_box)) as gateway:
        receipt = await gateway.send(SMS)
        text_receipt = await gateway.send(smsgate.Sms(to="13800138000", text="周末大促【腾飞】"))
    assert (receipt.provider, text_receipt.provider) == ("aliyun", "ipyy")
    assert text_receipt.attempts == 1  # Aliyun skipped: it sends templates only


def test_the_file_is_found_through_the_environment(
    tmp_path: Path, ipyy_box: Any, aliyun_box: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=True)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name, value in {**passwords(ipyy_box), "SMSGATE_CONFIG": str(path)}.items():
        monkeypatch.setenv(name, value)
    with smsgate.Gateway.from_config() as gateway:
        assert [p.name for p in gateway.providers] == ["aliyun", "ipyy"]
        assert gateway.send(SMS).provider == "aliyun"


def test_a_missing_or_wrong_secret_is_named_never_shown(
    tmp_path: Path, ipyy_box: Any, aliyun_box: Any
) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=True)
    env = passwords(ipyy_box)
    with pytest.raises(errors.ConfigurationError) as missing:
        smsgate.Gateway.from_config(path, env={"SMSGATE_IPYY_PASSWORD": env["SMSGATE_IPYY_PASSWORD"]})
    assert "SMSGATE_ALIYUN_PASSWORD" in str(missing.value)
    assert leaks(missing.value, [env["SMSGATE_IPYY_PASSWORD"]]) == []
    wrong = {**env, "SMSGATE_ALIYUN_PASSWORD": "wrong-secret-value"}
    with smsgate.Gateway.from_config(path, env=wrong) as gateway:
        refused = gateway.send(SMS)  # Aliyun refuses the signature: ipyy sends it
        assert (refused.provider, refused.attempts) == ("ipyy", 2)
        ipyy_box.set_fault(kind="outage", path="/sms.aspx", times=1)
        with pytest.raises(errors.AllProvidersFailedError) as both:
            gateway.send(SMS)
    assert [type(e).__name__ for e in both.value.exceptions] == ["AuthenticationError", "ProviderOutageError"]
    secrets = ["wrong-secret-value", *ipyy_secrets(ipyy_box)]
    assert leaks(both.value, secrets) == []
    shown = str(both.value) + repr(both.value) + "".join(str(e) + repr(e) for e in both.value.exceptions)
    assert not any(secret in shown for secret in secrets)


def test_a_bad_setting_with_the_secret_set_leaves_no_secret_behind(
    tmp_path: Path, ipyy_box: Any, aliyun_box: Any
) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=True)
    path.write_text(
        path.read_text(encoding="utf-8").replace("timeout = 2.0", "timeout = -1"), encoding="utf-8"
    )
    env = passwords(ipyy_box)
    with pytest.raises(errors.ConfigurationError) as info:
        smsgate.Gateway.from_config(path, env=env)
    assert "timeout" in str(info.value)
    assert leaks(info.value, list(env.values())) == []
    assert not any(secret in str(info.value) + repr(info.value) for secret in env.values())


# --- what an application can get wrong: refused as it is built, with smsgate's own errors ------


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize(
    "client",
    [5, "http://127.0.0.1/", "wrong flavour"],
    ids=["int", "str", "wrong-flavour"],
)
def test_a_client_that_is_no_httpx_client_of_the_flavour_is_refused_when_the_gateway_is_built(
    ipyy_box: Any, flavour: str, client: Any
) -> None:
    """Before: the gateway took it, and each send ended in an *uncertain* outcome (an
    AttributeError of the client taken for a request that may have gone), although nothing
    left the process: the application was told not to resend a message that was never sent."""
    cls = smsgate.Gateway if flavour == "sync" else smsgate.AsyncGateway
    if client == "wrong flavour":
        client = httpx.AsyncClient() if flavour == "sync" else httpx.Client()
    with pytest.raises(errors.ConfigurationError, match="client"):
        cls(ipyy(ipyy_box), client=client)
    assert ipyy_sends(ipyy_box) == []


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("argument", ["clock", "sleep"])
def test_a_clock_or_sleep_that_cannot_be_called_is_refused_when_the_gateway_is_built(
    flavour: str, argument: str
) -> None:
    """Before: accepted, then a bare TypeError in the middle of a send, after its first failed
    attempt (sleep), or at the first send (clock)."""
    cls = smsgate.Gateway if flavour == "sync" else smsgate.AsyncGateway
    with pytest.raises(errors.ConfigurationError, match=argument):
        cls(smsgate.get_provider("memory"), **{argument: 5})


@pytest.mark.parametrize("providers", [None, 5, 2.5], ids=["None", "int", "float"])
def test_providers_that_are_neither_a_provider_nor_a_sequence_are_a_configuration_error(
    providers: Any,
) -> None:
    """Before: a bare TypeError ('NoneType' object is not iterable)."""
    with pytest.raises(errors.ConfigurationError, match="providers"):
        smsgate.Gateway(providers)


@pytest.mark.parametrize("kind", [[], {}, 5, None], ids=["list", "dict", "int", "None"])
def test_a_balance_kind_that_is_no_string_is_a_validation_error_before_any_request(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, kind: Any
) -> None:
    """Before: a list or a dict was a bare TypeError (unhashable type), an int an
    UnsupportedOperationError saying no provider supports balance (5)."""
    with pytest.raises(errors.ValidationError, match="kind"):
        make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)]).balance(kind)
    assert ipyy_box.requests() == []


@pytest.mark.parametrize("path", [5, {"providers": {}}, b"smsgate.toml"], ids=["int", "dict", "bytes"])
def test_a_config_path_that_is_no_path_is_a_configuration_error(path: Any) -> None:
    """Before: a bare TypeError from pathlib, for both the gateways and load_config."""
    for build in (smsgate.Gateway.from_config, smsgate.AsyncGateway.from_config, smsgate.load_config):
        with pytest.raises(errors.ConfigurationError, match="path"):
            build(path)


@pytest.mark.parametrize(
    "table", ["verify", None, 5, [("verify", "{code}")]], ids=["str", "None", "int", "pairs"]
)
def test_text_templates_from_no_mapping_are_a_configuration_error(table: Any) -> None:
    """Before: a bare ValueError or TypeError from dict() (a list of pairs was taken)."""
    from smsgate.templates import TextTemplates

    with pytest.raises(errors.ConfigurationError, match="mapping"):
        TextTemplates(table)


@pytest.mark.parametrize("vendor", ["ipyy", "aliyun"])
@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_a_base_url_port_out_of_range_is_refused_before_credentials_go_anywhere(
    ipyy_box: Any, aliyun_box: Any, vendor: str, port: int
) -> None:
    """Before: accepted; the sync gateway's resolver wrapped the port (99999 is 34463) and posted
    the account and password hash to whatever listened there, the async one called the send
    uncertain."""
    build = ipyy if vendor == "ipyy" else aliyun
    box = ipyy_box if vendor == "ipyy" else aliyun_box
    with pytest.raises(errors.ConfigurationError, match="base_url has the port") as info:
        build(box, base_url=f"http://127.0.0.1:{port}/")
    assert leaks(info.value, [ALIYUN_SECRET, *ipyy_secrets(ipyy_box)]) == []


# --- a send in parts, resumed at the other vendor; the breaker; concurrent re-deliveries ------


def fault_on_request(box: Any, number: int, **fault: Any) -> httpx.Client:
    """An httpx client whose ``number``-th request to ``box`` meets ``fault`` (set just before
    it leaves): a send made of several requests fails part-way."""
    seen = [0]

    def hook(request: httpx.Request) -> None:
        if str(request.url).startswith(box.base_url):
            seen[0] += 1
            if seen[0] == number:
                box.set_fault(path="/sms.aspx", times=1, **fault)

    return httpx.Client(event_hooks={"request": [hook]})


THREE = smsgate.Sms(
    to=["13800138000", "13900139000", "13700137000"],
    template="verify",
    params={"code": "1439"},
    reference="order-7",
)


def test_a_send_cut_short_at_ipyy_is_finished_by_aliyun_each_number_once(
    ipyy_box: Any, aliyun_box: Any
) -> None:
    with (
        fault_on_request(ipyy_box, 2, kind="outage") as client,
        smsgate.Gateway([ipyy(ipyy_box, max_recipients=1), aliyun(aliyun_box)], client=client) as gateway,
    ):
        receipt = gateway.send(THREE)
        # ipyy cannot look messages up: only Aliyun's part is (tests/test_scenarios_split_lookup.py)
        assert {r.task_id for r in gateway.query_status(receipt)} <= set(receipt.task_ids)
    assert receipt.provider == "ipyy,aliyun"
    assert (receipt.accepted, receipt.reference) == (3, "order-7")
    [by_ipyy] = [e["fields"]["mobiles"] for e in ipyy_sends(ipyy_box)]
    by_aliyun = [r.phone for r in aliyun_box.state.records]
    assert sorted(by_ipyy + by_aliyun) == sorted(THREE.to)  # every number once, none twice
    assert {r.out_id for r in aliyun_box.state.records} == {"order-7"}


def test_a_send_cut_short_by_an_uncertain_request_is_not_finished_elsewhere(
    ipyy_box: Any, aliyun_box: Any
) -> None:
    with (
        fault_on_request(ipyy_box, 2, kind="hang", seconds=5.0) as client,
        smsgate.Gateway(
            [ipyy(ipyy_box, max_recipients=1, timeout=0.3), aliyun(aliyun_box)], client=client
        ) as gateway,
        pytest.raises(errors.PartialSendError) as info,
    ):
        gateway.send(THREE)
    partial = info.value
    assert isinstance(partial.cause, errors.UncertainOutcomeError)
    assert not partial.retry_safe
    assert not partial.failover_safe
    assert [r.recipients for r in partial.receipts] == [("13800138000",)]
    assert [m.to for m in partial.pending] == [("13900139000", "13700137000")]
    assert [m.to for m in partial.untried] == [("13700137000",)]  # never asked for
    sent = [e["fields"]["mobiles"] for e in ipyy_sends(ipyy_box)]
    assert "13700137000" not in sent
    assert aliyun_box.state.records == []


def test_aliyun_in_an_open_circuit_makes_ipyy_the_last_provider_and_it_is_retried(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any
) -> None:
    gateway = make_gateway(
        [ipyy(ipyy_box), aliyun(aliyun_box)], breaker=smsgate.BreakerPolicy(failures=2, cool_down=60)
    )
    aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind="code", code="isp.SYSTEM_ERROR", times=None))
    with pytest.raises(errors.ProviderOutageError):  # only Aliyun knows 'shipped'
        gateway.send(smsgate.Sms(to="13800138000", template="shipped", params={"name": "张三"}))
    assert [(h.name, h.state) for h in gateway.health()] == [
        ("ipyy", smsgate.BreakerState.CLOSED),
        ("aliyun", smsgate.BreakerState.OPEN),
    ]
    aliyun_box.faults.clear()
    ipyy_box.set_fault(kind="outage", path="/sms.aspx", times=1)
    receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("ipyy", 2)
    assert aliyun_box.state.records == []


def test_one_push_delivered_many_times_at_once_is_handled_once(
    ipyy_box: Any, aliyun_box: Any, journal: SQLiteJournal
) -> None:
    handler = Recorder()
    receiver = Receiver(aliyun(aliyun_box), handler, journal=journal)
    with ServerThread(Tap(receiver.asgi_app())) as server:
        aliyun_box.add_account(aliyun_sandbox.demo_account(callback_url=server.url))
        with smsgate.Gateway(aliyun(aliyun_box)) as gateway:
            receipt = gateway.send(SMS)
            [report] = handler.wait_for(1)
            [looked_up] = gateway.query_status(receipt)
        assert event_key(looked_up) == event_key(report)  # a push and a lookup: one event
        assert receiver.store_pulled([looked_up]) == []
        body = json.dumps([aliyun_box.state.records[0].report()]).encode()

        def push() -> int:
            return httpx.post(server.url, content=body, timeout=5).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: push(), range(16)))
    receiver.close()
    assert statuses == [200] * 16
    assert handler.events == [report]
    assert report.reference == "order-42"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_closed_client_sends_nothing_and_says_so(ipyy_box: Any, aliyun_box: Any, flavour: str) -> None:
    """An application closes the client it gave the gateway too early. Before: an
    UncertainOutcomeError (httpx's RuntimeError taken for a request that may have gone), so
    Aliyun was not tried and the message, never sent, looked as if it might have been."""
    providers = [ipyy(ipyy_box), aliyun(aliyun_box)]
    if flavour == "sync":
        client = httpx.Client()
        client.close()
        with smsgate.Gateway(providers, client=client) as gateway, pytest.raises(errors.SmsGateError) as info:
            gateway.send(SMS)
    else:

        async def send() -> None:
            client = httpx.AsyncClient()
            await client.aclose()
            async with smsgate.AsyncGateway(providers, client=client) as gateway:
                await gateway.send(SMS)

        with pytest.raises(errors.SmsGateError) as info:
            asyncio.run(send())
    assert type(info.value) is errors.ConfigurationError
    assert "closed" in str(info.value)
    assert info.value.provider == "ipyy"
    assert ipyy_box.requests() == []
    assert aliyun_box.state.records == []


@pytest.mark.parametrize("key", ["private_key", "signing_key", "db_passwd", "login_pwd", "my_apikey", "Key"])
def test_a_secret_looking_key_in_the_file_is_refused(tmp_path: Path, key: str) -> None:
    """docs/cli.md: 'any secret-looking key (password_md5, secret, token, api_key, key …) in the
    file is refused'. Before: only the exact words key, pwd, passwd and apikey were, so a
    private_key or a db_passwd stayed in the file (the in-memory provider takes any option)."""
    path = tmp_path / "smsgate.toml"
    path.write_text(f'[providers.dev]\ntype = "memory"\n{key} = "s3cr3t-value"\n', encoding="utf-8")
    with pytest.raises(errors.ConfigurationError, match="SMSGATE_DEV_PASSWORD") as info:
        smsgate.load_config(path)
    assert "s3cr3t-value" not in str(info.value)


def test_an_access_key_id_is_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text('[providers.dev]\ntype = "memory"\naccess_key_id = "LTAI5t"\n', encoding="utf-8")
    assert smsgate.load_config(path).providers[0].options == {"access_key_id": "LTAI5t"}


def test_no_secret_number_or_code_in_any_log_line_of_a_cross_vendor_day(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG, through a failover, an uncertain send, a batch, pulls and a lookup:
    no password, hash, AccessKey secret, full number or parameter value appears."""
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway([ipyy(ipyy_box, timeout=0.3), aliyun(aliyun_box)])
    secret_sms = smsgate.Sms(to="13812345678", template="verify", params={"code": "975319"}, reference="r-1")
    ipyy_box.set_fault(kind="outage", path="/sms.aspx", times=1)
    receipt = gateway.send(secret_sms)
    ipyy_box.set_fault(kind="hang", path="/sms.aspx", times=1, seconds=5.0)
    with pytest.raises(errors.UncertainOutcomeError):
        gateway.send(secret_sms)
    gateway.send_batch([secret_sms, smsgate.Sms(to="13987654321", text="口令 864201【腾飞】")])
    ipyy_box.inject_inbound("13712345678", "回复 555777")
    gateway.fetch_reports()
    gateway.fetch_inbound()
    gateway.query_status(receipt)
    logged = caplog.text  # messages and any traceback logged with them
    assert "accepted by aliyun" in logged
    for secret in [*ipyy_secrets(ipyy_box), ALIYUN_SECRET, "13812345678", "13987654321", "13712345678"]:
        assert secret not in logged
    for value in ("975319", "864201", "555777"):
        assert value not in logged


def test_a_template_field_no_message_can_carry_is_refused_when_the_provider_is_built(ipyy_box: Any) -> None:
    """A parameter name is at most 64 characters (smsgate.Sms refuses longer ones). Before: a
    longer field was accepted, and every message naming the template was then skipped by
    routing for 'needs parameter' that no message could ever give."""
    from smsgate.templates import TextTemplates

    longest, too_long = "a" * 64, "a" * 65
    assert TextTemplates({"verify": "{" + longest + "}【腾飞】"})
    with pytest.raises(errors.ConfigurationError, match="no message can carry"):
        TextTemplates({"verify": "{" + too_long + "}【腾飞】"})
    with pytest.raises(errors.ConfigurationError, match="no message can carry"):
        ipyy(ipyy_box, templates={"verify": "验证码{" + too_long + "}【腾飞】"})


def test_failover_on_uncertain_from_the_file_sends_the_uncertain_message_at_aliyun(
    tmp_path: Path, ipyy_box: Any, aliyun_box: Any
) -> None:
    path = config_file(tmp_path, ipyy_box, aliyun_box, aliyun_first=False)
    text = path.read_text(encoding="utf-8").replace(
        '[gateway]\nstrategy = "failover"\n',
        '[gateway]\nstrategy = "failover"\nfailover_on_uncertain = true\n',
    )
    path.write_text(text.replace("timeout = 2.0", "timeout = 0.3", 1), encoding="utf-8")
    ipyy_box.set_fault(kind="hang", path="/sms.aspx", times=1, seconds=5.0)
    with smsgate.Gateway.from_config(path, env=passwords(ipyy_box)) as gateway:
        receipt = gateway.send(SMS)
    assert (receipt.provider, receipt.attempts) == ("aliyun", 2)
    assert len(aliyun_box.state.records) == 1


def test_a_rate_limit_table_without_its_rate_says_the_rate_is_missing(tmp_path: Path) -> None:
    """Before: '[gateway.rate_limit].burst must be a table' (burst read as a provider's name)."""
    path = tmp_path / "smsgate.toml"
    path.write_text(
        '[gateway.rate_limit]\nburst = 20\n\n[providers.dev]\ntype = "memory"\n', encoding="utf-8"
    )
    with pytest.raises(errors.ConfigurationError, match=r"\[gateway\.rate_limit\]: .*'rate'") as info:
        smsgate.load_config(path)
    assert "must be a table" not in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "field"), [({"observe": "false"}, "observe"), ({"task_id": 5}, "task_id")]
)
def test_pull_arguments_of_the_wrong_kind_are_refused_before_any_request(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, arguments: dict[str, Any], field: str
) -> None:
    """Before: observe='false' counted as true (a caller that journals first would have each
    event announced twice), and a task id of 5 reached the providers (the in-memory provider
    took it)."""
    gateway = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box), smsgate.get_provider("memory")])
    with pytest.raises(errors.ValidationError) as info:
        gateway.fetch_reports(**arguments)
    assert info.value.field == field
    if field == "observe":
        with pytest.raises(errors.ValidationError, match="observe"):
            gateway.fetch_inbound(**arguments)
    assert ipyy_box.requests() == []


@pytest.mark.parametrize(
    ("code", "fails_over"),
    [
        ("Throttling.User", True),
        ("InvalidAccessKeyId.NotFound", True),
        ("isv.DAY_LIMIT_CONTROL", True),
        ("isv.BUSINESS_LIMIT_CONTROL", False),  # the recipient's flood control: never elsewhere
        ("SignatureNonceUsed", False),  # this very request reached Aliyun before: maybe sent
        ("isv.MOBILE_NUMBER_ILLEGAL", False),
    ],
)
def test_aliyun_first_each_refusal_fails_over_to_ipyy_only_when_documented(
    make_gateway: GatewayFactory, ipyy_box: Any, aliyun_box: Any, code: str, fails_over: bool
) -> None:
    aliyun_box.faults.add(aliyun_sandbox.FaultRule(kind="code", code=code))
    gateway = make_gateway([aliyun(aliyun_box), ipyy(ipyy_box)], retry=smsgate.RetryPolicy(attempts=1))
    if fails_over:
        assert gateway.send(SMS).provider == "ipyy"
        assert [e["fields"]["content"] for e in ipyy_sends(ipyy_box)] == [IPYY_TEXT]
    else:
        with pytest.raises(errors.ProviderError) as info:
            gateway.send(SMS)
        assert (info.value.provider, info.value.code) == ("aliyun", code)
        assert not info.value.failover_safe
        assert ipyy_sends(ipyy_box) == []
    assert aliyun_box.state.records == []


def test_a_config_path_naming_a_directory_says_it_is_no_file(tmp_path: Path) -> None:
    """Before: 'config file … does not exist' for a directory that does."""
    with pytest.raises(errors.ConfigurationError, match="is not a file"):
        smsgate.Gateway.from_config(tmp_path)
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        smsgate.Gateway.from_config(tmp_path / "missing.toml")
