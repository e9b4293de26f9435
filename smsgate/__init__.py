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

import importlib as _importlib
import logging as _logging
import sys as _sys
import typing as _typing
from collections.abc import Callable as _Callable
from collections.abc import Mapping as _Mapping

from smsgate._models import Receipt, Sms, mask_mobile
from smsgate._provider import Capabilities, Flow, Operation, Provider
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
    UnrenderableMessageError,
    UnsupportedOperationError,
    ValidationError,
    error_for_http_status,
    parse_retry_after,
)


# Defined here rather than in a module of its own: one module fewer to find and load at
# `import smsgate` (issue 11, import time).
def lazy_exports(
    package: str, exports: _Mapping[str, str], *, submodules: bool = False
) -> _Callable[[str], _typing.Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: each name of ``exports`` is imported
    from its module when it is first read, then kept as a plain attribute of the package.

    A plugin's ``__init__.py`` stays cheap to import this way::

        __getattr__ = smsgate.lazy_exports(__name__, {"AcmeProvider": "smsgate_acme._provider"})

    (import the names under ``if TYPE_CHECKING:`` too, for type checkers).

    :param package: the package's ``__name__``.
    :param exports: each lazily exported name → the module that defines it.
    :param submodules: also answer a name that is not exported with the package's submodule
        of that name, importing it (``package.name``), as a package whose submodules used to
        be imported eagerly must.
    :returns: the function to assign to the package's ``__getattr__``; any other name raises
        :class:`AttributeError`.
    """

    def __getattr__(name: str) -> _typing.Any:
        """The package's names loaded on first use (PEP 562); each is then a plain attribute."""
        module = exports.get(name)
        if module is None:
            if submodules:
                try:
                    return _importlib.import_module(f"{package}.{name}")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{package}.{name}":
                        raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(_importlib.import_module(module), name)
        setattr(_sys.modules[package], name, value)
        return value

    return __getattr__


if _typing.TYPE_CHECKING:
    from smsgate._config import Config, load_config
    from smsgate._drivers import arun_flow, parsing_reply, run_flow
    from smsgate._gateway import AsyncGateway, Gateway
    from smsgate._mms import Mms, MmsPart
    from smsgate._net import is_loopback_host
    from smsgate._parts import send_in_parts
    from smsgate._plugins import (
        Observation,
        PluginLoadWarning,
        get_provider,
        observe,
        provider_names,
        unobserve,
    )
    from smsgate._reports import Balance, CallbackReply, DeliveryReport, DeliveryStatus, InboundMessage
    from smsgate._segments import SegmentInfo, estimate_cost, segments
    from smsgate._unicode import replace_lone_surrogates
    from smsgate.hookspecs import hookimpl
    from smsgate.routing import BreakerPolicy, BreakerState, ProviderHealth, RateLimit, RetryPolicy, Strategy

# Loaded on first use (PEP 562), so `import smsgate` stays cheap: the gateway and routing
# (asyncio), the flow drivers (a provider's flow calls parsing_reply when it runs; the gateway
# loads them), the configuration reader (tomllib), the plugin machinery (pluggy,
# importlib.metadata), the helpers no import needs (segment counting, with its attrs class;
# send_in_parts; is_loopback_host; replace_lone_surrogates) and the value classes a send does
# not need (MMS, balances, reports, inbound messages, push replies: each attrs class compiles
# its `__init__` when it is created) are imported by the first name that needs them.
_LAZY = {
    **dict.fromkeys(("arun_flow", "parsing_reply", "run_flow"), "smsgate._drivers"),
    **dict.fromkeys(("Mms", "MmsPart"), "smsgate._mms"),
    **dict.fromkeys(
        ("Balance", "CallbackReply", "DeliveryReport", "DeliveryStatus", "InboundMessage"), "smsgate._reports"
    ),
    "is_loopback_host": "smsgate._net",
    "replace_lone_surrogates": "smsgate._unicode",
    "send_in_parts": "smsgate._parts",
    **dict.fromkeys(("SegmentInfo", "estimate_cost", "segments"), "smsgate._segments"),
    "Config": "smsgate._config",
    "load_config": "smsgate._config",
    **dict.fromkeys(("AsyncGateway", "Gateway"), "smsgate._gateway"),
    **dict.fromkeys(
        ("BreakerPolicy", "BreakerState", "ProviderHealth", "RateLimit", "RetryPolicy", "Strategy"),
        "smsgate.routing",
    ),
    **dict.fromkeys(
        ("Observation", "PluginLoadWarning", "get_provider", "observe", "provider_names", "unobserve"),
        "smsgate._plugins",
    ),
    "hookimpl": "smsgate.hookspecs",
}


# A submodule not imported yet (smsgate._plugins, smsgate.routing …) is answered too: it used
# to be loaded by the package itself, so code reaching it as an attribute keeps working.
__getattr__ = lazy_exports(__name__, _LAZY, submodules=True)


def __dir__() -> list[str]:
    """Every public name (the lazily loaded ones included), the module's own dunders and the
    public submodules loaded so far; not the aliases imported under a private name
    (``_importlib`` …), the private modules or ``annotations``."""
    module_type = type(_sys)
    return sorted(
        {
            *__all__,
            *(
                name
                for name, value in globals().items()
                if name[:2] == "__" or (name[0] != "_" and isinstance(value, module_type))
            ),
        }
    )


__version__ = "0.1.0"

# A library adds no output of its own: without logging configured by the application, the
# gateway's WARNING lines (a failed attempt, an ignored observer error) stay silent instead
# of reaching stderr through logging's last-resort handler.
_logging.getLogger("smsgate").addHandler(_logging.NullHandler())

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
    "Config",
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
    "Observation",
    "Operation",
    "PartialBatchError",
    "PartialSendError",
    "PermissionDeniedError",
    "PluginLoadWarning",
    "Provider",
    "ProviderError",
    "ProviderHealth",
    "ProviderOutageError",
    "ProviderUnavailableError",
    "RateLimit",
    "RateLimitedError",
    "Receipt",
    "RetryPolicy",
    "SegmentInfo",
    "SignatureError",
    "Sms",
    "SmsGateError",
    "Strategy",
    "TransportError",
    "UncertainOutcomeError",
    "UnknownProviderError",
    "UnrenderableMessageError",
    "UnsupportedOperationError",
    "ValidationError",
    "__version__",
    "arun_flow",
    "error_for_http_status",
    "estimate_cost",
    "get_provider",
    "hookimpl",
    "is_loopback_host",
    "lazy_exports",
    "load_config",
    "mask_mobile",
    "observe",
    "parse_retry_after",
    "parsing_reply",
    "provider_names",
    "replace_lone_surrogates",
    "run_flow",
    "segments",
    "send_in_parts",
    "unobserve",
]
