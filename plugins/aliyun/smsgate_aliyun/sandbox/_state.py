"""The sandbox's accounts and its record of every message, with the service's refusal rules.

A send is checked the way the service checks it (numbers, sign name, template, template
variables, the per-number frequency control, the balance) and refused with the service's code;
an accepted one is recorded per number under a new ``BizId``, so ``QuerySendDetails`` can
look it up and reports can be pushed. All times are China time, as the service writes them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import math
import re
import sys
import threading
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import attrs

__all__ = [
    "CHINA",
    "DEMO_KEY_ID",
    "DEMO_SECRET",
    "DEMO_TEMPLATE_NAMES",
    "Account",
    "Message",
    "Outcome",
    "Record",
    "SandboxState",
    "VendorError",
    "demo_account",
    "is_loopback",
    "parse_params",
    "template_variables",
]

CHINA = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
Outcome = Literal["delivered", "failed", "pending"]

# A mainland mobile number, optionally after 86 / +86 / 0086 (what the sandbox accepts).
_MOBILE = re.compile(r"\A(?:\+?86|0086)?1[3-9][0-9]{9}\Z")
_VARIABLE = re.compile(r"\$\{(\w+)\}")
_MAX_NUMBERS = 1000
# 70 characters fit one message; a longer text is sent in parts of 67 (the service's rule).
_SINGLE, _PART = 70, 67
#: The default of :class:`SandboxState`'s ``record_limit``: the most messages it keeps.
RECORD_LIMIT = 1_000_000
_MINUTE = dt.timedelta(minutes=1)


def check_limit(name: str, value: object) -> int:
    """``value`` when it is a whole number (an ``int``, not a ``bool``) from 1 to
    ``sys.maxsize`` (the most a ``deque`` holds); ``ValueError`` naming ``name`` otherwise."""
    if type(value) is not int or not 1 <= value <= sys.maxsize:
        raise ValueError(f"{name} must be a whole number from 1 to {sys.maxsize}, not {value!r}")
    return value


class VendorError(Exception):
    """A refusal the sandbox answers with, as the service would: code, message, HTTP status."""

    def __init__(self, code: str, message: str, http_status: int = 200) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def loopback_url(_inst: object, _attr: object, value: str | None) -> None:
    """attrs validator: ``None`` or an http(s) URL on a loopback host (pushes never leave it)."""
    if value is None:
        return
    parts = urllib.parse.urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not is_loopback(host):
        raise ValueError(f"the sandbox pushes only to http(s) URLs on loopback, not {value!r}")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and every loopback address (127.0.0.0/8, ``::1``)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _china_now() -> dt.datetime:
    return dt.datetime.now(CHINA)


@attrs.define
class Account:
    """A sandbox account: its key pair, sign names and templates (code → text with
    ``${name}`` variables), balance in message parts, and behaviour.

    :ivar per_number_limit: sends allowed to one number with one sign name per minute before
        ``isv.BUSINESS_LIMIT_CONTROL``; 0 turns the control off.
    :ivar outcome: the report every accepted message gets at once (``pending`` waits for the
        admin API's ``settle``).
    :ivar callback_url: where reports and inbound messages are pushed (loopback only).
    """

    key_id: str
    secret: str = attrs.field(repr=False)
    sign_names: set[str] = attrs.field(factory=set, converter=set)
    templates: dict[str, str] = attrs.field(factory=dict)
    balance: int = 1000
    per_number_limit: int = 0
    outcome: Outcome = attrs.field(
        default="delivered", validator=attrs.validators.in_(("delivered", "failed", "pending"))
    )
    callback_url: str | None = attrs.field(default=None, validator=loopback_url)

    def public(self) -> dict[str, Any]:
        """The account as the admin API shows it: everything but the secret."""
        data = attrs.asdict(self)
        data.pop("secret")
        data["sign_names"] = sorted(self.sign_names)
        return data


#: The demo account's key pair: published test values, not secrets.
DEMO_KEY_ID = "LTAI5tSandboxDemoKey"
DEMO_SECRET = "sandbox-demo-secret-0000"  # noqa: S105 - the sandbox's published test key
#: The demo account's templates and the logical names its credentials give them.
DEMO_TEMPLATES = {
    "SMS_100001": "您的验证码：${code}，5分钟内有效。",
    "SMS_100002": "${name}，您的订单已发货。",
}
DEMO_TEMPLATE_NAMES = {"SMS_100001": "verify", "SMS_100002": "shipped"}


def demo_account(**changes: Any) -> Account:
    """The demo account (sign names 腾飞 and 阿里云, the two demo templates), with ``changes``."""
    values: dict[str, Any] = {
        "key_id": DEMO_KEY_ID,
        "secret": DEMO_SECRET,
        "sign_names": {"腾飞", "阿里云"},
        "templates": dict(DEMO_TEMPLATES),
    }
    values.update(changes)
    return Account(**values)


@attrs.define
class Record:
    """One message to one number, as ``QuerySendDetails`` reports it."""

    key_id: str
    biz_id: str
    phone: str
    sign_name: str
    template_code: str
    content: str
    out_id: str
    ext: str
    send_time: dt.datetime
    status: int = 1  # 1 waiting, 2 failed, 3 delivered
    err_code: str = ""
    receive_time: dt.datetime | None = None

    def detail(self) -> dict[str, Any]:
        """The ``SmsSendDetailDTO`` of this record."""
        return {
            "PhoneNum": self.phone,
            "SendStatus": self.status,
            "ErrCode": self.err_code,
            "TemplateCode": self.template_code,
            "Content": self.content,
            "SendDate": self.send_time.strftime("%Y-%m-%d %H:%M:%S"),
            "ReceiveDate": self.receive_time.strftime("%Y-%m-%d %H:%M:%S") if self.receive_time else "",
            "OutId": self.out_id,
        }

    def report(self) -> dict[str, Any]:
        """The item of a ``SmsReport`` push for this record."""
        return {
            "phone_number": self.phone,
            "send_time": self.send_time.strftime("%Y-%m-%d %H:%M:%S"),
            "report_time": (self.receive_time or self.send_time).strftime("%Y-%m-%d %H:%M:%S"),
            "success": self.status == 3,
            "err_code": self.err_code,
            "err_msg": "用户接收成功" if self.status == 3 else "失败",
            "sms_size": "1",
            "biz_id": self.biz_id,
            "out_id": self.out_id,
        }


@attrs.frozen
class Message:
    """One recipient of an incoming send, after parsing: number, sign, variables, extension."""

    phone: str
    sign_name: str
    params: dict[str, str]
    ext: str = ""


def _parts(text: str) -> int:
    return 1 if len(text) <= _SINGLE else math.ceil(len(text) / _PART)


def _render(template: str, params: dict[str, str]) -> str:
    missing = [name for name in _VARIABLE.findall(template) if name not in params]
    if missing:
        raise VendorError("isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {missing[0]}")
    if any("://" in value for value in params.values()):
        raise VendorError("isv.PARAM_NOT_SUPPORT_URL", "不支持URL")
    return _VARIABLE.sub(lambda m: params[m.group(1)], template)


def template_variables(template: str) -> list[str]:
    """The ``${name}`` variables of a template text, in order, each once."""
    return list(dict.fromkeys(_VARIABLE.findall(template)))


def parse_params(text: str | None) -> dict[str, str]:
    """``TemplateParam``: absent, or a JSON object of strings (``isv.INVALID_JSON_PARAM``)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise VendorError("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值") from exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise VendorError("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    return value


class SandboxState:
    """Accounts, records, used nonces and the per-number send history, behind one lock
    (the app runs in the server's thread; tests read from theirs).

    :param clock: the sandbox's "now" (China time); tests may pass a fixed one.
    :param record_limit: the most messages kept (default 1,000,000); over it the oldest are
        forgotten and counted (:meth:`dropped`). The nonces and the per-number send histories
        are held to the same number. At least 1.
    """

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        *,
        clock: Callable[[], dt.datetime] = _china_now,
        record_limit: int = RECORD_LIMIT,
    ):
        check_limit("record_limit", record_limit)
        self.lock = threading.RLock()
        self.clock = clock
        self.accounts: dict[str, Account] = {a.key_id: a for a in accounts}
        self._limit = record_limit
        self._records: deque[Record] = deque(maxlen=record_limit)
        self._nonces: set[tuple[str, str]] = set()
        self._nonce_order: deque[tuple[str, str]] = deque()
        self._sent: OrderedDict[tuple[str, str, str], list[dt.datetime]] = OrderedDict()
        self._dropped = {"records": 0, "nonces": 0, "histories": 0}
        self._ids = itertools.count(1)
        # Inbound messages' sequence_id: not restarted by reset(), as the service never reuses
        # one (a receiver's journal kept across a reset would take a new message for an old one).
        self._sequence_ids = itertools.count(1)

    def account(self, key_id: str) -> Account | None:
        """The account with this key id, if any."""
        with self.lock:
            return self.accounts.get(key_id)

    @property
    def record_limit(self) -> int:
        """The most messages (and nonces, and numbers' send histories) the sandbox keeps."""
        return self._limit

    @property
    def records(self) -> list[Record]:
        """Every message kept, oldest first (the last :attr:`record_limit`): a new list, of
        the records themselves."""
        with self.lock:
            return list(self._records)

    def dropped(self) -> dict[str, int]:
        """What was forgotten over :attr:`record_limit` since the start or the last
        :meth:`reset`: ``records`` (the oldest messages: ``QuerySendDetails`` and ``settle``
        no longer find them), ``nonces`` (the oldest nonces: a request reusing one is no
        longer refused as a replay) and ``histories`` (the numbers sent to longest ago: their
        sends no longer count toward ``per_number_limit``)."""
        with self.lock:
            return dict(self._dropped)

    def nonce_seen(self, key_id: str, nonce: str) -> bool:
        """Record a nonce; True when this key used it before."""
        key = (key_id, nonce)
        with self.lock:
            if key in self._nonces:
                return True
            self._nonces.add(key)
            self._nonce_order.append(key)
            if len(self._nonce_order) > self._limit:
                self._nonces.discard(self._nonce_order.popleft())
                self._dropped["nonces"] += 1
            return False

    def next_sequence_id(self) -> int:
        """A new inbound message's ``sequence_id``: the service numbers each one."""
        with self.lock:
            return next(self._sequence_ids)

    def reset(self) -> None:
        """Forget every record, nonce and send history (the accounts stay)."""
        with self.lock:
            self._records.clear()
            self._nonces.clear()
            self._nonce_order.clear()
            self._sent.clear()
            self._dropped = dict.fromkeys(self._dropped, 0)

    # --- sending ------------------------------------------------------------------------------

    def _check(self, account: Account, messages: Sequence[Message], template_code: str) -> list[str]:
        template = account.templates.get(template_code)
        if template is None:
            raise VendorError("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        for message in messages:
            if not _MOBILE.match(message.phone):
                raise VendorError("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
            if message.sign_name not in account.sign_names:
                raise VendorError("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        contents = [f"【{m.sign_name}】{_render(template, m.params)}" for m in messages]
        cost = sum(_parts(text) for text in contents)
        if cost > account.balance:
            raise VendorError("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
        return contents

    def _frequency(self, account: Account, messages: Sequence[Message], now: dt.datetime) -> None:
        if account.per_number_limit <= 0:
            return
        for message in messages:
            key = (account.key_id, message.phone, message.sign_name)
            recent = [t for t in self._sent.get(key, []) if now - t < dt.timedelta(minutes=1)]
            if len(recent) >= account.per_number_limit:
                raise VendorError(
                    "isv.BUSINESS_LIMIT_CONTROL", f"触发分钟级流控Permits:{account.per_number_limit}"
                )

    def send(
        self, account: Account, messages: Sequence[Message], template_code: str, out_id: str = ""
    ) -> tuple[str, list[Record]]:
        """Check and record a send; return its ``BizId`` and its records.

        :raises VendorError: the service's refusal, and then nothing is recorded.
        """
        if not messages or len(messages) > _MAX_NUMBERS:
            raise VendorError("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        with self.lock:
            now = self.clock()
            contents = self._check(account, messages, template_code)
            self._frequency(account, messages, now)
            biz_id = f"{now:%Y%m%d}{next(self._ids):010d}^0"
            records = [
                Record(account.key_id, biz_id, m.phone, m.sign_name, template_code, text, out_id, m.ext, now)
                for m, text in zip(messages, contents, strict=True)
            ]
            account.balance -= sum(_parts(r.content) for r in records)
            for record in records:
                self._note_sent((account.key_id, record.phone, record.sign_name), now)
                if account.outcome != "pending":
                    self._settle(record, account.outcome, now)
            self._dropped["records"] += max(0, len(self._records) + len(records) - self._limit)
            self._records.extend(records)  # (a deque of maxlen record_limit: the oldest go)
            return biz_id, records

    def _note_sent(self, key: tuple[str, str, str], now: dt.datetime) -> None:
        """Add a send to a number's history: only its last minute counts (``_frequency``), so
        older ones go; at most ``record_limit`` numbers, the one sent to longest ago going first."""
        history = self._sent.get(key)
        if history is None:
            self._sent[key] = [now]
            if len(self._sent) > self._limit:
                self._sent.popitem(last=False)
                self._dropped["histories"] += 1
            return
        self._sent.move_to_end(key)
        if history and now - history[0] >= _MINUTE:
            history[:] = [t for t in history if now - t < _MINUTE]
        history.append(now)

    @staticmethod
    def _settle(record: Record, outcome: Outcome, now: dt.datetime, err_code: str | None = None) -> None:
        record.status = {"delivered": 3, "failed": 2, "pending": 1}[outcome]
        record.err_code = err_code or {"delivered": "DELIVERED", "failed": "MK:0001", "pending": ""}[outcome]
        record.receive_time = now if outcome != "pending" else None

    def settle(self, biz_id: str, phone: str, outcome: Outcome, err_code: str | None = None) -> Record:
        """Give a recorded message its final report; ``KeyError`` when there is none."""
        with self.lock:
            for record in self._records:
                if record.biz_id == biz_id and record.phone == phone:
                    self._settle(record, outcome, self.clock(), err_code)
                    return record
        raise KeyError(f"no message {biz_id} to {phone}")

    # --- lookups ------------------------------------------------------------------------------

    def query(self, key_id: str, phone: str, send_date: dt.date, biz_id: str | None) -> list[Record]:
        """The records of one account to one number sent on one China date (and ``BizId``)."""
        with self.lock:
            return [
                r
                for r in self._records
                if r.key_id == key_id
                and r.phone == phone
                and r.send_time.date() == send_date
                and (biz_id is None or r.biz_id == biz_id)
            ]
