"""The sandbox as a Starlette app: Dysmsapi's RPC endpoint (``POST /``) and an admin API.

The RPC endpoint answers as the service does: every request's V3 signature is checked by the
sandbox's own verifier, the action is taken from ``x-acs-action``, the parameters from the
query string and the form body, and the reply is the service's JSON (a refusal carries its
``Code`` and ``Message``; gateway refusals such as ``SignatureDoesNotMatch`` come with HTTP
400 or 404, the service's own ``isv.*`` refusals with 200).

Admin API (JSON; only ever bound to loopback):

==========================  ===========================================================
``GET/POST /admin/accounts``  list the accounts (no secrets) / add or replace one
``GET /admin/records``        every message recorded, with its ``BizId`` and status
``POST /admin/settle``        give a message its report (``biz_id``, ``phone_number``,
                              ``outcome``, optional ``err_code``) and push it
``POST /admin/inbound``       push an inbound message for ``key_id`` to its callback
                              (``phone_number``, ``content``, optional ``dest_code``,
                              ``sign_name``, ``sequence_id``: default the sandbox's next)
``GET/POST/DELETE /admin/faults``  list / add / clear fault rules (see ``_faults``)
``GET /admin/pushes``         every push attempt, after the ones under way finished
``GET /admin/dropped``        what was forgotten over the bounds: ``records``, ``nonces``,
                              ``histories`` (``SandboxState.dropped``), ``push_attempts``
                              (after the pushes under way finished)
``POST /admin/reset``         forget records, nonces, faults and pushes
==========================  ===========================================================
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import types
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from smsgate.receiver import ServerThread

from ._faults import DroppedConnection, FaultRule, FaultSet, quiet_drops
from ._push import Pusher
from ._state import (
    DEMO_KEY_ID,
    DEMO_TEMPLATE_NAMES,
    Account,
    Message,
    Record,
    SandboxState,
    VendorError,
    demo_account,
    is_loopback,
    parse_params,
    template_variables,
)
from ._verify import verify_request

__all__ = ["Sandbox"]

VERSION = "2017-05-25"
_MAX_BATCH = 100
_MAX_PAGE = 50
Params = Mapping[str, str]
Handler = Callable[["Sandbox", Account, Params], tuple[dict[str, Any], list[Record]]]


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise VendorError(f"Missing{name}", f"{name} is mandatory for this action.", 400)
    return value


def _json_list(params: Params, name: str) -> list[Any]:
    try:
        value = json.loads(_required(params, name))
    except ValueError as exc:
        raise VendorError("isv.INVALID_JSON_PARAM", f"{name} is not valid JSON") from exc
    if not isinstance(value, list):
        raise VendorError("isv.INVALID_JSON_PARAM", f"{name} must be a JSON array")
    return value


def _int(params: Params, name: str, low: int, high: int) -> int:
    text = _required(params, name)
    if not text.isdigit() or not low <= int(text) <= high:
        raise VendorError("isv.INVALID_PARAMETERS", f"{name} must be {low} to {high}")
    return int(text)


def _batch_messages(params: Params) -> list[Message]:
    phones = _json_list(params, "PhoneNumberJson")
    signs = _json_list(params, "SignNameJson")
    values = (
        _json_list(params, "TemplateParamJson") if params.get("TemplateParamJson") else [{}] * len(phones)
    )
    exts = (
        _json_list(params, "SmsUpExtendCodeJson") if params.get("SmsUpExtendCodeJson") else [""] * len(phones)
    )
    if len(phones) > _MAX_BATCH:
        raise VendorError("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
    if not len(phones) == len(signs) == len(values) == len(exts):
        raise VendorError("isv.INVALID_PARAMETERS", "the JSON arrays differ in length")
    items = [p for p in (*phones, *signs, *exts) if not isinstance(p, str)]
    if items or not all(isinstance(v, dict) for v in values):
        raise VendorError("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    return [
        Message(phone, sign, parse_params(json.dumps(value)), ext)
        for phone, sign, value, ext in zip(phones, signs, values, exts, strict=True)
    ]


def _send_sms(sandbox: Sandbox, account: Account, params: Params) -> tuple[dict[str, Any], list[Record]]:
    numbers = _required(params, "PhoneNumbers").split(",")
    sign = _required(params, "SignName")
    template = _required(params, "TemplateCode")
    values = parse_params(params.get("TemplateParam"))
    ext = params.get("SmsUpExtendCode", "")
    messages = [Message(number, sign, values, ext) for number in numbers]
    biz_id, records = sandbox.state.send(account, messages, template, params.get("OutId", ""))
    return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": _request_id()}, records


def _send_batch_sms(
    sandbox: Sandbox, account: Account, params: Params
) -> tuple[dict[str, Any], list[Record]]:
    template = _required(params, "TemplateCode")
    biz_id, records = sandbox.state.send(account, _batch_messages(params), template, params.get("OutId", ""))
    return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": _request_id()}, records


def _query_send_details(
    sandbox: Sandbox, account: Account, params: Params
) -> tuple[dict[str, Any], list[Record]]:
    phone = _required(params, "PhoneNumber")
    try:
        day = dt.datetime.strptime(_required(params, "SendDate"), "%Y%m%d").date()
    except ValueError as exc:
        raise VendorError("isv.INVALID_PARAMETERS", "SendDate must be yyyyMMdd") from exc
    size = _int(params, "PageSize", 1, _MAX_PAGE)
    page = _int(params, "CurrentPage", 1, 10**6)
    found = sandbox.state.query(account.key_id, phone, day, params.get("BizId") or None)
    shown = found[(page - 1) * size : page * size]
    doc = {
        "Code": "OK",
        "Message": "OK",
        "RequestId": _request_id(),
        "TotalCount": len(found),
        "SmsSendDetailDTOs": {"SmsSendDetailDTO": [r.detail() for r in shown]},
    }
    return doc, []


HANDLERS: Mapping[str, Handler] = {
    "SendSms": _send_sms,
    "SendBatchSms": _send_batch_sms,
    "QuerySendDetails": _query_send_details,
}


def _refusal(error: VendorError) -> JSONResponse:
    body = {"RequestId": _request_id(), "Code": error.code, "Message": error.message}
    return JSONResponse(body, status_code=error.http_status)


class _DropResponse(Response):
    """Starts a reply, then fails, so that the server aborts the connection mid-reply."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"400")]})
        raise DroppedConnection("sandbox fault: connection dropped after the request was acted on")


async def _before(rule: FaultRule | None) -> Response | None:
    """The faults that act once the request is read, before it is served: a reply instead
    of serving it, or (``latency``) a wait, after which it is served. A reply that finds its
    client gone is dropped by the server, without an error."""
    if rule is None:
        return None
    if rule.kind == "latency":
        await asyncio.sleep(rule.seconds)
    elif rule.kind == "status":
        status = rule.status or 503
        return Response(f"<html><body>{status}</body></html>", status, media_type="text/html")
    elif rule.kind == "code":
        return _refusal(VendorError(rule.code, rule.message, rule.status or 200))
    return None


def _after(rule: FaultRule | None, doc: dict[str, Any]) -> Response:
    """The reply, unless a fault spoils it after the request was acted on."""
    if rule is not None and rule.kind == "garbage":
        return Response(b"\x00<not json", 200, media_type="application/json")
    if rule is not None and rule.kind == "drop":
        return _DropResponse()
    return JSONResponse(doc)


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise VendorError("isv.INVALID_PARAMETERS", "the body is not UTF-8", 400) from exc


@attrs.define
class Sandbox:
    """A local stand-in for Aliyun SMS: accounts, records, faults, pushes, and :attr:`app`.

    Run it on a loopback socket in a background thread (smsgate's
    :class:`~smsgate.receiver.ServerThread`) and point the client's ``base_url`` at it::

        with Sandbox.demo() as sandbox:
            provider = smsgate.get_provider("aliyun", **sandbox.credentials())

    or serve :attr:`app` with any ASGI server. The state's ``clock`` is the sandbox's "now" in
    China time (a fixed one makes tests exact).
    """

    state: SandboxState = attrs.field(factory=SandboxState)
    faults: FaultSet = attrs.field(factory=FaultSet)
    pusher: Pusher = attrs.field(factory=Pusher)
    host: str = attrs.field(default="127.0.0.1", kw_only=True)
    port: int = attrs.field(default=0, kw_only=True)
    app: Starlette = attrs.field(init=False)
    _server: ServerThread | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        quiet_drops()
        self.app = Starlette(routes=[Route("/", self._rpc, methods=["POST"]), *_admin_routes(self)])

    # --- running on a socket ----------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve :attr:`app` on ``host:port`` (``port=0``: a free one) in a background thread;
        return once the socket listens.

        :raises ValueError: ``host`` is not a loopback address (the sandbox has well-known
            keys and an open admin API).
        :raises RuntimeError: already running, or the server could not start.
        """
        if not is_loopback(self.host):
            raise ValueError(f"refusing to serve the sandbox on non-loopback host {self.host!r}")
        if self._server is not None:
            raise RuntimeError("this sandbox is already running")
        server = ServerThread(
            self.app, host=self.host, port=self.port, lifespan="off", name="smsgate-aliyun-sandbox"
        )
        self._server = server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while the server thread lives."""
        return self._server is not None and self._server.alive

    @property
    def base_url(self) -> str:
        """The endpoint to give the client, e.g. ``http://127.0.0.1:50123/``."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._server.url

    @classmethod
    def demo(cls, *, host: str = "127.0.0.1", port: int = 0, **changes: Any) -> Sandbox:
        """A sandbox with the demo account (:data:`DEMO_ACCOUNT`'s key pair, the sign names
        腾飞 and 阿里云, templates ``SMS_100001`` verify and ``SMS_100002`` shipped); ``changes``
        are passed to :class:`Account` (``outcome="pending"``, ``callback_url=…``); ``host`` and
        ``port`` say where :meth:`start` serves it."""
        sandbox = cls(host=host, port=port)
        sandbox.add_account(demo_account(**changes))
        return sandbox

    def credentials(self, key_id: str = DEMO_KEY_ID) -> dict[str, Any]:
        """Keyword settings for ``smsgate.get_provider("aliyun", …)`` on account ``key_id``
        (default: the demo account): key pair, first sign name, ``base_url``, and ``templates``
        naming each template of the account with its code and variables (the demo's:
        ``verify`` → ``SMS_100001`` with ``code``, ``shipped`` → ``SMS_100002`` with ``name``)."""
        account = self.state.account(key_id)
        if account is None:
            raise KeyError(f"no sandbox account {key_id!r}")
        templates = {
            DEMO_TEMPLATE_NAMES.get(code, code): {"code": code, "params": template_variables(text)}
            for code, text in account.templates.items()
        }
        return {
            "access_key_id": account.key_id,
            "access_key_secret": account.secret,
            "sign_name": min(account.sign_names),
            "templates": templates,
            "base_url": self.base_url,
        }

    def reset(self) -> None:
        """Forget records, nonces, faults and the push log (the accounts stay as they are)."""
        self.state.reset()
        self.faults.clear()
        self.pusher.attempts.clear()
        self.pusher.dropped = 0

    def dropped(self) -> dict[str, int]:
        """What was forgotten over the bounds since the start or the last :meth:`reset`: the
        state's (:meth:`SandboxState.dropped`: ``records``, ``nonces``, ``histories``) and the
        push log's ``push_attempts``."""
        return {**self.state.dropped(), "push_attempts": self.pusher.dropped}

    def add_account(self, account: Account) -> Account:
        """Add or replace an account."""
        with self.state.lock:
            self.state.accounts[account.key_id] = account
        return account

    async def _rpc(self, request: Request) -> Response:
        action = request.headers.get("x-acs-action", "")
        rule = self.faults.take(action)
        try:
            # Read before any fault acts: ``latency`` delays the reply, not the request, so a
            # client that times out meanwhile still finds its request acted on, as with the
            # service (read after the wait, the body was gone with the client).
            body = await request.body()
        except ClientDisconnect:
            # Gone before its request arrived: nothing to serve, and the server drops the reply.
            return Response(status_code=400)
        early = await _before(rule)
        if early is not None:
            return early
        try:
            doc, records = self._serve(request, action, body)
        except VendorError as error:
            return _refusal(error)
        self.push_reports(records)
        return _after(rule, doc)

    def _serve(self, request: Request, action: str, body: bytes) -> tuple[dict[str, Any], list[Record]]:
        account = verify_request(
            method=request.method,
            path=request.url.path,
            raw_query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            find_account=self.state.account,
            nonce_seen=self.state.nonce_seen,
            now=dt.datetime.now(dt.UTC),
        )
        handler = HANDLERS.get(action)
        if handler is None:
            raise VendorError("InvalidAction.NotFound", f"Specified api {action!r} is not found.", 404)
        if request.headers.get("x-acs-version") != VERSION:
            raise VendorError("InvalidVersion", "Specified parameter Version is not valid.", 400)
        params = {**dict(request.query_params), **_form(body)}
        return handler(self, account, params)

    def push_reports(self, records: list[Record]) -> None:
        """Push the final reports among ``records`` to their account's callback URL, if any."""
        final = [r for r in records if r.status != 1]
        account = self.state.account(final[0].key_id) if final else None
        if account is not None and account.callback_url:
            self.pusher.schedule(account.callback_url, "report", [r.report() for r in final])


# --- admin API ------------------------------------------------------------------------------


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        doc = json.loads(await request.body())
    except ValueError as exc:
        raise ValueError("the body must be JSON") from exc
    if not isinstance(doc, dict):
        raise ValueError("the body must be a JSON object")
    return doc


def _admin_routes(sandbox: Sandbox) -> list[Route]:
    admin = _Admin(sandbox)

    def guarded(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                return await endpoint(request)
            except (ValueError, TypeError, KeyError) as exc:
                return _bad(str(exc))

        return call

    return [
        Route("/admin/accounts", guarded(admin.accounts), methods=["GET", "POST"]),
        Route("/admin/records", guarded(admin.records), methods=["GET"]),
        Route("/admin/settle", guarded(admin.settle), methods=["POST"]),
        Route("/admin/inbound", guarded(admin.inbound), methods=["POST"]),
        Route("/admin/faults", guarded(admin.faults), methods=["GET", "POST", "DELETE"]),
        Route("/admin/pushes", guarded(admin.pushes), methods=["GET"]),
        Route("/admin/dropped", guarded(admin.dropped), methods=["GET"]),
        Route("/admin/reset", guarded(admin.reset), methods=["POST"]),
    ]


@attrs.define
class _Admin:
    sandbox: Sandbox

    async def accounts(self, request: Request) -> Response:
        if request.method == "POST":
            self.sandbox.add_account(Account(**await _json_object(request)))
        with self.sandbox.state.lock:
            shown = [a.public() for a in self.sandbox.state.accounts.values()]
        return JSONResponse(shown)

    async def records(self, request: Request) -> Response:
        with self.sandbox.state.lock:
            shown = [{"BizId": r.biz_id, "KeyId": r.key_id, **r.detail()} for r in self.sandbox.state.records]
        return JSONResponse(shown)

    async def settle(self, request: Request) -> Response:
        doc = await _json_object(request)
        record = self.sandbox.state.settle(
            str(doc["biz_id"]), str(doc["phone_number"]), doc.get("outcome", "delivered"), doc.get("err_code")
        )
        self.sandbox.push_reports([record])
        return JSONResponse({"BizId": record.biz_id, **record.detail()})

    async def inbound(self, request: Request) -> Response:
        doc = await _json_object(request)
        state = self.sandbox.state
        account = state.account(str(doc["key_id"]))
        if account is None or not account.callback_url:
            return _bad("no such account, or it has no callback_url")
        now = state.clock()
        item = {
            "phone_number": str(doc["phone_number"]),
            "send_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "content": str(doc["content"]),
            "sign_name": str(doc.get("sign_name", "")),
            "dest_code": str(doc.get("dest_code", "")),
            "sequence_id": int(doc["sequence_id"]) if "sequence_id" in doc else state.next_sequence_id(),
        }
        self.sandbox.pusher.schedule(account.callback_url, "inbound", [item])
        return JSONResponse(item)

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            self.sandbox.faults.add(FaultRule(**await _json_object(request)))
        elif request.method == "DELETE":
            self.sandbox.faults.clear()
        return JSONResponse([attrs.asdict(r) for r in self.sandbox.faults.rules()])

    async def pushes(self, request: Request) -> Response:
        await self.sandbox.pusher.drain()
        return JSONResponse([a.as_json() for a in self.sandbox.pusher.attempts])

    async def dropped(self, request: Request) -> Response:
        await self.sandbox.pusher.drain()  # (as pushes: the attempts under way are counted)
        return JSONResponse(self.sandbox.dropped())

    async def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})
