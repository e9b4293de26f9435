"""A send that fits one request (issue 11: sent without the parts machinery) gives what a
one-part send gave: the parsed receipt itself (no parts), the wire numbers, the plain error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest

import smsgate
from smsgate.exceptions import InsufficientBalanceError, PartialSendError

TEXT = "您的验证码：1439【腾飞】"
M1, M2, M3 = "13800138000", "13800138001", "13800138002"
OK = (
    '<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Success</returnstatus>'
    "<message>ok</message><remainpoint>88</remainpoint><taskID>{task}</taskID>"
    "<successCounts>{count}</successCounts></returnsms>"
)
FAILD = (
    '<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Faild</returnstatus>'
    "<message>余额不足</message><remainpoint>0</remainpoint><taskID></taskID>"
    "<successCounts>0</successCounts></returnsms>"
)


def _gateway(replies: list[str], seen: list[httpx.Request], **settings: object) -> smsgate.Gateway:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=replies.pop(0).encode())

    provider = smsgate.get_provider(
        "ipyy", account="a", password="p", userid="1", base_url="https://ipyy.test/", **settings
    )
    client = httpx.Client(transport=httpx.MockTransport(answer))
    return smsgate.Gateway(provider, client=client, breaker=smsgate.BreakerPolicy.off())


def _mobiles(seen: list[httpx.Request]) -> list[str]:
    return [dict(httpx.QueryParams(r.content.decode()))["mobile"] for r in seen]


def test_one_request_gives_the_parsed_receipt() -> None:
    seen: list[httpx.Request] = []
    gateway = _gateway([OK.format(task="T1", count=2)], seen, max_recipients=2)
    receipt = gateway.send(smsgate.Sms(to=[M1, "+86" + M2], text=TEXT, reference="r-1"))
    assert _mobiles(seen) == [f"{M1},{M2}"]
    assert (receipt.task_id, receipt.accepted, receipt.parts) == ("T1", 2, ())
    assert receipt.recipients == (M1, M2)
    assert (receipt.reference, receipt.attempts, str(receipt.balance)) == ("r-1", 1, "88")
    assert receipt.accepted_at is not None
    assert receipt.raw["taskID"] == "T1"


@pytest.mark.parametrize(("recipients", "requests"), [(2, 1), (3, 2)])
def test_max_recipients_is_the_boundary(recipients: int, requests: int) -> None:
    seen: list[httpx.Request] = []
    replies = [OK.format(task=f"T{i}", count=1) for i in range(requests)]
    gateway = _gateway(replies, seen, max_recipients=2)
    receipt = gateway.send(smsgate.Sms(to=[M1, M2, M3][:recipients], text=TEXT))
    assert len(seen) == requests
    assert len(receipt.parts) == (0 if requests == 1 else requests)


@pytest.mark.parametrize("make", [lambda: [FAILD], lambda: ["<returnsms><oops"]])
def test_a_failed_single_request_is_the_plain_error(make: Callable[[], list[str]]) -> None:
    seen: list[httpx.Request] = []
    gateway = _gateway(make(), seen, max_recipients=2)
    with pytest.raises(smsgate.SmsGateError) as caught:
        gateway.send(smsgate.Sms(to=[M1, M2], text=TEXT))
    assert not isinstance(caught.value, PartialSendError)
    assert (caught.value.provider, caught.value.operation) == ("ipyy", "send")
    assert isinstance(caught.value, InsufficientBalanceError | smsgate.exceptions.MalformedReplyError)


def test_a_plain_send_builds_its_receipt_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ipyy reply's receipt carries its acceptance time, so a first-try send without a
    reference is not rebuilt by the gateway; one with a reference is, once."""
    built: list[int] = []
    init = smsgate.Receipt.__init__

    def counting(self: smsgate.Receipt, *args: object, **kwargs: object) -> None:
        built.append(1)
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    seen: list[httpx.Request] = []
    gateway = _gateway([OK.format(task="T1", count=1), OK.format(task="T2", count=1)], seen)
    monkeypatch.setattr(smsgate.Receipt, "__init__", counting)
    before = dt.datetime.now(dt.UTC)
    plain = gateway.send(smsgate.Sms(to=M1, text=TEXT))
    assert len(built) == 1
    assert plain.accepted_at is not None
    assert before <= plain.accepted_at <= dt.datetime.now(dt.UTC)
    assert (plain.reference, plain.attempts) == (None, 1)
    referenced = gateway.send(smsgate.Sms(to=M1, text=TEXT, reference="r-2"))
    assert len(built) == 3
    assert (referenced.reference, referenced.accepted_at is not None) == ("r-2", True)
