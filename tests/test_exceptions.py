"""The error tree: httpx translation at the boundary, classification, and the drawn tree."""

from __future__ import annotations

import inspect
import pickle
import re

import httpx
import httpx._exceptions
import pytest

import smsgate
from smsgate import exceptions
from smsgate._drivers import translate_transport_error
from smsgate.exceptions import (
    AllProvidersFailedError,
    MalformedReplyError,
    NotSentError,
    PartialBatchError,
    PartialSendError,
    ProviderOutageError,
    SmsGateError,
    UncertainOutcomeError,
)

SECRET_URL = "https://acct:hunter2-secret@sms.example.invalid/sms.aspx?password=hunter2-secret"


def _httpx_exception_classes() -> list[type[Exception]]:
    """Every exception class httpx exposes, public namespace and private module alike."""
    found: dict[str, type[Exception]] = {}
    for module in (httpx, httpx._exceptions):
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Exception)
                and obj.__module__.startswith("httpx")
                and not name.startswith("_")
            ):
                found[obj.__qualname__] = obj
    return [found[name] for name in sorted(found)]


def _instance(cls: type[Exception]) -> Exception:
    """Build ``cls`` the way httpx does, with a message that carries a URL and a password."""
    request = httpx.Request("GET", SECRET_URL)
    if issubclass(cls, httpx.HTTPStatusError):
        return cls(SECRET_URL, request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls(SECRET_URL, request=request)
    params = inspect.signature(cls.__init__).parameters
    if len(params) > 1 and "message" in params:
        return cls(SECRET_URL)
    return cls()


# The decision for every httpx exception class: did the request surely not leave (NotSent),
# or may the provider have received it (Uncertain)? A new httpx class fails
# test_every_httpx_class_has_a_decision until someone decides for it here.
EXPECTED: dict[str, type[SmsGateError]] = {
    # nothing reached the provider
    "ConnectError": NotSentError,
    "ConnectTimeout": NotSentError,
    "PoolTimeout": NotSentError,
    "UnsupportedProtocol": NotSentError,
    "LocalProtocolError": NotSentError,
    "ProxyError": NotSentError,
    "InvalidURL": NotSentError,
    # the request may have been received and acted upon
    "ReadTimeout": UncertainOutcomeError,
    "WriteTimeout": UncertainOutcomeError,
    "ReadError": UncertainOutcomeError,
    "WriteError": UncertainOutcomeError,
    "CloseError": UncertainOutcomeError,
    "RemoteProtocolError": UncertainOutcomeError,
    "DecodingError": UncertainOutcomeError,
    "TooManyRedirects": UncertainOutcomeError,
    "HTTPStatusError": UncertainOutcomeError,
    "CookieConflict": UncertainOutcomeError,
    # base classes: when only the family is known, assume the worst
    "HTTPError": UncertainOutcomeError,
    "RequestError": UncertainOutcomeError,
    "TransportError": UncertainOutcomeError,
    "TimeoutException": UncertainOutcomeError,
    "NetworkError": UncertainOutcomeError,
    "ProtocolError": UncertainOutcomeError,
    "StreamError": UncertainOutcomeError,
    "StreamConsumed": UncertainOutcomeError,
    "StreamClosed": UncertainOutcomeError,
    "ResponseNotRead": UncertainOutcomeError,
    "RequestNotRead": UncertainOutcomeError,
}

HTTPX_CLASSES = _httpx_exception_classes()


def test_every_httpx_class_has_a_decision() -> None:
    """The walk finds httpx's exceptions, and each one has an expected classification."""
    names = {cls.__qualname__ for cls in HTTPX_CLASSES}
    assert {"ConnectError", "ReadTimeout", "StreamConsumed", "InvalidURL"} <= names
    assert names == set(EXPECTED), "decide NotSent/Uncertain for new or removed httpx classes"


@pytest.mark.parametrize("cls", HTTPX_CLASSES, ids=lambda c: c.__qualname__)
def test_httpx_exception_maps_to_exactly_one_outcome(cls: type[Exception]) -> None:
    """Each httpx class becomes NotSentError xor UncertainOutcomeError, cause kept, no URL leaked."""
    original = _instance(cls)
    err = translate_transport_error(original, provider="acme", operation="send")
    assert isinstance(err, NotSentError) != isinstance(err, UncertainOutcomeError)
    assert isinstance(err, EXPECTED[cls.__qualname__])
    assert err.__cause__ is original
    assert err.provider == "acme"
    assert err.operation == "send"
    text = str(err)
    assert "hunter2" not in text
    assert "http" not in text
    assert "example.invalid" not in text
    assert cls.__qualname__ in text  # says what happened, without httpx's own text


def test_unknown_exception_is_treated_as_uncertain() -> None:
    """Something that is not httpx at all is never classified as surely-not-sent."""
    err = translate_transport_error(OSError("socket gone"))
    assert type(err) is UncertainOutcomeError
    assert isinstance(err.__cause__, OSError)


# (retry_safe, failover_safe) for every class; PartialSendError (alias PartialBatchError) follows its cause.
CLASSIFICATION: dict[str, tuple[bool, bool]] = {
    "SmsGateError": (False, False),
    "ConfigurationError": (False, False),
    "UnknownProviderError": (False, False),
    "DuplicateProviderError": (False, False),
    "UnsupportedOperationError": (False, False),
    "UnrenderableMessageError": (False, False),
    "ValidationError": (False, False),
    "ProviderError": (False, False),
    "ProviderUnavailableError": (False, True),
    "AuthenticationError": (False, True),
    "InsufficientBalanceError": (False, True),
    "NoChannelError": (False, True),
    "PermissionDeniedError": (False, True),
    "RateLimitedError": (True, True),
    "ProviderOutageError": (True, True),
    "MessageRejectedError": (False, False),
    "InvalidRecipientError": (False, False),
    "ContentError": (False, False),
    "SignatureError": (False, False),
    "TransportError": (False, False),
    "NotSentError": (True, True),
    "CircuitOpenError": (True, True),
    "UncertainOutcomeError": (False, False),
    "MalformedReplyError": (False, False),
    "JournalError": (False, False),
    "AllProvidersFailedError": (False, False),
}


def _defined_classes() -> dict[str, type[SmsGateError]]:
    return {
        name: obj
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and issubclass(obj, SmsGateError)
        and obj.__module__ == exceptions.__name__
        and obj.__name__ == name  # an alias kept for an old name is not a class of its own
    }


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_classification_flags(name: str) -> None:
    """retry_safe / failover_safe say exactly what the routing rules in DESIGN.md §2 say."""
    cls = _defined_classes()[name]
    assert (cls.retry_safe, cls.failover_safe) == CLASSIFICATION[name]


def test_classification_table_covers_every_class() -> None:
    """No exception class is left without a routing decision."""
    assert set(_defined_classes()) == set(CLASSIFICATION) | {"PartialSendError"}


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (NotSentError("refused"), (True, True)),
        (UncertainOutcomeError("read timeout"), (False, False)),
        (ProviderOutageError("busy"), (True, True)),
    ],
)
def test_partial_batch_follows_its_cause(cause: SmsGateError, expected: tuple[bool, bool]) -> None:
    """A partial batch may be resent exactly when the failure that stopped it allows."""
    err = PartialBatchError("stopped", receipts=["r1"], pending=["m2"], cause=cause)
    assert (err.retry_safe, err.failover_safe) == expected
    assert err.cause is cause
    assert err.receipts == ("r1",)
    assert err.pending == ("m2",)


def _docstring_tree() -> dict[str, str | None]:
    """Parse the tree in the module docstring into {class name: drawn parent}."""
    doc = exceptions.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]\s*)*(?:[├└]── )?)([A-Z]\w*Error)\b", line)
        if not match:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_docstring_tree_lists_every_class_and_nothing_else() -> None:
    """Every class of smsgate.exceptions is drawn in the module docstring, and vice versa."""
    assert set(_docstring_tree()) == set(_defined_classes())


def test_docstring_tree_draws_the_real_parents() -> None:
    """Each class sits under its real base class in the drawn tree."""
    for name, parent in _docstring_tree().items():
        cls = _defined_classes()[name]
        if parent is None:
            assert cls is SmsGateError
        else:
            assert cls.__bases__[0].__name__ == parent, name


def test_every_class_is_exported() -> None:
    """``smsgate.exceptions.__all__`` names every class (and the two helpers that map an HTTP
    status to one), and SmsGateError is on the package."""
    helpers = {"error_for_http_status", "parse_retry_after"}
    assert set(exceptions.__all__) == set(_defined_classes()) | {"PartialBatchError"} | helpers
    assert exceptions.PartialBatchError is exceptions.PartialSendError
    assert smsgate.SmsGateError is SmsGateError


def test_all_providers_failed_is_an_exception_group_and_an_smsgate_error() -> None:
    """The group works with ``except*`` and with ``except SmsGateError`` alike."""
    attempts = [
        NotSentError("refused", provider="a"),
        ProviderOutageError("down", provider="b", code="9"),
    ]
    group = AllProvidersFailedError("all providers failed", attempts, operation="send")
    assert isinstance(group, ExceptionGroup)
    assert isinstance(group, SmsGateError)
    assert group.exceptions == tuple(attempts)
    assert group.attempts == tuple(attempts)
    assert group.operation == "send"

    caught: list[BaseException] = []
    subgroups: list[BaseExceptionGroup[BaseException]] = []
    try:
        raise group
    except* NotSentError as sub:
        caught.extend(sub.exceptions)
        subgroups.append(sub)
    except* ProviderOutageError as sub:
        caught.extend(sub.exceptions)
    assert caught == attempts
    assert all(isinstance(sub, AllProvidersFailedError) for sub in subgroups)

    with pytest.raises(SmsGateError) as info:
        raise group
    assert "all providers failed" in str(info.value)


def test_all_providers_failed_split_keeps_the_type() -> None:
    """``split`` (used by ``except*``) builds subgroups of the same class."""
    group = AllProvidersFailedError("x", [NotSentError("a"), UncertainOutcomeError("b")], operation="send")
    matched, rest = group.split(NotSentError)
    assert isinstance(matched, AllProvidersFailedError)
    assert isinstance(rest, AllProvidersFailedError)
    assert matched.operation == "send"
    assert [type(e) for e in matched.exceptions] == [NotSentError]


def test_str_names_the_provider_and_the_vendor_code() -> None:
    """The message says which provider refused and with which code, not the raw reply."""
    err = ProviderOutageError("internal error", provider="acme", code="9", raw={"password": "pw"})
    assert str(err) == "[acme] internal error (code 9)"


def test_malformed_reply_keeps_a_short_excerpt() -> None:
    """The body excerpt is bounded, so a huge garbage reply does not bloat logs."""
    err = MalformedReplyError("bad", status_code=200, body_excerpt=b"x" * 5000)
    assert err.body_excerpt == b"x" * 200
    assert err.request_sent is True
    assert isinstance(err, UncertainOutcomeError)


def test_a_partial_send_error_survives_pickling() -> None:
    """BaseException rebuilds from args alone: unpickling one (a process pool's result, a task
    result backend) raised TypeError for the missing receipts, pending and cause."""
    receipt = smsgate.Receipt(provider="a", task_id="a-1", accepted=1)
    pending = smsgate.Sms(to="13800138001", text="hi")
    error = PartialSendError(
        "stopped", receipts=[receipt], pending=[pending], cause=UncertainOutcomeError("cut"), provider="a"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.receipts, copy.pending) == (
        PartialSendError,
        str(error),
        (receipt,),
        (pending,),
    )
    assert isinstance(copy.cause, UncertainOutcomeError)
    assert copy.__cause__ is copy.cause
    assert (copy.retry_safe, copy.failover_safe, copy.provider) == (False, False, "a")
