"""The ipyy SOAP WebService (spec chapter 8): build ``SendSms`` requests, parse the replies.

Pure functions, no I/O. zeep builds the envelope from the WSDL shipped in this package
(``smsgate_ipyy/wsdl/WebService.wsdl``) and never touches the network: it is given the
WSDL's bytes and a transport that refuses every load. The request goes out as an
:class:`httpx.Request` through smsgate's own drivers like every other ipyy call.

zeep is imported here and only here, and this module is imported only when the ``soap``
transport is used, so ``import smsgate_ipyy`` stays cheap.

Facts the code relies on (wire notes §1): namespace ``http://www.yysms.com/``; ``SmsObject``
children in the order Msisdns, SMSContent, ExtNumber, PlanSendTime; PlanSendTime is a
nillable ``xs:dateTime`` in China local time without offset; the plain password is sent;
replies are ASMX style (``<SendSmsResponse xmlns="http://www.yysms.com/">``) in SOAP 1.1 or
1.2, faults come with HTTP 500.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import io
import logging
import re
import threading
from collections.abc import Sequence
from typing import Final, NoReturn

import attrs
import httpx
import zeep
import zeep.exceptions
from lxml import etree

from smsgate import Receipt
from smsgate.exceptions import (
    ConfigurationError,
    MalformedReplyError,
    MessageRejectedError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate_ipyy._codes import error_for_code, is_success_code
from smsgate_ipyy._crypto import CHINA
from smsgate_ipyy._parse import check_http_status
from smsgate_ipyy._xml import NOT_XML_CHAR, XmlError, is_xml_text, local_name, parse_xml

__all__ = [
    "SOAP_ACTION",
    "SoapSendResult",
    "build_send_request",
    "check_xml_text",
    "parse_send_receipt",
    "parse_send_response",
    "wsdl_bytes",
]

log = logging.getLogger("smsgate.ipyy")

#: The service's target namespace (wire notes §1).
NAMESPACE: Final = "http://www.yysms.com/"
#: SOAPAction of ``SendSms``, sent in the header (1.1) or the content type (1.2).
SOAP_ACTION: Final = "http://www.yysms.com/SendSms"

_SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
_SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
_WSDL_SOAP11: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
_WSDL_SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"

# Vendor element names, kept to this module (STYLE: vendor names only as constants here).
_F_MSISDNS: Final = "Msisdns"
_F_CONTENT: Final = "SMSContent"
_F_EXT: Final = "ExtNumber"
_F_PLAN_TIME: Final = "PlanSendTime"
_R_RESPONSE: Final = "SendSmsResponse"
_R_RESULT: Final = "SendSmsResult"
_R_STATUS: Final = "StatusCode"
_R_DESCRIPTION: Final = "Description"
_R_MSG_ID: Final = "MsgId"
_R_AMOUNT: Final = "Amount"
_R_SUCCESS_COUNTS: Final = "SuccessCounts"
_R_BILLING_COUNT: Final = "BillingCount"
_R_ERRORS: Final = "Errors"

_BINDINGS: Final = {11: "WebServiceSoap", 12: "WebServiceSoap12"}
_NOT_XML_CHAR: Final = NOT_XML_CHAR

_CONTENT_TYPES: Final = {
    11: "text/xml; charset=utf-8",
    12: f'application/soap+xml; charset=utf-8; action="{SOAP_ACTION}"',
}


@attrs.frozen(kw_only=True)
class SoapSendResult:
    """What the WebService answered to ``SendSms`` (its ``SendSmsResult``).

    The provider turns it into a :class:`smsgate.Receipt` when :attr:`status_code` is
    ``"OK"``, or into a typed error otherwise; this class makes no such judgement.

    :ivar status_code: the ``ResultCode`` name, ``"OK"`` on success (``"PasswordError"`` …).
        A name missing from the WSDL's enumeration is kept as sent.
    :ivar description: the gateway's text (``操作成功`` …), or None when absent.
    :ivar msg_id: the task id (a 16-digit string), or None when absent or empty.
    :ivar amount: the account balance after the send (may be negative), or None when absent.
    :ivar success_counts: how many numbers were accepted (0 when absent).
    :ivar billing_count: how many messages were billed (0 when absent).
    :ivar errors: the ``Errors`` strings, in order (empty when absent or empty).
    :ivar raw: every child of ``SendSmsResult`` by element name, as text (a list for
        ``Errors``); not compared, not in the repr.
    """

    status_code: str
    description: str | None
    msg_id: str | None
    amount: int | None
    success_counts: int
    billing_count: int
    errors: tuple[str, ...]
    raw: dict[str, object] = attrs.field(eq=False, repr=False, factory=dict)


# --- the zeep client, loaded once per process -------------------------------------------


class _NoNetworkTransport(zeep.Transport):
    """A zeep transport that refuses every load and every call: zeep does no I/O here.

    The WSDL is handed to zeep as bytes and has no imports, so nothing should ever ask;
    if something does, it fails loudly instead of reaching the network.
    """

    # zeep.Transport.__del__ reads this; no session is ever created.
    _close_session = False

    def __init__(self) -> None:
        # Deliberately not calling super().__init__(): it would create a requests session.
        self.cache = None
        self.load_timeout = None
        self.operation_timeout = None
        self.session = None

    def _refuse(self, what: str) -> NoReturn:
        raise RuntimeError(f"smsgate: zeep attempted network I/O ({what}); this is a bug")

    def load(self, url: str) -> bytes:
        """Refuse: the WSDL is always given as bytes."""
        self._refuse("load")

    def get(self, address: str, params: object, headers: object) -> NoReturn:
        """Refuse: requests go out through smsgate's drivers."""
        self._refuse("get")

    def post(self, address: str, message: object, headers: object) -> NoReturn:
        """Refuse: requests go out through smsgate's drivers."""
        self._refuse("post")

    def post_xml(self, address: str, envelope: object, headers: object) -> NoReturn:
        """Refuse: requests go out through smsgate's drivers."""
        self._refuse("post_xml")


_client_lock = threading.Lock()
_client: zeep.Client | None = None


def wsdl_bytes(address: str | None = None) -> bytes:
    """The WSDL shipped with this package, as bytes.

    :param address: when given, replaces the service address of both ports (the vendor's
        ``https://dx.ipyy.net/WebService.asmx``), so that a third-party SOAP client reading
        the WSDL from a local sandbox posts to the sandbox, never to the real gateway.
    """
    data = importlib.resources.files("smsgate_ipyy").joinpath("wsdl", "WebService.wsdl").read_bytes()
    if address is None:
        return data
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    for port_address in root.iter(f"{{{_WSDL_SOAP11}}}address", f"{{{_WSDL_SOAP12}}}address"):
        port_address.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _zeep_client() -> zeep.Client:
    """The process-wide zeep client, built on first use (loading a WSDL is slow)."""
    global _client  # noqa: PLW0603 - a per-process cache is the point
    client = _client
    if client is None:
        with _client_lock:
            client = _client
            if client is None:
                settings = zeep.Settings(
                    strict=True,
                    forbid_dtd=True,
                    forbid_entities=True,
                    forbid_external=True,
                    xml_huge_tree=False,
                )
                client = zeep.Client(  # type: ignore[no-untyped-call]
                    io.BytesIO(wsdl_bytes()), transport=_NoNetworkTransport(), settings=settings
                )
                _client = client
    return client


# --- building ---------------------------------------------------------------------------


def check_xml_text(value: str, field: str) -> None:
    """Raise :class:`ValidationError` naming ``field`` (never quoting ``value``: it may be the
    password) when ``value`` holds a character XML 1.0 cannot carry."""
    # lxml's own refusal would be a bare ValueError from deep inside zeep.
    if not is_xml_text(value):
        raise ValidationError(
            f"{field} contains a character that XML cannot carry (a control character?)", field=field
        )


def _plan_time(plan_send_time: dt.datetime | None) -> dt.datetime | None:
    if plan_send_time is None:
        return None
    if plan_send_time.tzinfo is None or plan_send_time.utcoffset() is None:
        raise ValidationError("send_at must be a timezone-aware datetime", field="send_at")
    # wire notes §1: xs:dateTime in China local time, no offset, whole seconds
    # (the demo's "2016-12-06T08:09:10"); zeep writes a naive datetime exactly so.
    return plan_send_time.astimezone(CHINA).replace(tzinfo=None, microsecond=0)


def build_send_request(
    *,
    url: str,
    user_name: str,
    password: str,
    mobiles: Sequence[str],
    content: str,
    ext: str | None,
    plan_send_time: dt.datetime | None,
    soap_version: int = 11,
) -> httpx.Request:
    """Build the ``POST`` of a WebService ``SendSms`` call (spec chapter 8).

    :param url: the service address, e.g. ``https://dx.ipyy.net/WebService.asmx``.
    :param user_name: the account.
    :param password: the *plain* account password (wire notes §1: real clients send it so).
    :param mobiles: recipients, sent comma-joined in ``Msisdns``; validated by the caller.
    :param content: the message text.
    :param ext: extension digits, or None (sent as an empty ``ExtNumber``, as the vendor's
        demo does).
    :param plan_send_time: aware datetime for a scheduled send, or None to send at once
        (``PlanSendTime xsi:nil="true"``).
    :param soap_version: ``11`` (``text/xml`` + ``SOAPAction``) or ``12``
        (``application/soap+xml; action=…``).
    :raises ValidationError: a naive ``plan_send_time``, or text XML cannot carry.
    :raises ConfigurationError: an unknown ``soap_version``.
    """
    if soap_version not in _BINDINGS:
        raise ConfigurationError(f"soap_version must be 11 or 12, not {soap_version!r}")
    msisdns = ",".join(mobiles)
    ext_number = ext or ""
    for value, field in (
        (user_name, "account"),
        (password, "password"),
        (msisdns, "to"),
        (content, "text"),
        (ext_number, "ext"),
    ):
        check_xml_text(value, field)
    plan = _plan_time(plan_send_time)

    client = _zeep_client()
    service = client.bind("WebService", _BINDINGS[soap_version])
    sms = {_F_MSISDNS: msisdns, _F_CONTENT: content, _F_EXT: ext_number, _F_PLAN_TIME: plan}
    try:
        envelope = client.create_message(  # type: ignore[no-untyped-call]
            service, "SendSms", userName=user_name, password=password, sms=sms
        )
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    except (zeep.exceptions.Error, ValueError, TypeError) as exc:
        # The text of zeep's or lxml's error may quote a value (the password among them).
        raise ValidationError(f"could not build the SOAP request ({type(exc).__name__})") from exc

    headers = {"Content-Type": _CONTENT_TYPES[soap_version]}
    if soap_version == 11:
        # SOAP 1.1 / ASMX: the action goes in its own header, quoted.
        headers["SOAPAction"] = f'"{SOAP_ACTION}"'
    return httpx.Request("POST", url, headers=headers, content=body)


# --- parsing ----------------------------------------------------------------------------


def _malformed(response: httpx.Response, why: str) -> MalformedReplyError:
    return MalformedReplyError(
        f"could not understand the SOAP reply: {why} (HTTP {response.status_code})",
        status_code=response.status_code,
        body_excerpt=response.content,
    )


def _safe_parse(response: httpx.Response) -> etree._Element:
    """Parse the reply with the plugin's safe parser (no entities, DTD or network; a body
    that declares a DTD or an entity is refused: such a reply is not the gateway's)."""
    try:
        return parse_xml(response.content)
    except XmlError as exc:
        # The lxml error (if any) is the useful cause; a refused DTD has none.
        raise _malformed(response, str(exc)) from exc.__cause__


def _elements(parent: etree._Element) -> list[etree._Element]:
    # The parser drops comments and PIs already; this also skips any other non-element node.
    return [child for child in parent if isinstance(child.tag, str)]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    # ASMX writes the result children in the service namespace (a default xmlns); accept
    # them unqualified too, since lenient is harmless when reading.
    for child in _elements(parent):
        if local_name(child) == name:
            namespace = etree.QName(child).namespace
            if namespace in (NAMESPACE, None):
                return child
    return None


def _is_nil(element: etree._Element) -> bool:
    return element.get(f"{{{_XSI}}}nil") in ("true", "1")


def _text(element: etree._Element | None) -> str | None:
    if element is None or _is_nil(element):
        return None
    return element.text or ""


def _fault_code(fault: etree._Element, soap_ns: str) -> tuple[str, str]:
    """The fault's code (local part, e.g. ``Client`` / ``Sender``) and reason text."""
    if soap_ns == _SOAP11_ENV:
        # SOAP 1.1: <faultcode>soap:Client</faultcode><faultstring>…</faultstring>, unqualified.
        code_text = (fault.findtext("faultcode") or "").strip()
        reason = fault.findtext("faultstring") or ""
    else:
        # SOAP 1.2: <Code><Value>soap:Sender</Value></Code><Reason><Text>…</Text></Reason>.
        code_text = (fault.findtext(f"{{{soap_ns}}}Code/{{{soap_ns}}}Value") or "").strip()
        reason = fault.findtext(f"{{{soap_ns}}}Reason/{{{soap_ns}}}Text") or ""
    # A QName value; the prefix is the envelope's, so keep the local part. SOAP 1.1 allows
    # dotted refinements ("Client.Authentication"): the first segment decides.
    local = code_text.rpartition(":")[2].split(".")[0]
    return local, reason.strip()


# Fault codes meaning the server refused the request before the method ran: ASMX turns a
# request it cannot read (an invalid xs:dateTime, a wrong element) into soap:Client /
# soap:Sender; VersionMismatch and MustUnderstand are envelope checks made even earlier.
_REFUSED_BEFORE_ACTING: Final = frozenset({"Client", "Sender", "VersionMismatch", "MustUnderstand"})


def _raise_fault(response: httpx.Response, fault: etree._Element, soap_ns: str) -> NoReturn:
    code, reason = _fault_code(fault, soap_ns)
    shown = reason[:200]
    raw = {"code": code, "reason": reason, "http_status": response.status_code}
    if code in _REFUSED_BEFORE_ACTING:
        # Nothing was sent: ASMX faults on the request before SendSms runs. What it could
        # not accept is what we built from the message (its send time or text), so
        # resending the same request cannot help: MessageRejectedError, not retry-safe.
        # It is not a ProviderUnavailableError either: failing over automatically could
        # hide a message that any gateway would refuse.
        raise MessageRejectedError(
            f"the SOAP service refused the request: {shown}"
            if shown
            else "the SOAP service refused the request",
            code=f"soap:{code}",
            vendor_message=reason or None,
            raw=raw,
        )
    # soap:Server / soap:Receiver (or anything unknown): ASMX reports an exception thrown
    # *inside* SendSms this way, possibly after the message was queued. The outcome is
    # uncertain: resending or failing over may deliver it twice.
    label = f"soap:{code}" if code else "an unknown code"
    raise UncertainOutcomeError(
        f"the SOAP service failed with {label}; the message may have been sent: {shown}", request_sent=True
    )


# ASCII digits only, and no more than any real value has: a count below 10**9, an amount
# below 10**15 (int() of 4,300 digits or more raises; NaN or 1e5000 is no amount).
_COUNT: Final = re.compile(r"[0-9]{1,9}")
_AMOUNT: Final = re.compile(r"-?[0-9]{1,15}")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def _amount(text: str | None) -> int | None:
    """The ``Amount`` (balance after the send), or ``None`` when absent or unusable (with a
    warning: a success reply is kept whatever its balance says)."""
    if text is None or not text.strip():
        return None
    if _AMOUNT.fullmatch(text.strip()):
        return int(text.strip())
    log.warning("ipyy: ignoring an unusable Amount in a SOAP reply: %.40r", text.strip())
    return None


def _int(response: httpx.Response, text: str | None, name: str) -> int | None:
    """A count; ``None`` when absent, or negative or absurdly long (with a warning)."""
    if text is None:
        return None
    value = text.strip()
    if _COUNT.fullmatch(value):
        return int(value)
    if _INTEGER.fullmatch(value):
        log.warning("ipyy: ignoring an absurd %s in a SOAP reply: %.20r", name, value)
        return None
    raise _malformed(response, f"{name} is not an integer")


def parse_send_response(response: httpx.Response) -> SoapSendResult:
    """Parse the reply to a :func:`build_send_request` call (SOAP 1.1 or 1.2).

    The body must have been read. A ``SendSmsResult`` becomes a :class:`SoapSendResult`
    whatever its ``StatusCode``; the caller decides what a non-``OK`` code means.

    :raises MessageRejectedError: a ``soap:Client`` / ``soap:Sender`` fault: the server
        refused the request before acting, nothing was sent.
    :raises UncertainOutcomeError: a ``soap:Server`` / ``soap:Receiver`` fault: the service
        failed while handling the send, which may have gone out.
    :raises MalformedReplyError: anything else (not XML, truncated, a DTD or entity, no
        ``SendSmsResult`` or no ``StatusCode``, an unexpected HTTP status); the outcome is
        uncertain.
    """
    root = _safe_parse(response)
    soap_ns = etree.QName(root).namespace
    if local_name(root) != "Envelope" or soap_ns not in (_SOAP11_ENV, _SOAP12_ENV):
        raise _malformed(response, "not a SOAP envelope")
    body = root.find(f"{{{soap_ns}}}Body")
    if body is None:
        raise _malformed(response, "the envelope has no Body")
    payload = next(iter(_elements(body)), None)
    if payload is None:
        raise _malformed(response, "the Body is empty")
    if payload.tag == f"{{{soap_ns}}}Fault":
        _raise_fault(response, payload, soap_ns)
    if response.status_code != 200:
        raise _malformed(response, "unexpected HTTP status")
    if local_name(payload) != _R_RESPONSE or etree.QName(payload).namespace not in (NAMESPACE, None):
        raise _malformed(response, f"expected {_R_RESPONSE}, got {local_name(payload)}")
    result = _child(payload, _R_RESULT)
    if result is None or _is_nil(result):
        raise _malformed(response, f"no {_R_RESULT}")
    return _read_result(response, result)


def _read_result(response: httpx.Response, result: etree._Element) -> SoapSendResult:
    raw: dict[str, object] = {}
    for child in _elements(result):
        name = local_name(child)
        if name == _R_ERRORS:
            raw[name] = [_text(item) for item in _elements(child)]
        else:
            raw[name] = _text(child)

    status = _text(_child(result, _R_STATUS))
    status = status.strip() if status is not None else ""
    if not status:
        raise _malformed(response, f"no {_R_STATUS}")

    errors_element = _child(result, _R_ERRORS)
    errors: tuple[str, ...] = ()
    if errors_element is not None and not _is_nil(errors_element):
        # ArrayOfString items are nillable; a nil item carries nothing worth keeping.
        errors = tuple(text for item in _elements(errors_element) if (text := _text(item)) is not None)

    msg_id = _text(_child(result, _R_MSG_ID))
    return SoapSendResult(
        status_code=status,
        description=_text(_child(result, _R_DESCRIPTION)),
        msg_id=(msg_id.strip() or None) if msg_id is not None else None,
        amount=_amount(_text(_child(result, _R_AMOUNT))),
        success_counts=_int(response, _text(_child(result, _R_SUCCESS_COUNTS)), _R_SUCCESS_COUNTS) or 0,
        billing_count=_int(response, _text(_child(result, _R_BILLING_COUNT)), _R_BILLING_COUNT) or 0,
        errors=errors,
        raw=raw,
    )


def parse_send_receipt(response: httpx.Response, *, provider: str, recipients: Sequence[str]) -> Receipt:
    """The :class:`~smsgate.Receipt` a ``SendSms`` reply means, or the error it carries.

    An HTTP status other than 2xx, 400 and 500 is refused as on the form endpoints; a fault
    raises as :func:`parse_send_response` says; a ``StatusCode`` other than ``OK`` raises the
    error of that ResultCode name (``PasswordError`` → AuthenticationError …).
    """
    check_http_status(response, soap=True)
    result = parse_send_response(response)
    if not is_success_code(result.status_code):
        raise error_for_code(result.status_code, result.description, raw=result.raw)
    if not result.msg_id:
        raise _malformed(response, "SOAP success without a MsgId")
    return Receipt(
        provider=provider,
        task_id=result.msg_id,
        accepted=result.success_counts,
        recipients=tuple(recipients),
        balance=result.amount,
        raw=result.raw,
    )
