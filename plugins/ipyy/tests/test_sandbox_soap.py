"""The sandbox's WebService.asmx: the WSDL served on GET, ``SendSms`` over SOAP 1.1 and 1.2
answered in the same version, the ASMX reply shape, and SOAP faults for what ASMX rejects."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from lxml import etree

from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState, create_app

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://www.yysms.com/"
BASE = "http://127.0.0.1:8080"


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def state() -> SandboxState:
    config = SandboxConfig(
        accounts=[
            Account(account="SZ0003048", password="ws-pass", userid="1", sms_balance=10, mms_balance=0)
        ],
        report_delay=0.0,
    )
    return SandboxState(config, clock=FakeClock(dt.datetime(2016, 12, 6, 0, 0, 0, tzinfo=dt.UTC)))


@pytest.fixture
async def client(state: SandboxState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def envelope(
    version: str = "1.2",
    *,
    password: str = "ws-pass",
    mobiles: str = "13800138000",
    content: str = "<![CDATA[您的验证码：1439【腾飞】]]>",
    ext: str = "",
    plan: str = "<PlanSendTime xsi:nil='true'></PlanSendTime>",
) -> bytes:
    """A SendSms envelope as Huaxin's Java demo (1.2) or Spring-WS (1.1) writes it."""
    ns = SOAP12 if version == "1.2" else SOAP11
    return (
        f"<?xml version='1.0' encoding='utf-8'?><soap:Envelope xmlns:soap='{ns}' "
        "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'><soap:Body>"
        f"<SendSms xmlns='{TNS}'><userName>SZ0003048</userName><password>{password}</password>"
        f"<sms><Msisdns>{mobiles}</Msisdns><SMSContent>{content}</SMSContent>"
        f"<ExtNumber>{ext}</ExtNumber>{plan}</sms></SendSms></soap:Body></soap:Envelope>"
    ).encode()


SOAP11_HEADERS = {"content-type": "text/xml; charset=utf-8", "SOAPAction": f'"{TNS}SendSms"'}
SOAP12_HEADERS = {"content-type": "application/soap+xml; charset=UTF-8"}


def result_fields(reply: httpx.Response, version: str) -> dict[str, str]:
    root = etree.fromstring(reply.content)
    assert root.tag == f"{{{SOAP12 if version == '1.2' else SOAP11}}}Envelope"
    result = root.find(f".//{{{TNS}}}SendSmsResponse/{{{TNS}}}SendSmsResult")
    assert result is not None, reply.text
    return {etree.QName(child).localname: child.text or "" for child in result}


@pytest.mark.parametrize(
    ("version", "headers", "content_type"),
    [
        ("1.1", SOAP11_HEADERS, "text/xml; charset=utf-8"),
        ("1.2", SOAP12_HEADERS, "application/soap+xml; charset=utf-8"),
    ],
)
async def test_send_sms_is_answered_in_the_requests_soap_version(
    client: httpx.AsyncClient, state: SandboxState, version: str, headers: dict[str, str], content_type: str
) -> None:
    reply = await client.post("/WebService.asmx", content=envelope(version), headers=headers)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == content_type
    assert b'<SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult>' in reply.content
    fields = result_fields(reply, version)
    assert fields == {
        "PayType": "0",
        "StatusCode": "OK",
        "Description": "操作成功",
        "MsgId": "1612060800000001",
        "SuccessCounts": "1",
        "BillingCount": "1",
        "Amount": "9",
        "Balance": "0",
        "BillingAmount": "0",
        "Errors": "",
    }
    entry = state.requests()[-1]
    assert entry["encoding"] == f"soap{version}"
    assert entry["fields"]["content"] == "您的验证码：1439【腾飞】"
    assert entry["password_style"] == "plain"


async def test_the_demos_lower_case_path_with_wsdl_query_is_accepted_on_post(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post("/webservice.asmx?wsdl", content=envelope(), headers=SOAP12_HEADERS)
    assert result_fields(reply, "1.2")["StatusCode"] == "OK"


async def test_plan_send_time_schedules_in_china_time_and_an_offset_is_honoured(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    plain = envelope(plan="<PlanSendTime>2016-12-06T08:09:10</PlanSendTime>")
    assert result_fields(await client.post("/WebService.asmx", content=plain, headers=SOAP12_HEADERS), "1.2")
    assert state.requests()[-1]["fields"]["send_time"] == "2016-12-06 08:09:10"
    utc = envelope(plan="<PlanSendTime>2016-12-06T00:09:10Z</PlanSendTime>")
    await client.post("/WebService.asmx", content=utc, headers=SOAP12_HEADERS)
    assert state.requests()[-1]["fields"]["send_time"] == "2016-12-06 08:09:10"
    assert state.pending_count() == 2  # both held until 08:09:10 China time


async def test_a_missing_plan_send_time_sends_at_once(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await client.post("/WebService.asmx", content=envelope("1.1", plan=""), headers=SOAP11_HEADERS)
    assert result_fields(reply, "1.1")["StatusCode"] == "OK"
    assert state.requests()[-1]["fields"]["send_time"] is None


async def test_sms_content_keeps_its_surrounding_whitespace(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    """XmlSerializer does not trim strings: the text is taken as written (found by the
    client/sandbox round-trip property test)."""
    reply = await client.post(
        "/WebService.asmx", content=envelope("1.2", content="  hi【腾飞】 "), headers=SOAP12_HEADERS
    )
    assert result_fields(reply, "1.2")["StatusCode"] == "OK"
    assert state.requests()[-1]["fields"]["content"] == "  hi【腾飞】 "


@pytest.mark.parametrize(
    ("kwargs", "status_code"),
    [
        ({"password": "wrong"}, "PasswordError"),
        ({"password": ""}, "PasswordEmpty"),
        ({"mobiles": ""}, "MsisdnEmpty"),
        ({"mobiles": "138"}, "MsisdnError"),
        ({"content": "没有签名"}, "RequiredSuffix"),
        ({"content": ""}, "ContentEmpty"),
        ({"ext": "1234567"}, "ExtNumberError"),
    ],
)
async def test_refusals_are_send_results_with_the_result_code_name(
    client: httpx.AsyncClient, kwargs: dict[str, str], status_code: str
) -> None:
    reply = await client.post("/WebService.asmx", content=envelope(**kwargs), headers=SOAP12_HEADERS)
    assert reply.status_code == 200
    fields = result_fields(reply, "1.2")
    assert fields["StatusCode"] == status_code
    assert "MsgId" not in fields
    assert fields["SuccessCounts"] == "0"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (envelope(plan="<PlanSendTime>2010-10-24 09:08:10</PlanSendTime>"), SOAP12_HEADERS),
        (envelope(plan="<PlanSendTime></PlanSendTime>"), SOAP12_HEADERS),
        (b"<soap:Envelope xmlns:soap='" + SOAP12.encode() + b"'><soap:Body><SendSms", SOAP12_HEADERS),
        (b"not xml at all", SOAP11_HEADERS),
        (envelope("1.1"), {**SOAP11_HEADERS, "SOAPAction": f'"{TNS}SendMms"'}),
        (envelope("1.1").replace(b"SendSms", b"GetBalance"), {"content-type": "text/xml"}),
        (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", SOAP11_HEADERS),
    ],
)
async def test_what_asmx_rejects_is_a_soap_fault_with_http_500(
    client: httpx.AsyncClient, state: SandboxState, body: bytes, headers: dict[str, str]
) -> None:
    reply = await client.post("/WebService.asmx", content=body, headers=headers)
    assert reply.status_code == 500
    root = etree.fromstring(reply.content)
    version_ns = SOAP12 if headers["content-type"].startswith("application/soap+xml") else SOAP11
    fault = root.find(f"{{{version_ns}}}Body/{{{version_ns}}}Fault")
    assert fault is not None, reply.text
    if version_ns == SOAP12:
        assert fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "soap:Sender"
    else:
        assert fault.findtext("faultcode") == "soap:Client"
    assert state.pending_count() == 0


async def test_wsdl_is_served_on_get_with_its_address_pointing_at_the_sandbox(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/WebService.asmx?wsdl", "/webservice.asmx?WSDL"):
        reply = await client.get(path)
        assert reply.status_code == 200
        root = etree.fromstring(reply.content)
        assert root.get("targetNamespace") == TNS
        locations = {
            element.get("location")
            for element in root.iter(etree.Element)
            if etree.QName(element).localname == "address"
        }
        assert locations == {f"{BASE}/WebService.asmx"}
        assert b"dx.ipyy.net" not in reply.content


async def test_zeep_builds_envelopes_from_the_served_wsdl_that_the_sandbox_accepts(
    client: httpx.AsyncClient,
) -> None:
    """A third-party SOAP client reading the sandbox's WSDL talks to the sandbox."""
    import zeep
    import zeep.transports

    wsdl = (await client.get("/WebService.asmx?wsdl")).content

    class Offline(zeep.transports.Transport):  # type: ignore[misc]
        def load(self, url: str) -> bytes:
            assert url.endswith("served.wsdl")
            return wsdl

    soap = zeep.Client("served.wsdl", transport=Offline())
    for service in (soap.service, soap.bind(port_name=next(p for p in _ports(soap) if "12" in p))):
        message = soap.create_message(
            service,
            "SendSms",
            userName="SZ0003048",
            password="ws-pass",
            sms={
                "Msisdns": "13800138000",
                "SMSContent": "验证码【腾飞】",
                "ExtNumber": "",
                "PlanSendTime": None,
            },
        )
        body = etree.tostring(message)
        is12 = SOAP12.encode() in body
        headers = SOAP12_HEADERS if is12 else SOAP11_HEADERS
        reply = await client.post("/WebService.asmx", content=body, headers=headers)
        assert result_fields(reply, "1.2" if is12 else "1.1")["StatusCode"] == "OK"


def _ports(soap: object) -> list[str]:
    service = next(iter(soap.wsdl.services.values()))  # type: ignore[attr-defined]
    return list(service.ports)
