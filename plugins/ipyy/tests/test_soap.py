"""The ipyy SOAP WebService (spec chapter 8): the shipped WSDL, the envelopes zeep builds from
it, and the parsing of replies and faults (smsgate_ipyy._soap)."""

from __future__ import annotations

import datetime as dt
import io
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import zeep
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from smsgate.exceptions import (
    ConfigurationError,
    MalformedReplyError,
    MessageRejectedError,
    SmsGateError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate_ipyy import _soap
from smsgate_ipyy._soap import SOAP_ACTION, SoapSendResult, build_send_request, parse_send_response

TNS = "http://www.yysms.com/"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
URL = "https://gateway.test/WebService.asmx"
PASSWORD = "S3cret-pw!"

# Wire notes §1, in this order (from the JAXB ResultCode generated from the live WSDL).
RESULT_CODES = [
    "Unknown",
    "OK",
    "AppInactive",
    "ParamError",
    "UserNameEmpty",
    "PasswordEmpty",
    "UserNameError",
    "PasswordError",
    "BindIpError",
    "UserStop",
    "UserIdError",
    "Text64Error",
    "StampError",
    "SendTimeError",
    "JsonError",
    "MsisdnEmpty",
    "MsisdnRepeat",
    "NoChannel",
    "MsisdnError",
    "MsisdnBlack",
    "MsisdnNoChannel",
    "AmountNotEnough",
    "NoProduct",
    "ExtNumberError",
    "BalanceNotEnough",
    "ChannelTypeError",
    "TemplateError",
    "FrequentOperation",
    "NoEnabled",
    "TemplateIdError",
    "ContentEmpty",
    "ContentLong",
    "MsisdnsMany",
    "SensitiveWords",
    "ContentError",
    "MsisdnLess",
    "RequiredSuffix",
    "SuffixError",
    "SubjectEmpty",
    "SubjectLong",
    "FramesEmpty",
    "ElementError",
    "FrameError",
    "FrameSizeLong",
    "SmilEmpty",
    "SmilExcessive",
    "ElementNameRepeat",
    "SizeLong",
    "MmsIdEmpty",
    "NoMmsTemplate",
    "TaskIdEmpty",
    "NoRealName",
    "FaileList",
    "InternalError",
]

# The example SOAP 1.2 reply of the wire notes §1 (ASMX serialisation, default namespace).
REPLY_12 = (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    '<soap:Body><SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult><PayType>0</PayType>'
    "<StatusCode>OK</StatusCode><Description>操作成功</Description><MsgId>1504141655440332</MsgId>"
    "<SuccessCounts>1</SuccessCounts><BillingCount>1</BillingCount><Amount>-11</Amount><Balance>0</Balance>"
    "<BillingAmount>0</BillingAmount><Errors /></SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"
)


def soap11(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def result_body(inner: str) -> str:
    return f'<SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult>{inner}</SendSmsResult></SendSmsResponse>'


FAILURE_INNER = (
    "<PayType>0</PayType><StatusCode>PasswordError</StatusCode><Description>用户名或密码错误</Description>"
    "<MsgId /><SuccessCounts>0</SuccessCounts><BillingCount>0</BillingCount><Amount>0</Amount>"
    "<Balance>0</Balance><BillingAmount>0</BillingAmount>"
)


def reply(content: bytes | str, status: int = 200) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    return httpx.Response(status, content=data)


def build(**overrides: Any) -> httpx.Request:
    args: dict[str, Any] = {
        "url": URL,
        "user_name": "demo",
        "password": PASSWORD,
        "mobiles": ["13800138000", "13900139000"],
        "content": "您的验证码：1439【腾飞】",
        "ext": "123",
        "plan_send_time": None,
        "soap_version": 11,
    }
    args.update(overrides)
    return build_send_request(**args)


def envelope_of(request: httpx.Request) -> etree._Element:
    return etree.fromstring(request.content)


def send_sms_of(request: httpx.Request) -> etree._Element:
    element = envelope_of(request).find(f"{{*}}Body/{{{TNS}}}SendSms")
    assert element is not None
    return element


@pytest.fixture(scope="module")
def wsdl() -> etree._ElementTree:
    return etree.parse(
        io.BytesIO(_soap.wsdl_bytes()), etree.XMLParser(resolve_entities=False, no_network=True)
    )


@pytest.fixture(scope="module")
def schema(wsdl: etree._ElementTree) -> etree.XMLSchema:
    element = wsdl.find(f"{{{WSDL_NS}}}types/{{{XS}}}schema")
    assert element is not None
    return etree.XMLSchema(element)


# --- the WSDL ---------------------------------------------------------------------------


def test_wsdl_is_shipped_in_the_package_and_its_schema_compiles(
    wsdl: etree._ElementTree, schema: etree.XMLSchema
) -> None:
    """The WSDL is read with importlib.resources, is well-formed, and lxml compiles its schema."""
    root = wsdl.getroot()
    assert root.tag == f"{{{WSDL_NS}}}definitions"
    assert root.get("targetNamespace") == TNS
    element = root.find(f"{{{WSDL_NS}}}types/{{{XS}}}schema")
    assert element is not None
    assert element.get("targetNamespace") == TNS
    assert element.get("elementFormDefault") == "qualified"
    assert isinstance(schema, etree.XMLSchema)


def test_wsdl_schema_has_the_wire_facts(wsdl: etree._ElementTree) -> None:
    """SmsObject order, the nillable PlanSendTime, SendResult's fields and the 54 ResultCodes."""
    s = f"{{{XS}}}"
    types = wsdl.find(f"{{{WSDL_NS}}}types/{s}schema")
    assert types is not None

    def sequence(type_name: str) -> list[etree._Element]:
        node = types.find(f"{s}complexType[@name='{type_name}']")
        assert node is not None
        return list(node.iter(f"{s}element"))

    sms = sequence("SmsObject")
    assert [e.get("name") for e in sms] == ["Msisdns", "SMSContent", "ExtNumber", "PlanSendTime"]
    plan = sms[-1]
    assert (plan.get("type"), plan.get("minOccurs"), plan.get("nillable")) == ("s:dateTime", "1", "true")

    base = types.find(f"{s}complexType[@name='SendResultBase']")
    assert base is not None
    assert base.get("abstract") == "true"
    assert [(e.get("name"), e.get("type")) for e in sequence("SendResultBase")] == [
        ("PayType", "s:int"),
        ("StatusCode", "tns:ResultCode"),
        ("Description", "s:string"),
        ("MsgId", "s:string"),
        ("SuccessCounts", "s:int"),
        ("BillingCount", "s:int"),
        ("Amount", "s:long"),
        ("Balance", "s:decimal"),
        ("BillingAmount", "s:decimal"),
        ("Errors", "tns:ArrayOfString"),
        ("AlterSendResult", "tns:SendResultBase"),
        ("CustomId", "s:string"),
    ]
    extension = types.find(f"{s}complexType[@name='SendResult']/{s}complexContent/{s}extension")
    assert extension is not None
    assert extension.get("base") == "tns:SendResultBase"

    codes = [
        e.get("value")
        for e in types.iterfind(f"{s}simpleType[@name='ResultCode']/{s}restriction/{s}enumeration")
    ]
    assert codes == RESULT_CODES
    assert len(codes) == 54


def test_wsdl_has_soap11_and_soap12_bindings_with_the_send_sms_action(wsdl: etree._ElementTree) -> None:
    """Both bindings carry SOAPAction http://www.yysms.com/SendSms; the default address is the vendor's."""
    actions = {
        binding.get("name"): [
            op.get("soapAction")
            for op in binding.iter()
            if op.tag.endswith("}operation") and op.get("soapAction")
        ]
        for binding in wsdl.getroot().iterfind(f"{{{WSDL_NS}}}binding")
    }
    assert actions == {"WebServiceSoap": [SOAP_ACTION], "WebServiceSoap12": [SOAP_ACTION]}
    addresses = {a.get("location") for a in wsdl.getroot().iter("{*}address")}
    assert addresses == {"https://dx.ipyy.net/WebService.asmx"}


def test_wsdl_address_can_be_pointed_at_a_local_server() -> None:
    """wsdl_bytes(address) rewrites both ports' address (the sandbox serves it so) and nothing else."""
    local = "http://127.0.0.1:8080/WebService.asmx"
    rewritten = etree.fromstring(_soap.wsdl_bytes(local))
    assert {a.get("location") for a in rewritten.iter("{*}address")} == {local}
    original = etree.fromstring(_soap.wsdl_bytes())
    for element in original.iter("{*}address"):
        element.set("location", local)
    assert etree.tostring(rewritten, method="c14n") == etree.tostring(original, method="c14n")


class RecordingRefusingTransport(zeep.Transport):  # type: ignore[misc]
    """Records every load zeep asks for and refuses it."""

    _close_session = False

    def __init__(self) -> None:
        self.cache = None
        self.asked: list[str] = []

    def load(self, url: str) -> bytes:
        self.asked.append(url)
        raise AssertionError(f"zeep tried to load {url}")


def test_zeep_loads_the_wsdl_without_any_io() -> None:
    """zeep builds a client from the shipped bytes and never asks its transport for anything."""
    transport = RecordingRefusingTransport()
    client = zeep.Client(
        io.BytesIO(_soap.wsdl_bytes()),
        transport=transport,
        settings=zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True),
    )
    assert transport.asked == []
    assert {str(name) for name in client.wsdl.bindings} == {
        f"{{{TNS}}}WebServiceSoap",
        f"{{{TNS}}}WebServiceSoap12",
    }


def test_the_module_transport_refuses_every_network_call() -> None:
    """The transport the cached client uses raises on load, get, post and post_xml."""
    transport = _soap._zeep_client().transport
    assert isinstance(transport, _soap._NoNetworkTransport)
    calls = [
        lambda: transport.load("https://dx.ipyy.net/WebService.asmx?wsdl"),
        lambda: transport.get(URL, {}, {}),
        lambda: transport.post(URL, b"", {}),
        lambda: transport.post_xml(URL, etree.Element("x"), {}),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="network I/O"):
            call()


def test_building_requests_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building both envelope versions (first use loads the WSDL) never connects anywhere."""
    monkeypatch.setattr(_soap, "_client", None)  # force the WSDL load inside this test
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("network I/O attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    build(soap_version=11)
    build(soap_version=12, plan_send_time=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert attempts == []


# --- building ---------------------------------------------------------------------------


def test_soap11_request_golden() -> None:
    """SOAP 1.1: POST to the given URL, text/xml, quoted SOAPAction, the 1.1 envelope namespace."""
    request = build(soap_version=11)
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert request.headers["SOAPAction"] == '"http://www.yysms.com/SendSms"'
    assert envelope_of(request).tag == f"{{{SOAP11}}}Envelope"
    assert request.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_soap12_request_golden() -> None:
    """SOAP 1.2: application/soap+xml with the action parameter, no SOAPAction header, 1.2 namespace."""
    request = build(soap_version=12)
    assert (
        request.headers["Content-Type"]
        == 'application/soap+xml; charset=utf-8; action="http://www.yysms.com/SendSms"'
    )
    assert "SOAPAction" not in request.headers
    assert envelope_of(request).tag == f"{{{SOAP12}}}Envelope"


@pytest.mark.parametrize("version", [11, 12])
def test_send_sms_body_in_wsdl_order_with_values(version: int) -> None:
    """SendSms in the yysms namespace: userName, password, sms(Msisdns comma-joined, SMSContent,
    ExtNumber, PlanSendTime nil for an immediate send)."""
    element = send_sms_of(build(soap_version=version))
    assert [(etree.QName(e).namespace, etree.QName(e).localname) for e in element] == [
        (TNS, "userName"),
        (TNS, "password"),
        (TNS, "sms"),
    ]
    assert [e.text for e in element[:2]] == ["demo", PASSWORD]
    sms = element[2]
    assert [etree.QName(e).localname for e in sms] == ["Msisdns", "SMSContent", "ExtNumber", "PlanSendTime"]
    assert all(etree.QName(e).namespace == TNS for e in sms)
    assert sms[0].text == "13800138000,13900139000"
    assert sms[1].text == "您的验证码：1439【腾飞】"
    assert sms[2].text == "123"
    assert sms[3].get(f"{{{XSI}}}nil") == "true"
    assert sms[3].text is None


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2016, 12, 6, 0, 9, 10, tzinfo=dt.UTC), "2016-12-06T08:09:10"),
        # microseconds are dropped; another offset is converted to China time first
        (
            dt.datetime(2016, 12, 6, 9, 9, 10, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            "2016-12-06T08:09:10",
        ),
        # crossing midnight in China
        (dt.datetime(2024, 2, 28, 16, 30, tzinfo=dt.UTC), "2024-02-29T00:30:00"),
    ],
)
@pytest.mark.parametrize("version", [11, 12])
def test_plan_send_time_is_china_local_xs_datetime_without_offset(
    version: int, when: dt.datetime, expected: str
) -> None:
    """An aware send time becomes xs:dateTime in China local time with no offset (wire notes §1)."""
    plan = send_sms_of(build(soap_version=version, plan_send_time=when))[2][3]
    assert plan.text == expected
    assert plan.get(f"{{{XSI}}}nil") is None


def test_naive_plan_send_time_is_a_validation_error() -> None:
    """A naive send time is ambiguous: refused before anything is built."""
    with pytest.raises(ValidationError) as info:
        build(plan_send_time=dt.datetime(2030, 1, 1, 8, 0))
    assert info.value.field == "send_at"


def test_missing_ext_is_sent_as_an_empty_ext_number() -> None:
    """No extension: an empty ExtNumber, as the vendor's demo sends."""
    ext = send_sms_of(build(ext=None))[2][2]
    assert etree.QName(ext).localname == "ExtNumber"
    assert ext.text in (None, "")


@pytest.mark.parametrize("version", [11, 12])
@pytest.mark.parametrize("when", [None, dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)])
@pytest.mark.parametrize("ext", [None, "12345"])
def test_built_body_validates_against_the_wsdl_schema(
    schema: etree.XMLSchema, version: int, when: dt.datetime | None, ext: str | None
) -> None:
    """lxml validates the SendSms element zeep built against the WSDL's own schema."""
    element = send_sms_of(build(soap_version=version, plan_send_time=when, ext=ext))
    assert schema.validate(etree.ElementTree(element)), schema.error_log


def test_the_schema_rejects_the_spec_style_send_time(schema: etree.XMLSchema) -> None:
    """Guard for the test above: "2010-10-24 09:08:10" (spec 8.2 style) is not an xs:dateTime."""
    element = send_sms_of(build(plan_send_time=dt.datetime(2030, 5, 1, tzinfo=dt.UTC)))
    element[2][3].text = "2010-10-24 09:08:10"
    assert not schema.validate(etree.ElementTree(element))


def huaxin_demo_envelope(user: str, password: str, mobiles: str, content: str, ext: str) -> bytes:
    """The SOAP 1.2 envelope Huaxin's Java demo (SendViaWs) writes by hand (wire notes §1)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap12:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://www.w3.org/2003/05/soap-envelope">'
        '<soap12:Body><SendSms xmlns="http://www.yysms.com/">'
        f"<userName>{user}</userName><password>{password}</password><sms>"
        f"<Msisdns>{mobiles}</Msisdns><SMSContent><![CDATA[{content}]]></SMSContent>"
        f"<ExtNumber>{ext}</ExtNumber><PlanSendTime xsi:nil='true'></PlanSendTime>"
        "</sms></SendSms></soap12:Body></soap12:Envelope>"
    ).encode()


def infoset(element: etree._Element) -> tuple[object, ...]:
    """Namespace-resolved tag, attributes, text and children: what a SOAP server reads."""
    return (
        element.tag,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [infoset(child) for child in element],
    )


def test_soap12_envelope_is_equivalent_to_the_huaxin_java_demo(schema: etree.XMLSchema) -> None:
    """Same envelope and body infoset as the vendor's own demo, which the live gateway accepts."""
    ours = envelope_of(build(soap_version=12, mobiles=["13800138000"], content="测试<短信>&", ext=None))
    theirs = etree.fromstring(huaxin_demo_envelope("demo", PASSWORD, "13800138000", "测试<短信>&", ""))
    assert infoset(ours) == infoset(theirs)
    demo_body = theirs.find(f"{{{SOAP12}}}Body/{{{TNS}}}SendSms")
    assert schema.validate(etree.ElementTree(demo_body))


@settings(max_examples=40, deadline=None)
@given(content=st.text(max_size=80), password=st.text(max_size=20))
def test_any_xml_text_round_trips_and_other_text_is_a_validation_error(content: str, password: str) -> None:
    """Text XML can carry arrives unchanged; text it cannot carry (control characters, lone
    surrogates) is a ValidationError naming the field, never a raw lxml error."""
    try:
        element = send_sms_of(build(content=content, password=password))
    except ValidationError as exc:
        offending = {"password": password, "text": content}[exc.field or ""]
        assert _soap._NOT_XML_CHAR.search(offending)
        return
    assert not _soap._NOT_XML_CHAR.search(content + password)
    assert (element[2][1].text or "") == content
    assert (element[1].text or "") == password


def test_control_character_in_password_is_a_validation_error_without_the_password() -> None:
    """Text XML cannot carry is refused with the field's name, never the value."""
    secret = "hunter2\x01topsecret"
    with pytest.raises(ValidationError) as info:
        build(password=secret)
    assert info.value.field == "password"
    assert "hunter2" not in str(info.value)
    assert "topsecret" not in repr(info.value)


def test_password_with_markup_characters_is_escaped_not_mangled() -> None:
    """The plain password goes as given (wire notes §1), XML-escaped by the serialiser."""
    element = send_sms_of(build(password="a<b>&c\"'"))
    assert element[1].text == "a<b>&c\"'"


def test_unknown_soap_version_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        build(soap_version=13)


def test_zeep_client_is_loaded_once_even_under_concurrent_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached client is built exactly once when many threads ask at the same time."""
    monkeypatch.setattr(_soap, "_client", None)
    real_client = zeep.Client
    built: list[object] = []

    def slow_client(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # widen the race window
        client = real_client(*args, **kwargs)
        built.append(client)
        return client

    monkeypatch.setattr(_soap.zeep, "Client", slow_client)
    barrier = threading.Barrier(6)
    seen: list[object] = []

    def use() -> None:
        barrier.wait()
        seen.append(_soap._zeep_client())

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(seen) == 6
    assert all(client is built[0] for client in seen)


# --- parsing ----------------------------------------------------------------------------


def test_parses_the_wire_notes_soap12_reply() -> None:
    """The ASMX-style SOAP 1.2 reply of the wire notes (default namespace, empty <Errors />)."""
    result = parse_send_response(reply(REPLY_12))
    assert result == SoapSendResult(
        status_code="OK",
        description="操作成功",
        msg_id="1504141655440332",
        amount=-11,
        success_counts=1,
        billing_count=1,
        errors=(),
    )
    assert result.raw["PayType"] == "0"
    assert result.raw["Errors"] == []
    assert "raw" not in repr(result)


def test_parses_a_soap11_reply_with_prefixed_names_and_error_strings() -> None:
    """SOAP 1.1, a prefixed yysms namespace, Errors with <string> items (a nil item skipped)."""
    body = (
        '<y:SendSmsResponse xmlns:y="http://www.yysms.com/"><y:SendSmsResult><y:PayType>1</y:PayType>'
        "<y:StatusCode>OK</y:StatusCode><y:MsgId>1710173515120547</y:MsgId><y:SuccessCounts>2</y:SuccessCounts>"
        "<y:BillingCount>4</y:BillingCount><y:Amount>96</y:Amount><y:Balance>0</y:Balance>"
        "<y:BillingAmount>0</y:BillingAmount><y:Errors><y:string>13800000000</y:string>"
        '<y:string xsi:nil="true" /><y:string>1391</y:string></y:Errors>'
        "</y:SendSmsResult></y:SendSmsResponse>"
    )
    result = parse_send_response(reply(soap11(body)))
    assert result.status_code == "OK"
    assert result.description is None
    assert result.msg_id == "1710173515120547"
    assert (result.amount, result.success_counts, result.billing_count) == (96, 2, 4)
    assert result.errors == ("13800000000", "1391")
    assert result.raw["Errors"] == ["13800000000", None, "1391"]


def test_parses_a_failure_reply_with_password_error() -> None:
    """A non-OK StatusCode is a result, not an exception; an empty MsgId becomes None."""
    result = parse_send_response(reply(soap11(result_body(FAILURE_INNER))))
    assert result.status_code == "PasswordError"
    assert result.description == "用户名或密码错误"
    assert result.msg_id is None
    assert (result.amount, result.success_counts, result.billing_count, result.errors) == (0, 0, 0, ())


def test_missing_and_nil_optional_fields() -> None:
    """No Errors, nil Description, no Amount: defaults, not failures."""
    inner = '<StatusCode>ContentLong</StatusCode><Description xsi:nil="true" />'
    result = parse_send_response(reply(soap11(result_body(inner))))
    assert result == SoapSendResult(
        status_code="ContentLong",
        description=None,
        msg_id=None,
        amount=None,
        success_counts=0,
        billing_count=0,
        errors=(),
    )


def test_unknown_status_code_and_extra_elements_are_kept_not_fatal() -> None:
    """A ResultCode name the WSDL lacks, and an element it does not define, still parse."""
    inner = FAILURE_INNER.replace("PasswordError", "BrandNewCode") + "<Mark>x</Mark><CustomId>c1</CustomId>"
    result = parse_send_response(reply(soap11(result_body(inner))))
    assert result.status_code == "BrandNewCode"
    assert result.raw["Mark"] == "x"
    assert result.raw["CustomId"] == "c1"


def test_reply_in_the_other_soap_version_than_requested_still_parses() -> None:
    """The envelope's own namespace decides: a SOAP 1.2 reply to a 1.1 request is fine."""
    assert parse_send_response(reply(REPLY_12)).status_code == "OK"
    assert parse_send_response(reply(soap11(result_body(FAILURE_INNER)))).status_code == "PasswordError"


FAULT_11 = (
    "<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{text}</faultstring><detail /></soap:Fault>"
)
FAULT_12 = (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
    "<soap:Body><soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code>"
    '<soap:Reason><soap:Text xml:lang="en">{text}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>'
    "</soap:Body></soap:Envelope>"
)
CLIENT_TEXT = "Server was unable to read request. ---> There is an error in XML document (1, 420)."
SERVER_TEXT = (
    "Server was unable to process request. ---> Object reference not set to an instance of an object."
)


@pytest.mark.parametrize(
    "body",
    [
        soap11(FAULT_11.format(code="Client", text=CLIENT_TEXT)),
        FAULT_12.format(code="Sender", text=CLIENT_TEXT).encode(),
        soap11(FAULT_11.format(code="Client.Deserialization", text=CLIENT_TEXT)),
        soap11(FAULT_11.format(code="VersionMismatch", text="wrong envelope")),
    ],
    ids=["1.1-Client", "1.2-Sender", "1.1-Client-dotted", "1.1-VersionMismatch"],
)
def test_client_fault_means_refused_not_sent(body: bytes) -> None:
    """A Client/Sender fault: ASMX refused the request before SendSms ran. MessageRejectedError,
    with the fault code and text kept; neither retry- nor failover-safe."""
    with pytest.raises(MessageRejectedError) as info:
        parse_send_response(reply(body, status=500))
    error = info.value
    assert error.code is not None
    assert error.code.startswith("soap:")
    assert error.vendor_message in (CLIENT_TEXT, "wrong envelope")
    assert error.provider is None  # the driver names the provider (whatever this one is called)
    assert not error.retry_safe
    assert not error.failover_safe


@pytest.mark.parametrize(
    "body",
    [
        soap11(FAULT_11.format(code="Server", text=SERVER_TEXT)),
        FAULT_12.format(code="Receiver", text=SERVER_TEXT).encode(),
        soap11(FAULT_11.format(code="Weird", text=SERVER_TEXT)),
    ],
    ids=["1.1-Server", "1.2-Receiver", "unknown-code"],
)
def test_server_fault_means_the_outcome_is_uncertain(body: bytes) -> None:
    """A Server/Receiver fault came from inside SendSms: the message may have gone out."""
    with pytest.raises(UncertainOutcomeError) as info:
        parse_send_response(reply(body, status=500))
    assert not isinstance(info.value, MalformedReplyError)
    assert not info.value.retry_safe
    assert not info.value.failover_safe
    assert "Object reference" in str(info.value)


def test_fault_with_http_200_is_still_a_fault() -> None:
    with pytest.raises(MessageRejectedError):
        parse_send_response(reply(soap11(FAULT_11.format(code="Client", text="bad")), status=200))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>
<SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult><StatusCode>OK</StatusCode>
<Description>&lol3;</Description></SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>
<SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult><StatusCode>OK</StatusCode>
<Description>&xxe;</Description></SendSmsResult></SendSmsResponse></soap:Body></soap:Envelope>"""


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"garbage, not XML", 200),
        (REPLY_12.encode()[:180], 200),  # truncated
        (b"", 200),
        (b"<html><body>502 Bad Gateway</body></html>", 502),
        (b"<returnsms><returnstatus>Faild</returnstatus></returnsms>", 200),  # not SOAP
        (soap11(""), 500),  # 500 without a Fault
        (soap11('<Other xmlns="http://www.yysms.com/" />'), 200),
        (soap11('<SendSmsResponse xmlns="http://www.yysms.com/" />'), 200),  # no SendSmsResult
        (soap11(result_body("<PayType>0</PayType>")), 200),  # no StatusCode
        (soap11(result_body("<StatusCode>OK</StatusCode><SuccessCounts>lots</SuccessCounts>")), 200),
        (REPLY_12.encode(), 503),  # a result with an HTTP error status
        (BILLION_LAUGHS, 200),
        (EXTERNAL_ENTITY, 200),
    ],
    ids=[
        "garbage",
        "truncated",
        "empty",
        "html-502",
        "not-soap",
        "500-no-fault",
        "wrong-element",
        "no-result",
        "no-status",
        "bad-int",
        "http-503",
        "billion-laughs",
        "external-entity",
    ],
)
def test_unusable_replies_are_malformed_reply_errors(body: bytes, status: int) -> None:
    """Anything but a SendSmsResult or a Fault is MalformedReplyError (uncertain), never a raw
    lxml/zeep error; the HTTP status and a body excerpt are kept."""
    with pytest.raises(MalformedReplyError) as info:
        parse_send_response(reply(body, status=status))
    error = info.value
    assert error.status_code == status
    assert error.body_excerpt == body[:200]
    assert error.request_sent is True
    cause = error.__cause__
    assert (
        cause is None
        or isinstance(cause, SmsGateError)
        or type(cause).__module__.startswith(("lxml", "builtins"))
    )


def test_entity_bodies_are_refused_without_expansion() -> None:
    """The passwd file is never read into the error; no entity text appears anywhere."""
    with pytest.raises(MalformedReplyError) as info:
        parse_send_response(reply(EXTERNAL_ENTITY))
    assert "root:" not in str(info.value)
    assert "DTD" in str(info.value)


def test_syntax_errors_keep_the_lxml_error_as_cause() -> None:
    with pytest.raises(MalformedReplyError) as info:
        parse_send_response(reply(b"<soap:Envelope"))
    assert isinstance(info.value.__cause__, etree.XMLSyntaxError)


# --- import hygiene and secrets -----------------------------------------------------------


def run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def test_importing_the_plugin_does_not_import_zeep() -> None:
    """zeep (slow, heavy) is loaded only by the SOAP module; the check itself can see zeep."""
    code = (
        "import sys, importlib.util\n"
        "import smsgate, smsgate_ipyy, smsgate_ipyy.plugin\n"
        "print('zeep' in sys.modules, end=' ')\n"
        "if importlib.util.find_spec('smsgate_ipyy._provider') is not None:\n"
        "    for name in ('form', 'soap'):\n"
        "        smsgate.get_provider('ipyy', account='a', password='p', userid='1', transport=name)\n"
        "print('zeep' in sys.modules, end=' ')\n"
        "import smsgate_ipyy._soap\n"
        "print('zeep' in sys.modules)\n"
    )
    assert run_python(code) == "False False True"


def test_no_error_raised_by_the_module_shows_the_password() -> None:
    """Every error path of build/parse keeps the password out of str() and repr()."""
    errors: list[SmsGateError] = []
    for kwargs in (
        {"password": PASSWORD, "plan_send_time": dt.datetime(2030, 1, 1)},
        {"password": PASSWORD + "\x00"},
        {"password": PASSWORD, "content": "bad\x0b"},
        {"password": PASSWORD, "soap_version": 3},
    ):
        with pytest.raises(SmsGateError) as info:
            build(**kwargs)
        errors.append(info.value)
    for body in (
        b"junk",
        soap11(FAULT_11.format(code="Client", text="x")),
        soap11(FAULT_11.format(code="Server", text="y")),
    ):
        with pytest.raises(SmsGateError) as info:
            parse_send_response(reply(body, status=500))
        errors.append(info.value)
    for error in errors:
        assert PASSWORD not in str(error)
        assert PASSWORD not in repr(error)
        assert PASSWORD not in repr(vars(error))
