"""Fault injection for the sandbox: an ASGI middleware that makes the gateway misbehave on purpose.

Tests of retry, failover and the "uncertain outcome" rules need a gateway that is slow, fails,
hangs, drops connections or answers nonsense — over a real socket, so the client's own
transport code is exercised. Each fault is a *rule*; rules come from the config file
(``[[faults]]`` tables in the TOML, i.e. ``SandboxConfig.faults``), from Python
(:meth:`Sandbox.set_fault <smsgate_ipyy.sandbox.Sandbox.set_fault>`) or at runtime over HTTP
through the admin endpoint ``/_sandbox/faults``.

Rule format (a JSON object / TOML table / keyword arguments)::

    kind         one of the kinds below (required)
    path         endpoint path such as "/sms.aspx" (case-insensitive, query ignored; a request
                 for "//sms.aspx" matches too) or "*" for every gateway endpoint; default "*".
                 Admin paths under /_sandbox/ are never faulted.
    probability  0.0–1.0, default 1.0; drawn from random.Random(seed), so a run is repeatable
    times        apply this many times, then the rule expires; default: no limit
    seconds      latency: seconds added before the real reply (default 1.0);
                 hang: upper bound of the wait before the sandbox gives up (default 60.0)
    status       status: the HTTP status sent (default 500; 400–599)
    body         outage / status / garbage: the body sent instead of the default
    code         vendor: the result code of the failure reply, by chapter 9 number or by name
                 (default 9999 InternalError; 1111 / "AmountNotEnough" is the other useful one)

Kinds, and what the client sees:

``outage``    HTTP 503 with IIS's "Service Unavailable" page; the request never reaches the
              gateway logic. The client reads 503 as a provider outage (nothing was sent), so
              this is the fault that shows a retry and a failover.
``latency``   the real reply, ``seconds`` later.
``status``    HTTP ``status`` with a short plain-text body; the request never reaches the gateway
              logic (nothing is sent, no balance used). Only 503 and 429 tell the client so: the
              default 500 (and any other 5xx) is an uncertain outcome to the smsgate client,
              which neither retries nor fails over.
``hang``      the request is read (and not acted on) and no reply ever comes: the client's read timeout fires.
              The sandbox waits until the client disconnects, ``seconds`` pass, or it shuts down.
``drop``      the gateway reads the whole request and acts on it (a send is made, balance is
              used), then the response is started and the connection closed: the client sees a
              protocol error (httpx ``RemoteProtocolError``) and cannot know the outcome.
``garbage``   HTTP 200 with a body that is neither XML nor JSON.
``truncate``  the real reply (the gateway *did* act on the request) with its body cut in half,
              sent as a complete HTTP response.
``vendor``    the gateway's own failure reply for ``code``, in the endpoint's format (XML,
              GBK XML, quoted JSON, ensms JSON, pull ``errorstatus``, SOAP ``SendResult``).

At most one rule applies to a request: the rules are tried in the order they were added and the
first whose path matches and whose probability draw succeeds wins. The draw is made only for
rules with a probability below 1, so adding an always-on rule does not shift a seeded sequence.

Admin endpoint (JSON): ``GET /_sandbox/faults`` lists the rules (with the ``remaining`` count of
``times`` rules); ``POST`` adds one rule (an object) or several (a list) and answers the new list;
``DELETE`` removes every rule. ``POST /_sandbox/reset`` (the app's reset) also puts the rules back
to the config file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from ._codes import CODES, PULL_ERRORS, PULL_JSON_ERRORS, PULL_XML_ERRORS, ResultCode
from ._log import INJECTED_KEY, Injected, Outcome
from ._paths import collapse_slashes

__all__ = ["FAULT_KINDS", "FaultLog", "FaultMiddleware", "FaultRule", "FaultSet"]

FaultKind = Literal["outage", "latency", "status", "hang", "drop", "garbage", "truncate", "vendor"]
#: Every kind a rule may have.
FAULT_KINDS: Final = frozenset(
    {"outage", "latency", "status", "hang", "drop", "garbage", "truncate", "vendor"}
)

ADMIN_PATH: Final = "/_sandbox/faults"
RESET_PATH: Final = "/_sandbox/reset"
_ADMIN_PREFIX: Final = "/_sandbox/"
# IIS's answer when the application pool is down (HTTP 503).
_OUTAGE: Final = (
    b"<html><body><h1>Service Unavailable</h1>"
    b"<p>HTTP Error 503. The service is unavailable.</p></body></html>"
)
_GARBAGE: Final = b"\x00\x1b[?garbage from the sandbox: <not xml> {not json}\xff\xfe"
_XML_DECL: Final = '<?xml version="1.0" encoding="utf-8" ?>'
_GBK_DECL: Final = '<?xml version="1.0" encoding="gb2312" ?>'
_SOAP11_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
_SOAP12_NS: Final = "http://www.w3.org/2003/05/soap-envelope"
# The fields each kind uses, besides kind/path/probability/times.
_KIND_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "latency": ("seconds",),
    "hang": ("seconds",),
    "outage": ("body",),
    "status": ("status", "body"),
    "garbage": ("body",),
    "vendor": ("code",),
    "drop": (),
    "truncate": (),
}
_RULE_KEYS: Final = frozenset({"kind", "path", "probability", "times", "seconds", "status", "body", "code"})

log = logging.getLogger("smsgate_ipyy.sandbox")

# ASGI types kept loose on purpose: the middleware only forwards what it does not touch.
Scope = dict[str, Any]
Message = dict[str, Any]
#: Logs a request a fault answered instead of the app: the scope, the body read, what the
#: fault did and the answer given (see ``smsgate_ipyy.sandbox._app.fault_logger``).
FaultLog = Callable[[Scope, bytes, Injected, Outcome], Awaitable[None]]

# The kinds that let the gateway answer (and act on) the request.
_ACTED: Final = frozenset({"latency", "drop", "truncate"})
# The default seconds of the kinds that wait.
_DEFAULT_SECONDS: Final = {"latency": 1.0, "hang": 60.0}
_UNSEEN: Final = "; the gateway never saw the request"
# What each kind does to a request, for the request log.
_DID: Final = {
    "outage": "answered HTTP 503 Service Unavailable" + _UNSEEN,
    "status": "answered HTTP {status}" + _UNSEEN,
    "garbage": "answered HTTP 200 with garbage, neither XML nor JSON" + _UNSEEN,
    "vendor": "answered the gateway's own failure reply for code {code}" + _UNSEEN,
    "hang": "held the request without a reply, for at most {seconds:g} s" + _UNSEEN,
    "latency": "delayed the gateway's reply by {seconds:g} s",
    "drop": "the gateway acted on the request, then the connection was closed before any reply",
    "truncate": "the gateway acted on the request; its reply was cut in half",
}


def _path_of(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a fault rule's path must be a string, not {value!r}")
    value = value.strip()
    if value == "*":
        return value
    # "sms.aspx?x=1" and "/SMS.aspx" name the same endpoint.
    value = value.split("?", 1)[0].lower()
    return value if value.startswith("/") else "/" + value


def _check_str(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"a fault rule's {attr.name} must be a string, not {value!r}")


def _check_kind(_inst: object, _attr: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; expected one of {sorted(FAULT_KINDS)}")


def _check_probability(_inst: object, _attr: object, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability must be between 0 and 1, got {value!r}")


def _check_times(_inst: object, _attr: object, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"times must be at least 1 when given, got {value!r}")


def _check_status(_inst: object, _attr: object, value: int) -> None:
    if not 400 <= value <= 599:
        raise ValueError(f"status must be an HTTP error status (400-599), got {value!r}")


def result_code(value: int | str) -> ResultCode:
    """The sandbox's :class:`ResultCode` for a chapter 9 number (``1111``) or a name
    (``"AmountNotEnough"``); ``ValueError`` when it is neither."""
    if isinstance(value, str) and not value.strip().isdigit():
        found = CODES.get(value.strip())
    else:
        number = int(value)
        found = next((item for item in CODES.values() if item.number == number), None)
    if found is None:
        raise ValueError(f"unknown result code {value!r}")
    return found


def _check_code(_inst: object, _attr: object, value: int | str) -> None:
    result_code(value)


def _check_seconds(_inst: object, _attr: object, value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"seconds must not be negative, got {value!r}")


@attrs.frozen(kw_only=True)
class FaultRule:
    """One fault: what goes wrong (``kind``), where (``path``), how often (``probability``,
    ``times``). See the module documentation for every field and kind."""

    kind: str = attrs.field(validator=_check_kind)
    path: str = attrs.field(default="*", converter=_path_of)
    probability: float = attrs.field(default=1.0, converter=float, validator=_check_probability)
    times: int | None = attrs.field(default=None, validator=_check_times)
    seconds: float | None = attrs.field(default=None, validator=_check_seconds)
    status: int = attrs.field(default=500, converter=int, validator=_check_status)
    body: str | None = attrs.field(default=None, validator=attrs.validators.optional(_check_str))
    code: int | str = attrs.field(default=9999, validator=_check_code)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a config/admin mapping; unknown keys are an error, so typos show."""
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        if "kind" not in data:
            raise ValueError("a fault rule needs a 'kind'")
        return cls(**dict(data))

    def wait(self) -> float:
        """The seconds a ``latency`` or ``hang`` rule waits (its default when unset)."""
        return _DEFAULT_SECONDS.get(self.kind, 0.0) if self.seconds is None else self.seconds

    def injected(self) -> Injected:
        """What applying this rule does to a request, for the request log."""
        did = _DID[self.kind].format(status=self.status, code=self.code, seconds=self.wait())
        return Injected(self.kind, did, self.kind in _ACTED, self.to_dict())

    def matches(self, path: str) -> bool:
        """True when the rule applies to requests for ``path`` (already lower-cased)."""
        return self.path in ("*", path)

    def to_dict(self) -> dict[str, Any]:
        """The rule as the JSON object the admin endpoint lists: the fields that mean something
        for its kind, unset ones left out."""
        relevant = {"kind", "path", "probability", "times", *_KIND_FIELDS[self.kind]}
        return {
            key: value for key, value in attrs.asdict(self).items() if key in relevant and value is not None
        }


class FaultSet:
    """The active rules and the seeded random source; thread-safe.

    The sandbox's server thread draws from it while tests change it from other threads.
    """

    def __init__(self, rules: Iterable[FaultRule | Mapping[str, Any]] = (), *, seed: int | None = None):
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)  # noqa: S311 - repeatable test faults, not cryptography
        # Each entry: (rule, [remaining applications or None]).
        self._rules: list[tuple[FaultRule, list[int | None]]] = []
        # The configured rules, put back by reset().
        self._initial = [r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules]
        self.reset()

    def add(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Append a rule (a :class:`FaultRule` or its mapping form) and return it."""
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_dict(rule)
        with self._lock:
            self._rules.append((rule, [rule.times]))
        return rule

    def clear(self) -> None:
        """Remove every rule and restart the random sequence from the seed."""
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(self._seed)  # noqa: S311

    def reset(self) -> None:
        """Back to the rules the set was created with (the config file's), with fresh ``times``
        counters and the random sequence restarted from the seed."""
        with self._lock:
            self._rules = [(rule, [rule.times]) for rule in self._initial]
            self._rng = random.Random(self._seed)  # noqa: S311

    def rules(self) -> list[dict[str, Any]]:
        """The active rules as mappings, each with ``remaining`` when it has a ``times`` limit."""
        with self._lock:
            out = []
            for rule, (remaining,) in self._rules:
                item = rule.to_dict()
                if remaining is not None:
                    item["remaining"] = remaining
                out.append(item)
            return out

    def pick(self, path: str) -> FaultRule | None:
        """The rule to apply to one request for ``path`` (lower-cased), consuming one of its
        ``times``; ``None`` when the request should be served normally."""
        if not self._rules:  # no rule: nothing to draw or count (the usual case, lock-free)
            return None
        with self._lock:
            for index, (rule, counter) in enumerate(self._rules):
                if not rule.matches(path):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                remaining = counter[0]
                if remaining is not None:
                    if remaining <= 1:
                        del self._rules[index]
                    else:
                        counter[0] = remaining - 1
                return rule
        return None


class _DropConnection(Exception):
    """Raised after the response started so that uvicorn aborts the connection (fault ``drop``)."""


class _QuietDrops(logging.Filter):
    # uvicorn logs every exception escaping the app as an error; a deliberate drop is not one.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DropConnection)


_quiet_filter = _QuietDrops()


def install_log_filter() -> None:
    """Keep deliberate connection drops out of uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _quiet_filter not in logger.filters:
        logger.addFilter(_quiet_filter)


class FaultMiddleware:
    """ASGI middleware applying the rules of a :class:`FaultSet` and serving ``/_sandbox/faults``.

    Wraps the sandbox application; everything it does not fault is passed through untouched.
    A request the app still answers (``latency``, ``drop``, ``truncate``) carries the rule's
    :class:`~smsgate_ipyy.sandbox._log.Injected` in its scope, for the app's log entry; one
    a fault answers instead of the app is given to ``log``.
    """

    def __init__(self, app: Any, faults: FaultSet, log: FaultLog | None = None) -> None:
        self.app = app
        self.faults = faults
        # Logs the requests a fault answers itself; those the app answers, it logs.
        self.log = log
        install_log_filter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None

    def attach(self) -> asyncio.Event:
        """Bind to the running event loop (called at lifespan startup), so that
        :meth:`release_hung` can reach it from another thread; returns the release event."""
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        return self._release

    def release_hung(self) -> None:
        """Let every request held by a ``hang`` fault end now, and later ones end at once
        (thread-safe; the runner calls it before shutting down)."""
        loop, event = self._loop, self._release
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(event.set)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        # No rule set and no "_" in the path (so not under /_sandbox/, in any case or with
        # any slashes): nothing to do but pass it on (the usual case: one test, no lowering).
        if scope["type"] != "http" or (not self.faults._rules and "_" not in scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        path = (collapse_slashes(path) if "//" in path else path).lower()
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if path == RESET_PATH and scope["method"] == "POST":
            # One reset for everything: the app's state, and the faults back to the config's.
            await self.app(scope, receive, send)
            self.faults.reset()
            return
        # no rule set (the usual case): nothing to pick, as pick() itself finds
        rule = None if not self.faults._rules or path.startswith(_ADMIN_PREFIX) else self.faults.pick(path)
        if rule is None:
            await self.app(scope, receive, send)
            return
        await self._apply(rule, path, scope, receive, send)

    async def _apply(self, rule: FaultRule, path: str, scope: Scope, receive: Any, send: Any) -> None:
        """Answer the request as ``rule`` says, passing it on to the app where the fault needs it."""
        if rule.kind not in _ACTED:
            await self._replace(rule, path, scope, receive, send)
            return
        scope = {**scope, INJECTED_KEY: rule.injected()}
        if rule.kind == "latency":
            await asyncio.sleep(rule.wait())
            await self.app(scope, receive, send)
        elif rule.kind == "truncate":
            await self._truncate(scope, receive, send)
        else:  # drop
            await self.app(scope, receive, _discard)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise _DropConnection("sandbox fault: connection dropped after the request was read")

    async def _replace(self, rule: FaultRule, path: str, scope: Scope, receive: Any, send: Any) -> None:
        """The faults that answer instead of the app, once the request is read: an outage, a
        status, garbage, a vendor code, a hang. The request is logged before the answer."""
        body = await _read_body(receive)
        answer = _answer(rule, path, scope, body)
        outcome = answer[3] if answer is not None else Outcome("no reply", None, "held without a reply")
        if self.log is not None:
            await self._log_safely(scope, body, rule.injected(), outcome)
        if answer is None:  # hang
            await self._hang(receive, send, rule.wait())
        else:
            await _respond(send, *answer[:3])

    async def _log_safely(self, scope: Scope, body: bytes, injected: Injected, outcome: Outcome) -> None:
        if self.log is None:
            return
        try:
            await self.log(scope, body, injected, outcome)
        except Exception:
            # The fault must still answer: a request the log cannot read is only warned about.
            log.warning("sandbox: could not log a faulted request to %s", scope.get("path"), exc_info=True)

    async def _hang(self, receive: Any, send: Any, bound: float) -> None:
        release = self._release
        if release is None or self._loop is not asyncio.get_running_loop():
            release = self.attach()

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        disconnect = asyncio.ensure_future(until_disconnect())
        released = asyncio.ensure_future(release.wait())
        try:
            done, _ = await asyncio.wait(
                {disconnect, released}, timeout=bound, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            disconnect.cancel()
            released.cancel()
        if disconnect not in done:
            # Bound reached or the sandbox is stopping: end the request so no task is left behind.
            await _respond(send, 504, b"sandbox fault: hang ended", b"text/plain; charset=utf-8")

    async def _truncate(self, scope: Scope, receive: Any, send: Any) -> None:
        status = 200
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        whole = b"".join(chunks)
        cut = whole[: len(whole) // 2]
        headers.append((b"content-length", str(len(cut)).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": cut})

    async def _admin(self, scope: Scope, receive: Any, send: Any) -> None:
        method = scope["method"]
        body = await _read_body(receive)
        if method == "DELETE":
            self.faults.clear()
        elif method == "POST":
            try:
                payload = json.loads(body or b"null")
                items = payload if isinstance(payload, list) else [payload]
                # Validate every rule before adding any, so a bad list changes nothing.
                rules = [FaultRule.from_dict(item) for item in items]
            except (ValueError, TypeError) as exc:
                await _json(send, 400, {"error": str(exc)})
                return
            for rule in rules:
                self.faults.add(rule)
        elif method not in ("GET", "HEAD"):
            await _json(send, 405, {"error": f"method {method} not allowed"})
            return
        await _json(send, 200, {"faults": self.faults.rules()})


def _answer(
    rule: FaultRule, path: str, scope: Scope, body: bytes
) -> tuple[int, bytes, bytes, Outcome] | None:
    """The status, body, content type and logged outcome of the reply ``rule`` gives instead of
    the app's; ``None`` for a hang, which gives none."""
    if rule.kind == "outage":
        data = rule.body.encode("utf-8") if rule.body is not None else _OUTAGE
        return 503, data, b"text/html; charset=utf-8", Outcome("HTTP 503", None, "Service Unavailable")
    if rule.kind == "status":
        text = rule.body if rule.body is not None else f"{rule.status} sandbox fault"
        outcome = Outcome(f"HTTP {rule.status}", None, text)
        return rule.status, text.encode("utf-8"), b"text/plain; charset=utf-8", outcome
    if rule.kind == "garbage":
        data = rule.body.encode("utf-8") if rule.body is not None else _GARBAGE
        return 200, data, b"text/html; charset=utf-8", Outcome("HTTP 200", None, "neither XML nor JSON")
    if rule.kind == "vendor":
        data, ctype = vendor_reply(path, scope, body, rule.code)
        result = result_code(rule.code)
        return 200, data, ctype, Outcome(result.name, result.number, result.message)
    return None


async def _discard(message: Message) -> None:
    # The reply the gateway would have sent on a connection that is about to be dropped.
    return None


async def _read_body(receive: Any) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _respond(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, payload: object) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    await _respond(send, status, data, b"application/json; charset=utf-8")


# --- the vendor's own failure replies -------------------------------------------------------------


def _action(scope: Scope, body: bytes) -> str:
    # ASP.NET Request[...]: query string first, then the form; names case-insensitive (notes §7).
    sources: tuple[bytes, bytes] = (scope.get("query_string", b""), body)
    for source in sources:
        pairs = urllib.parse.parse_qsl(source.decode("utf-8", "replace"), keep_blank_values=True)
        for key, value in pairs:
            if key.lower() == "action" and value:
                return value.lower()
    return "send"


def _xml(elements: list[tuple[str, str]]) -> str:
    inner = "\n".join(f"<{name}>{value}</{name}>" for name, value in elements)
    return f"{_XML_DECL}\n<returnsms>\n{inner}\n</returnsms>"


def _quoted_json(elements: list[tuple[str, str]]) -> bytes:
    return json.dumps(dict(elements), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def vendor_reply(path: str, scope: Scope, body: bytes, code: int | str) -> tuple[bytes, bytes]:
    """The gateway's failure reply for result ``code`` on endpoint ``path``: ``(body, content type)``.

    Formats follow the spec and the wire notes: ``Faild`` with an empty ``taskID`` on sends
    (notes §4), the overage shape on ``action=overage`` (spec 3.3), ``errorstatus`` on XML pulls
    (spec 4.4 / 5.4), quoted JSON on the JSON endpoints, unquoted numbers on ensms.ashx (spec 1.5),
    GB2312 on smsGBK.aspx, and a SOAP ``SendResult`` in the caller's SOAP version (spec 8.3).
    """
    result = result_code(code)
    message, number = result.message, result.wire_number
    xml_type = b"text/xml; charset=utf-8"
    json_type = b"application/json; charset=utf-8"
    if path == "/ensms.ashx":
        payload = {
            "StatusCode": number,
            "Description": message,
            "MsgId": "",
            "Amount": 0,
            "SuccessCounts": 0,
            "Errors": [],
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), json_type
    if path in ("/statusjsonapi.aspx", "/calljsonapi.aspx"):
        box = "statusbox" if path == "/statusjsonapi.aspx" else "callbox"
        # spec 4.5 / 5.5: the pulls' own error and remark for the refusals they document
        error, remark = PULL_JSON_ERRORS.get(result.name, (str(number), message))
        data = json.dumps({"error": error, "remark": remark, box: []}, ensure_ascii=False)
        return data.encode("utf-8"), json_type
    if path in ("/statusapi.aspx", "/callapi.aspx"):
        # spec 4.4 / 5.4: XML pulls number their refusals 1-4 with fixed remarks; a code they do
        # not document (9999 …) keeps its chapter 9 number and message.
        pull_number = PULL_XML_ERRORS.get(result.name)
        if pull_number is not None:
            number, message = pull_number, PULL_ERRORS[pull_number]
        text = _xml([("errorstatus", f"\n<error>{number}</error>\n<remark>{message}</remark>\n")])
        return text.encode("utf-8"), xml_type
    if path == "/webservice.asmx":
        return _soap_reply(scope, result)
    if path == "/pwd.aspx":
        return _xml([("returnstatus", "Faild"), ("message", message)]).encode("utf-8"), xml_type
    if _action(scope, body) == "overage":
        elements = [
            ("returnstatus", "Faild"),
            ("message", message),
            ("payinfo", ""),
            ("overage", "0"),
            ("sendTotal", "0"),
        ]
    else:
        elements = [
            ("returnstatus", "Faild"),
            ("message", message),
            ("remainpoint", "0"),
            ("taskID", ""),
            ("successCounts", "0"),
        ]
    if path == "/smsjson.aspx":
        return _quoted_json(elements), json_type
    if path == "/smsgbk.aspx":
        text = _xml(elements).replace(_XML_DECL, _GBK_DECL, 1)
        return text.encode("gbk", "replace"), b"text/xml; charset=gb2312"
    return _xml(elements).encode("utf-8"), xml_type


def _soap_reply(scope: Scope, result: ResultCode) -> tuple[bytes, bytes]:
    headers = {k.lower(): v for k, v in scope.get("headers", [])}
    soap12 = b"application/soap+xml" in headers.get(b"content-type", b"").lower()
    namespace = _SOAP12_NS if soap12 else _SOAP11_NS
    fields = (
        "<SendSmsResult><PayType>0</PayType>"
        f"<StatusCode>{result.name}</StatusCode><Description>{result.message}</Description>"
        "<MsgId></MsgId><SuccessCounts>0</SuccessCounts><BillingCount>0</BillingCount>"
        "<Amount>0</Amount><Balance>0</Balance><BillingAmount>0</BillingAmount><Errors />"
        "</SendSmsResult>"
    )
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{namespace}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        f'<SendSmsResponse xmlns="http://www.yysms.com/">{fields}</SendSmsResponse>'
        "</soap:Body></soap:Envelope>"
    )
    ctype = b"application/soap+xml; charset=utf-8" if soap12 else b"text/xml; charset=utf-8"
    return envelope.encode("utf-8"), ctype
