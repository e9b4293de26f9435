"""smsgate: one vendor-neutral way to send SMS and MMS, read delivery reports and receive
inbound messages, with each SMS provider added as a plugin.

>>> import smsgate
>>> provider = smsgate.get_provider("memory")
>>> with smsgate.Gateway(provider) as gateway:
...     receipt = gateway.send(smsgate.Sms(to="13800138000", text="hello【smsgate】"))
>>> receipt.accepted
1

Importing this package loads no plugin: plugins load on the first call that needs them.
"""

from __future__ import annotations

from smsgate._drivers import arun_flow, parsing_reply, run_flow
from smsgate._gateway import (
    AsyncGateway,
    BreakerPolicy,
    BreakerState,
    Gateway,
    ProviderHealth,
    RateLimit,
    RetryPolicy,
    Strategy,
)
from smsgate._models import (
    Balance,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    Mms,
    MmsPart,
    Receipt,
    Sms,
    mask_mobile,
)
from smsgate._parts import send_in_parts
from smsgate._plugins import get_provider, provider_names
from smsgate._provider import CallbackReply, Capabilities, Flow, Operation, Provider
from smsgate.exceptions import (
    AllProvidersFailedError,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    ContentError,
    DuplicateProviderError,
    InsufficientBalanceError,
    InvalidRecipientError,
    JournalError,
    MalformedReplyError,
    MessageRejectedError,
    NoChannelError,
    NotSentError,
    PartialBatchError,
    PartialSendError,
    PermissionDeniedError,
    ProviderError,
    ProviderOutageError,
    ProviderUnavailableError,
    RateLimitedError,
    SignatureError,
    SmsGateError,
    TransportError,
    UncertainOutcomeError,
    UnknownProviderError,
    UnsupportedOperationError,
    ValidationError,
)
from smsgate.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "AllProvidersFailedError",
    "AsyncGateway",
    "AuthenticationError",
    "Balance",
    "BreakerPolicy",
    "BreakerState",
    "CallbackReply",
    "Capabilities",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentError",
    "DeliveryReport",
    "DeliveryStatus",
    "DuplicateProviderError",
    "Flow",
    "Gateway",
    "InboundMessage",
    "InsufficientBalanceError",
    "InvalidRecipientError",
    "JournalError",
    "MalformedReplyError",
    "MessageRejectedError",
    "Mms",
    "MmsPart",
    "NoChannelError",
    "NotSentError",
    "Operation",
    "PartialBatchError",
    "PartialSendError",
    "PermissionDeniedError",
    "Provider",
    "ProviderError",
    "ProviderHealth",
    "ProviderOutageError",
    "ProviderUnavailableError",
    "RateLimit",
    "RateLimitedError",
    "Receipt",
    "RetryPolicy",
    "SignatureError",
    "Sms",
    "SmsGateError",
    "Strategy",
    "TransportError",
    "UncertainOutcomeError",
    "UnknownProviderError",
    "UnsupportedOperationError",
    "ValidationError",
    "__version__",
    "arun_flow",
    "get_provider",
    "hookimpl",
    "mask_mobile",
    "parsing_reply",
    "provider_names",
    "run_flow",
    "send_in_parts",
]
