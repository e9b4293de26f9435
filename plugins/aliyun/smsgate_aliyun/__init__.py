"""smsgate provider for Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25).

Registered through the ``smsgate`` entry-point group as ``aliyun``; applications use it as::

    provider = smsgate.get_provider(
        "aliyun", access_key_id=..., access_key_secret=..., sign_name="阿里云",
        templates={"verify": "SMS_123456789"},
    )
    gateway.send(smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}))

or build it from checked settings::

    from smsgate_aliyun import AliyunProvider, AliyunSettings

    provider = AliyunProvider(AliyunSettings(access_key_id=..., access_key_secret=..., ...))

The wire layer lives in private modules, pure and free of I/O: :mod:`smsgate_aliyun._signing`
(the V3 signature), :mod:`smsgate_aliyun._build` (requests), :mod:`smsgate_aliyun._parse`
(replies), :mod:`smsgate_aliyun._push` (pushes), :mod:`smsgate_aliyun._codes` (error codes).
:mod:`smsgate_aliyun.sandbox` is a local stand-in for the service, for tests and demos.

Importing this package is cheap: the names above are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsgate import lazy_exports

if TYPE_CHECKING:
    from smsgate_aliyun._provider import AliyunProvider
    from smsgate_aliyun._settings import AliyunSettings

__all__ = ["AliyunProvider", "AliyunSettings"]

__getattr__ = lazy_exports(
    __name__, {"AliyunProvider": "smsgate_aliyun._provider", "AliyunSettings": "smsgate_aliyun._settings"}
)
