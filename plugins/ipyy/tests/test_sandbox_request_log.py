"""The inspection log holds every gateway request: those refused with a 404, and those a fault
answered or changed, each with what the fault did, as typed entries and through
``GET /_sandbox/requests``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Sandbox, SandboxState, create_app
from smsgate_ipyy.sandbox._log import Injected, RequestEntry

SIGNED = "您的验证码：1439【腾飞】"


def send_form(account: str = "demo", password: str = "demo-password") -> dict[str, str]:
    return {
        "action": "send",
        "account": account,
        "password": md5_upper(password),
        "mobile": "13800138000",
        "content": SIGNED,
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    sandbox.reset()
    sandbox.clear_faults()
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as client:
        yield client


def logged(http: httpx.Client) -> list[dict[str, Any]]:
    """The log as the admin API gives it."""
    reply = http.get("/_sandbox/requests")
    assert reply.status_code == 200
    entries: list[dict[str, Any]] = reply.json()
    return entries


# -- 404 ---------------------------------------------------------------------------------------


async def test_a_request_refused_with_404_is_logged_in_process() -> None:
    state = SandboxState()
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        reply = await client.post("/smsGKB.aspx", data=send_form())
    assert reply.status_code == 404
    [entry] = state.entries()
    assert isinstance(entry, RequestEntry)
    assert (entry.endpoint, entry.method, entry.account, entry.action) == (
        "smsGKB.aspx",
        "POST",
        "demo",
        "send",
    )
    assert (entry.outcome.code, entry.outcome.number) == ("HTTP 404", None)
    assert entry.injected is None
    assert entry.password_style is None  # the password was never looked at


def test_a_404_reaches_the_admin_log(http: httpx.Client) -> None:
    assert http.get("/sms.asp?action=overage&account=demo").status_code == 404
    [entry] = logged(http)
    assert entry["endpoint"] == "sms.asp"
    assert entry["method"] == "GET"
    assert entry["encoding"] == "query"
    assert entry["outcome"]["code"] == "HTTP 404"
    assert entry["injected"] is None
    assert "demo-password" not in str(entry)


# -- faults that answer instead of the gateway -------------------------------------------------


REPLACING = [
    ({"kind": "outage"}, 503, "HTTP 503"),
    ({"kind": "status"}, 500, "HTTP 500"),
    ({"kind": "status", "status": 429}, 429, "HTTP 429"),
    ({"kind": "garbage"}, 200, "HTTP 200"),
    ({"kind": "vendor", "code": "AmountNotEnough"}, 200, "AmountNotEnough"),
]


@pytest.mark.parametrize(("rule", "status", "code"), REPLACING, ids=[str(rule) for rule, _, _ in REPLACING])
def test_a_reply_made_by_a_fault_is_logged_with_what_the_fault_did(
    sandbox: Sandbox, http: httpx.Client, rule: dict[str, Any], status: int, code: str
) -> None:
    sandbox.set_fault(path="/sms.aspx", **rule)
    assert http.post("/sms.aspx", data=send_form()).status_code == status
    [entry] = logged(http)
    assert (entry["endpoint"], entry["account"], entry["action"]) == ("sms.aspx", "demo", "send")
    assert entry["outcome"]["code"] == code
    assert entry["outcome"]["task_id"] == ""
    injected = entry["injected"]
    assert injected["kind"] == rule["kind"]
    assert injected["rule"]["kind"] == rule["kind"]
    assert "never saw the request" in injected["did"]
    assert injected["acted"] is False
    # nothing was sent: the balance is untouched
    [demo] = [item for item in sandbox.state.accounts() if item["account"] == "demo"]
    assert demo["sms_balance"] == 1_000_000


def test_a_fault_on_an_unknown_path_is_logged_with_that_path(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_fault(kind="outage")
    assert http.post("/nope.aspx", data=send_form()).status_code == 503
    [entry] = logged(http)
    assert entry["endpoint"] == "nope.aspx"
    assert entry["injected"]["kind"] == "outage"


def test_a_fault_on_the_soap_endpoint_is_logged_with_its_soap_version(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.set_fault(kind="status", path="/WebService.asmx")
    headers = {"content-type": "application/soap+xml; charset=utf-8"}
    assert http.post("/WebService.asmx", content=b"<x/>", headers=headers).status_code == 500
    [entry] = logged(http)
    assert (entry["endpoint"], entry["encoding"]) == ("WebService.asmx", "soap1.2")


def test_a_hang_is_logged_when_the_request_is_held(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_fault(kind="hang", seconds=5, times=1)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/smsJson.aspx", data=send_form(), timeout=0.3)
    [entry] = logged(http)
    assert entry["endpoint"] == "smsJson.aspx"
    assert entry["outcome"]["code"] == "no reply"
    assert entry["injected"]["kind"] == "hang"


# -- faults that change the gateway's own reply ------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"kind": "latency", "seconds": 0.05}, "delayed"),
        ({"kind": "truncate"}, "cut in half"),
    ],
)
def test_the_gateways_entry_says_what_the_fault_did_to_its_reply(
    sandbox: Sandbox, http: httpx.Client, rule: dict[str, Any], words: str
) -> None:
    sandbox.set_fault(path="/sms.aspx", **rule)
    http.post("/sms.aspx", data=send_form())
    [entry] = logged(http)
    assert entry["outcome"]["code"] == "OK"  # the gateway did act
    assert entry["outcome"]["task_id"]
    assert entry["injected"]["kind"] == rule["kind"]
    assert words in entry["injected"]["did"]
    assert entry["injected"]["acted"] is True


def test_a_dropped_connection_is_logged_as_acted_on(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_fault(kind="drop", path="/sms.aspx")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/sms.aspx", data=send_form())
    [entry] = logged(http)
    assert entry["outcome"]["code"] == "OK"
    assert entry["injected"]["kind"] == "drop"
    assert "closed" in entry["injected"]["did"]
    assert entry["injected"]["acted"] is True


def test_entries_are_typed_and_unfaulted_ones_carry_no_injection(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    http.post("/sms.aspx", data=send_form())
    sandbox.set_fault(kind="outage", times=1)
    http.post("/sms.aspx", data=send_form())
    plain, faulted = sandbox.state.entries()
    assert plain.injected is None
    assert isinstance(faulted.injected, Injected)
    assert faulted.injected.kind == "outage"
    assert [entry["seq"] for entry in sandbox.requests()] == [1, 2]


BROKEN_MULTIPART = {"content-type": "multipart/form-data; boundary=zz"}


async def test_an_unreadable_body_on_an_unknown_path_is_still_a_logged_404() -> None:
    state = SandboxState()
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        reply = await client.post("/nope.aspx", content=b"garbage", headers=BROKEN_MULTIPART)
    assert reply.status_code == 404
    [entry] = state.requests()
    assert (entry["endpoint"], entry["encoding"], entry["outcome"]["code"]) == (
        "nope.aspx",
        "unreadable",
        "HTTP 404",
    )


def test_an_unreadable_body_answered_by_a_fault_is_still_logged(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_fault(kind="outage")
    assert http.post("/sms.aspx", content=b"garbage", headers=BROKEN_MULTIPART).status_code == 503
    [entry] = logged(http)
    assert (entry["endpoint"], entry["encoding"], entry["injected"]["kind"]) == (
        "sms.aspx",
        "unreadable",
        "outage",
    )
