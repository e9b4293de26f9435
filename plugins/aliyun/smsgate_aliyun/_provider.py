"""``AliyunProvider``: Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25) as an smsgate provider.

Aliyun sends registered templates only: a message names a logical template, which this
provider maps (from its settings) to a template code and a sign name, and its parameters
become ``TemplateParam``. Every operation is a flow: it validates what the caller passed
(before its first ``yield``, so a :class:`~smsgate.exceptions.ValidationError` means nothing
was sent), then yields the signed requests of :mod:`smsgate_aliyun._build` and reads the
replies with :mod:`smsgate_aliyun._parse`. Errors carry no provider or operation here:
smsgate's drivers add both.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import attrs
import httpx

from smsgate import (
    CallbackReply,
    Capabilities,
    DeliveryReport,
    Flow,
    InboundMessage,
    Provider,
    Receipt,
    Sms,
    parsing_reply,
    send_in_parts,
)
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.settings import cut_traceback
from smsgate_aliyun import _build, _parse, _push
from smsgate_aliyun._build import BatchEntry, RequestContext
from smsgate_aliyun._settings import AliyunSettings, Template

__all__ = ["AliyunProvider"]

log = logging.getLogger("smsgate.aliyun")


@attrs.frozen
class _Rendered:
    """A message as Aliyun takes it: template code, sign name, variables, ext, reference."""

    code: str
    sign_name: str
    params: dict[str, str]
    ext: str | None
    reference: str | None


@attrs.frozen
class _Line:
    """One recipient of a batch: where it came from and how it is sent."""

    index: int  # position of the Sms in the caller's list
    original: str  # the number as the caller wrote it
    rendered: _Rendered

    @property
    def key(self) -> tuple[str, str | None]:
        # SendBatchSms has one TemplateCode and one OutId per request.
        return self.rendered.code, self.rendered.reference

    def entry(self) -> BatchEntry:
        r = self.rendered
        return BatchEntry(self.original, r.sign_name, r.params, r.ext)


class AliyunProvider(Provider):
    """Aliyun SMS (Dysmsapi), built by ``smsgate.get_provider("aliyun", …)``.

    Takes the keyword settings of :class:`~smsgate_aliyun.AliyunSettings` (documented there),
    or one ``AliyunSettings`` object::

        AliyunProvider(access_key_id="LTAI…", access_key_secret="…", sign_name="阿里云",
                       templates={"verify": "SMS_123456789"})

    Declares templates (and no free text), references (``OutId``), batches
    (``SendBatchSms``), ``query_status`` (``QuerySendDetails``) and pushes; no balance, MMS,
    scheduling or report pull, which the service does not offer.

    :raises ConfigurationError: an unknown or wrong setting (named, its value never shown).
    """

    def __init__(self, settings: AliyunSettings | None = None, /, **config: Any) -> None:
        try:
            if settings is None:
                settings = AliyunSettings.from_config(config)
            elif config or not isinstance(settings, AliyunSettings):
                raise ConfigurationError(
                    "pass one AliyunSettings or keyword settings, not both", provider="aliyun"
                )
        except ConfigurationError as error:
            del settings, config  # the secret: not in the frame that raises the refusal again
            cut_traceback(error)
            raise error
        self.settings = settings
        self.name = settings.name
        self.timeout = settings.timeout
        self.__key = settings.key()
        self.capabilities = Capabilities(
            send=True,
            batch=True,
            callbacks=True,
            templates=True,
            free_text=False,
            references=True,
            query_status=True,
            max_recipients=settings.max_recipients,
            max_batch=settings.max_batch,
        )

    def __repr__(self) -> str:
        # Never raises, not even for a provider whose __init__ failed: a traceback rendered
        # with its frames' locals (pytest --showlocals, error reporters) shows that ``self``.
        settings = getattr(self, "settings", None)
        if not isinstance(settings, AliyunSettings):
            return "<AliyunProvider (not configured)>"
        host = httpx.URL(settings.base_url).host
        return (
            f"<AliyunProvider name={settings.name!r} access_key_id={settings.access_key_id!r} "
            f"host={host!r} templates={sorted(settings.templates)!r}>"
        )

    # --- rendering and validation (before any I/O) ---------------------------------------------

    def cannot_render(self, message: Sms) -> str | None:
        """Why this provider cannot send ``message``, or ``None`` when it can.

        Aliyun sends only templates registered in its console: a message without a template
        (free text only), a template name missing from ``templates``, or one lacking a
        variable the template's ``params`` lists cannot be rendered. Routing skips this
        provider for such a message before any I/O.
        """
        self.expect_type(message, Sms, "cannot_render", "message")
        name = message.template
        if name is None:
            return "Aliyun sends only registered templates; this message has free text only"
        template = self.settings.templates.get(name)
        if template is None:
            known = ", ".join(sorted(self.settings.templates)) or "none"
            return f"no template named {name!r} in provider {self.name!r} (configured: {known})"
        given = message.params
        missing = [p for p in template.params or () if p not in given]
        if missing:
            return f"template {name!r} needs parameter(s) {', '.join(missing)}"
        return None

    def _render(self, sms: Sms) -> _Rendered:
        why = self.cannot_render(sms)
        if why is not None:
            raise ValidationError(why, field="template")
        if sms.send_at is not None:  # `scheduling` is not declared: the service sends at once
            raise ValidationError("Aliyun cannot schedule a send (no send_at)", field="send_at")
        template: Template = self.settings.templates[sms.template or ""]  # known: cannot_render said so
        params = dict(sms.params)  # strings: the model refuses anything else
        reference = None if sms.reference is None else _build.check_out_id(sms.reference)
        ext = None if sms.ext is None else _build.check_ext(sms.ext)
        return _Rendered(template.code, template.sign_name or self.settings.sign_name, params, ext, reference)

    def _numbers(self, numbers: Sequence[str]) -> list[str]:
        return [_build.check_number(n.strip(), "to") for n in numbers]

    def _now(self) -> dt.datetime:
        now = self.settings.clock()
        if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise ConfigurationError("clock() must return a timezone-aware datetime")
        return now

    def _context(self, now: dt.datetime) -> RequestContext:
        """Where and as whom the next request goes, signed at ``now`` with a fresh nonce."""
        nonce = self.settings.nonce()
        if not (isinstance(nonce, str) and nonce and nonce.isascii() and nonce.isprintable()):
            # it goes out as a header: anything else failed inside httpx, as a bare error
            raise ConfigurationError("nonce() must return a non-empty string of printable ASCII")
        return RequestContext(base_url=self.settings.base_url, key=self.__key, now=now, nonce=nonce)

    def _receipt(
        self, response: httpx.Response, numbers: Sequence[str], now: dt.datetime, ref: str | None
    ) -> Receipt:
        """Read a send reply (inside ``parsing_reply``). The signing time becomes
        ``accepted_at``: ``QuerySendDetails`` needs the send's China date to find it."""
        receipt = _parse.parse_send_reply(
            response.content,
            status_code=response.status_code,
            provider=self.name,
            recipients=numbers,
            retry_after=response.headers.get("Retry-After"),
        )
        return attrs.evolve(receipt, reference=ref, accepted_at=now)

    # --- send ------------------------------------------------------------------------------------

    def send(self, sms: Sms) -> Flow[Receipt]:
        """``SendSms``: one template to one or more numbers (comma list, ``max_recipients`` per
        request; more go out in several requests whose receipts are combined).

        :raises ValidationError: before any I/O: free text only, an unknown template, a missing
            parameter, a ``send_at``, a number, ``ext`` or reference the service cannot take.
        :raises PartialSendError: a later request failed after earlier ones were accepted.
        """
        self.expect_type(sms, Sms, "send", "sms")
        rendered = self._render(sms)
        numbers = self._numbers(sms.to)
        size = self.settings.max_recipients
        chunks = [(numbers[i : i + size], list(sms.to[i : i + size])) for i in range(0, len(numbers), size)]
        log.debug("%s: SendSms to %d number(s) in %d request(s)", self.name, len(numbers), len(chunks))

        def send_chunk(chunk: tuple[list[str], list[str]]) -> Flow[Receipt]:
            now = self._now()
            response = yield _build.build_send_sms(
                self._context(now),
                phone_numbers=chunk[0],
                sign_name=rendered.sign_name,
                template_code=rendered.code,
                params=rendered.params,
                out_id=rendered.reference,
                ext=rendered.ext,
            )
            with parsing_reply(response):
                return self._receipt(response, chunk[0], now, rendered.reference)

        receipts = yield from send_in_parts(
            chunks,
            send_chunk,
            pending=lambda rest: [attrs.evolve(sms, to=[n for _, given in rest for n in given])],
        )
        return Receipt.combine(receipts)

    # --- batch -----------------------------------------------------------------------------------

    def _lines(self, messages: Sequence[Sms]) -> list[_Line]:
        lines: list[_Line] = []
        for index, sms in enumerate(messages):
            if not isinstance(sms, Sms):
                raise ValidationError(f"{_which(index)} is not an Sms", field="messages")
            try:
                rendered = self._render(sms)
                numbers = self._numbers(sms.to)
            except ValidationError as exc:
                raise ValidationError(f"{_which(index)}: {exc.message}", field=exc.field) from None
            lines.extend(_Line(index, number, rendered) for number in numbers)
        if not lines:
            raise ValidationError("send_batch needs at least one message", field="messages")
        return lines

    def _groups(self, lines: Sequence[_Line]) -> list[list[_Line]]:
        """Order-preserving split: a new request where the template or reference changes, or
        after ``max_batch`` numbers."""
        groups: list[list[_Line]] = []
        for line in lines:
            last = groups[-1] if groups else None
            if last is None or last[0].key != line.key or len(last) >= self.settings.max_batch:
                groups.append([line])
            else:
                last.append(line)
        return groups

    def _send_group(self, group: Sequence[_Line]) -> Flow[Receipt]:
        now = self._now()
        code, reference = group[0].key
        response = yield _build.build_send_batch_sms(
            self._context(now), template_code=code, entries=[line.entry() for line in group], out_id=reference
        )
        with parsing_reply(response):
            return self._receipt(response, [line.original for line in group], now, reference)

    @staticmethod
    def _pending(messages: Sequence[Sms], groups: Sequence[Sequence[_Line]]) -> list[Sms]:
        """The messages (or parts of messages) behind the lines of ``groups``, in order."""
        by_index: dict[int, list[str]] = {}
        for group in groups:
            for line in group:
                by_index.setdefault(line.index, []).append(line.original)
        out = []
        for index, numbers in by_index.items():
            sms = messages[index]
            out.append(sms if len(numbers) == len(sms.to) else attrs.evolve(sms, to=numbers))
        return out

    def send_batch(self, messages: Sequence[Sms]) -> Flow[list[Receipt]]:
        """``SendBatchSms``: personalised parameters (and sign names) per number.

        A message with several numbers becomes one entry per number. Entries go out in order,
        ``max_batch`` per request, and a new request starts where the template or the
        reference (one ``OutId`` per request) changes. One receipt per request.

        :raises ValidationError: before any I/O (the message index is named).
        :raises PartialSendError: a request failed after earlier ones were accepted.
        """
        self.expect_batch(messages)
        lines = self._lines(messages)
        groups = self._groups(lines)
        log.debug("%s: SendBatchSms of %d number(s) in %d request(s)", self.name, len(lines), len(groups))
        return (
            yield from send_in_parts(
                groups, self._send_group, pending=lambda rest: self._pending(messages, rest)
            )
        )

    # --- query_status ----------------------------------------------------------------------------

    def _targets(self, receipt: Receipt) -> list[tuple[str, str, dt.date]]:
        """(BizId, number, China send date) for every number this provider accepted."""
        if not isinstance(receipt, Receipt):
            raise ValidationError("query_status needs a Receipt", field="receipt")
        parts = [p for p in (receipt.parts or (receipt,)) if p.provider == self.name]
        if not parts:
            raise ValidationError(f"the receipt holds no send of provider {self.name!r}", field="receipt")
        today = self._now().astimezone(_parse.CHINA).date()
        targets: list[tuple[str, str, dt.date]] = []
        for part in parts:
            if not part.recipients:
                raise ValidationError("the receipt lists no recipients to look up", field="receipt")
            day = today if part.accepted_at is None else part.accepted_at.astimezone(_parse.CHINA).date()
            targets.extend((part.task_id, number, day) for number in self._numbers(part.recipients))
        return targets

    def _query(self, biz_id: str | None, number: str, day: dt.date) -> Flow[list[DeliveryReport]]:
        found: list[DeliveryReport] = []
        page = 1
        while True:
            response = yield _build.build_query_send_details(
                self._context(self._now()), phone_number=number, send_date=day, biz_id=biz_id, page=page
            )
            with parsing_reply(response):
                result = _parse.parse_query_reply(
                    response.content,
                    status_code=response.status_code,
                    provider=self.name,
                    biz_id=biz_id,
                    retry_after=response.headers.get("Retry-After"),
                )
            found.extend(result.reports)
            if not result.reports or len(found) >= result.total:
                return found
            page += 1

    def query_status(self, receipt: Receipt) -> Flow[list[DeliveryReport]]:
        """``QuerySendDetails``: the current report of every number of ``receipt``.

        Looks each number up by its number, the China date of the send (from
        ``receipt.accepted_at``; today when it is unset) and its ``BizId``, page by page. ``SendStatus`` 3
        is delivered, 2 failed, 1 still pending. The service keeps 30 days of records.
        """
        targets = self._targets(receipt)
        reports: list[DeliveryReport] = []
        for biz_id, number, day in targets:
            reports.extend((yield from self._query(biz_id, number, day)))
        return reports

    def find_reference(
        self, mobile: str, reference: str, *, sent_on: dt.date | dt.datetime | None = None
    ) -> Flow[list[DeliveryReport]]:
        """Settle an uncertain send: the reports of the messages to ``mobile`` whose ``OutId``
        is ``reference``, sent on ``sent_on`` (a China date, or an aware datetime converted
        to one; default today in China).

        After an :class:`~smsgate.exceptions.UncertainOutcomeError` the ``BizId`` never
        arrived, so this asks ``QuerySendDetails`` for every message to the number that day
        and keeps those carrying the reference. A report means Aliyun accepted the message (do
        not send it again); none means it did not reach Aliyun, at least not that day. Run it
        like any flow: ``smsgate.run_flow(provider.find_reference(...), client)``.
        """
        number = _build.check_number(mobile.strip() if isinstance(mobile, str) else mobile, "mobile")
        wanted = _build.check_out_id(reference)
        if isinstance(sent_on, dt.datetime):
            if sent_on.utcoffset() is None:
                raise ValidationError("sent_on must be timezone-aware (or a date)", field="sent_on")
            day = sent_on.astimezone(_parse.CHINA).date()
        elif isinstance(sent_on, dt.date):
            day = sent_on
        elif sent_on is None:
            day = self._now().astimezone(_parse.CHINA).date()
        else:
            raise ValidationError("sent_on must be a date or an aware datetime", field="sent_on")
        reports = yield from self._query(None, number, day)
        return [r for r in reports if r.reference == wanted]

    # --- pushes ----------------------------------------------------------------------------------

    def parse_callback(
        self, body: bytes, content_type: str | None = None
    ) -> list[DeliveryReport | InboundMessage]:
        """Parse a report push (``SmsReport``) or an inbound push (``SmsUp``): a JSON array.

        ``content_type`` is not needed: both pushes are JSON. A body that is not a valid push
        raises :class:`ValidationError`, and so does one that is no bytes (a decoded ``str``,
        ``None``).
        """
        try:
            return list(_push.parse_push(self.push_body(body), provider=self.name))
        except ValidationError as exc:
            # A push does not come through a flow driver: this is where it meets its provider.
            exc.provider = exc.provider or self.name
            raise

    def callback_reply(self, ok: bool) -> CallbackReply:
        """``{"code":0,"msg":"成功"}`` once stored; otherwise a refusal the service retries."""
        return _push.push_reply(ok)


def _which(index: int) -> str:
    """How a refusal names message ``index`` of a batch: counted from 1, as the router counts."""
    return f"message {index + 1} of the batch"
