"""Configuration of the ipyy sandbox: its accounts and how it behaves.

Everything is plain data so a TOML file, a dict or Python code can build it::

    config = SandboxConfig(
        accounts=[Account(account="demo", password="demo-password", userid="1001",
                          sms_balance=1000, mms_balance=10)],
        report_delay=0.5,
        report_outcomes={"4": "MY:0001"},   # numbers ending in 4 fail with MY:0001
    )
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["DELIVERED_CODE", "Account", "SandboxConfig"]

#: The gateway code of a delivered message (spec 4.3 ``errorcode``).
DELIVERED_CODE = "DELIVRD"


@attrs.define
class Account:
    """One gateway account the sandbox knows.

    ``password`` is the plain password; clients may send it plain or as its upper-case MD5
    (wire notes §7). It never appears in the repr, the inspection log or the admin API.
    ``pay_mode`` is what the balance query reports (``预付`` prepaid: sends beyond the
    balance are refused with 1111; ``后付`` postpaid: the balance may go negative).
    With a ``callback_url`` the account's reports and inbound messages are pushed there
    (spec chapter 6) instead of waiting for pulls.
    """

    account: str
    password: str = attrs.field(repr=False)
    userid: str
    sms_balance: int
    mms_balance: int
    pay_mode: str = "预付"
    callback_url: str | None = None
    require_signature: bool = True
    extno_allowed: bool = True
    #: ``False`` makes report and inbound pulls answer error 3 (spec 4.4).
    reports_allowed: bool = True

    @property
    def postpaid(self) -> bool:
        """True when the balance may go negative (pay mode ``后付``/``后付费``)."""
        return self.pay_mode.startswith("后")


def _demo_account(name: str, userid: str, *, funded: bool) -> Account:
    """One account of the published demo configuration: password ``<name>-password``."""
    return Account(
        account=name,
        password=f"{name}-password",
        userid=userid,
        sms_balance=1_000_000 if funded else 0,
        mms_balance=100_000 if funded else 0,
    )


def _outcomes(value: Mapping[str, str] | None) -> dict[str, str]:
    result = dict(value or {})
    for suffix, vendor_code in result.items():
        if not suffix.isdigit() or not suffix.isascii():
            raise ValueError(f"report_outcomes key {suffix!r} must be digits (a mobile number suffix)")
        if not vendor_code:
            raise ValueError(f"report_outcomes[{suffix!r}] must be a non-empty gateway code")
    return result


def _whole_at_least_one(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """Refuse a bound that is not a whole number of at least 1 (a float, a bool or a string
    would be taken, then fail in the middle of a send once the bound is met)."""
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number of at least 1, not {value!r}")


def _accounts(value: list[Account]) -> list[Account]:
    names = [item.account for item in value]
    if len(set(names)) != len(names):
        raise ValueError("account names must be unique")
    return value


@attrs.define
class SandboxConfig:
    """How the sandbox behaves. All times are seconds.

    ``report_outcomes`` maps a mobile-number suffix to the gateway code its delivery report
    carries (the longest matching suffix wins; ``DELIVRD`` means delivered, status 10; any
    other code is a failure, status 20). Numbers matching no suffix are delivered.
    ``faults`` is kept raw for the fault-injection middleware.
    """

    accounts: list[Account] = attrs.field(factory=list, converter=_accounts)
    report_delay: float = 0.0
    report_outcomes: dict[str, str] = attrs.field(factory=dict, converter=_outcomes)
    stamp_tolerance: float = 300.0
    push_content_type: str = "text/xml; charset=utf-8"
    faults: list[dict[str, Any]] = attrs.field(factory=list)
    seed: int | None = None
    #: Longest accepted SMS text, in characters (longer: 2105 ContentLong).
    max_content_length: int = 1000
    #: Most recipients in one send (more: MsisdnsMany).
    max_recipients: int = 10_000
    #: Most lines in one BatchSms.ashx request (more: MsisdnsMany).
    max_batch_lines: int = 10_000
    #: Largest TMS container accepted by mms.aspx, in bytes (larger: SizeLong).
    max_mms_bytes: int = 512_000
    #: Refuse an MMS without exactly one ``.smil`` part (the wire notes infer the real
    #: gateway does; off by default because it is unconfirmed).
    mms_require_smil: bool = False
    #: Reports returned by one pull when ``statusNum`` is absent (spec 4.2: 4000).
    default_status_num: int = 4000
    #: Most boxes in one pushed XML body.
    push_batch_size: int = 100
    #: Entries kept in the inspection log (oldest dropped first).
    log_limit: int = 10_000
    #: Most reports and inbound messages one queue holds: the pending queue (sent, not yet
    #: due), each account's report and inbound pull queues, and each account's push outbox.
    #: Over it the oldest (the first due) are dropped and counted per account (see
    #: :meth:`SandboxState.dropped`). The default is the demo account's whole SMS balance, so
    #: no test that stays within it meets the bound, and ~0.5 GB a full queue at most.
    report_limit: int = attrs.field(default=1_000_000, validator=_whole_at_least_one)

    @classmethod
    def default(cls) -> SandboxConfig:
        """The demo configuration the CLI prints: ``demo`` (password ``demo-password``,
        userid ``1001``) with generous balances, ``poor`` (``poor-password``, ``1002``)
        with none, and ``push`` (``push-password``, ``1003``) whose callback URL is unset
        until a receiver is attached through the admin API."""
        return cls(
            accounts=[
                _demo_account("demo", "1001", funded=True),
                _demo_account("poor", "1002", funded=False),
                _demo_account("push", "1003", funded=True),
            ]
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxConfig:
        """Build from plain data (the TOML layout): top-level settings plus an
        ``accounts`` list of tables. Without ``accounts`` the default accounts are used.
        Unknown keys are an error, so a typo does not go unnoticed."""
        values = dict(data)
        raw_accounts = values.pop("accounts", None)
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown sandbox setting(s): {', '.join(unknown)}")
        if raw_accounts is None:
            accounts = cls.default().accounts
        else:
            account_fields = {field.name for field in attrs.fields(Account)}
            accounts = []
            for raw in raw_accounts:
                extra = sorted(set(raw) - account_fields)
                if extra:
                    raise ValueError(f"unknown account setting(s): {', '.join(extra)}")
                accounts.append(Account(**raw))
        return cls(accounts=accounts, **values)

    @classmethod
    def from_toml(cls, path: str | Path) -> SandboxConfig:
        """Read a TOML file laid out as :meth:`from_dict` expects."""
        with Path(path).open("rb") as handle:
            return cls.from_dict(tomllib.load(handle))
