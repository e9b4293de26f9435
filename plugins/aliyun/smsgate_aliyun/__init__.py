"""smsgate plugin for Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25).

The wire layer lives in private modules, pure and free of I/O:

* :mod:`smsgate_aliyun._signing` signs requests with Alibaba Cloud's V3 signature;
* :mod:`smsgate_aliyun._build` builds the ``SendSms``, ``SendBatchSms`` and
  ``QuerySendDetails`` requests;
* :mod:`smsgate_aliyun._parse` parses their replies, :mod:`smsgate_aliyun._push` the report and
  inbound pushes;
* :mod:`smsgate_aliyun._codes` turns the vendor's error codes into smsgate's error tree.

:mod:`smsgate_aliyun.sandbox` is a local stand-in for the service, for tests and demos.

The provider class and the ``aliyun`` entry point are not registered yet (see
``docs/providers/aliyun.md``).
"""

from __future__ import annotations

__all__: list[str] = []
