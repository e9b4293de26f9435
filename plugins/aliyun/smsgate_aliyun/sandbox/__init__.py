"""A local stand-in for Aliyun SMS (Dysmsapi 2017-05-25), for tests, demos and users' own
integration tests.

::

    with Sandbox.demo() as sandbox:       # served on 127.0.0.1, a free port
        provider = smsgate.get_provider("aliyun", **sandbox.credentials())
        ...
        sandbox.state.records               # the messages it accepted (the last record_limit)

    sandbox = Sandbox()                     # or your own accounts
    sandbox.add_account(Account("LTAI-sandbox", "sandbox-secret", sign_names={"腾飞"},
                                templates={"SMS_100001": "您的验证码：${code}"}))

It checks each request's V3 signature with its own verifier (not the client's code), answers
``SendSms``, ``SendBatchSms`` and ``QuerySendDetails`` with the service's JSON and error codes,
keeps every message for lookups, pushes reports and inbound messages to a loopback callback,
injects faults, and has an admin API (see :mod:`smsgate_aliyun.sandbox._app`).
"""

from __future__ import annotations

from ._app import Sandbox
from ._faults import FaultRule, FaultSet
from ._push import PushAttempt
from ._state import DEMO_KEY_ID, DEMO_SECRET, Account, Record, SandboxState, demo_account

__all__ = [
    "DEMO_KEY_ID",
    "DEMO_SECRET",
    "Account",
    "FaultRule",
    "FaultSet",
    "PushAttempt",
    "Record",
    "Sandbox",
    "SandboxState",
    "demo_account",
]
