"""One strategy object per send transport: ``form``, ``gbk``, ``json``, ``encrypted``, ``soap``.

The ``transport`` setting picks the send endpoint, and with it the balance endpoint and the
pull format. Each strategy answers the same four questions, so the provider's flows never
ask which transport they run on:

* :meth:`Transport.send_request` builds the request of one send;
* :meth:`Transport.parse_send` turns its reply into a :class:`~smsgate.Receipt` (or raises;
  a transport whose HTTP statuses mean what they do for the form overrides only
  :meth:`Transport.parse_send_body`);
* :attr:`Transport.balance` names the SMS balance endpoint and its encoding;
* :attr:`Transport.pulls` names the report and inbound pull endpoints (XML or JSON).

:meth:`Transport.check_text` refuses, before any I/O, a text the endpoint cannot carry.
The provider builds its strategy once, from its settings (:func:`transport_for`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import ClassVar

import attrs
import httpx

from smsgate import Receipt
from smsgate.exceptions import ValidationError
from smsgate_ipyy import _build, _parse
from smsgate_ipyy._build import Login
from smsgate_ipyy._crypto import stamp
from smsgate_ipyy._settings import IpyySettings, TransportName

__all__ = ["Outgoing", "Transport", "transport_for"]


@attrs.frozen
class Outgoing:
    """One send request's worth of a message, validated: the numbers as they go on the wire,
    the signed text, ``send_at`` (and its China-time form) and the extension."""

    mobiles: Sequence[str]
    text: str
    send_at: dt.datetime | None
    send_time: str
    ext: str


class Transport:
    """The contract every send transport fulfils. Its defaults are the plain form's
    (sms.aspx, UTF-8, XML pulls); each transport overrides what differs."""

    name: ClassVar[TransportName] = "form"
    #: The send endpoint and the encoding of its form and its reply.
    endpoint: ClassVar[str] = _build.SEND_FORM
    encoding: ClassVar[str] = "utf-8"
    #: The endpoint and encoding of ``balance("sms")``.
    balance: ClassVar[tuple[str, str]] = (_build.SEND_FORM, "utf-8")
    #: The report and inbound pull endpoints.
    pulls: ClassVar[tuple[str, str]] = (_build.STATUS_XML, _build.CALL_XML)

    def __init__(self, settings: IpyySettings, now: Callable[[], dt.datetime]) -> None:
        self.provider = settings.name
        self.soap_version = settings.soap_version
        self.now = now

    def check_text(self, text: str) -> None:
        """Raise :class:`ValidationError` for a text this endpoint cannot carry: here, one
        that UTF-8 cannot encode (a lone surrogate). Checked before any request is built, so
        no credential is in scope of the error's traceback (reporters capture frame locals)."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Without the codec's message: it would quote a character of the text.
            raise ValidationError(
                "the text contains a character UTF-8 cannot carry (a lone surrogate?)", field="text"
            ) from None

    def send_request(self, login: Login, out: Outgoing) -> httpx.Request:
        """The request that sends ``out``."""
        return _build.build_send_request(
            login,
            endpoint=self.endpoint,
            mobiles=out.mobiles,
            content=out.text,
            send_time=out.send_time,
            ext=out.ext,
            encoding=self.encoding,
        )

    def parse_send(self, response: httpx.Response, mobiles: Sequence[str]) -> Receipt:
        """The receipt the reply to :meth:`send_request` means, or the error it carries: an
        HTTP status other than 2xx, else what :meth:`parse_send_body` finds in the body."""
        _parse.check_http_status(response)
        return self.parse_send_body(response.content, mobiles)

    def parse_send_body(self, body: bytes, mobiles: Sequence[str]) -> Receipt:
        """The receipt the body of a 2xx send reply means: here the XML or JSON reply of
        sms.aspx and its family, in the endpoint's encoding."""
        return _parse.parse_send_reply(
            body, provider=self.provider, recipients=mobiles, encoding=self.encoding
        )


class _Form(Transport):
    """sms.aspx: the plain form in UTF-8, answered in XML."""


class _Gbk(Transport):
    """smsGBK.aspx: the form percent-encoded in GBK; the reply may be GBK too."""

    name = "gbk"
    endpoint = _build.SEND_GBK
    encoding = "gbk"
    balance = (_build.SEND_GBK, "gbk")

    def check_text(self, text: str) -> None:
        """Name the first character GBK cannot encode, and where it is."""
        for position, char in enumerate(text):
            try:
                char.encode("gbk")
            except UnicodeEncodeError:
                raise ValidationError(
                    f"character {char!r} (U+{ord(char):04X}) at position {position} cannot be sent "
                    "with transport 'gbk'; use transport 'form' (UTF-8)",
                    field="text",
                ) from None


class _Json(Transport):
    """smsJson.aspx, whose family answers in JSON: balance and pulls use the JSON endpoints."""

    name = "json"
    endpoint = _build.SEND_JSON
    balance = (_build.SEND_JSON, "utf-8")
    pulls = (_build.STATUS_JSON, _build.CALL_JSON)


class _Encrypted(Transport):
    """ensms.ashx (spec 1.5): the message as DES-encrypted JSON, stamped with the clock."""

    name = "encrypted"
    endpoint = _build.SEND_ENCRYPTED

    def send_request(self, login: Login, out: Outgoing) -> httpx.Request:
        """``UserId`` and the ``Text64`` of the message, stamped now (China time)."""
        return _build.build_encrypted_send_request(
            login,
            stamp_value=stamp(self.now()),
            mobiles=out.mobiles,
            content=out.text,
            ext=out.ext,
            send_time=out.send_time,
        )

    def parse_send_body(self, body: bytes, mobiles: Sequence[str]) -> Receipt:
        """The ``StatusCode``/``MsgId`` JSON reply of ensms.ashx."""
        return _parse.parse_encrypted_reply(body, provider=self.provider, recipients=mobiles)


class _Soap(Transport):
    """WebService.asmx (spec 8): ``SendSms`` through zeep, imported only on first use."""

    name = "soap"
    endpoint = _build.SOAP

    def check_text(self, text: str) -> None:
        """A text UTF-8 and XML 1.0 can carry (no lone surrogate, no control character)."""
        from smsgate_ipyy import _soap  # noqa: PLC0415 - zeep only when SOAP is used

        super().check_text(text)
        _soap.check_xml_text(text, "text")

    def send_request(self, login: Login, out: Outgoing) -> httpx.Request:
        """A SOAP 1.1 or 1.2 ``SendSms`` envelope; the plain password, as real clients send it."""
        from smsgate_ipyy import _soap  # noqa: PLC0415 - zeep only when SOAP is used

        return _soap.build_send_request(
            url=str(login.url(_build.SOAP)),
            user_name=login.account,
            password=login.password,
            mobiles=out.mobiles,
            content=out.text,
            ext=out.ext or None,
            plan_send_time=out.send_at,
            soap_version=self.soap_version,
        )

    def parse_send(self, response: httpx.Response, mobiles: Sequence[str]) -> Receipt:
        """The ``SendSmsResult`` (or the fault) of the reply."""
        from smsgate_ipyy import _soap  # noqa: PLC0415 - zeep only when SOAP is used

        return _soap.parse_send_receipt(response, provider=self.provider, recipients=mobiles)


_TRANSPORTS: dict[str, type[Transport]] = {cls.name: cls for cls in (_Form, _Gbk, _Json, _Encrypted, _Soap)}


def transport_for(settings: IpyySettings, now: Callable[[], dt.datetime]) -> Transport:
    """The strategy of ``settings.transport``; ``now`` is the provider's checked clock."""
    return _TRANSPORTS[settings.transport](settings, now)
