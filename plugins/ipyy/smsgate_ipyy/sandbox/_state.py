"""The sandbox's memory: accounts, balances, task ids, queued reports and inbound
messages, the push outbox and the inspection log.

One :class:`SandboxState` is shared by the ASGI app (running on uvicorn's loop thread) and
by tests or the push worker on other threads, so every method takes ``lock`` for a short,
O(1)-ish critical section.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import operator
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal, NamedTuple, TypeAlias
from xml.sax.saxutils import escape

import attrs

from ._codes import ResultCode
from ._config import DELIVERED_CODE, Account, SandboxConfig
from ._des import md5_upper
from ._log import Injected, Outcome, RequestEntry

__all__ = [
    "CHINA",
    "InboundItem",
    "Login",
    "Push",
    "ReportItem",
    "SandboxState",
    "SendLogin",
    "SendSettings",
    "stamp",
]

#: The gateway's time zone (China Standard Time, UTC+8, no daylight saving).
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")

#: spec 4.3 / 5.3: ``yyyy-MM-dd HH:mm:ss`` in China time.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The XML declaration of every UTF-8 reply, with the gateway's space before ``?>``
#: (wire notes §4).
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8" ?>'

Clock = Callable[[], dt.datetime]
PushKind = Literal["report", "inbound"]
#: An inspection-log entry as a request leaves it (see :meth:`SandboxState.log_raw`): the
#: clock's reading (with the system clock its seconds since the epoch, ``time.time()``: a
#: third of ``datetime.now``'s work, spelled in China time when the log is read), endpoint,
#: method, encoding, action, account, password style, fields, the outcome (or the result
#: code it is made of, with the task id) and what a fault did. A plain send's fields keep its
#: numbers as one string, joined with commas, so that they are strings alone (a dict the
#: garbage collector never tracks: every send leaves one here); the entry made of them has
#: the list, as every other endpoint's.
RawEntry: TypeAlias = tuple[
    dt.datetime | float,
    str,
    str,
    str,
    str,
    str,
    str | None,
    Mapping[str, Any],
    Outcome | ResultCode,
    str,
    Injected | None,
]


def stamp(moment: dt.datetime) -> str:
    """``moment`` as :data:`TIME_FORMAT` spells it: the same text as ``strftime`` for every
    four-digit year, several times faster (every request is logged with one)."""
    if moment.year < 1000:
        return moment.strftime(TIME_FORMAT)
    return "%d-%02d-%02d %02d:%02d:%02d" % (  # noqa: UP031 - the fastest spelling
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC).astimezone(CHINA)
_SECOND = dt.timedelta(seconds=1)
_MICROSECOND = dt.timedelta(microseconds=1)


def _timestamp(moment: dt.datetime) -> float:
    """``moment.timestamp()`` of an aware ``moment``, the same float (both divide the
    microseconds since the epoch by a million), three times cheaper for one in China time:
    from an epoch with the same tzinfo, Python subtracts without asking either for its offset."""
    return (moment - _EPOCH) / _SECOND


def _task_id(now: dt.datetime, sequence: int) -> int:
    """``yyMMddHHmmss`` of ``now`` followed by the 4-digit ``sequence``, as a number."""
    minutes = ((((now.year % 100) * 100 + now.month) * 100 + now.day) * 100 + now.hour) * 100 + now.minute
    return (minutes * 100 + now.second) * 10_000 + sequence


#: The fields of an account in the order its ``__init__`` takes them (every one positional).
_ACCOUNT_VALUES = operator.attrgetter(*(field.name for field in attrs.fields(Account)))
_POSITIONAL = all(field.init and not field.kw_only for field in attrs.fields(Account))


def _copy(account: Account) -> Account:
    """What ``attrs.evolve(account)`` gives, made positionally: seven times faster, and every
    send checks a login."""
    return Account(*_ACCOUNT_VALUES(account)) if _POSITIONAL else attrs.evolve(account)


def _entry(raw: RawEntry, seq: int) -> RequestEntry:
    """The log entry of :meth:`SandboxState.log_raw`'s pieces."""
    moment, fields, result, task_id, injected = raw[0], raw[7], raw[8], raw[9], raw[10]
    if not isinstance(result, Outcome):
        result = Outcome(result.name, result.number, result.message, task_id)
    if isinstance(moment, float):
        moment = dt.datetime.fromtimestamp(moment, CHINA)
    joined = fields.get("mobiles")
    if isinstance(joined, str):  # a plain send's numbers, joined with commas (see RawEntry)
        fields = {**fields, "mobiles": joined.split(",") if joined else []}
    return RequestEntry(stamp(moment.astimezone(CHINA)), *raw[1:7], fields, result, injected, seq)


#: ``datetime.now(CHINA)``, called without a Python frame of its own.
_system_clock: Clock = functools.partial(dt.datetime.now, CHINA)


@attrs.frozen
class Push:
    """One POST the push worker must make (spec chapter 6): ``body`` is the XML with one
    or more ``<statusbox>`` (``kind == "report"``) or ``<callbox>`` (``"inbound"``)."""

    account: str
    url: str
    kind: PushKind
    body: bytes


@attrs.frozen
class ReportItem:
    """One delivery report, as a pull or a push carries it (spec 4.3)."""

    mobile: str
    task_id: str
    status: str  # "10" delivered, "20" failed
    received_at: str
    code: str
    ext: str

    def xml(self) -> str:
        """The ``<statusbox>`` element, children in the gateway's order (wire notes §4)."""
        return (
            f"\t<statusbox>\n\t\t<mobile>{self.mobile}</mobile>\n\t\t<taskid>{self.task_id}</taskid>\n"
            f"\t\t<status>{self.status}</status>\n\t\t<receivetime>{self.received_at}</receivetime>\n"
            f"\t\t<errorcode>{escape(self.code)}</errorcode>\n\t\t<extno>{self.ext}</extno>\n\t</statusbox>\n"
        )

    def json_item(self) -> dict[str, str]:
        """The JSON item: no ``status`` and no ``extno`` (wire notes §4, two captures)."""
        return {
            "mobile": self.mobile,
            "taskid": self.task_id,
            "receivetime": self.received_at,
            "errorcode": self.code,
        }


@attrs.frozen
class InboundItem:
    """One inbound (mobile-originated) message, as a pull or a push carries it (spec 5.3)."""

    mobile: str
    task_id: str
    text: str
    received_at: str
    ext: str

    def xml(self) -> str:
        """The ``<callbox>`` element (spec 5.3 order)."""
        return (
            f"\t<callbox>\n\t\t<mobile>{escape(self.mobile)}</mobile>\n\t\t<taskid>{escape(self.task_id)}</taskid>\n"
            f"\t\t<content>{escape(self.text)}</content>\n\t\t<receivetime>{self.received_at}</receivetime>\n"
            f"\t\t<extno>{escape(self.ext)}</extno>\n\t</callbox>\n"
        )

    def json_item(self) -> dict[str, str]:
        """The JSON item of spec 5.5."""
        return {
            "mobile": self.mobile,
            "taskid": self.task_id,
            "content": self.text,
            "receivetime": self.received_at,
            "extno": self.ext,
        }


def boxes_xml(items: Iterable[ReportItem | InboundItem]) -> str:
    """A whole ``<returnsms>`` document of boxes; with none it is ``<returnsms></returnsms>``
    (wire notes §4: the empty pull)."""
    inner = "".join(item.xml() for item in items)
    if not inner:
        return f"{XML_DECLARATION}\n<returnsms></returnsms>"
    return f"{XML_DECLARATION}\n<returnsms>\n{inner}</returnsms>"


#: A report or inbound message not yet pulled or pushed: its due time as a timestamp and the
#: number it was queued with (its order in the pending heap), its due time (the receive
#: time), account, kind, mobile, task id, report code, extension and (inbound) text. One
#: plain tuple of values the garbage collector does not follow: every send leaves one until
#: it is pulled (thousands under load), and a collection skips such tuples once it has seen
#: them; the heap holds the item itself (one tuple a recipient, not an entry around it).
_Pending: TypeAlias = tuple[float, int, dt.datetime, str, PushKind, str, str, str, str, str]
#: Where a pending item keeps its due time, account, kind and task id.
_DUE: Final = 2
_ACCOUNT: Final = 3
_KIND: Final = 4
_TASK_ID: Final = 6


def _report(item: _Pending) -> ReportItem:
    """The delivery report of a pending ``report`` item, received at its due time."""
    _, _, due, _, _, mobile, task_id, code, ext, _ = item
    status = "10" if code == DELIVERED_CODE else "20"
    return ReportItem(mobile, task_id, status, stamp(due.astimezone(CHINA)), code, ext)


def _inbound(item: _Pending) -> InboundItem:
    """The message of a pending ``inbound`` item, received at its due time."""
    _, _, due, _, _, mobile, task_id, _, ext, text = item
    return InboundItem(mobile, task_id, text, stamp(due.astimezone(CHINA)), ext)


def _materialise(item: _Pending) -> ReportItem | InboundItem:
    """The report or message a pull or a push carries."""
    return _report(item) if item[_KIND] == "report" else _inbound(item)


class SendSettings(NamedTuple):
    """What a send checks of its account, as it was at login (see
    :meth:`SandboxState.check_sender`): its name, whether its texts need a 【signature】 and
    whether it may send with an ``extno``. Immutable: one is shared by every login until
    the account's settings change."""

    account: str
    require_signature: bool
    extno_allowed: bool


def _settings(account: Account) -> SendSettings:
    return SendSettings(account.account, account.require_signature, account.extno_allowed)


@attrs.define
class _Live:
    """An account while the sandbox runs: the mutable copy plus counters and queues, and
    its :class:`SendSettings` (made again whenever its settings change). The queues hold
    the due items as they left the heap; each becomes its report or inbound message when it
    is pulled (a due item is never changed again, so the same one)."""

    account: Account
    md5: str
    sms_recharged: int
    mms_recharged: int
    settings: SendSettings
    sms_sent: int = 0
    mms_sent: int = 0
    reports: deque[_Pending] = attrs.field(factory=deque)
    inbound: deque[_Pending] = attrs.field(factory=deque)
    # reports and inbound messages dropped over ``config.report_limit`` (see SandboxState.dropped)
    dropped_reports: int = 0
    dropped_inbound: int = 0

    def count_dropped(self, kind: PushKind, count: int) -> None:
        """Count ``count`` items of ``kind`` dropped over the bound."""
        if kind == "report":
            self.dropped_reports += count
        else:
            self.dropped_inbound += count

    @classmethod
    def of(cls, account: Account) -> _Live:
        copy = attrs.evolve(account)
        return cls(
            account=copy,
            md5=md5_upper(copy.password),
            sms_recharged=max(copy.sms_balance, 0),
            mms_recharged=max(copy.mms_balance, 0),
            settings=_settings(copy),
        )


class Login(NamedTuple):
    """The outcome of :meth:`SandboxState.check_login`: the ``account`` (a copy, balances
    included) when the login holds, else ``None`` and the ``refusal`` (a result-code name);
    ``password_style`` says whether the password came ``plain`` or as its ``md5``. (A named
    tuple: immutable, and made for every request at half a frozen attrs class's cost.)"""

    account: Account | None
    password_style: str
    refusal: str = ""


class SendLogin(NamedTuple):
    """The outcome of :meth:`SandboxState.check_sender`: :class:`Login` with the account's
    :class:`SendSettings` in place of its copy."""

    settings: SendSettings | None
    password_style: str
    refusal: str = ""


class Submission(NamedTuple):
    """The result of :meth:`SandboxState.submit`: either ``refusal`` (a result-code name)
    or a task id with the balance left and the number of recipients accepted."""

    refusal: str | None = None
    task_id: str = ""
    remaining: int = 0
    accepted: int = 0


# ``Login(*values)`` and ``Submission(*values)`` with every field given, made without the named
# tuples' Python ``__new__`` (the same tuples: a named tuple's ``__new__`` is ``tuple.__new__``
# of its values). A login and a submission are made for every send.
_login = functools.partial(tuple.__new__, Login)
_send_login = functools.partial(tuple.__new__, SendLogin)
_submission = functools.partial(tuple.__new__, Submission)


class SandboxState:
    """Everything the sandbox remembers. Thread-safe: each method holds ``lock`` briefly.

    ``clock`` returns an aware datetime (default: the system clock in China time); tests
    inject a fake one to move time for stamps, scheduled sends and report delays.
    """

    def __init__(self, config: SandboxConfig | None = None, *, clock: Clock | None = None) -> None:
        self.lock = threading.Lock()
        self.config = config if config is not None else SandboxConfig.default()
        self.clock: Clock = clock if clock is not None else _system_clock
        self._seq = itertools.count()
        self._task_counter = itertools.count(1)
        self._last_task_id = 0
        # report_delay as a timedelta and in microseconds, made again when the setting changes
        self._delay = (0.0, dt.timedelta(0), 0)
        # the second (since the epoch) of the last task id, and its ids' first (sequence 0)
        self._id_second: int | None = None
        self._id_base = 0
        self._init_locked()

    def _init_locked(self) -> None:
        self._accounts: dict[str, _Live] = {a.account: _Live.of(a) for a in self.config.accounts}
        # The pending items, in two parts that together give them in (due time, number) order:
        # those queued after every one before them (the usual case: each send is due
        # report_delay after its moment, and moments grow) wait in that order in a deque, and
        # only the others (a scheduled send, a clock set back) in a heap. A heap of all of them
        # cost a push and a pop of log2(n) tuple comparisons a recipient, the pop under the
        # push worker's poll (~5k instructions a plain send under load).
        self._in_order: deque[_Pending] = deque()
        self._out_of_order: list[_Pending] = []
        # The bound of the pending items (config.report_limit) as the largest number an item
        # may be given before they could be over it: every item queued takes the next number,
        # deque and heap alike, so a send compares its last item's number with this one (no
        # length, no int made; made again at every trim and release)
        self._seq_bound = 0
        self._refresh_bound_locked()
        self._outbox: dict[tuple[str, PushKind], list[_Pending]] = {}
        # A raw entry's number is its place: the last one logged is number _logged.
        self._log: deque[RequestEntry | RawEntry] = deque(maxlen=self.config.log_limit)
        self._push_log: deque[dict[str, Any]] = deque(maxlen=self.config.log_limit)
        self._logged = 0
        # longest suffix first, so the most specific rule wins
        self._outcome_rules = sorted(self.config.report_outcomes.items(), key=lambda kv: -len(kv[0]))

    # -- time ------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The sandbox clock, in China time."""
        moment = self.clock()
        # astimezone gives the same object when the time is in China time already
        return moment if moment.tzinfo is CHINA else moment.astimezone(CHINA)

    # -- accounts --------------------------------------------------------------------------

    def check_login(self, account: str, password: str) -> Login:
        """Check a login as the form endpoints do (wire notes §7: plain password or its
        upper-case MD5): the account when it holds, else the refusal code's name."""
        if account and password:
            lock = self.lock  # (acquire and release: "with" makes two bound methods a call)
            lock.acquire()
            try:
                live = self._accounts.get(account)
                if live is not None:
                    if password == live.account.password:
                        return _login((_copy(live.account), "plain", ""))
                    if password == live.md5:
                        return _login((_copy(live.account), "md5", ""))
            finally:
                lock.release()
        return Login(None, *self._refusal(account, password))

    def check_sender(self, account: str, password: str) -> SendLogin:
        """:meth:`check_login` for a send that needs only the account's :class:`SendSettings`
        (the plain sends): the same checks and refusals, without copying the account."""
        if account and password:
            lock = self.lock  # (see check_login)
            lock.acquire()
            try:
                live = self._accounts.get(account)
                if live is not None:
                    if password == live.account.password:
                        return _send_login((live.settings, "plain", ""))
                    if password == live.md5:
                        return _send_login((live.settings, "md5", ""))
            finally:
                lock.release()
        return SendLogin(None, *self._refusal(account, password))

    def _refusal(self, account: str, password: str) -> tuple[str, str]:
        """The password's style and the refusal of a login that does not hold."""
        # the style is how the password looks
        style = "md5" if len(password) == 32 and password.isalnum() and password.isupper() else "plain"
        if not account:
            return style, "UserNameEmpty"
        if not password:
            return style, "PasswordEmpty"
        with self.lock:
            if account not in self._accounts:
                return style, "UserNameError"
        return style, "PasswordError"

    def get_account(self, account: str) -> Account | None:
        """A copy of the named account as it is now (balances included), or ``None``."""
        with self.lock:
            live = self._accounts.get(account)
            return None if live is None else attrs.evolve(live.account)

    def accounts_by_userid(self, userid: str) -> list[Account]:
        """Copies of the accounts with this enterprise id (ensms.ashx finds the key so)."""
        with self.lock:
            return [
                attrs.evolve(live.account)
                for live in self._accounts.values()
                if live.account.userid == userid
            ]

    def accounts(self) -> list[dict[str, Any]]:
        """A summary of every account for the admin API: balances and settings, never the
        password."""
        with self.lock:
            return [self._summary(live) for live in self._accounts.values()]

    @staticmethod
    def _summary(live: _Live) -> dict[str, Any]:
        settings = attrs.asdict(live.account, filter=lambda field, _: field.name != "password")
        return settings | {
            "sms_sent": live.sms_sent,
            "mms_sent": live.mms_sent,
            "queued_reports": len(live.reports),
            "queued_inbound": len(live.inbound),
            "dropped_reports": live.dropped_reports,
            "dropped_inbound": live.dropped_inbound,
        }

    _UPDATABLE = frozenset(
        {
            "sms_balance",
            "mms_balance",
            "pay_mode",
            "callback_url",
            "require_signature",
            "extno_allowed",
            "reports_allowed",
            "password",
            "userid",
        }
    )

    def update_account(self, account: str, **changes: Any) -> dict[str, Any]:
        """Change settings of an account (balances, ``callback_url``, ``require_signature``,
        …) and return its summary. Raising a balance counts as a recharge. ``KeyError``
        for an unknown account, ``ValueError`` for an unknown setting."""
        unknown = sorted(set(changes) - self._UPDATABLE)
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)}")
        with self.lock:
            live = self._accounts[account]
            for key, value in changes.items():
                if key == "sms_balance" and value > live.account.sms_balance:
                    live.sms_recharged += value - live.account.sms_balance
                if key == "mms_balance" and value > live.account.mms_balance:
                    live.mms_recharged += value - live.account.mms_balance
                setattr(live.account, key, value)
            live.md5 = md5_upper(live.account.password)
            live.settings = _settings(live.account)
            return self._summary(live)

    def add_account(self, account: Account) -> None:
        """Add (or replace) an account at runtime. A replaced account keeps its counts of
        reports and inbound messages dropped (:meth:`dropped` counts since the last reset)."""
        live = _Live.of(account)
        with self.lock:
            replaced = self._accounts.get(account.account)
            if replaced is not None:
                live.dropped_reports = replaced.dropped_reports
                live.dropped_inbound = replaced.dropped_inbound
            self._accounts[account.account] = live

    def change_password(self, account: str, new_password: str) -> None:
        """spec 7: store a new password (the caller has checked the old one)."""
        with self.lock:
            live = self._accounts[account]
            live.account.password = new_password
            live.md5 = md5_upper(new_password)

    def balance(self, account: str, kind: Literal["sms", "mms"]) -> tuple[str, int, int]:
        """spec 3.3: ``(payinfo, overage, sendTotal)``. ``sendTotal`` is the total
        recharged for a prepaid account and the total sent for a postpaid one."""
        with self.lock:
            live = self._accounts[account]
            if kind == "sms":
                total = live.sms_sent if live.account.postpaid else live.sms_recharged
                return live.account.pay_mode, live.account.sms_balance, total
            total = live.mms_sent if live.account.postpaid else live.mms_recharged
            return live.account.pay_mode, live.account.mms_balance, total

    # -- sending ---------------------------------------------------------------------------

    def _outcome(self, mobile: str) -> str:
        for suffix, vendor_code in self._outcome_rules:
            if mobile.endswith(suffix):
                return vendor_code
        return DELIVERED_CODE

    def submit(
        self,
        account: str,
        kind: Literal["sms", "mms"],
        mobiles: list[str],
        ext: str = "",
        send_at: dt.datetime | None = None,
    ) -> Submission:
        """Accept a send: charge one unit per recipient (refusing with 1111 when a prepaid
        balance is short), give it a task id and schedule one report per recipient
        ``report_delay`` after the send, or after ``send_at`` when that is later."""
        now = self.clock()  # self.now(), without its frame
        if now.tzinfo is not CHINA:
            now = now.astimezone(CHINA)
        count = len(mobiles)
        lock = self.lock  # (see check_login)
        lock.acquire()
        try:
            live = self._accounts[account]
            held = live.account
            balance = held.sms_balance if kind == "sms" else held.mms_balance
            if balance < count and not held.postpaid:
                return Submission("AmountNotEnough")
            balance -= count
            if kind == "sms":
                held.sms_balance = balance
                live.sms_sent += count
            else:
                held.mms_balance = balance
                live.mms_sent += count
            # 16 digits: yyMMddHHmmss + a 4-digit sequence, China time (wire notes §4). Ids only
            # grow, so they stay unique past 10,000 sends in one second or on a frozen test clock
            # (a repeated id would mix two tasks' reports in a taskid pull).
            # (One China-time second since the epoch is one yyMMddHHmmss: worked out once.)
            since = now - _EPOCH  # (its fields summed: a third of what // _MICROSECOND costs)
            now_us = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
            if now_us // 1_000_000 != self._id_second:
                self._id_second, self._id_base = now_us // 1_000_000, _task_id(now, 0)
            candidate = self._id_base + next(self._task_counter) % 10_000
            self._last_task_id = max(candidate, self._last_task_id + 1)
            task_id = str(self._last_task_id)
            start = send_at if send_at is not None and send_at > now else now
            if self.config.report_delay != self._delay[0]:
                delay = dt.timedelta(seconds=self.config.report_delay)
                self._delay = (self.config.report_delay, delay, delay // _MICROSECOND)
            due = start + self._delay[1]
            # _timestamp(due), from the microseconds already worked out when due is now's
            due_ts = (now_us + self._delay[2]) / 1_000_000 if start is now else _timestamp(due)
            rules = self._outcome_rules
            in_order = self._in_order
            for mobile in mobiles:
                outcome = self._outcome(mobile) if rules else DELIVERED_CODE
                item: _Pending = (
                    due_ts,
                    next(self._seq),
                    due,
                    account,
                    "report",
                    mobile,
                    task_id,
                    outcome,
                    ext,
                    "",
                )
                if not in_order or in_order[-1][0] <= due_ts:  # (its number is the largest yet)
                    in_order.append(item)
                else:
                    heapq.heappush(self._out_of_order, item)
            # the bound: one comparison a send (and no call) below it
            if mobiles and item[1] > self._seq_bound:
                self._trim_pending_locked()
        finally:
            lock.release()
        return _submission((None, task_id, balance, count))

    # -- queues ----------------------------------------------------------------------------

    @property
    def _pending(self) -> list[_Pending]:
        """Every pending item (in no particular order)."""
        return [*self._out_of_order, *self._in_order]

    def _queue_locked(self, item: _Pending) -> None:
        """Add a pending item to the deque when it comes after every one there, else to the heap."""
        in_order = self._in_order
        if not in_order or in_order[-1] < item:
            in_order.append(item)
        else:
            heapq.heappush(self._out_of_order, item)

    def _next_due_locked(self, now_ts: float) -> _Pending | None:
        """Take the first pending item, in (due time, number) order, when it is due by ``now_ts``."""
        in_order, out_of_order = self._in_order, self._out_of_order
        if in_order and (not out_of_order or in_order[0] < out_of_order[0]):
            return in_order.popleft() if in_order[0][0] <= now_ts else None
        if out_of_order and out_of_order[0][0] <= now_ts:
            return heapq.heappop(out_of_order)
        return None

    def _refresh_bound_locked(self) -> None:
        """Make ``_seq_bound`` again from ``config.report_limit`` (which may have changed) and
        the pending items: the next numbers up to it may be queued without passing the limit."""
        room = self.config.report_limit - len(self._in_order) - len(self._out_of_order)
        self._seq_bound = next(self._seq) + room  # (a number skipped: they need only grow)

    def _trim_pending_locked(self) -> None:
        """Drop the pending items due first until at most ``config.report_limit`` are left,
        counting each on its account."""
        excess = len(self._in_order) + len(self._out_of_order) - self.config.report_limit
        for _ in range(excess):
            item = self._next_due_locked(float("inf"))
            live = None if item is None else self._accounts.get(item[_ACCOUNT])
            if item is not None and live is not None:
                live.count_dropped(item[_KIND], 1)
        self._refresh_bound_locked()

    def _trim_queues_locked(self) -> None:
        """Drop the oldest items of every pull queue and outbox holding more than
        ``config.report_limit``, counting them on their account."""
        limit = self.config.report_limit
        for live in self._accounts.values():
            queues: tuple[tuple[PushKind, deque[_Pending]], ...] = (
                ("report", live.reports),
                ("inbound", live.inbound),
            )
            for kind, queue in queues:
                excess = len(queue) - limit
                if excess > 0:
                    for _ in range(excess):
                        queue.popleft()
                    live.count_dropped(kind, excess)
        for (account, kind), items in self._outbox.items():
            excess = len(items) - limit
            owner = self._accounts.get(account)
            if excess > 0:
                del items[:excess]
                if owner is not None:
                    owner.count_dropped(kind, excess)

    def _release_locked(self, now: dt.datetime) -> None:
        """Move every due item to its pull queue, or to the outbox for push accounts (as it
        is: its report or message is made when it is pulled or pushed), in (due time,
        number) order; then hold each queue to ``config.report_limit``."""
        self._move_due_locked(now)
        self._trim_queues_locked()
        if len(self._in_order) + len(self._out_of_order) > self.config.report_limit:
            self._trim_pending_locked()  # (report_limit lowered meanwhile)
        else:
            self._refresh_bound_locked()

    def _move_due_locked(self, now: dt.datetime) -> None:
        """:meth:`_release_locked` without the bound."""
        now_ts = _timestamp(now)
        in_order = self._in_order
        while True:
            if in_order and not self._out_of_order:  # (the usual case, without a frame)
                if in_order[0][0] > now_ts:
                    return
                item = in_order.popleft()
            else:
                found = self._next_due_locked(now_ts)
                if found is None:
                    return
                item = found
            live = self._accounts.get(item[_ACCOUNT])
            if live is None:  # account removed by a reset
                continue
            if live.account.callback_url:
                self._outbox.setdefault((item[_ACCOUNT], item[_KIND]), []).append(item)
            elif item[_KIND] == "report":
                live.reports.append(item)
            else:
                live.inbound.append(item)

    def pull_reports(self, account: str, limit: int, task_id: str = "") -> list[ReportItem]:
        """spec 4: take up to ``limit`` due reports (only ``task_id``'s when given; the
        others stay queued in order). Pulls are destructive, as at the gateway."""
        now = self.now()
        with self.lock:
            self._release_locked(now)
            queue = self._accounts[account].reports
            if not task_id:
                count = min(limit, len(queue))
                return [_report(queue.popleft()) for _ in range(count)]
            taken: list[ReportItem] = []
            kept: deque[_Pending] = deque()
            for item in queue:
                if item[_TASK_ID] == task_id and len(taken) < limit:
                    taken.append(_report(item))
                else:
                    kept.append(item)
            self._accounts[account].reports = kept
            return taken

    def pull_inbound(self, account: str) -> list[InboundItem]:
        """spec 5: take every queued inbound message of the account."""
        now = self.now()
        with self.lock:
            self._release_locked(now)
            live = self._accounts[account]
            items = [_inbound(item) for item in live.inbound]
            live.inbound.clear()
            return items

    def inject_inbound(self, account: str, mobile: str, text: str, ext: str = "", task_id: str = "") -> None:
        """Simulate a mobile user's reply: it is due at once, for the next callApi pull or
        the next push. ``KeyError`` for an unknown account."""
        now = self.now()
        with self.lock:
            if account not in self._accounts:
                raise KeyError(account)
            item: _Pending = (
                now.timestamp(),
                next(self._seq),
                now,
                account,
                "inbound",
                mobile,
                task_id,
                "",
                ext,
                text,
            )
            self._queue_locked(item)
            if item[1] > self._seq_bound:
                self._trim_pending_locked()

    def flush_reports(self) -> int:
        """Make every pending report and inbound message due now (scheduled sends too);
        returns how many were pending."""
        now = self.now()
        with self.lock:
            pending = self._pending
            count = len(pending)
            made_due: list[_Pending] = []
            for _, seq, was_due, account, kind, mobile, task_id, code, ext, text in pending:
                due = min(was_due, now)
                made_due.append((due.timestamp(), seq, due, account, kind, mobile, task_id, code, ext, text))
            heapq.heapify(made_due)
            self._in_order.clear()
            self._out_of_order = made_due
            self._release_locked(now)
            return count

    def dropped(self) -> dict[str, int]:
        """How many reports and inbound messages were dropped, since the start or the last
        :meth:`reset`, because a queue held ``config.report_limit`` of them (the oldest go
        first): ``{"reports": n, "inbound": n}``, over every account (each account's own counts
        are in :meth:`accounts`, ``dropped_reports`` and ``dropped_inbound``)."""
        with self.lock:
            lives = list(self._accounts.values())
            return {
                "reports": sum(live.dropped_reports for live in lives),
                "inbound": sum(live.dropped_inbound for live in lives),
            }

    def pending_count(self) -> int:
        """How many reports and inbound messages are not yet due."""
        with self.lock:
            return len(self._in_order) + len(self._out_of_order)

    # -- push ------------------------------------------------------------------------------

    def take_due_pushes(self, now: dt.datetime | None = None) -> list[Push]:
        """The pushes to make now: due reports and inbound messages of accounts with a
        ``callback_url``, at most ``push_batch_size`` boxes per body. Taking them empties
        the outbox (items of an account whose URL was removed meanwhile move to its pull
        queues); report the outcome with :meth:`record_push_result`."""
        moment = now if now is not None else self.now()
        size = max(1, self.config.push_batch_size)
        pushes: list[Push] = []
        with self.lock:
            self._release_locked(moment)
            for (account, kind), items in self._outbox.items():
                live = self._accounts.get(account)
                if live is None:  # account removed by a reset
                    continue
                url = live.account.callback_url
                if not url:
                    # The callback URL was removed after these became due: they go to the pull
                    # queue rather than vanish, as an account without a URL gets them pulled.
                    (live.reports if kind == "report" else live.inbound).extend(items)
                    continue
                for start in range(0, len(items), size):
                    ready = [_materialise(item) for item in items[start : start + size]]
                    body = boxes_xml(ready).encode("utf-8")
                    pushes.append(Push(account=account, url=url, kind=kind, body=body))
            self._outbox.clear()
            self._trim_queues_locked()  # (the pull queues an outbox went to)
        return pushes

    def record_push_result(self, push: Push, attempts: int, ok: bool) -> None:
        """Note how a push ended (spec 6.4: up to 3 attempts); failed pushes are dropped,
        as the gateway gives up on them."""
        entry = {
            "time": self.now().strftime(TIME_FORMAT),
            "account": push.account,
            "url": push.url,
            "kind": push.kind,
            "boxes": push.body.count(b"<statusbox>") + push.body.count(b"<callbox>"),
            "attempts": attempts,
            "ok": ok,
        }
        with self.lock:
            self._push_log.append(entry)

    def pushes(self) -> list[dict[str, Any]]:
        """The push outcomes recorded so far, oldest first."""
        with self.lock:
            return list(self._push_log)

    # -- inspection ------------------------------------------------------------------------

    def log_request(self, entry: RequestEntry) -> None:
        """Append what the app understood from one request to the inspection log, numbered."""
        with self.lock:
            self._logged += 1
            self._log.append(attrs.evolve(entry, seq=self._logged))

    def log_call(self, **fields: Any) -> None:
        """:meth:`log_request` for the entry made of ``fields`` (every field of
        :class:`RequestEntry` but ``seq``), numbered as it is made: one object per request."""
        with self.lock:
            self._logged += 1
            self._log.append(RequestEntry(**fields, seq=self._logged))

    def log_raw(self, raw: RawEntry) -> None:
        """Log one request from the pieces it left (see :data:`RawEntry`), numbered now (by
        its place in the log); the :class:`RequestEntry` (its time spelled, its outcome made)
        is made when the log is read, so a request pays only for its tuple."""
        lock = self.lock  # (see check_login)
        lock.acquire()
        try:
            self._logged += 1
            self._log.append(raw)
        finally:
            lock.release()

    def entries(self) -> list[RequestEntry]:
        """The inspection log as typed entries, newest last (bounded by ``config.log_limit``)."""
        with self.lock:
            first = self._logged - len(self._log) + 1  # the oldest one kept
            made = [
                item if isinstance(item, RequestEntry) else _entry(item, seq)
                for seq, item in enumerate(self._log, first)
            ]
            self._log = deque(made, maxlen=self._log.maxlen)
            return made

    def requests(self) -> list[dict[str, Any]]:
        """The inspection log as plain data, newest last (bounded by ``config.log_limit``)."""
        return [entry.as_dict() for entry in self.entries()]

    def clear_requests(self) -> None:
        """Empty the inspection log."""
        with self.lock:
            self._log.clear()

    def reset(self) -> None:
        """Back to the configured accounts and balances, with empty queues and logs."""
        with self.lock:
            self._init_locked()
