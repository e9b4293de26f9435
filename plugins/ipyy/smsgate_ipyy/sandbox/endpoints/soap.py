"""The SOAP send, WebService.asmx (spec chapter 8, wire notes §1): ``SendSms`` over SOAP 1.1
or 1.2, answered as ASMX answers (a ``SendSmsResult``, or a SOAP fault with HTTP 500), and the
WSDL on ``GET ?wsdl``."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
from typing import Any

import attrs
from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from .._codes import ResultCode, code
from .._config import Account
from .._state import CHINA, TIME_FORMAT, SandboxState
from ._common import (
    XML_TYPE,
    Call,
    check_ext_and_time,
    check_mobiles,
    check_text,
    injected_of,
    split_mobiles,
)

__all__ = ["handle"]

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
YYSMS = "http://www.yysms.com/"  # wire notes §1: the service's target namespace

_XS_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_WSDL_ADDRESSES = ("http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/")
_wsdl_cache: list[bytes] = []
_OK = code("OK")


# -- WSDL and the service page ---------------------------------------------------------------


def _wsdl_bytes(address: str) -> bytes | None:
    """The packaged WSDL with both ports' ``location`` pointed at ``address`` (this
    sandbox), so a SOAP client that reads the WSDL from here never posts to the real
    gateway."""
    if not _wsdl_cache:
        resource = importlib.resources.files("smsgate_ipyy").joinpath("wsdl/WebService.wsdl")
        try:
            _wsdl_cache.append(resource.read_bytes())
        except OSError:
            return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(_wsdl_cache[0], parser)
    for namespace in _WSDL_ADDRESSES:
        for element in root.iter(f"{{{namespace}}}address"):
            element.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _describe(request: Request) -> Response:
    """A GET: the WSDL with ``?wsdl`` (any case), else the service's HTML page."""
    if "wsdl" not in {key.lower() for key in request.query_params}:
        page = "<html><body><h1>WebService</h1><p>Operation: SendSms. WSDL: ?wsdl</p></body></html>"
        return Response(page.encode("utf-8"), media_type="text/html; charset=utf-8")
    wsdl = _wsdl_bytes(f"{request.base_url}WebService.asmx")
    if wsdl is None:
        return Response(b"WSDL not available", status_code=404, media_type="text/plain")
    return Response(wsdl, media_type=XML_TYPE)


# -- replies ---------------------------------------------------------------------------------


class _SoapFault(Exception):
    """A request ASMX would answer with a SOAP fault (HTTP 500)."""

    def __init__(self, message: str, *, sender: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.sender = sender


def _envelope(version: str, body: str) -> str:
    ns = SOAP12 if version == "1.2" else SOAP11
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}" '
        f'xmlns:xsi="{XSI}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def _content_type(version: str) -> str:
    return "application/soap+xml; charset=utf-8" if version == "1.2" else XML_TYPE


def _fault_response(version: str, fault: _SoapFault) -> Response:
    message = fault.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if version == "1.2":
        value = "soap:Sender" if fault.sender else "soap:Receiver"
        body = (
            f"<soap:Fault><soap:Code><soap:Value>{value}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{message}</soap:Text></soap:Reason>'
            "<soap:Detail /></soap:Fault>"
        )
    else:
        value = "soap:Client" if fault.sender else "soap:Server"
        body = (
            f"<soap:Fault><faultcode>{value}</faultcode><faultstring>{message}</faultstring>"
            "<detail /></soap:Fault>"
        )
    return Response(
        _envelope(version, body).encode("utf-8"), status_code=500, media_type=_content_type(version)
    )


def _send_result(
    version: str, result: ResultCode, task_id: str = "", amount: int = 0, count: int = 0
) -> Response:
    """wire notes §1: ``SendSmsResponse/SendSmsResult`` in the unprefixed default
    namespace, fields in the WSDL's order, ``StatusCode`` the ResultCode name."""
    msg_id = f"<MsgId>{task_id}</MsgId>" if task_id else ""
    body = (
        f'<SendSmsResponse xmlns="{YYSMS}"><SendSmsResult><PayType>0</PayType>'
        f"<StatusCode>{result.name}</StatusCode><Description>{result.message}</Description>{msg_id}"
        f"<SuccessCounts>{count}</SuccessCounts><BillingCount>{count}</BillingCount>"
        f"<Amount>{amount}</Amount><Balance>0</Balance><BillingAmount>0</BillingAmount>"
        "<Errors /></SendSmsResult></SendSmsResponse>"
    )
    return Response(_envelope(version, body).encode("utf-8"), media_type=_content_type(version))


def _refuse(call: Call, version: str, refusal: str) -> Response:
    result = code(refusal)
    call.finish(result)
    return _send_result(version, result)


# -- reading the envelope --------------------------------------------------------------------


def _zone(text: str) -> dt.tzinfo:
    if not text:
        return CHINA  # no offset means China time
    if text == "Z":
        return dt.UTC
    sign = 1 if text[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def _plan_send_time(element: Any) -> dt.datetime | None:
    """``PlanSendTime`` is an ``xs:dateTime`` (wire notes §1): nil or absent means now;
    an empty or malformed value is a fault; no offset means China time."""
    if element is None or element.get(f"{{{XSI}}}nil") in ("true", "1"):
        return None
    text = (element.text or "").strip()
    match = _XS_DATETIME.match(text)
    if match is None:
        raise _SoapFault(
            f"There is an error in XML document: The string '{text}' is not a valid AllXsd value."
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    zone = _zone(match.group(8) or "")
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError as exc:
        raise _SoapFault(f"There is an error in XML document: {text!r} is not a valid date.") from exc
    return moment.astimezone(CHINA)


def _child_text(parent: Any, name: str, *, strip: bool = True) -> str:
    if parent is None:
        return ""
    element = parent.find(f"{{{YYSMS}}}{name}")
    if element is None or element.text is None:
        return ""
    text = str(element.text)
    return text.strip() if strip else text


def _parse_envelope(body: bytes) -> tuple[str, Any]:
    """The SOAP version of the envelope and its first Body child; a fault otherwise."""
    if b"<!DOCTYPE" in body:  # .NET prohibits DTDs in SOAP messages
        raise _SoapFault("DTD is prohibited in this XML document.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise _SoapFault(
            f"Server was unable to read request. There is an error in XML document: {exc}"
        ) from exc
    envelope_ns = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or envelope_ns not in (SOAP11, SOAP12):
        raise _SoapFault("Possible SOAP version mismatch: Envelope namespace was unexpected.")
    version = "1.2" if envelope_ns == SOAP12 else "1.1"
    soap_body = root.find(f"{{{envelope_ns}}}Body")
    operation = None if soap_body is None else next(iter(soap_body.iterchildren(tag=etree.Element)), None)
    return version, operation


def _read_operation(call: Call, request: Request, body: bytes) -> Any:
    """The ``SendSms`` element of a POSTed envelope, noting the SOAP version and operation
    on the call; a :class:`_SoapFault` for anything ASMX would refuse."""
    version, operation = _parse_envelope(body)
    call.encoding = f"soap{version}"
    if operation is None:
        raise _SoapFault("Server did not recognize the request: the SOAP Body is empty.")
    name = etree.QName(operation)
    call.action = name.localname
    soap_action = request.headers.get("soapaction", "").strip().strip('"')
    if version == "1.1" and soap_action and soap_action != f"{YYSMS}{name.localname}":
        raise _SoapFault(f"Server did not recognize the value of HTTP Header SOAPAction: {soap_action}.")
    if name.namespace != YYSMS or name.localname != "SendSms":
        raise _SoapFault(f"Server did not recognize the value of the request element: {name.localname}.")
    return operation


@attrs.frozen
class _SendSms:
    """What one ``SendSms`` asks for."""

    account: str
    password: str
    mobiles: list[str]
    text: str
    ext: str
    send_at: dt.datetime | None


def _read_send(operation: Any) -> _SendSms:
    sms = operation.find(f"{{{YYSMS}}}sms")
    send_at = _plan_send_time(None if sms is None else sms.find(f"{{{YYSMS}}}PlanSendTime"))
    return _SendSms(
        account=_child_text(operation, "userName"),
        password=_child_text(operation, "password"),
        mobiles=split_mobiles(_child_text(sms, "Msisdns")),
        # XmlSerializer keeps a string's whitespace: the message text is taken as written.
        text=_child_text(sms, "SMSContent", strip=False),
        ext=_child_text(sms, "ExtNumber"),
        send_at=send_at,
    )


# -- the endpoint ----------------------------------------------------------------------------


def _check(state: SandboxState, account: Account, send: _SendSms) -> str | None:
    refusal = check_mobiles(state, send.mobiles) or check_text(state, account, send.text)
    return refusal or check_ext_and_time(account, send.ext, "")[0]


def _send(call: Call, version: str, send: _SendSms) -> Response:
    call.account = send.account
    call.fields = {
        "mobiles": send.mobiles,
        "content": send.text,
        "ext": send.ext,
        "send_time": None if send.send_at is None else send.send_at.strftime(TIME_FORMAT),
    }
    login = call.login(send.account, send.password)
    if login.account is None:
        return _refuse(call, version, login.refusal)
    refusal = _check(call.state, login.account, send)
    if refusal:
        return _refuse(call, version, refusal)
    submitted = call.state.submit(send.account, "sms", send.mobiles, send.ext, send.send_at)
    if submitted.refusal:
        return _refuse(call, version, submitted.refusal)
    call.finish(_OK, submitted.task_id)
    return _send_result(version, _OK, submitted.task_id, submitted.remaining, submitted.accepted)


async def handle(request: Request, state: SandboxState) -> Response:
    """WebService.asmx: a GET describes the service (or gives the WSDL); a POST is a
    ``SendSms`` envelope, checked as sms.aspx checks a send."""
    if request.method != "POST":
        return _describe(request)
    content_type = request.headers.get("content-type", "").lower()
    version = "1.2" if content_type.startswith("application/soap+xml") else "1.1"
    call = Call(state, "WebService.asmx", "POST", f"soap{version}", injected=injected_of(request))
    try:
        send = _read_send(_read_operation(call, request, await request.body()))
    except _SoapFault as fault:
        call.fields = {"fault": fault.message}
        call.finish(code("ParamError"))
        return _fault_response(call.encoding.removeprefix("soap"), fault)
    return _send(call, call.encoding.removeprefix("soap"), send)
