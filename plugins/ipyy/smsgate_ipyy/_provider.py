"""``IpyyProvider``: the ipyy (华信) gateway as an smsgate provider.

Every operation is a flow composed from the pure builders and parsers of
:mod:`smsgate_ipyy._protocol`; everything the caller passed is validated before the flow's
first ``yield``, so a :class:`~smsgate.exceptions.ValidationError` means nothing was sent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import attrs
import httpx

from smsgate import (
    Balance,
    CallbackReply,
    Capabilities,
    DeliveryReport,
    Flow,
    InboundMessage,
    Mms,
    Provider,
    Receipt,
    Sms,
    mask_mobile,
)
from smsgate.exceptions import (
    ConfigurationError,
    PartialBatchError,
    SmsGateError,
    ValidationError,
)
from smsgate_ipyy import _codes, _protocol, _tms
from smsgate_ipyy._crypto import md5_upper, stamp

__all__ = ["IpyyProvider"]

log = logging.getLogger("smsgate.ipyy")

Transport = Literal["form", "gbk", "json", "encrypted", "soap"]
SignatureMode = Literal["require", "append", "gateway"]
BatchNewlines = Literal["reject", "space"]

_SIGNATURE = re.compile(r"【[^【】]+】")
_NEWLINES = re.compile(r"[\r\n]+")
_CHINA_PREFIX = re.compile(r"\A(?:\+86|0086|86)")
_MAX_EXT = 5
_MAX_NEW_PASSWORD = 20


class _Credentials:
    """The account password and its MD5, kept out of every repr."""

    __slots__ = ("md5", "plain")

    def __init__(self, plain: str) -> None:
        self.plain = plain
        self.md5 = md5_upper(plain)

    def __repr__(self) -> str:
        return "<credentials ****>"

    __str__ = __repr__


def _default_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _utf8(text: str) -> bool:
    """False for text UTF-8 cannot encode (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, not {value!r}", provider="ipyy")
    return value


@attrs.frozen
class _Line:
    """One line of a batch: a recipient, its text and where it came from."""

    index: int  # position of the Sms in the caller's list
    original: str  # the number as the caller wrote it
    mobile: str  # the number as it goes on the wire
    text: str
    send_time: str
    ext: str
    # Bytes of ``mobile,text\r\n`` in UTF-8 (spec 1.6.2), computed once for the size limits.
    size: int = attrs.field(init=False)

    @size.default
    def _size(self) -> int:
        return len(self.mobile) + len(self.text.encode("utf-8")) + 3


class IpyyProvider(Provider):
    """The ipyy gateway (``dx.ipyy.net``), built by ``smsgate.get_provider("ipyy", …)``.

    :param account: the account name.
    :param password: the account password (plain). It goes over the wire as its upper-case
        MD5 on the form endpoints, as plain text only where the vendor requires it (the
        encrypted endpoint's key material, SOAP, and the new password of ``change_password``).
        It never appears in a repr, a log line or an error.
    :param userid: the enterprise id (may be empty, except for ``transport="encrypted"``,
        which needs the numeric id the vendor gave).
    :param base_url: the gateway's address; ``http://`` is refused for anything but loopback
        unless ``allow_insecure_http=True``.
    :param transport: ``form`` (sms.aspx, XML reply), ``gbk`` (smsGBK.aspx, GBK-encoded form),
        ``json`` (smsJson.aspx), ``encrypted`` (ensms.ashx, DES ``Text64``) or ``soap``
        (WebService.asmx). It picks the send endpoint, the balance endpoint's family and
        whether pulls use the XML or the JSON endpoints.
    :param timeout: seconds per HTTP request.
    :param name: the name used in receipts and errors (give two accounts different names).
    :param signature: ``require`` (the text must contain a 【signature】, else ValidationError),
        ``append`` (add ``default_signature`` when the text has none) or ``gateway`` (send
        as is and let the gateway refuse with 2113/2114).
    :param default_signature: the 【…】 to append in ``append`` mode.
    :param mobile_pattern: the regular expression a recipient must match in full, after a
        leading ``+86``/``0086``/``86`` is removed.
    :param max_recipients: recipients per send request; more are sent in several requests.
    :param batch_max_messages: lines per BatchSms.ashx request.
    :param batch_max_bytes: bytes of (uncompressed, UTF-8) content per batch request.
    :param batch_compression: how the batch content is compressed: ``gzip`` (default),
        ``zip`` (PK zip, one entry) or ``zlib``. The vendor says only "Zip"; which one the
        real gateway wants is not known (wire notes §2), so it is a setting.
    :param batch_newlines: ``reject`` (a CR or LF in a batch text is a ValidationError naming
        the message) or ``space`` (each run of CR/LF becomes one space). The batch format is
        line-based and the vendor's escape is undocumented, so the text is never sent mangled
        without the caller choosing so.
    :param allow_insecure_http: allow ``http://`` to a non-loopback host.
    :param clock: returns the current aware datetime (for the encrypted ``Stamp`` and the
        "``send_at`` is in the future" check); defaults to the system clock.
    :param soap_version: 11 or 12, for ``transport="soap"``.
    """

    def __init__(
        self,
        *,
        account: str | None = None,
        password: str | None = None,
        userid: str | int = "",
        base_url: str = "https://dx.ipyy.net/",
        transport: str = "form",
        timeout: float | None = 10.0,
        name: str = "ipyy",
        signature: str = "require",
        default_signature: str | None = None,
        mobile_pattern: str = r"1[0-9]{10}",
        max_recipients: int = 1000,
        batch_max_messages: int = 1000,
        batch_max_bytes: int = 1_000_000,
        batch_compression: str = "gzip",
        batch_newlines: str = "reject",
        allow_insecure_http: bool = False,
        clock: Callable[[], dt.datetime] | None = None,
        soap_version: int = 11,
        **unknown: Any,
    ) -> None:
        if unknown:
            # Names only: a misspelt key may hold a secret value.
            raise ConfigurationError(
                f"unknown ipyy setting(s): {', '.join(sorted(unknown))}", provider="ipyy"
            )
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name must be a non-empty string", provider="ipyy")
        self.name = name
        if not isinstance(account, str) or not account.strip():
            raise ConfigurationError("account is required (the ipyy account name)", provider=name)
        if not isinstance(password, str) or not password:
            raise ConfigurationError("password is required (the plain account password)", provider=name)
        if not _utf8(password):
            # Checked here, without the codec's message: it would quote a character of it.
            raise ConfigurationError("password contains a character UTF-8 cannot carry", provider=name)
        self.account = account.strip()
        self.__credentials = _Credentials(password)
        self.userid = str(userid).strip() if userid is not None else ""
        if transport not in get_args(Transport):
            raise ConfigurationError(
                f"transport must be one of {', '.join(get_args(Transport))}, not {transport!r}", provider=name
            )
        self.transport: Transport = transport  # type: ignore[assignment]
        if transport == "encrypted" and not (self.userid.isascii() and self.userid.isdigit()):
            raise ConfigurationError(
                "transport 'encrypted' needs userid: the numeric enterprise id (spec 1.5)", provider=name
            )
        if soap_version not in (11, 12):
            raise ConfigurationError(f"soap_version must be 11 or 12, not {soap_version!r}", provider=name)
        self.soap_version = soap_version
        self.base_url = self._check_base_url(base_url, allow_insecure_http)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, not {timeout!r}", provider=name
            )
        self.timeout = None if timeout is None else float(timeout)
        if signature not in get_args(SignatureMode):
            raise ConfigurationError(
                f"signature must be one of {', '.join(get_args(SignatureMode))}, not {signature!r}",
                provider=name,
            )
        self.signature: SignatureMode = signature  # type: ignore[assignment]
        if default_signature is not None and not (
            isinstance(default_signature, str) and _SIGNATURE.fullmatch(default_signature.strip())
        ):
            raise ConfigurationError("default_signature must look like 【name】", provider=name)
        if signature == "append" and default_signature is None:
            raise ConfigurationError(
                "signature='append' needs default_signature, e.g. '【腾飞】'", provider=name
            )
        self.default_signature = default_signature.strip() if default_signature else None
        try:
            self.mobile_pattern = re.compile(mobile_pattern)
        except (re.error, TypeError) as exc:
            raise ConfigurationError(
                f"mobile_pattern is not a valid regular expression: {exc}", provider=name
            ) from exc
        self.max_recipients = _positive_int("max_recipients", max_recipients)
        self.batch_max_messages = _positive_int("batch_max_messages", batch_max_messages)
        self.batch_max_bytes = _positive_int("batch_max_bytes", batch_max_bytes)
        if batch_compression not in get_args(_protocol.BatchCompression):
            raise ConfigurationError(
                f"batch_compression must be gzip, zip or zlib, not {batch_compression!r}", provider=name
            )
        self.batch_compression: _protocol.BatchCompression = batch_compression  # type: ignore[assignment]
        if batch_newlines not in get_args(BatchNewlines):
            raise ConfigurationError(
                f"batch_newlines must be 'reject' or 'space', not {batch_newlines!r}", provider=name
            )
        self.batch_newlines: BatchNewlines = batch_newlines  # type: ignore[assignment]
        if clock is not None and not callable(clock):
            raise ConfigurationError("clock must be a callable returning an aware datetime", provider=name)
        self.clock: Callable[[], dt.datetime] = clock or _default_clock
        self.capabilities = Capabilities(
            send=True,
            batch=True,
            mms=True,
            balance=True,
            balance_kinds=frozenset({"sms", "mms"}),  # type: ignore[arg-type]  # attrs converter typing
            report_pull=True,
            inbound_pull=True,
            callbacks=True,
            scheduling=True,
            change_password=True,
            max_recipients=self.max_recipients,
            max_batch=self.batch_max_messages,
        )

    def _check_base_url(self, base_url: str, allow_insecure_http: bool) -> str:
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ConfigurationError("base_url is not a valid URL", provider=self.name) from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(
                "base_url must be an http:// or https:// URL with a host", provider=self.name
            )
        if url.userinfo:
            raise ConfigurationError("base_url must not carry user:password", provider=self.name)
        if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
            raise ConfigurationError(
                f"base_url uses plain http to {url.host}; the account name and password hash would "
                "travel unencrypted. Use https, or pass allow_insecure_http=True",
                provider=self.name,
            )
        text = str(url.copy_with(query=None, fragment=None))
        return text if text.endswith("/") else text + "/"

    def __repr__(self) -> str:
        host = httpx.URL(self.base_url).host
        return (
            f"<IpyyProvider name={self.name!r} account={self.account!r} host={host!r} "
            f"transport={self.transport!r}>"
        )

    # --- validation (before any I/O) --------------------------------------------------------

    def _invalid(self, message: str, operation: str, field: str | None = None) -> ValidationError:
        return ValidationError(message, field=field, provider=self.name, operation=operation)

    def _mobile(self, number: str, operation: str) -> str:
        """The number as it goes on the wire: a leading +86/0086/86 is removed when what
        remains matches the pattern (the gateway takes mainland numbers without a prefix)."""
        candidate = number.strip()
        if self.mobile_pattern.fullmatch(candidate):
            return candidate
        stripped = _CHINA_PREFIX.sub("", candidate, count=1)
        if stripped != candidate and self.mobile_pattern.fullmatch(stripped):
            return stripped
        raise self._invalid(
            f"recipient {mask_mobile(candidate)} is not a mainland mobile number "
            f"(pattern {self.mobile_pattern.pattern})",
            operation,
            "to",
        )

    def _mobiles(self, numbers: Sequence[str], operation: str) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        for number in numbers:
            mobile = self._mobile(number, operation)
            if mobile in seen:
                raise self._invalid(f"recipient {mask_mobile(mobile)} is listed twice", operation, "to")
            seen.add(mobile)
            out.append(mobile)
        return out

    def _ext(self, ext: str | None, operation: str) -> str:
        if ext is None:
            return ""
        if not (ext.isascii() and ext.isdigit()) or len(ext) > _MAX_EXT:
            raise self._invalid("ext must be at most 5 digits (spec 1.2)", operation, "ext")
        return ext

    def _now(self, operation: str) -> dt.datetime:
        now = self.clock()
        if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise ConfigurationError(
                "clock() must return a timezone-aware datetime", provider=self.name, operation=operation
            )
        return now

    def _when(self, send_at: dt.datetime | None, operation: str) -> str:
        if send_at is None:
            return ""
        now = self._now(operation)
        if send_at <= now:
            raise self._invalid("send_at must be in the future", operation, "send_at")
        return _protocol.format_send_time(send_at)

    def _signed(self, text: str, operation: str, field: str = "text") -> str:
        if _SIGNATURE.search(text):
            return text
        if self.signature == "append":
            assert self.default_signature is not None
            return text + self.default_signature
        if self.signature == "require":
            raise self._invalid(
                "the text needs a 【signature】 (ipyy refuses unsigned messages); add one, or configure "
                "signature='append' with default_signature",
                operation,
                field,
            )
        return text

    def _check_gbk(self, text: str, operation: str) -> None:
        for position, char in enumerate(text):
            try:
                char.encode("gbk")
            except UnicodeEncodeError:
                raise self._invalid(
                    f"character {char!r} (U+{ord(char):04X}) at position {position} cannot be sent "
                    "with transport 'gbk'; use transport 'form' (UTF-8)",
                    operation,
                    "text",
                ) from None

    # --- HTTP helpers -----------------------------------------------------------------------

    def _reply(self, response: httpx.Response, operation: str) -> bytes:
        _protocol.check_http_status(response, provider=self.name, operation=operation)
        return response.content

    @property
    def _reply_json(self) -> bool:
        return self.transport == "json"

    # --- send -------------------------------------------------------------------------------

    def _send_request(
        self, mobiles: Sequence[str], text: str, send_time: str, send_at: Any, ext: str
    ) -> httpx.Request:
        creds = self.__credentials
        if self.transport == "encrypted":
            return _protocol.build_encrypted_send_request(
                base_url=self.base_url,
                userid=self.userid,
                account=self.account,
                password=creds.plain,
                stamp_value=stamp(self._now("send")),
                mobiles=mobiles,
                content=text,
                ext=ext,
                send_time=send_time,
            )
        if self.transport == "soap":
            from smsgate_ipyy._soap import build_send_request  # noqa: PLC0415 - zeep only when used

            return build_send_request(
                url=str(_protocol.endpoint_url(self.base_url, _protocol.SOAP)),
                user_name=self.account,
                password=creds.plain,
                mobiles=mobiles,
                content=text,
                ext=ext or None,
                plan_send_time=send_at,
                soap_version=self.soap_version,
            )
        endpoint = {"form": _protocol.SEND_FORM, "gbk": _protocol.SEND_GBK, "json": _protocol.SEND_JSON}[
            self.transport
        ]
        return _protocol.build_send_request(
            base_url=self.base_url,
            endpoint=endpoint,
            userid=self.userid,
            account=self.account,
            password_md5=creds.md5,
            mobiles=mobiles,
            content=text,
            send_time=send_time,
            ext=ext,
            encoding="gbk" if self.transport == "gbk" else "utf-8",
        )

    def _parse_send(self, response: httpx.Response, mobiles: Sequence[str]) -> Receipt:
        if self.transport == "soap":
            _protocol.check_http_status(response, provider=self.name, operation="send", soap=True)
            from smsgate_ipyy._soap import parse_send_response  # noqa: PLC0415 - zeep only when used

            result = parse_send_response(response)
            if not _codes.is_success_code(result.status_code):
                raise _codes.error_for_code(
                    result.status_code,
                    result.description,
                    provider=self.name,
                    operation="send",
                    raw=result.raw,
                )
            if not result.msg_id:
                raise _protocol.malformed(
                    "SOAP success without a MsgId", response.content, provider=self.name, operation="send"
                )
            return Receipt(
                provider=self.name,
                task_id=result.msg_id,
                accepted=result.success_counts,
                recipients=tuple(mobiles),
                balance=result.amount,
                raw=result.raw,
            )
        body = self._reply(response, "send")
        if self.transport == "encrypted":
            return _protocol.parse_encrypted_reply(body, provider=self.name, recipients=mobiles)
        return _protocol.parse_send_reply(
            body,
            provider=self.name,
            recipients=mobiles,
            encoding="gbk" if self.transport == "gbk" else "utf-8",
        )

    def send(self, sms: Sms) -> Flow[Receipt]:
        """Send one text message; more recipients than ``max_recipients`` go out in several
        requests, and their receipts are combined (``Receipt.parts``).

        :raises ValidationError: before any I/O, for a number, ext, send_at, signature or
            (``gbk``) character the gateway cannot take.
        :raises PartialBatchError: a later request failed after earlier ones were accepted;
            ``pending`` holds the message with the recipients not yet accepted.
        """
        op = "send"
        mobiles = self._mobiles(sms.to, op)
        text = self._signed(sms.text, op)
        ext = self._ext(sms.ext, op)
        send_time = self._when(sms.send_at, op)
        if self.transport == "gbk":
            self._check_gbk(text, op)
        size = self.max_recipients
        chunks = [(mobiles[i : i + size], list(sms.to[i : i + size])) for i in range(0, len(mobiles), size)]
        log.debug("%s: send to %d recipient(s) in %d request(s)", self.name, len(mobiles), len(chunks))
        receipts: list[Receipt] = []
        for position, (wire, _given) in enumerate(chunks):
            try:
                request = self._send_request(wire, text, send_time, sms.send_at, ext)
                response = yield request
                receipts.append(self._parse_send(response, wire))
            except SmsGateError as exc:
                # The SOAP module names its errors "ipyy"; this instance may be named otherwise.
                exc.provider = self.name
                if not receipts:
                    raise
                remaining = [n for _wire, original in chunks[position:] for n in original]
                raise PartialBatchError(
                    f"{len(receipts)} of {len(chunks)} requests were accepted before one failed",
                    receipts=receipts,
                    pending=[attrs.evolve(sms, to=remaining)],
                    cause=exc,
                    provider=self.name,
                    operation=op,
                ) from exc
        return Receipt.combine(receipts)

    # --- batch ------------------------------------------------------------------------------

    def _batch_lines(self, messages: Sequence[Sms]) -> list[_Line]:
        op = "send_batch"
        lines: list[_Line] = []
        for index, sms in enumerate(messages):
            if not isinstance(sms, Sms):
                raise self._invalid(f"message {index} is not an Sms", op, "messages")
            try:
                text = self._signed(sms.text, op)
                if "\r" in text or "\n" in text:
                    if self.batch_newlines == "reject":
                        raise self._invalid(
                            "the text contains a line break, which the batch format cannot carry; remove "
                            "it or configure batch_newlines='space'",
                            op,
                            "text",
                        )
                    text = _NEWLINES.sub(" ", text)
                if not _utf8(text):
                    # spec 1.6.2: the lines go out as UTF-8.
                    raise self._invalid("the text contains a character UTF-8 cannot carry", op, "text")
                ext = self._ext(sms.ext, op)
                send_time = self._when(sms.send_at, op)
                mobiles = self._mobiles(sms.to, op)
            except ValidationError as exc:
                raise self._invalid(f"message {index}: {exc.message}", op, exc.field) from None
            for original, mobile in zip(sms.to, mobiles, strict=True):
                line = _Line(index, original, mobile, text, send_time, ext)
                if line.size > self.batch_max_bytes:
                    raise self._invalid(
                        f"message {index}: one line is larger than batch_max_bytes ({self.batch_max_bytes})",
                        op,
                        "text",
                    )
                lines.append(line)
        if not lines:
            raise self._invalid("send_batch needs at least one message", op, "messages")
        return lines

    def _split(self, lines: Sequence[_Line]) -> list[list[_Line]]:
        """Greedy, order-preserving split: a new request starts when the next line would
        repeat a number (spec 1.6.2), change send_at/ext, or exceed a size limit."""
        groups: list[list[_Line]] = []
        current: list[_Line] = []
        seen: set[str] = set()
        size = 0
        for line in lines:
            line_size = line.size
            if current and (
                line.mobile in seen
                or (line.send_time, line.ext) != (current[0].send_time, current[0].ext)
                or len(current) >= self.batch_max_messages
                or size + line_size > self.batch_max_bytes
            ):
                groups.append(current)
                current, seen, size = [], set(), 0
            current.append(line)
            seen.add(line.mobile)
            size += line_size
        groups.append(current)
        return groups

    @staticmethod
    def _pending(messages: Sequence[Sms], lines: Sequence[_Line]) -> list[Sms]:
        """The messages (or parts of messages) behind ``lines``, in order."""
        by_index: dict[int, list[str]] = {}
        for line in lines:
            by_index.setdefault(line.index, []).append(line.original)
        out = []
        for index, numbers in by_index.items():
            sms = messages[index]
            out.append(sms if len(numbers) == len(sms.to) else attrs.evolve(sms, to=numbers))
        return out

    def send_batch(self, messages: Sequence[Sms]) -> Flow[list[Receipt]]:
        """Send personalised messages through BatchSms.ashx (spec 1.6), one line per recipient
        (an Sms with several recipients becomes several lines with the same text).

        Lines are split into several requests, order preserved, where one would repeat a
        number, mix different ``send_at``/``ext``, or exceed ``batch_max_messages`` /
        ``batch_max_bytes``. One receipt per request.

        :raises ValidationError: before any I/O (the message index is named).
        :raises PartialBatchError: a request failed after earlier ones were accepted.
        """
        op = "send_batch"
        lines = self._batch_lines(messages)
        groups = self._split(lines)
        log.debug("%s: batch of %d line(s) in %d request(s)", self.name, len(lines), len(groups))
        receipts: list[Receipt] = []
        for position, group in enumerate(groups):
            wire = [line.mobile for line in group]
            try:
                request = _protocol.build_batch_request(
                    base_url=self.base_url,
                    userid=self.userid,
                    account=self.account,
                    password_md5=self.__credentials.md5,
                    lines=[(line.mobile, line.text) for line in group],
                    send_time=group[0].send_time,
                    ext=group[0].ext,
                    compression=self.batch_compression,
                )
                response = yield request
                body = self._reply(response, op)
                receipts.append(
                    _protocol.parse_send_reply(body, provider=self.name, recipients=wire, operation=op)
                )
            except SmsGateError as exc:
                exc.provider = self.name
                if not receipts:
                    raise
                rest = [line for g in groups[position:] for line in g]
                raise PartialBatchError(
                    f"{len(receipts)} of {len(groups)} batch requests were accepted before one failed",
                    receipts=receipts,
                    pending=self._pending(messages, rest),
                    cause=exc,
                    provider=self.name,
                    operation=op,
                ) from exc
        return receipts

    # --- MMS --------------------------------------------------------------------------------

    def send_mms(self, mms: Mms) -> Flow[Receipt]:
        """Send an MMS through mms.aspx (spec 2): parts packed as TMS, then base64.

        A subject is required (3001 SubjectEmpty otherwise) and part names must be ASCII
        (wire notes §3: the only ones known to work). Text parts are sent as the bytes given;
        the one production client converts them to GB2312 first.
        """
        op = "send_mms"
        mobiles = self._mobiles(mms.to, op)
        if not mms.subject or not mms.subject.strip():
            raise self._invalid("an ipyy MMS needs a subject (spec 2.2)", op, "subject")
        for part in mms.parts:
            if not part.name.isascii():
                raise self._invalid(
                    f"MMS part name {part.name!r} is not ASCII (only ASCII names are known to work)",
                    op,
                    "parts",
                )
        ext = self._ext(mms.ext, op)
        send_time = self._when(mms.send_at, op)
        tms = _tms.pack((part.name, part.data) for part in mms.parts)
        response = yield _protocol.build_mms_request(
            base_url=self.base_url,
            userid=self.userid,
            account=self.account,
            password_md5=self.__credentials.md5,
            mobiles=mobiles,
            subject=mms.subject,
            tms=tms,
            send_time=send_time,
            ext=ext,
        )
        body = self._reply(response, op)
        return _protocol.parse_send_reply(body, provider=self.name, recipients=mobiles, operation=op)

    # --- balance, pulls, password ------------------------------------------------------------

    def balance(self, kind: str = "sms") -> Flow[Balance]:
        """Read the SMS or MMS balance (spec 3, ``action=overage``).

        SMS: smsJson.aspx for ``transport="json"``, smsGBK.aspx for ``gbk``, sms.aspx
        otherwise; MMS: mms.aspx. Pay mode (``payinfo``) and total (``sendTotal``) are kept.
        """
        op = "balance"
        if kind not in ("sms", "mms"):
            raise self._invalid(f"balance kind must be 'sms' or 'mms', not {kind!r}", op, "kind")
        if kind == "mms":
            endpoint, encoding = _protocol.MMS, "utf-8"
        elif self.transport == "json":
            endpoint, encoding = _protocol.SEND_JSON, "utf-8"
        elif self.transport == "gbk":
            endpoint, encoding = _protocol.SEND_GBK, "gbk"
        else:
            endpoint, encoding = _protocol.SEND_FORM, "utf-8"
        response = yield _protocol.build_balance_request(
            base_url=self.base_url,
            endpoint=endpoint,
            userid=self.userid,
            account=self.account,
            password_md5=self.__credentials.md5,
            encoding=encoding,
        )
        body = self._reply(response, op)
        return _protocol.parse_balance_reply(body, provider=self.name, kind=kind, encoding=encoding)

    def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None
    ) -> Flow[list[DeliveryReport]]:
        """Pull queued delivery reports (spec 4; JSON endpoint for ``transport="json"``).

        Destructive at the gateway: each report is returned once. ``limit`` is sent as
        ``statusNum``; ``task_id`` restricts the pull to one task.
        """
        op = "fetch_reports"
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise self._invalid("limit must be a positive integer", op, "limit")
        if task_id is not None and (not isinstance(task_id, str) or not task_id.strip()):
            raise self._invalid("task_id must be a non-empty string", op, "task_id")
        response = yield _protocol.build_reports_request(
            base_url=self.base_url,
            json_reply=self._reply_json,
            userid=self.userid,
            account=self.account,
            password_md5=self.__credentials.md5,
            limit=limit,
            task_id=task_id.strip() if task_id else None,
        )
        return _protocol.parse_reports_reply(self._reply(response, op), provider=self.name)

    def fetch_inbound(self) -> Flow[list[InboundMessage]]:
        """Pull queued inbound messages (spec 5; JSON endpoint for ``transport="json"``)."""
        response = yield _protocol.build_inbound_request(
            base_url=self.base_url,
            json_reply=self._reply_json,
            userid=self.userid,
            account=self.account,
            password_md5=self.__credentials.md5,
        )
        return _protocol.parse_inbound_reply(self._reply(response, "fetch_inbound"), provider=self.name)

    def change_password(self, new_password: str) -> Flow[None]:
        """Change the account password (spec 7, pwd.aspx); at most 20 characters.

        On success this provider uses the new password from the next request on.
        """
        op = "change_password"
        if not isinstance(new_password, str) or not 1 <= len(new_password) <= _MAX_NEW_PASSWORD:
            raise self._invalid(
                "the new password must have 1 to 20 characters (spec 7.2)", op, "new_password"
            )
        response = yield _protocol.build_password_request(
            base_url=self.base_url,
            userid=self.userid,
            account=self.account,
            password_md5=self.__credentials.md5,
            new_password=new_password,
        )
        _protocol.parse_password_reply(self._reply(response, op), provider=self.name)
        self.__credentials = _Credentials(new_password)
        log.info("%s: account password changed", self.name)

    # --- pushes -------------------------------------------------------------------------------

    def parse_callback(
        self, body: bytes, content_type: str | None = None
    ) -> list[DeliveryReport | InboundMessage]:
        """Parse a push (spec 6.2 / 6.3) into reports and inbound messages.

        ``content_type`` is ignored: the gateway's is unknown, and the spec says to read the
        whole body as XML. An unparsable body raises :class:`ValidationError`.
        """
        return _protocol.parse_push(body, provider=self.name)

    def callback_reply(self, ok: bool) -> CallbackReply:
        """spec 6.4: ``1`` when the push was stored, ``error`` to have the gateway retry."""
        return _protocol.callback_reply(ok)
