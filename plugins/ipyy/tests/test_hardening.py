"""Client-side hardening of the ipyy plugin (issue 9): Retry-After, the loopback rule, and
secrets kept out of the frame locals of an error's traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest

import smsgate
from smsgate import Mms, MmsPart, Sms
from smsgate.exceptions import (
    AllProvidersFailedError,
    ConfigurationError,
    MalformedReplyError,
    NotSentError,
    RateLimitedError,
    ValidationError,
)
from smsgate.testing import frames_with_secrets
from smsgate_ipyy import IpyySettings, _codes, _parse, _soap
from smsgate_ipyy._crypto import md5_upper

NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)

TEXT = "您的验证码：1439【腾飞】"


@pytest.fixture(params=["sync", "async"])
def drive(request: pytest.FixtureRequest, h: Any) -> Any:
    """Run a flow over scripted replies with the sync or the async driver."""

    async def run(flow: Any, *replies: Any, **options: Any) -> Any:
        if request.param == "sync":
            return h.run(flow, *replies, **options)
        return await h.arun(flow, *replies, **options)

    return run


@pytest.mark.parametrize(
    "value", ["²", "٣", "1.5", "-1", "+3", "3 s", "9" * 50, "Mon, 99 Foo 2015 07:28:00 GMT"]
)
def test_a_retry_after_that_is_not_ascii_digits_or_a_date_leaves_a_plain_rate_limit(value: str) -> None:
    """``Retry-After: ²`` (str.isdigit() says yes, float() says no) is a 429 without a delay,
    not a crash of the parser."""
    with pytest.raises(RateLimitedError) as info:
        _parse.check_http_status(httpx.Response(429, headers={"Retry-After": value.encode()}))
    assert info.value.retry_after is None


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert _codes.parse_retry_after(" 7 ") == 7.0
    past = _codes.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    assert past == 0.0  # a date in the past: retry at once
    then = dt.datetime(2015, 10, 21, 7, 27, 30, tzinfo=dt.UTC)
    assert _codes.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=then) == 30.0


async def test_a_429_with_a_non_ascii_retry_after_is_a_rate_limit_through_the_driver(
    h: Any, drive: Any
) -> None:
    """Through the real driver: a rate limit (retry-safe, fail over), not an uncertain outcome."""
    reply = httpx.Response(429, headers={"Retry-After": "²".encode()})
    with pytest.raises(RateLimitedError) as info:
        await drive(h.provider().send(Sms(to="13800138000", text=TEXT)), reply)
    assert not isinstance(info.value, MalformedReplyError)
    assert info.value.retry_after is None


# --- the loopback rule (defect 7) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://foo.localhost/",
        "http://localhost.localdomain/",
        "http://LOCALHOST.localdomain:8080/",
        "http://a.b.localhost/",
    ],
)
def test_names_that_merely_look_local_need_https_or_allow_insecure_http(base_url: str) -> None:
    """``*.localhost`` and ``localhost.localdomain`` may resolve through DNS to another machine:
    plain http to them is refused like to any other host, unless explicitly allowed."""
    with pytest.raises(ConfigurationError, match="plain http"):
        IpyySettings(account="acct", password="pw", base_url=base_url)
    IpyySettings(account="acct", password="pw", base_url=base_url, allow_insecure_http=True)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost/",
        "http://LocalHost:8080/",
        "http://127.0.0.1:1/",
        "http://127.8.9.10/",
        "http://[::1]:80/",
    ],
)
def test_localhost_and_literal_loopback_addresses_may_use_plain_http(base_url: str) -> None:
    IpyySettings(account="acct", password="pw", base_url=base_url)


# --- secrets in frame locals (defect 8) ----------------------------------------------------------

PASSWORD = "s3cret-Pass"
SECRETS = (PASSWORD, md5_upper(PASSWORD), md5_upper(PASSWORD).lower())
TRANSPORTS = ["form", "gbk", "json", "encrypted", "soap"]


def _provider(transport: str) -> Any:
    extra = {"userid": "1001"} if transport == "encrypted" else {}
    return smsgate.get_provider(
        "ipyy", account="acct", password=PASSWORD, transport=transport, clock=lambda: NOW, **extra
    )


def _raised(
    mode: str, call: Callable[[Any], Any], transport: str, handler: Callable[..., Any]
) -> BaseException:
    """The error a gateway call raises over a transport answering with ``handler``."""
    provider = _provider(transport)
    try:
        if mode == "sync":
            with smsgate.Gateway(
                provider, client=httpx.Client(transport=httpx.MockTransport(handler))
            ) as gateway:
                call(gateway)
        else:

            async def run() -> None:
                client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
                async with smsgate.AsyncGateway(provider, client=client) as gateway:
                    await call(gateway)

            asyncio.run(run())
    except Exception as exc:
        return exc
    pytest.fail("nothing was raised")


def _no_io(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"I/O happened: {request.url.path}")


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


LONE = "hi\ud800【腾飞】"
CALLS: dict[str, Callable[[Any], Any]] = {
    "send": lambda g: g.send(Sms(to="13800138000", text=LONE)),
    "batch": lambda g: g.send_batch([Sms(to="13800138000", text=LONE)]),
    "mms": lambda g: g.send_mms(
        Mms(to="13800138000", subject="s\ud800", parts=[MmsPart(name="a.txt", data=b"x")])
    ),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_lone_surrogate_leaves_no_secret_in_the_frame_locals(
    mode: str, transport: str, operation: str
) -> None:
    """A text (or MMS subject) with a lone surrogate is a ValidationError before any I/O, and no
    frame of its traceback (what Sentry-style reporters capture) holds the password or its MD5."""
    error = _raised(mode, CALLS[operation], transport, _no_io)
    assert isinstance(error, ValidationError)
    assert frames_with_secrets(error, SECRETS) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("transport", ["encrypted", "soap", "form"])
def test_a_send_failing_at_the_transport_leaves_no_secret_in_the_frame_locals(
    mode: str, transport: str
) -> None:
    error = _raised(mode, lambda g: g.send(Sms(to="13800138000", text=TEXT)), transport, _refused)
    assert isinstance(error, NotSentError | AllProvidersFailedError)
    assert frames_with_secrets(error, SECRETS) == []


def test_a_new_password_with_a_lone_surrogate_leaves_no_secret_in_the_frame_locals() -> None:
    def change(gateway: Any) -> Any:
        return gateway.change_password("n3w\ud800")

    error = _raised("sync", change, "form", _no_io)
    assert isinstance(error, ValidationError)
    assert frames_with_secrets(error, SECRETS) == []


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"account": "acct\ud800"}, "account"),
        ({"account": "acct🙂", "transport": "gbk"}, "account"),
        ({"account": "acct\x01", "transport": "soap"}, "account"),
        ({"password": "pw\x01", "transport": "soap"}, "password"),
    ],
)
def test_credentials_a_request_could_not_carry_are_refused_with_the_settings(
    settings: dict[str, Any], named: str
) -> None:
    """Refused when the settings are built, so no request builder (with the MD5 in its frame)
    ever fails on them; the error names the setting, never its value."""
    config = {"account": "acct", "password": "pw", **settings}
    with pytest.raises(ConfigurationError, match=named) as info:
        IpyySettings(**config)
    assert "\x01" not in str(info.value)
    assert "🙂" not in str(info.value)


# --- absurd numbers at the parser level (defect 1) -----------------------------------------------

DECL = '<?xml version="1.0" encoding="utf-8" ?>'


def _send_xml(balance: str, count: str = "1") -> bytes:
    return (
        f"{DECL}<returnsms><returnstatus>Success</returnstatus><message>ok</message>"
        f"<remainpoint>{balance}</remainpoint><taskID>77</taskID><successCounts>{count}</successCounts></returnsms>"
    ).encode()


@pytest.mark.parametrize(
    "balance", ["sNaN", "NaN", "Infinity", "-Infinity", "1e5000", "1E+1000000", "9" * 5000]
)
def test_an_absurd_balance_in_a_success_reply_keeps_the_receipt(
    balance: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The receipt (and its task id) is kept, the balance is None, and a warning says why."""
    receipt = _parse.parse_send_reply(_send_xml(balance), provider="ipyy", recipients=["13800138000"])
    assert (receipt.task_id, receipt.balance, receipt.accepted) == ("77", None, 1)
    assert hash(receipt) == hash(attrs.evolve(receipt))
    assert "unusable balance" in caplog.text
    body = f'{{"StatusCode":1,"MsgId":"88","Amount":{json.dumps(balance)},"SuccessCounts":1}}'.encode()
    assert _parse.parse_encrypted_reply(body, provider="ipyy").balance is None


@pytest.mark.parametrize("count", ["-1", "-999", "9" * 5000, "1234567890"])
def test_a_negative_or_absurd_accepted_count_counts_the_recipients_sent(count: str) -> None:
    receipt = _parse.parse_send_reply(
        _send_xml("5", count), provider="ipyy", recipients=["13800138000", "13800138001"]
    )
    assert (receipt.task_id, receipt.accepted) == ("77", 2)


def test_an_unusable_overage_is_a_malformed_balance_reply() -> None:
    body = f"{DECL}<returnsms><returnstatus>Sucess</returnstatus><overage>sNaN</overage></returnsms>".encode()
    with pytest.raises(MalformedReplyError):
        _parse.parse_balance_reply(body, provider="ipyy")


@pytest.mark.parametrize(
    ("amount", "count"), [("1e5000", "1"), ("NaN", "1"), ("9" * 5000, "-3"), ("-11", "9" * 50)]
)
def test_a_soap_success_with_absurd_numbers_keeps_the_receipt(amount: str, count: str) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult><StatusCode>OK</StatusCode>'
        f"<MsgId>1504141655440332</MsgId><SuccessCounts>{count}</SuccessCounts><Amount>{amount}</Amount>"
        "</SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"
    ).encode()
    receipt = _soap.parse_send_receipt(httpx.Response(200, content=body), provider="ipyy", recipients=["1"])
    assert receipt.task_id == "1504141655440332"
    assert receipt.balance in (None, -11)
    assert receipt.accepted >= 0
