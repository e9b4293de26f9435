"""What every endpoint family shares: reading a request's parameters, the call being
answered (which becomes its inspection-log entry), the checks of a send, and the
``<returnsms>`` replies.

Request decoding is as tolerant as the real gateway (wire notes §7: GET, urlencoded or
multipart bodies, query and form mixed with the query winning, case-insensitive parameter
names, raw UTF-8 in urlencoded bodies, plain or MD5 passwords) and the checks are as strict
(chapter 9 codes for every refusal). Replies are built with format strings: the plain send is
the hot path and must stay cheap (thousands of requests per second).
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from binascii import a2b_qp
from collections.abc import Awaitable, Callable
from time import time as _seconds
from typing import Any, Literal
from urllib.parse import unquote

import attrs
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .._codes import MSG_AUTH_EMPTY, MSG_AUTH_WRONG, ResultCode, code
from .._config import Account
from .._log import INJECTED_KEY, Injected, Outcome
from .._state import (
    CHINA,
    XML_DECLARATION,
    Login,
    SandboxState,
    SendLogin,
    SendSettings,
    Submission,
    _system_clock,
)

__all__ = [
    "GBK_TYPE",
    "JSON_TYPE",
    "XML_TYPE",
    "Call",
    "Handler",
    "Reply",
    "ReplyFormat",
    "auth_message",
    "check_ext_and_time",
    "check_mobiles",
    "check_text",
    "form_params",
    "injected_of",
    "json_bytes",
    "read_params",
    "refuse_send",
    "returnsms",
    "send_outcome",
    "send_reply",
    "split_mobiles",
    "submit_send",
    "valid_mobile",
]

XML_TYPE = "text/xml; charset=utf-8"
GBK_TYPE = "text/xml; charset=gb2312"
JSON_TYPE = "application/json; charset=utf-8"
_GBK_DECLARATION = '<?xml version="1.0" encoding="gb2312" ?>'

# spec 1.2: content + 【signature】; the signature may also lead, as gateways accept both.
_SIGNATURE = re.compile(r"^【[^【】]+】|【[^【】]+】$")

#: An endpoint: answers one request against the sandbox's state.
Handler = Callable[[Request, SandboxState], Awaitable[Response]]
#: The reply format of a ``<returnsms>`` endpoint.
ReplyFormat = Literal["xml", "gbk", "json"]

_OK = code("OK")


# -- request reading -------------------------------------------------------------------------


def _unquote(text: str, encoding: str) -> str:
    """``urllib.parse.unquote(text, encoding, "replace")``, the common case (ASCII text, every
    ``%`` an escape) decoded in C: urllib's pure-Python byte loop was a third of a plain send's
    time in the sandbox. Anything else goes to urllib itself."""
    if "%" not in text:
        return text
    if not text.isascii():
        return unquote(text, encoding, "replace")
    # Quoted-printable spells an escape "=XX" where a URL spells it "%XX", and a2b_qp reads
    # it with the same hex digits, in C, with no text grown for it. Where the two readings
    # part, the text is left to escape_decode below: a "=", CR or LF in the text (a2b_qp's own
    # escape character and soft line breaks), a "%" at its end (a2b_qp drops it), and any
    # "=" in what a2b_qp gives (an escape it did not read: "%%", "%4", "%zz"; or a "%3D").
    if "=" not in text and "\r" not in text and "\n" not in text and text[-1] != "%":
        decoded: bytes = a2b_qp(text.replace("%", "="))
        if decoded.find(b"=") < 0:
            return decoded.decode(encoding, "replace")
    # Every escape becomes \xNN, every backslash \\: escape_decode reads them back as bytes,
    # and refuses a "%" that starts no escape (a \x without two hex digits), which urllib keeps.
    # (Replaced in bytes: a third cheaper than in the str.)
    escaped = text.encode("ascii")
    if "\\" in text:  # (asked of the str: "in" on bytes first tries the needle as an int)
        escaped = escaped.replace(b"\\", b"\\\\")
    try:
        raw: bytes = codecs.escape_decode(escaped.replace(b"%", b"\\x"))[0]
    except ValueError:
        return unquote(text, encoding, "replace")
    return raw.decode(encoding, "replace")


def _form_pairs(text: str, encoding: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True, encoding=encoding,
    errors="replace")``, with the escapes decoded by :func:`_unquote`."""
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "%" in name or "+" in name:
                name = _unquote(name.replace("+", " "), encoding)
            if "%" in value or "+" in value:
                value = _unquote(value.replace("+", " "), encoding)
            pairs.append((name, value))
    return pairs


def _merge_pairs(target: dict[str, str], raw: bytes, encoding: str) -> None:
    """Add the pairs of the urlencoded ``raw`` (decoded in ``encoding``, errors replaced,
    then read as :func:`_form_pairs` reads them) to ``target`` by lower-cased name: ASP.NET
    collections are case-insensitive, and the first value of a repeated name is kept. One
    loop, no list of pairs: every plain send reads its form so.

    The bytes are split before they are decoded, each pair on its own: the same text, as
    ``&`` is one byte that is never part of a character in UTF-8 or GBK (and a broken
    character before it is replaced alike). A pair met before is looked up, not read again:
    a client's requests repeat most of their pairs (``action``, ``account``, ``password``,
    ``userid``, empty ``extno``), so the pairs as they came, up to :data:`_PAIR_BYTES` bytes,
    are remembered with their lower-cased name and decoded value, per encoding, up to
    :data:`_PAIRS_LIMIT` of them (the first ones met stay: a client making up pairs cannot
    grow it past the limit, nor push the others out)."""
    known = _PAIRS.get(encoding)
    if known is None:
        known = _PAIRS.setdefault(encoding, {})
    lookup = known.get
    for part in raw.split(b"&"):
        pair = lookup(part)
        if pair is None:
            if not part:
                continue
            pair = _read_pair(part.decode(encoding, "replace"), encoding)
            if len(part) <= _PAIR_BYTES and len(known) < _PAIRS_LIMIT:
                known[part] = pair
        target.setdefault(pair[0], pair[1])


def _read_pair(part: str, encoding: str) -> tuple[str, str]:
    """The lower-cased name and the value of one ``name=value`` pair of a form."""
    name, _, value = part.partition("=")
    if "%" in part or "+" in part:  # most pairs need no unquoting
        if "%" in name or "+" in name:
            name = _unquote(name.replace("+", " "), encoding)
        if "%" in value or "+" in value:
            value = _unquote(value.replace("+", " "), encoding)
    return name.lower(), value


#: The pairs :func:`_merge_pairs` met, as they came, by encoding: their lower-cased name and
#: decoded value. Bounded: at most ``_PAIRS_LIMIT`` pairs an encoding, each at most
#: ``_PAIR_BYTES`` bytes long.
_PAIRS: dict[str, dict[bytes, tuple[str, str]]] = {}
_PAIRS_LIMIT = 1024
_PAIR_BYTES = 512


def _with_charset(request: Request, encoding: str) -> Request:
    """``request`` with the endpoint's ``encoding`` as the multipart charset when the client
    declares none: Starlette reads undeclared multipart fields as UTF-8, while ASP.NET reads
    them in the site's request encoding (GBK on smsGBK.aspx), as it reads an urlencoded form."""
    content_type = request.headers.get("content-type", "")
    if encoding == "utf-8" or "charset=" in content_type.lower():
        return request
    headers = [(name, value) for name, value in request.scope["headers"] if name.lower() != b"content-type"]
    headers.append((b"content-type", f"{content_type}; charset={encoding}".encode("latin-1")))
    return Request({**request.scope, "headers": headers}, request.receive)


async def _read_multipart(request: Request, encoding: str, form: dict[str, str]) -> None:
    async with _with_charset(request, encoding).form() as parsed:
        for key, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                text = (await value.read()).decode(encoding, "replace")
            else:
                text = value
            form.setdefault(key.lower(), text)


def _with_query(
    form: dict[str, str], style: str, raw_query: bytes, encoding: str
) -> tuple[dict[str, str], str]:
    """``form`` with the query string's parameters over it (the query wins), and ``style``
    saying so."""
    if not raw_query:
        return form, style
    query: dict[str, str] = {}
    _merge_pairs(query, raw_query, encoding)
    form.update(query)
    return form, style if style == "query" else style + "+query"


def form_params(body: bytes, raw_query: bytes, encoding: str = "utf-8") -> tuple[dict[str, str], str]:
    """:func:`read_params` for a request that is no multipart form, from its urlencoded
    ``body`` (empty for a GET) and its raw query string."""
    if not body:
        return _with_query({}, "query", raw_query, encoding)
    form: dict[str, str] = {}
    _merge_pairs(form, body, encoding)
    if not raw_query:  # (what _with_query answers, without its frame)
        return form, "urlencoded"
    return _with_query(form, "urlencoded", raw_query, encoding)


async def read_params(request: Request, encoding: str = "utf-8") -> tuple[dict[str, str], str]:
    """The request's parameters with lower-cased names, and how they came (for the log).

    The query wins over the form (wire notes §7: ASP.NET ``Request[...]`` looks in the query
    string first). Urlencoded bodies are decoded before unquoting so raw, un-percent-encoded
    UTF-8 (or GBK on smsGBK.aspx) survives; multipart fields are read in ``encoding`` too,
    unless the client declares a charset. Only a POST's body is read."""
    raw_query: bytes = request.scope.get("query_string", b"")
    if request.method != "POST":
        return form_params(b"", raw_query, encoding)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form: dict[str, str] = {}
        await _read_multipart(request, encoding, form)
        return _with_query(form, "multipart", raw_query, encoding)
    return form_params(await request.body(), raw_query, encoding)


def injected_of(request: Request) -> Injected | None:
    """What the fault middleware did to this request, when it still lets the app answer it."""
    injected: Injected | None = request.scope.get(INJECTED_KEY)
    return injected


@attrs.define
class Call:
    """One gateway request being answered: what its inspection-log entry will say.

    A handler fills it in as it reads the request (``fields`` in the order the log shows
    them); :meth:`finish` freezes it into a :class:`~smsgate_ipyy.sandbox._log.RequestEntry`
    and logs it, once, with the answer given. ``injected`` is what a fault rule did to the
    request (see :func:`injected_of`)."""

    state: SandboxState
    endpoint: str
    method: str
    encoding: str
    action: str = ""
    account: str = ""
    password_style: str | None = None
    fields: dict[str, Any] = attrs.field(factory=dict)
    injected: Injected | None = None

    @classmethod
    async def read(
        cls, request: Request, state: SandboxState, endpoint: str, encoding: str = "utf-8"
    ) -> tuple[Call, dict[str, str]]:
        """The call of a form endpoint, with the request's parameters (see :func:`read_params`)."""
        params, style = await read_params(request, encoding)
        call = cls.of(state, endpoint, request.method, params, style=style, injected=injected_of(request))
        return call, params

    @classmethod
    def of(
        cls,
        state: SandboxState,
        endpoint: str,
        method: str,
        params: dict[str, str],
        *,
        style: str,
        injected: Injected | None,
    ) -> Call:
        """The call of a form endpoint whose parameters were read (``style`` says how)."""
        # every field given, in order: no keywords to match
        return cls(
            state,
            endpoint,
            method,
            style,
            params.get("action", ""),
            params.get("account", ""),
            None,
            {},
            injected,
        )

    def login(self, account: str, password: str) -> Login:
        """Check the login (noting how the password came); see ``SandboxState.check_login``."""
        login = self.state.check_login(account, password)
        self.password_style = login.password_style
        return login

    def login_sender(self, account: str, password: str) -> SendLogin:
        """:meth:`login` for a send that needs only the account's settings (see
        ``SandboxState.check_sender``)."""
        login = self.state.check_sender(account, password)
        self.password_style = login.password_style
        return login

    def log(self, outcome: Outcome | ResultCode, task_id: str = "") -> None:
        """Log the call with an ``outcome`` that may be no gateway result (an HTTP 404, a
        fault's reply), or with a result code and the task id of an accepted send."""
        state = self.state
        clock = state.clock  # the system clock's reading as seconds (see RawEntry)
        state.log_raw(
            (
                _seconds() if clock is _system_clock else clock(),
                self.endpoint,
                self.method,
                self.encoding,
                self.action,
                self.account,
                self.password_style,
                self.fields,
                outcome,
                task_id,
                self.injected,
            )
        )

    #: ``finish(result, task_id="")``: log the call with the result it was answered with
    #: (:meth:`log` itself, without a frame of its own: every request is logged so).
    finish = log


# -- checks of a send ------------------------------------------------------------------------


def split_mobiles(raw: str) -> list[str]:
    """spec 1.2: numbers separated by half-width commas; a trailing comma is common and harmless."""
    if "," not in raw:  # one number, the usual case
        item = raw.strip()
        return [item] if item else []
    return [item.strip() for item in raw.split(",") if item.strip()]


def valid_mobile(mobile: str) -> bool:
    """A mainland mobile number: 11 ASCII digits starting with 1."""
    return len(mobile) == 11 and mobile.isascii() and mobile.isdigit() and mobile[0] == "1"


def check_mobiles(state: SandboxState, mobiles: list[str]) -> str | None:
    """The refusal (a result-code name) of a send's recipient list, or ``None``."""
    if not mobiles:
        return "MsisdnEmpty"
    if len(mobiles) == 1:  # the usual case: valid_mobile inline, no map of calls
        mobile = mobiles[0]
        if not (len(mobile) == 11 and mobile.isascii() and mobile.isdigit() and mobile[0] == "1"):
            return "MsisdnError"
    elif not all(map(valid_mobile, mobiles)):
        return "MsisdnError"
    if len(mobiles) > state.config.max_recipients:
        return "MsisdnsMany"
    return None


def check_text(state: SandboxState, account: Account | SendSettings, text: str) -> str | None:
    """The refusal of an SMS text (empty, too long, no 【signature】 where one is needed), or ``None``."""
    if not text:
        return "ContentEmpty"
    if len(text) > state.config.max_content_length:
        return "ContentLong"
    if account.require_signature and not signed(text.strip()):
        return "RequiredSuffix"
    return None


def signed(text: str) -> bool:
    """Whether ``text`` starts or ends with a 【signature】 (``bool(_SIGNATURE.search(text))``
    for a stripped ``text``, which ends in no newline, without the search: it tried the
    second branch at every position of the text)."""
    if text.endswith("】"):
        # ...【 then one or more characters that are neither bracket, then the final 】
        _, opened, inner = text[:-1].rpartition("【")
        if opened and inner and "】" not in inner:
            return True
    if text.startswith("【"):
        # the first 】 closes one or more characters that are neither bracket
        inner, closed, _ = text[1:].partition("】")
        if closed and inner and "【" not in inner:
            return True
    return False


def check_ext_and_time(
    account: Account | SendSettings, ext: str, send_time: str
) -> tuple[str | None, dt.datetime | None]:
    """The refusal of ``extno`` (spec 1.2: digits only, at most 5, and only where the
    account allows it) or ``sendtime`` (``yyyy-MM-dd HH:mm:ss`` China time), else ``None``
    and the scheduled time (``None``: now)."""
    if ext and (len(ext) > 5 or not ext.isascii() or not ext.isdigit() or not account.extno_allowed):
        return "ExtNumberError", None
    if not send_time:
        return None, None
    try:
        return None, dt.datetime.strptime(send_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return "ParamError", None


def auth_message(refusal: str) -> str:
    """spec 3.4 / 7.3: the words the balance and password replies give a refused login."""
    return MSG_AUTH_EMPTY if refusal in ("UserNameEmpty", "PasswordEmpty") else MSG_AUTH_WRONG


# -- replies ---------------------------------------------------------------------------------


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as the gateway writes it)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Reply(Response):
    """A 200 reply with the headers ``Response(body, media_type=...)`` makes for a media type
    that names its charset (Content-Length, then Content-Type), made directly: every plain
    send answers with one."""

    status_code = 200  # (the class's: two attributes fewer set per reply)
    background = None

    def __init__(self, body: bytes, content_type: bytes) -> None:
        self.body = body
        self.raw_headers = [(b"content-length", b"%d" % len(body)), (b"content-type", content_type)]


_CONTENT_TYPES = {"xml": XML_TYPE.encode("latin-1"), "gbk": GBK_TYPE.encode("latin-1")}
_CONTENT_TYPES["json"] = JSON_TYPE.encode("latin-1")


def _xml_reply(fmt: ReplyFormat, rows: str) -> Response:
    """The ``<returnsms>`` document of ``rows`` (one element a line), GB2312-declared and
    GBK-encoded on smsGBK.aspx."""
    if fmt == "gbk":
        return Reply(
            f"{_GBK_DECLARATION}\n<returnsms>\n{rows}</returnsms>\n".encode("gbk"), _CONTENT_TYPES["gbk"]
        )
    return Reply(f"{XML_DECLARATION}\n<returnsms>\n{rows}</returnsms>\n".encode(), _CONTENT_TYPES["xml"])


def returnsms(fmt: ReplyFormat, fields: dict[str, str]) -> Response:
    """A ``<returnsms>`` reply in the endpoint's format: JSON with every value quoted, or XML
    with one element per line (GB2312-declared and GBK-encoded on smsGBK.aspx)."""
    if fmt == "json":
        return Reply(json_bytes(fields), _CONTENT_TYPES["json"])
    return _xml_reply(fmt, "".join(f"\t<{name}>{value}</{name}>\n" for name, value in fields.items()))


def send_reply(
    fmt: ReplyFormat, result: ResultCode, remaining: int = 0, task_id: str = "", count: int = 0
) -> Response:
    """spec 1.3 / 1.4 and wire notes §4: ``Success`` or ``Faild``; on failure taskID is
    empty and the numbers are ``0``; JSON quotes every value. (:func:`returnsms` of these
    five fields, spelled out: the plain send's reply.)"""
    status = "Success" if result.name == "OK" else "Faild"
    if fmt == "json":
        fields = {
            "returnstatus": status,
            "message": result.message,
            "remainpoint": str(remaining),
            "taskID": task_id,
            "successCounts": str(count),
        }
        return Reply(json_bytes(fields), _CONTENT_TYPES["json"])
    if type(remaining) is not int or type(count) is not int:  # spelled as str() spells them
        return _xml_reply(
            fmt,
            f"\t<returnstatus>{status}</returnstatus>\n\t<message>{result.message}</message>\n"
            f"\t<remainpoint>{remaining}</remainpoint>\n\t<taskID>{task_id}</taskID>\n"
            f"\t<successCounts>{count}</successCounts>\n",
        )
    # The reply less its three numbers (the same for every reply of this result) is encoded
    # once, as a bytes template; only the numbers are spelled per reply. The encodings are
    # stateless and spell digits as ASCII: the template's bytes and the numbers' are the
    # whole reply's.
    key = (fmt, status, result.message)
    template = _SEND_TEMPLATES.get(key)
    if template is None:
        rows = f"\t<returnstatus>{status}</returnstatus>\n\t<message>{result.message}</message>\n"
        template = _xml_head(fmt, rows).replace(b"%", b"%%") + _SEND_TAIL
        if len(_SEND_TEMPLATES) < _SEND_TEMPLATES_LIMIT:
            _SEND_TEMPLATES[key] = template
    return Reply(
        template % (remaining, task_id.encode("gbk" if fmt == "gbk" else "utf-8"), count), _CONTENT_TYPES[fmt]
    )


#: The bytes templates of send replies by (format, status, message): a few dozen at most (one
#: per result code), bounded all the same. The numbers go in with ``%``.
_SEND_TEMPLATES: dict[tuple[str, str, str], bytes] = {}
_SEND_TEMPLATES_LIMIT = 512
_SEND_TAIL = (
    b"\t<remainpoint>%d</remainpoint>\n\t<taskID>%s</taskID>\n\t<successCounts>%d</successCounts>\n"
    b"</returnsms>\n"
)


def _xml_head(fmt: ReplyFormat, rows: str) -> bytes:
    """What :func:`_xml_reply` makes of ``rows`` up to (not including) ``</returnsms>``."""
    if fmt == "gbk":
        return f"{_GBK_DECLARATION}\n<returnsms>\n{rows}".encode("gbk")
    return f"{XML_DECLARATION}\n<returnsms>\n{rows}".encode()


def refuse_send(call: Call, fmt: ReplyFormat, refusal: str) -> Response:
    """Log the call as refused with ``refusal`` (a result-code name) and answer it so."""
    result = code(refusal)
    call.finish(result)
    return send_reply(fmt, result)


def send_outcome(call: Call, fmt: ReplyFormat, submitted: Submission) -> Response:
    """Log and answer a send the state accepted (task id, balance left) or refused."""
    if submitted.refusal:
        return refuse_send(call, fmt, submitted.refusal)
    call.finish(_OK, submitted.task_id)
    return send_reply(fmt, _OK, submitted.remaining, submitted.task_id, submitted.accepted)


def submit_send(
    call: Call,
    fmt: ReplyFormat,
    account: Account | SendSettings,
    kind: Literal["sms", "mms"],
    mobiles: list[str],
    *,
    ext: str,
    send_time: str,
) -> Response:
    """The last steps of every form send: check ``extno`` and ``sendtime``, charge and queue
    the send, then log and answer it."""
    send_at = None  # (check_ext_and_time's answer to an empty extno and sendtime)
    if ext or send_time:
        refusal, send_at = check_ext_and_time(account, ext, send_time)
        if refusal:
            return refuse_send(call, fmt, refusal)
    return send_outcome(call, fmt, call.state.submit(account.account, kind, mobiles, ext, send_at))
