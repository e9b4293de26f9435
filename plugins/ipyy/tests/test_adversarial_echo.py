"""A reply that repeats the request (an error page quoting the form, a proxy echoing it) holds
the account's password hash, which the gateway takes as the password: it stays out of every
error (str, repr, args, attributes, the chain and its frames) and out of the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import Receipt, Sms
from smsgate.exceptions import MalformedReplyError, SmsGateError
from smsgate.testing import frames_with_secrets
from smsgate_ipyy._crypto import md5_upper

PASSWORD = "Echo-Pw-3b7f"
NEW_PASSWORD = "Echo-New-Pw-81c2"
HASH = md5_upper(PASSWORD)
SECRETS = [PASSWORD, HASH, NEW_PASSWORD]

WRAPS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda echo: echo,
    "html": lambda echo: b"<html><body>Error: " + echo + b"</body></html>",
    "refusal": lambda echo: (
        b"<returnsms><returnstatus>Faild</returnstatus><message>"
        + echo.replace(b"&", b"&amp;")
        + b"</message></returnsms>"
    ),
}
OPERATIONS: dict[str, Callable[[smsgate.Gateway], Any]] = {
    "send": lambda gateway: gateway.send(Sms(to="13800138000", text="hi【腾飞】")),
    "balance": lambda gateway: gateway.balance(),
    "reports": lambda gateway: gateway.fetch_reports(),
    "inbound": lambda gateway: gateway.fetch_inbound(),
    "status": lambda gateway: gateway.query_status(
        Receipt(provider="ipyy", task_id="1", accepted=1, recipients=["13800138000"])
    ),
    "password": lambda gateway: gateway.change_password(NEW_PASSWORD),
}


def _everything(error: BaseException) -> str:
    parts: list[str] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [repr(current), str(current), repr(current.args), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _raised(transport: str, wrap: str, operation: str, status: int) -> SmsGateError:
    def gateway_echoing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=WRAPS[wrap](request.url.query + b" " + request.content))

    provider = smsgate.get_provider(
        "ipyy",
        account="acct",
        password=PASSWORD,
        userid="123",
        base_url="https://gw.example.test/",
        transport=transport,
    )
    client = httpx.Client(transport=httpx.MockTransport(gateway_echoing))
    with smsgate.Gateway(provider, client=client, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        try:
            OPERATIONS[operation](gateway)
        except SmsGateError as error:
            return error
    raise AssertionError("the echoing gateway was taken for a success")


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("wrap", list(WRAPS))
@pytest.mark.parametrize("transport", ["form", "gbk", "json"])
def test_an_echoed_request_leaves_no_password_in_the_error_nor_the_log(
    transport: str, wrap: str, operation: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = _raised(transport, wrap, operation, status)
    text = _everything(error)
    assert not [secret for secret in SECRETS if secret in text]
    assert frames_with_secrets(error, SECRETS) == []
    assert not [secret for secret in SECRETS if secret in caplog.text]


def test_a_reply_that_repeats_no_credential_keeps_its_excerpt_and_cause() -> None:
    """The plain path is unchanged: the excerpt and the parser's error stay for diagnosis."""

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>busy</html>")

    provider = smsgate.get_provider(
        "ipyy", account="acct", password=PASSWORD, base_url="https://gw.example.test/"
    )
    with (
        smsgate.Gateway(provider, client=httpx.Client(transport=httpx.MockTransport(gateway))) as gw,
        pytest.raises(MalformedReplyError) as info,
    ):
        gw.balance()
    assert info.value.body_excerpt == b"<html>busy</html>"


@pytest.mark.parametrize("password", ["Soap-Pw-77aa", "密码-Soap-9"])
def test_a_soap_fault_quoting_the_password_element_leaves_it_out_of_the_error(
    password: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SOAP transport sends the password itself, in ``<password>``: a fault that quotes it
    is a refusal whose message has ``***`` in its place."""

    def fault(request: httpx.Request) -> httpx.Response:
        start = request.content.index(b"<ns0:password>")
        end = request.content.index(b"</ns0:password>") + len(b"</ns0:password>")
        quoted = request.content[start:end].replace(b"<", b"&lt;")
        return httpx.Response(
            500,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            content=b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
            b"<faultcode>soap:Client</faultcode><faultstring>login failed: "
            + quoted
            + b"</faultstring></soap:Fault></soap:Body></soap:Envelope>",
        )

    caplog.set_level(logging.DEBUG)
    provider = smsgate.get_provider(
        "ipyy", account="acct", password=password, base_url="https://gw.example.test/", transport="soap"
    )
    client = httpx.Client(transport=httpx.MockTransport(fault))
    with smsgate.Gateway(provider, client=client, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        try:
            gateway.send(Sms(to="13800138000", text="hi【腾飞】"))
        except SmsGateError as caught:
            error = caught
    assert "login failed: <ns0:password>***</ns0:password>" in str(error)
    assert password not in _everything(error)
    assert error.__traceback__ is not None  # its first frame is this test's, which holds the password
    assert frames_with_secrets(error.with_traceback(error.__traceback__.tb_next), [password]) == []
    assert password not in caplog.text
