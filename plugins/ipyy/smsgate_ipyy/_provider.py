"""``IpyyProvider``: the ipyy (华信) gateway as an smsgate provider.

Every operation is a flow: it validates what the caller passed (before its first ``yield``,
so a :class:`~smsgate.exceptions.ValidationError` means nothing was sent), then yields the
requests of :mod:`smsgate_ipyy._build` and reads the replies with :mod:`smsgate_ipyy._parse`.
What differs between the send transports lives in one strategy object
(:mod:`smsgate_ipyy._transports`), chosen once from the settings. Errors carry no provider
or operation here: smsgate's drivers add both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

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
    parsing_reply,
    send_in_parts,
)
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.settings import cut_traceback
from smsgate.templates import TextTemplates
from smsgate_ipyy import _build, _parse, _push, _tms
from smsgate_ipyy._build import Login
from smsgate_ipyy._settings import SIGNATURE, IpyySettings
from smsgate_ipyy._transports import Outgoing, Transport, transport_for
from smsgate_ipyy._xml import is_xml_text

__all__ = ["IpyyProvider"]

log = logging.getLogger("smsgate.ipyy")

_NEWLINES = re.compile(r"[\r\n]+")
# Texts each ended by LF (and holding none), each starting or ending with a 【signature】:
# each such text also matches SIGNATURE (a text this misses goes through the full checks).
# Possessive: a line that fails ends the match, never retrying how earlier lines matched.
_SIGNED_LINES = re.compile(r"(?:(?:【[^【】\n]+】[^\n]*|[^\n]*【[^【】\n]+】)\n)*+")
# The 【signature】 a text ends with: most batches sign every text alike.
_LAST_SIGNATURE = re.compile(r"【[^【】\n]+】\Z")
_FIXED_NUMBERS = re.compile(r"([0-9]+)\[0-9\]\{([0-9]{1,2})\}")
_CHINA_PREFIX = re.compile(r"\A(?:\+86|0086|86)")
_MAX_EXT = 5
_EXT_TOO_LONG = "ext must be at most 5 digits (spec 1.2)"
_UNSIGNED = (
    "the text needs a 【signature】 (ipyy refuses unsigned messages); add one, or "
    "configure signature='append' with default_signature"
)
# Batch messages checked each on its own when a run of them is not plain (see _plan_batch).
_ONE_BY_ONE = 16
# Batch messages cannot_render_batch tests at once: a message it cannot vouch for costs the
# per-message answer of the rest of its run only.
_QUICK_RUN = 256
_MAX_NEW_PASSWORD = 20
# Any: the frozenset converter of Capabilities.balance_kinds confuses mypy's attrs plugin.
_BALANCE_KINDS: Any = frozenset({"sms", "mms"})


@attrs.frozen
class _Chunk:
    """The recipients of one send request: as they go on the wire, and as the caller wrote them."""

    wire: list[str]
    given: list[str]


class _Cursor(NamedTuple):
    """A position in a batch's lines: the message's position, and the recipient within it."""

    message: int
    offset: int


class _Span(NamedTuple):
    """The lines of one batch request: from ``start`` up to, not including, ``end``."""

    start: _Cursor
    end: _Cursor
    plain: bool  # every message of it needs no change (IpyyProvider._plain_fields)


class _Splitter:
    """Greedy, order-preserving split of a batch's lines into requests: a new request starts
    when the next line would repeat a number (spec 1.6.2), change send_at/ext, or exceed a
    size limit. Keeps where each request starts and ends, never the lines."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.spans: list[_Span] = []
        self.start: _Cursor | None = None
        self.key: tuple[str, str] = ("", "")
        self.seen: set[str] = set()
        self.size = 0
        self.plain = True

    def add(
        self, message: int, offset: int, mobile: str, size: int, *, key: tuple[str, str], plain: bool
    ) -> None:
        """One more line, recipient ``offset`` of message ``message``, of ``size`` bytes."""
        seen = self.seen
        if self.start is not None and (
            mobile in seen
            or key != self.key
            or len(seen) >= self.max_lines
            or self.size + size > self.max_bytes
        ):
            self.cut(_Cursor(message, offset))
        if self.start is None:
            self.start, self.key, self.size, self.plain = _Cursor(message, offset), key, 0, True
            seen = self.seen = set()
        seen.add(mobile)
        self.size += size
        self.plain = self.plain and plain

    def add_run(self, message: int, mobiles: list[str], size: int) -> bool:
        """The lines of messages ``message``, ``message + 1`` … at once, one line each,
        without send time or ext, needing no change, of ``size`` bytes in all: True when they
        all fit in the current request (or a new one) and are added, as :meth:`add` would
        add them one by one; False (and nothing added) otherwise."""
        fresh = set(mobiles)
        if len(fresh) != len(mobiles):
            return False
        if self.start is None:
            if len(fresh) > self.max_lines or size > self.max_bytes:
                return False
            self.start, self.key, self.size, self.plain = _Cursor(message, 0), ("", ""), 0, True
            self.seen = fresh
        elif (
            self.key != ("", "")
            or len(self.seen) + len(fresh) > self.max_lines
            or self.size + size > self.max_bytes
            or not self.seen.isdisjoint(fresh)
        ):
            return False
        else:
            self.seen |= fresh
        self.size += size
        if len(self.seen) >= self.max_lines:  # what the next line's add would do first
            self.cut(_Cursor(message + len(mobiles), 0))
        return True

    def room(self) -> int:
        """Lines the current request (or a new one) can still take."""
        return self.max_lines - (len(self.seen) if self.start is not None else 0)

    def cut(self, at: _Cursor) -> None:
        """End the current request just before ``at``."""
        if self.start is not None:
            self.spans.append(_Span(self.start, at, self.plain))
            self.start = None


def _signed_lines(joined: str, texts: list[str]) -> bool:
    """Whether each of ``texts``, each ended by LF in ``joined`` (and holding none), starts or
    ends with a 【signature】 (then it matches SIGNATURE too)."""
    last = _LAST_SIGNATURE.search(texts[0])
    # LF only ends a text: each occurrence of "【…】\n" ends a distinct one.
    if last is not None and joined.count(last[0] + "\n") == len(texts):
        return True
    return _SIGNED_LINES.fullmatch(joined) is not None


def _has_signature(text: str) -> bool:
    """``SIGNATURE.search(text)``, answered without the regular expression for the usual text,
    which ends with its 【signature】 (the search tries every position of the text)."""
    if text.endswith("】"):
        start = text.rfind("【", 0, -1)
        if 0 <= start < len(text) - 2 and "】" not in text[start + 1 : -1]:
            return True
    return SIGNATURE.search(text) is not None


def _fixed_numbers(pattern: str) -> tuple[str, int] | None:
    """For a ``mobile_pattern`` such as the default ``1[0-9]{10}`` (leading digits, then a
    fixed count of any digit): its leading digits and the length of a matching number."""
    found = _FIXED_NUMBERS.fullmatch(pattern)
    if found is None:
        return None
    return found[1], len(found[1]) + int(found[2])


def _new_password_problem(new_password: object, transport: str) -> tuple[str, str] | None:
    """Why ``new_password`` cannot be sent (the message and the field to name), or None.
    Returned, not raised: the frame raising the error must not hold the password."""
    if not isinstance(new_password, str) or not 1 <= len(new_password) <= _MAX_NEW_PASSWORD:
        return "the new password must have 1 to 20 characters (spec 7.2)", "new_password"
    if not _utf8(new_password):
        return "the new password contains a character UTF-8 cannot carry", "newpassword"
    if transport == "soap" and not is_xml_text(new_password):
        # The settings refuse such a password for SOAP: refused only after the gateway had
        # changed it, this provider would be left with the old one.
        return "the new password contains a character XML cannot carry (transport 'soap')", "newpassword"
    return None


def _gbk_problem(transport: Transport, text: str) -> str | None:
    """Why the gbk ``transport`` cannot carry ``text`` (its first such character named), or None."""
    try:
        transport.check_text(text)
    except ValidationError as exc:
        return exc.message
    return None


def _utf8(text: str) -> bool:
    """False for text UTF-8 cannot encode (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class IpyyProvider(Provider):
    """The ipyy gateway (``dx.ipyy.net``), built by ``smsgate.get_provider("ipyy", …)``.

    Takes the keyword settings of :class:`~smsgate_ipyy.IpyySettings` (documented there), or
    one ``IpyySettings`` object::

        IpyyProvider(account="acct", password="…", transport="json")
        IpyyProvider(IpyySettings(account="acct", password="…", transport="json"))

    :raises ConfigurationError: an unknown or wrong setting (named, its value never shown).
    """

    def __init__(self, settings: IpyySettings | None = None, /, **config: Any) -> None:
        try:
            if settings is None:
                settings = IpyySettings.from_config(config)
            elif config or not isinstance(settings, IpyySettings):
                raise ConfigurationError(
                    "pass one IpyySettings or keyword settings, not both", provider="ipyy"
                )
        except ConfigurationError as error:
            del settings, config  # the password: not in the frame that raises the refusal again
            cut_traceback(error)
            raise error
        self.settings = settings
        self.name = settings.name
        self.timeout = settings.timeout
        if settings.max_reply_bytes is not None:
            self.max_reply_bytes = settings.max_reply_bytes
        self.base_url = settings.base_url
        self._mobile_pattern = re.compile(settings.mobile_pattern)
        self._fixed_numbers = _fixed_numbers(settings.mobile_pattern)
        self._max_text = settings.max_text_length
        self._gbk = settings.transport == "gbk"
        # What _usual asks of every message, read once: its quick answer needs numbers of a
        # fixed form (their leading digits and length) and a transport that carries any text.
        self._quick = None if self._gbk else self._fixed_numbers
        self.__login = Login(settings.base_url, settings.userid, settings.account, settings.password)
        self._transport = transport_for(settings, self._now)
        self._templates = TextTemplates(settings.templates)
        self.capabilities = Capabilities(
            send=True,
            batch=True,
            mms=True,
            balance=True,
            balance_kinds=_BALANCE_KINDS,
            report_pull=True,
            inbound_pull=True,
            callbacks=True,
            scheduling=True,
            change_password=True,
            templates=bool(settings.templates),
            max_recipients=settings.max_recipients,
            max_batch=settings.batch_max_messages,
            max_text_length=settings.max_text_length,
            max_mms_size=settings.max_mms_size,
        )

    def __repr__(self) -> str:
        # Never raises, not even for a provider whose __init__ failed: a traceback rendered
        # with its frames' locals (pytest --showlocals, error reporters) shows that ``self``.
        settings = getattr(self, "settings", None)
        if not isinstance(settings, IpyySettings):
            return "<IpyyProvider (not configured)>"
        host = httpx.URL(settings.base_url).host
        return (
            f"<IpyyProvider name={settings.name!r} account={settings.account!r} host={host!r} "
            f"transport={settings.transport!r}>"
        )

    # --- validation (before any I/O) --------------------------------------------------------

    def _wire_number(self, number: str) -> str | None:
        """The number as it goes on the wire, or None when it is no mainland number: a leading
        +86/0086/86 is removed when what remains matches the pattern (the gateway takes
        mainland numbers without a prefix)."""
        candidate = number.strip()
        if self._mobile_pattern.fullmatch(candidate):
            return candidate
        stripped = _CHINA_PREFIX.sub("", candidate, count=1)
        if stripped != candidate and self._mobile_pattern.fullmatch(stripped):
            return stripped
        return None

    def _not_mainland(self, number: str) -> str:
        """Why ``number`` cannot be sent here (its digits masked)."""
        return (
            f"recipient {mask_mobile(number.strip())} is not a mainland mobile number "
            f"(pattern {self._mobile_pattern.pattern})"
        )

    def _mobile(self, number: str) -> str:
        """The number as it goes on the wire (:meth:`_wire_number`); a ValidationError when it
        is no mainland number."""
        wire = self._wire_number(number)
        if wire is None:
            raise ValidationError(self._not_mainland(number), field="to")
        return wire

    def _mobiles(self, numbers: Sequence[str]) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        for number in numbers:
            mobile = self._mobile(number)
            if mobile in seen:
                raise ValidationError(f"recipient {mask_mobile(mobile)} is listed twice", field="to")
            seen.add(mobile)
            out.append(mobile)
        return out

    @staticmethod
    def _ext(ext: str | None) -> str:
        if ext is None:
            return ""
        if not (ext.isascii() and ext.isdigit()) or len(ext) > _MAX_EXT:
            raise ValidationError(_EXT_TOO_LONG, field="ext")
        return ext

    def _now(self) -> dt.datetime:
        now = self.settings.clock()
        if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise ConfigurationError("clock() must return a timezone-aware datetime")
        return now

    def _when(self, send_at: dt.datetime | None) -> str:
        if send_at is None:
            return ""
        if send_at <= self._now():
            raise ValidationError("send_at must be in the future", field="send_at")
        return _build.format_send_time(send_at)

    def cannot_render(self, message: Sms) -> str | None:
        """Why this account cannot send ``message``, or None. Rendering: a template-only
        message when no ``templates`` are configured, an unknown template (``no template
        named 'x'``) or a missing parameter (``template 'x' needs parameter 'code'``); a
        message that also has a text is sent with its text then. Then the rules of this
        account, which another provider may not have: a recipient that is no mainland number
        (``mobile_pattern``), an ``ext`` of more than 5 digits, and a text (as rendered) that
        lacks the 【signature】 ``signature="require"`` asks for, is longer than
        ``max_text_length`` (the appended signature counted) or, for ``transport="gbk"``, has
        a character GBK cannot carry. Each reason is the text of the ValidationError a send
        of the message raises before any request."""
        if type(message) is not Sms:  # checked without a call for the usual Sms (a batch asks per message)
            self.expect_type(message, Sms, "cannot_render", "message")
        text = message.text
        if message.template is None and text is not None and self.capabilities.free_text:
            # A plain text message (most sends, and most of a batch): nothing to render.
            return None if self._usual(message, text) else self._cannot_take(message, text)
        reason = super().cannot_render(message)
        if reason is not None:
            return reason
        text, reason = self._rendering(message)
        if text is None:
            return reason
        return None if self._usual(message, text) else self._cannot_take(message, text)

    def cannot_render_batch(self, messages: Sequence[Sms]) -> tuple[int, str] | None:
        """The first of ``messages`` this account cannot send, as its index and the reason
        :meth:`cannot_render` gives for it, or None: exactly the answer of asking
        :meth:`cannot_render` of each message in order (the base class's loop), answered for
        the usual batch by a few passes over all its messages at once. Every message of a run
        of them plain (an :class:`~smsgate.Sms` with one number in the wire form, no ext and
        no template, a text within ``max_text_length`` ending with the 【signature】 the
        first one ends with, not for ``transport="gbk"``) is one :meth:`cannot_render`
        accepts; from the first run the quick test cannot vouch for, each of its messages is
        asked on its own."""
        if type(self).cannot_render is not IpyyProvider.cannot_render:  # a subclass's own rules
            return super().cannot_render_batch(messages)
        cannot_render = self.cannot_render
        for start in range(0, len(messages), _QUICK_RUN):
            run = messages[start : start + _QUICK_RUN]
            if self._plain_batch(run):
                continue
            for index, message in enumerate(run, start):
                reason = cannot_render(message)
                if reason is not None:
                    return index, reason
        return None

    def _plain_batch(self, run: Sequence[Sms]) -> bool:
        """True when :meth:`_usual` holds for every message of ``run`` (each a plain text
        message), checked over columns: then :meth:`cannot_render` answers None for each.
        False: each message is asked on its own."""
        quick = self._quick
        if quick is None or not self.capabilities.free_text or set(map(type, run)) != {Sms}:
            return False
        if [1 for sms in run if sms.template is not None or sms.ext is not None]:
            return False
        # A text is there (the model: a text or a template, and no template here); len()
        # would refuse a None.
        texts: list[str] = [sms.text for sms in run]  # type: ignore[misc]
        try:
            mobiles = [mobile for (mobile,) in [sms.to for sms in run]]
            if max(map(len, texts)) > self._max_text:
                return False
        except (ValueError, TypeError):  # several recipients; no text after all
            return False
        # _usual's signature test: a text ending with 【X】 (X holding neither 【 nor 】) ends
        # with its last 【, at least one character and no 】 after it.
        first = texts[0]
        start = first.rfind("【", 0, len(first) - 1)
        signature = first[start:]
        if start < 0 or len(signature) < 3 or signature[-1] != "】" or "】" in signature[1:-1]:
            return False
        # _usual's number test (a number of the pattern's length starting with its digits).
        # NUL ends each text in ``joined``; with no NUL in any text, each "【X】<NUL>" ends a
        # distinct text: as many as texts, and every text ends with the signature.
        joined, count = "\0".join(texts) + "\0", len(texts)
        return (
            joined.count("\0") == count
            and joined.count(signature + "\0") == count
            and self._wire_numbers(mobiles)
        )

    def _rendering(self, sms: Sms) -> tuple[str | None, str | None]:
        """The text ``sms`` goes out with, before the signature rule (its template filled in
        when this account has it and every parameter, else its text), or None and why not."""
        text = sms.text
        if sms.template is not None and self._templates:
            try:
                return self._templates.render(sms), None
            except ValidationError as exc:  # no such template or parameter: the text, if any
                if text is None or exc.field != "template":
                    return None, exc.message
        return text, None if text is not None else "the message has no text"

    def _usual(self, message: Sms, text: str) -> bool:
        """True for the usual message, which breaks no rule of this account, answered cheaply:
        one number in the wire form (for a ``mobile_pattern`` of fixed length and leading
        digits, such as the default), no ext, and a text within ``max_text_length`` that ends
        with its 【signature】 (not for ``transport="gbk"``). False: the full checks decide."""
        quick, to = self._quick, message.to
        if quick is None or len(to) != 1 or message.ext is not None or len(text) > self._max_text:
            return False
        # An Sms number is digits after an optional "+": one of the pattern's length that
        # starts with its leading digits matches it. The signature test is _has_signature's:
        # the text ends with 】, after a 【 and at least one character, and no 】 between.
        number, end = to[0], len(text) - 1
        start = text.rfind("【", 0, end)
        return (
            0 <= start < end - 1
            and text[end] == "】"
            and "】" not in text[start + 1 : end]
            and len(number) == quick[1]
            and number.startswith(quick[0])
        )

    def _cannot_take(self, message: Sms, text: str) -> str | None:
        """Why ``message``, going out with ``text`` (before the signature rule), breaks a rule
        of this account: the checks of :meth:`send`, answered as a reason, not raised (the
        usual message is answered by :meth:`_usual` first)."""
        fullmatch = self._mobile_pattern.fullmatch
        for number in message.to:
            if not fullmatch(number) and self._wire_number(number) is None:
                return self._not_mainland(number)
        ext = message.ext
        if ext is not None and (len(ext) > _MAX_EXT or not (ext.isascii() and ext.isdigit())):
            return _EXT_TOO_LONG
        signed, problem = self._signing(text)
        if problem is None and self.settings.transport == "gbk":
            try:
                signed.encode("gbk")
            except UnicodeEncodeError:
                # A text no provider can carry (a lone surrogate) is the caller's to fix: the
                # send's ValidationError, not a reason to try another provider.
                return _gbk_problem(self._transport, signed) if _utf8(signed) else None
        return problem

    def _text_of(self, sms: Sms) -> str:
        """The text ``sms`` goes out with, before the signature and length checks: its
        template filled in when this account has it (and every parameter), else its text."""
        if sms.template is not None and self._templates and self._templates.problem(sms) is None:
            return self._templates.render(sms)
        if sms.text is None:
            raise ValidationError(
                f"ipyy cannot send this message: {self.cannot_render(sms)}", field="template"
            )
        return sms.text

    def _signing(self, text: str) -> tuple[str, str | None]:
        """The text as it is sent (signed per ``signature``), and why it cannot be (no
        signature where one is required, longer than ``max_text_length``) or None."""
        settings = self.settings
        limit = settings.max_text_length
        if not _has_signature(text):
            if settings.signature == "require":
                return text, _UNSIGNED
            if settings.signature == "append" and settings.default_signature:
                text += settings.default_signature
        if len(text) > limit:
            return text, f"the text has {len(text)} characters, more than max_text_length ({limit})"
        return text, None

    def _signed(self, text: str) -> str:
        """The text as it is sent: signed, and no longer than ``max_text_length``."""
        signed, problem = self._signing(text)
        if problem is not None:
            raise ValidationError(problem, field="text")
        return signed

    # --- send -------------------------------------------------------------------------------

    def send(self, sms: Sms) -> Flow[Receipt]:
        """Send one text message; more recipients than ``max_recipients`` go out in several
        requests, and their receipts are combined (``Receipt.parts``).

        :raises ValidationError: before any I/O, for a number, ext, send_at, signature, length
            or (``gbk``) character the gateway cannot take.
        :raises PartialSendError: a later request failed after earlier ones were accepted;
            ``pending`` holds the message with the recipients not yet accepted.
        """
        self.expect_type(sms, Sms, "send", "sms")
        text = self._rendering(sms)[0]
        if text is not None and self._usual(sms, text):
            mobiles = list(sms.to)  # one number, in the wire form; a signed text within the limit
        else:
            mobiles = self._mobiles(sms.to)
            text = self._signed(self._text_of(sms))
        self._transport.check_text(text)
        ext = self._ext(sms.ext)
        send_time = self._when(sms.send_at)
        size = self.settings.max_recipients
        requests = -(-len(mobiles) // size)
        log.debug("%s: send to %d recipient(s) in %d request(s)", self.name, len(mobiles), requests)

        def send_chunk(wire: list[str]) -> Flow[Receipt]:
            out = Outgoing(wire, text, sms.send_at, send_time, ext)
            response = yield self._transport.send_request(self.__login, out)
            with parsing_reply(response):
                return self._transport.parse_send(response, wire)

        if requests == 1:  # nearly every send: one request, no parts to keep apart
            return (yield from send_chunk(mobiles))
        chunks = [
            _Chunk(mobiles[i : i + size], list(sms.to[i : i + size])) for i in range(0, len(mobiles), size)
        ]
        receipts = yield from send_in_parts(
            chunks,
            lambda chunk: send_chunk(chunk.wire),
            pending=lambda rest: [attrs.evolve(sms, to=[n for chunk in rest for n in chunk.given])],
        )
        return Receipt.combine(receipts)

    # --- batch ------------------------------------------------------------------------------

    def _batch_text(self, sms: Sms) -> str:
        text = self._signed(self._text_of(sms))
        if "\r" in text or "\n" in text:
            if self.settings.batch_newlines == "reject":
                raise ValidationError(
                    "the text contains a line break, which the batch format cannot carry; remove "
                    "it or configure batch_newlines='space'",
                    field="text",
                )
            text = _NEWLINES.sub(" ", text)
        if not _utf8(text):
            # spec 1.6.2: the lines go out as UTF-8.
            raise ValidationError("the text contains a character UTF-8 cannot carry", field="text")
        return text

    def _plain_fields(self, sms: Sms) -> tuple[str, list[str]] | None:
        """The text and wire numbers of a message that needs no change (signed, one line, no
        longer than the limit, numbers already in the wire form), or None: the full checks
        then decide. Cheap, because most messages of a large batch are like that."""
        text = sms.text
        if (
            text is None
            or sms.template is not None
            or "\r" in text
            or "\n" in text
            or len(text) > self.settings.max_text_length
            or not SIGNATURE.search(text)
        ):
            return None
        fullmatch = self._mobile_pattern.fullmatch
        if len(sms.to) == 1:
            mobile = sms.to[0].strip()
            return (text, [mobile]) if fullmatch(mobile) else None
        mobiles = [number.strip() for number in sms.to]
        if not all(fullmatch(mobile) for mobile in mobiles) or len(set(mobiles)) != len(mobiles):
            return None
        return text, mobiles

    def _message_fields(self, index: int, sms: Sms) -> tuple[bool, str, str, list[str], int]:
        """First pass: whether one batch message needs no change (:meth:`_plain_fields`), its
        send time, ext and wire numbers, checked, and the byte size of its text on a line
        (spec 1.6.2: ``mobile,text\r\n`` in UTF-8)."""
        if not isinstance(sms, Sms):
            raise ValidationError(f"{_which(index)} is not an Sms", field="messages")
        try:
            plain = self._plain_fields(sms)
            if plain is None:
                text, mobiles = self._batch_text(sms), self._mobiles(sms.to)
            else:
                text, mobiles = plain
            ext = "" if sms.ext is None else self._ext(sms.ext)
            send_time = "" if sms.send_at is None else self._when(sms.send_at)
            text_size = len(text.encode("utf-8")) + 3
        except UnicodeEncodeError:
            # spec 1.6.2: the lines go out as UTF-8.
            raise ValidationError(
                f"{_which(index)}: the text contains a character UTF-8 cannot carry", field="text"
            ) from None
        except ValidationError as exc:
            raise ValidationError(f"{_which(index)}: {exc.message}", field=exc.field) from None
        limit = self.settings.batch_max_bytes
        longest = len(mobiles[0]) if len(mobiles) == 1 else max(map(len, mobiles), default=0)
        if longest + text_size > limit:
            raise ValidationError(
                f"{_which(index)}: one line is larger than batch_max_bytes ({limit})", field="text"
            )
        return plain is not None, send_time, ext, mobiles, text_size

    def _wire_fields(self, sms: Sms, plain: bool) -> tuple[str, list[str]]:
        """Second pass, over a batch already checked: the text and wire numbers again (for a
        request of plain messages only, no check is repeated)."""
        if plain and sms.text is not None:
            return sms.text, [number.strip() for number in sms.to]
        return self._batch_text(sms), self._mobiles(sms.to)

    def _plain_run(self, run: Sequence[Sms]) -> tuple[list[str], int] | None:
        """The wire numbers and the line bytes of messages that each need no change (one
        recipient in the wire form, no template, send_at or ext, a signed one-line text within
        ``max_text_length`` that UTF-8 can carry), checked together in a few passes over the
        run; None when any of them may not be like that (each then goes through
        :meth:`_message_fields`, which decides and names the message)."""
        # Comprehensions, not operator.attrgetter: Python reads slots faster in them.
        if set(map(type, run)) != {Sms} or [
            1 for sms in run if sms.template is not None or sms.ext is not None or sms.send_at is not None
        ]:
            return None
        # A text is there (the model: a text or a template, and no template here); join()
        # would refuse a None.
        texts: list[str] = [sms.text for sms in run]  # type: ignore[misc]
        try:
            mobiles = [mobile for (mobile,) in [sms.to for sms in run]]
            joined = "\n".join(texts) + "\n"
        except (ValueError, TypeError):  # several recipients; no text after all
            return None
        if not self._wire_numbers(mobiles):
            return None
        if (
            "\r" in joined
            or joined.count("\n") != len(texts)  # no text holds a line break
            or max(map(len, texts)) > self.settings.max_text_length
            or not _signed_lines(joined, texts)
        ):
            return None
        try:
            text_bytes = len(joined.encode("utf-8")) - len(texts)
        except UnicodeEncodeError:
            return None
        # spec 1.6.2: ``mobile,text\r\n`` per line, in UTF-8 (the numbers are ASCII).
        return mobiles, len("".join(mobiles)) + text_bytes + 3 * len(texts)

    def _wire_numbers(self, mobiles: list[str]) -> bool:
        """Whether every number matches ``mobile_pattern`` as it is (no prefix to remove)."""
        if self._fixed_numbers is None:
            return all(map(self._mobile_pattern.fullmatch, mobiles))
        # An Sms number is ``+`` and digits (checked by the model): one of the pattern's
        # length that starts with its leading digits matches it.
        prefix, length = self._fixed_numbers
        if set(map(len, mobiles)) != {length}:
            return False
        joined = "".join(mobiles)
        return all(joined[i::length] == digit * len(mobiles) for i, digit in enumerate(prefix))

    def _plan_batch(self, messages: Sequence[Sms]) -> list[_Span]:
        """First pass: validate every message (before any I/O) and split the lines into
        requests, keeping only where each request starts and ends (no line is kept).

        A run of messages that fills the current request is checked at once when every one
        of them needs no change (:meth:`_plain_run`, the common case). When one of them may
        not, the next run tried is half as long, down to a few messages, which are checked
        each on its own (:meth:`_plan_message`); a run that passes lets the next one double.
        Messages are taken strictly in order, so the first invalid one is the one named."""
        splitter = _Splitter(self.settings.batch_max_messages, self.settings.batch_max_bytes)
        index, count, most = 0, len(messages), splitter.max_lines
        while index < count:
            end = min(count, index + max(min(splitter.room(), most), 1))
            plain = self._plain_run(messages[index:end])
            if plain is not None and splitter.add_run(index, *plain):
                index, most = end, min(2 * most, splitter.max_lines)
            elif end - index > _ONE_BY_ONE:
                most = (end - index) // 2
            else:
                for position in range(index, end):
                    self._plan_message(splitter, position, messages[position])
                index = end
        if splitter.start is None and not splitter.spans:
            raise ValidationError("send_batch needs at least one message", field="messages")
        splitter.cut(_Cursor(len(messages), 0))
        return splitter.spans

    def _plan_message(self, splitter: _Splitter, index: int, sms: Sms) -> None:
        """First pass, one message: checked, and its lines added to the split."""
        plain, send_time, ext, mobiles, text_size = self._message_fields(index, sms)
        key = (send_time, ext)
        for offset, mobile in enumerate(mobiles):
            splitter.add(index, offset, mobile, len(mobile) + text_size, key=key, plain=plain)

    def _span_lines(self, messages: Sequence[Sms], span: _Span) -> tuple[list[str], list[str]]:
        """Second pass: the wire numbers and texts of one request's lines, rebuilt."""
        if span.plain and span.start.offset == 0 and span.end.offset == 0:
            run = messages[span.start.message : span.end.message]
            with contextlib.suppress(ValueError):  # several recipients in a message
                # A line per message: its number and its text, as they are.
                mobiles = [mobile for (mobile,) in [sms.to for sms in run]]
                return mobiles, [sms.text for sms in run]  # type: ignore[misc]
        mobiles = []
        texts: list[str] = []
        for index in range(span.start.message, min(span.end.message + 1, len(messages))):
            first = span.start.offset if index == span.start.message else 0
            last = span.end.offset if index == span.end.message else None
            text, numbers = self._wire_fields(messages[index], span.plain)
            numbers = numbers[first:last]
            mobiles += numbers
            texts += [text] * len(numbers)
        return mobiles, texts

    @staticmethod
    def _pending(messages: Sequence[Sms], rest: Sequence[_Span]) -> list[Sms]:
        """The messages (or parts of messages) behind the requests of ``rest``, in order:
        ``rest`` is always the failed request and every later one, so they run to the end."""
        if not rest:
            return []
        start = rest[0].start
        head = messages[start.message]
        first = head if start.offset == 0 else attrs.evolve(head, to=list(head.to[start.offset :]))
        return [first, *messages[start.message + 1 :]]

    def _send_span(self, messages: Sequence[Sms], span: _Span) -> Flow[Receipt]:
        first = messages[span.start.message]
        # Every line of a request has the same send time and ext (the split keeps them apart);
        # the send time was checked to be in the future by the first pass.
        send_time = _build.format_send_time(first.send_at) if first.send_at is not None else ""
        mobiles, texts = self._span_lines(messages, span)
        request = _build.build_batch_request(
            self.__login,
            lines=_build.Columns(mobiles, texts),
            send_time=send_time,
            ext=first.ext or "",
            compression=self.settings.batch_compression,
        )
        del texts  # only the request and the numbers are kept while the reply is awaited
        response = yield request
        with parsing_reply(response):
            _parse.check_http_status(response)
            return _parse.parse_send_reply(response.content, provider=self.name, recipients=mobiles)

    def send_batch(self, messages: Sequence[Sms]) -> Flow[list[Receipt]]:
        """Send personalised messages through BatchSms.ashx (spec 1.6), one line per recipient
        (an Sms with several recipients becomes several lines with the same text).

        Lines are split into several requests, order preserved, where one would repeat a
        number, mix different ``send_at``/``ext``, or exceed ``batch_max_messages`` /
        ``batch_max_bytes``. One receipt per request. Every message is validated before the
        first request; then each request's lines are built only when it is sent, so a large
        batch never holds more than one request's lines.

        :raises ValidationError: before any I/O (the message index is named).
        :raises PartialSendError: a request failed after earlier ones were accepted.
        """
        self.expect_batch(messages)
        spans = self._plan_batch(messages)
        log.debug("%s: batch of %d message(s) in %d request(s)", self.name, len(messages), len(spans))
        return (
            yield from send_in_parts(
                spans,
                lambda span: self._send_span(messages, span),
                pending=lambda rest: self._pending(messages, rest),
            )
        )

    # --- MMS --------------------------------------------------------------------------------

    def send_mms(self, mms: Mms) -> Flow[Receipt]:
        """Send an MMS through mms.aspx (spec 2): parts packed as TMS, then base64.

        A subject is required (3001 SubjectEmpty otherwise) and part names must be ASCII
        (wire notes §3: the only ones known to work). Text parts are sent as the bytes given;
        the one production client converts them to GB2312 first.
        """
        self.expect_type(mms, Mms, "send_mms", "mms")
        mobiles = self._mobiles(mms.to)
        if not mms.subject or not mms.subject.strip():
            raise ValidationError("an ipyy MMS needs a subject (spec 2.2)", field="subject")
        if not _utf8(mms.subject):
            raise ValidationError("the subject contains a character UTF-8 cannot carry", field="subject")
        for part in mms.parts:
            if not part.name.isascii():
                raise ValidationError(
                    f"MMS part name {part.name!r} is not ASCII (only ASCII names are known to work)",
                    field="parts",
                )
        size = sum(len(part.data) for part in mms.parts)
        limit = self.settings.max_mms_size
        if limit is not None and size > limit:
            raise ValidationError(
                f"the MMS has {size} bytes, more than max_mms_size ({limit})", field="parts"
            )
        request = _build.build_mms_request(
            self.__login,
            mobiles=mobiles,
            subject=mms.subject,
            tms=_tms.pack((part.name, part.data) for part in mms.parts),
            send_time=self._when(mms.send_at),
            ext=self._ext(mms.ext),
        )
        response = yield request
        with parsing_reply(response):
            _parse.check_http_status(response)
            return _parse.parse_send_reply(response.content, provider=self.name, recipients=mobiles)

    # --- balance, pulls, password ------------------------------------------------------------

    def balance(self, kind: str = "sms") -> Flow[Balance]:
        """Read the SMS or MMS balance (spec 3, ``action=overage``).

        SMS: smsJson.aspx for ``transport="json"``, smsGBK.aspx for ``gbk``, sms.aspx
        otherwise; MMS: mms.aspx. Pay mode (``payinfo``) and total (``sendTotal``) are kept.
        """
        if kind not in ("sms", "mms"):
            raise ValidationError(f"balance kind must be 'sms' or 'mms', not {kind!r}", field="kind")
        endpoint, encoding = (_build.MMS, "utf-8") if kind == "mms" else self._transport.balance
        response = yield _build.build_balance_request(self.__login, endpoint=endpoint, encoding=encoding)
        with parsing_reply(response):
            _parse.check_http_status(response)
            return _parse.parse_balance_reply(
                response.content, provider=self.name, kind=kind, encoding=encoding
            )

    def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None
    ) -> Flow[list[DeliveryReport]]:
        """Pull queued delivery reports (spec 4; JSON endpoint for ``transport="json"``).

        Destructive at the gateway: each report is returned once. ``limit`` is sent as
        ``statusNum``; ``task_id`` restricts the pull to one task.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValidationError("limit must be a positive integer", field="limit")
        if task_id is not None and (not isinstance(task_id, str) or not task_id.strip()):
            raise ValidationError("task_id must be a non-empty string", field="task_id")
        response = yield _build.build_reports_request(
            self.__login,
            endpoint=self._transport.pulls[0],
            limit=limit,
            task_id=task_id.strip() if task_id else None,
        )
        with parsing_reply(response):
            _parse.check_http_status(response)
            return _parse.parse_reports_reply(response.content, provider=self.name)

    def fetch_inbound(self) -> Flow[list[InboundMessage]]:
        """Pull queued inbound messages (spec 5; JSON endpoint for ``transport="json"``)."""
        response = yield _build.build_inbound_request(self.__login, endpoint=self._transport.pulls[1])
        with parsing_reply(response):
            _parse.check_http_status(response)
            return _parse.parse_inbound_reply(response.content, provider=self.name)

    def change_password(self, new_password: str) -> Flow[None]:
        """Change the account password (spec 7, pwd.aspx); at most 20 characters.

        On success this provider uses the new password from the next request on.
        """
        # The new password is held only in ``login`` (whose repr hides it) from here on: an
        # error's traceback holds this frame, and reporters capture frame locals.
        problem = _new_password_problem(new_password, self.settings.transport)
        if problem is not None:
            del new_password
            raise ValidationError(problem[0], field=problem[1])
        login = attrs.evolve(self.__login, password=new_password)
        del new_password
        response = yield _build.build_password_request(self.__login, new_password=login.password)
        with parsing_reply(response):
            _parse.check_http_status(response)
            _parse.parse_password_reply(response.content)
        self.__login = login
        self.settings = attrs.evolve(self.settings, password=login.password)
        log.info("%s: account password changed", self.name)

    # --- pushes -------------------------------------------------------------------------------

    def parse_callback(
        self, body: bytes, content_type: str | None = None
    ) -> list[DeliveryReport | InboundMessage]:
        """Parse a push (spec 6.2 / 6.3) into reports and inbound messages.

        ``content_type`` is ignored: the gateway's is unknown, and the spec says to read the
        whole body as XML. An unparsable body raises :class:`ValidationError`, and so does
        one that is no bytes (a decoded ``str``, ``None``).
        """
        try:
            return _push.parse_push(self.push_body(body), provider=self.name)
        except ValidationError as exc:
            # A push does not come through a flow driver: this is where it meets its provider.
            exc.provider = exc.provider or self.name
            raise

    def callback_reply(self, ok: bool) -> CallbackReply:
        """spec 6.4: ``1`` when the push was stored, ``error`` to have the gateway retry."""
        return _push.callback_reply(ok)


def _which(index: int) -> str:
    """How a refusal names message ``index`` of a batch: counted from 1, as the router counts."""
    return f"message {index + 1} of the batch"
