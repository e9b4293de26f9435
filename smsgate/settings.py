"""Building blocks for a provider's settings class.

A provider checks its settings once, in a frozen attrs class whose validators raise
:class:`~smsgate.exceptions.ConfigurationError` naming the setting (``docs/plugins.md``, step
3). The settings every provider over HTTP has (its ``name``, ``base_url`` and ``timeout``) are
checked the same way for every provider, so the converters and validators are written here
once::

    import attrs
    from smsgate import settings


    @attrs.frozen(kw_only=True)
    class AcmeSettings:
        name: str = attrs.field(default="acme", validator=settings.check_name)
        base_url: str = attrs.field(
            default="https://api.acme.example/",
            converter=settings.to_base_url,
            validator=settings.check_base_url("the account token"),
        )
        timeout: float | None = attrs.field(
            default=10.0, converter=settings.to_seconds, validator=settings.check_timeout
        )
        allow_insecure_http: bool = attrs.field(default=False, converter=bool)

Converters are tolerant: a value of the wrong type is left for the validator to name.
Validators raise a ``ConfigurationError`` naming the setting and the provider (the settings'
``name``, else the default of their ``name`` field) and never quote a value that could be a
secret. Give ``name`` first: the validators of the other fields name the provider with it.

A refusal must not leave a secret in the frame locals of its traceback either (error
reporters capture them): every public entry that takes settings holding a secret catches the
``ConfigurationError``, drops its own locals holding the secret and raises it again through
the traceback cut there by :func:`cut_traceback`::

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AcmeSettings:
        try:
            return cls(**config)
        except ConfigurationError as error:
            del config  # the frame raising it again holds no secret
            settings.cut_traceback(error)
            raise error

A settings class built directly (``AcmeSettings(token=…)``) is an entry too: its attrs
constructor holds every value it was given as a local, and its validators get the half-built
object. :func:`secret_fields` names the fields holding a secret, and the constructor then
refuses the same way: the secrets removed from the half-built object, the traceback cut::

    @settings.secret_fields("token")
    @attrs.frozen(kw_only=True)
    class AcmeSettings: ...
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import attrs
import httpx

from smsgate._net import is_loopback_host
from smsgate.exceptions import ConfigurationError

__all__ = [
    "Validator",
    "check_base_url",
    "check_name",
    "check_timeout",
    "cut_traceback",
    "error",
    "secret_fields",
    "to_base_url",
    "to_seconds",
]

#: An attrs validator: called with the settings object, the field and the value.
Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_Class = TypeVar("_Class", bound=type)


def cut_traceback(error: BaseException, *, outer: BaseException | None = None) -> None:
    """Make ``error`` ready to be raised again by the public entry that refuses the settings:
    its traceback is cut (the frames below it hold the settings, secrets included, as locals
    of the constructors and validators), and so are the tracebacks of the errors chained to
    it; a context it suppresses (``raise … from None``) is dropped, since it may hold the
    value (a ``UnicodeEncodeError`` keeps the whole string). The messages stay: they name the
    setting, never its value. Raise it again from a frame that no longer holds a secret.

    :param outer: the error the caller was handling when the entry was called
        (``sys.exception()`` on entry), if any: it is the context of the chain and not the
        entry's to cut, so it and what it chains are left as they are.
    """
    pending: list[BaseException | None] = [error]
    seen: set[int] = set() if outer is None else {id(outer)}
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        if current.__suppress_context__:
            current.__context__ = None
        pending += [current.__cause__, current.__context__]


def secret_fields(*names: str) -> Callable[[_Class], _Class]:
    """Class decorator, above ``@attrs.frozen``: the fields ``names`` hold secrets, so any
    error escaping the constructor leaves them in no frame of its traceback (error reporters
    capture the locals of every frame) and in none of the errors chained to it.

    The attrs constructor keeps what it was given as locals and hands the half-built object to
    the validators, so its own frames cannot be cleaned: the decorated constructor calls it,
    and on any error removes the secret fields from the half-built object, cuts the traceback
    with :func:`cut_traceback` and raises the same error again from a frame that holds
    neither its arguments nor a secret. Its signature (``inspect.signature``) is the attrs
    constructor's; a successful call costs one more frame.
    """

    def decorate(cls: _Class) -> _Class:
        built: Callable[..., None] = vars(cls)["__init__"]  # the one attrs wrote

        @functools.wraps(built)
        def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
            outer = sys.exception()
            try:
                built(self, *args, **kwargs)
            except BaseException as error:
                del args, kwargs
                _forget(self, names)
                cut_traceback(error, outer=outer)
                raise error

        type.__setattr__(cls, "__init__", __init__)
        return cls

    return decorate


def _forget(instance: object, names: tuple[str, ...]) -> None:
    """Remove the fields ``names`` from a half-built ``instance`` (frozen or not); a field
    not set yet is skipped."""
    for name in names:
        if hasattr(instance, name):
            object.__delattr__(instance, name)


def _default_name(cls: type) -> str | None:
    """The default of the ``name`` field of an attrs class, when it has a string one."""
    field = attrs.fields_dict(cls).get("name") if attrs.has(cls) else None
    default = field.default if field is not None else None
    return default if isinstance(default, str) and default else None


def error(instance: Any, message: str) -> ConfigurationError:
    """A :class:`~smsgate.exceptions.ConfigurationError` about a setting of ``instance``,
    naming the provider: the settings' ``name`` when it is a non-empty string, else the
    default of their class's ``name`` field. ``message`` must not quote a secret."""
    name = getattr(instance, "name", None)
    provider = name if isinstance(name, str) and name else _default_name(type(instance))
    return ConfigurationError(message, provider=provider)


def to_base_url(value: Any) -> Any:
    """Converter: the URL without query or fragment, ending in ``/`` (endpoints are joined to
    it). A value that is not a URL is returned as is, for :func:`check_base_url` to name."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        return value
    text = str(url.copy_with(query=None, fragment=None))
    return text if text.endswith("/") else text + "/"


def to_seconds(value: Any) -> Any:
    """Converter: an int or a float as a float (``5`` → ``5.0``; an int too large for a float
    → ``inf``); anything else (``None``, a bool, a string) as is, for :func:`check_timeout` to
    accept or name."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    try:
        return float(value)
    except OverflowError:  # raised here, it would escape as no ConfigurationError
        return math.inf


def check_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: the provider's name is a non-empty string. The error names the provider by
    the field's default, since the name itself is what is wrong."""
    if not isinstance(value, str) or not value:
        default = attribute.default if isinstance(attribute.default, str) else None
        raise ConfigurationError(f"{attribute.name} must be a non-empty string", provider=default)


def check_timeout(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: ``None`` (no timeout) or a positive, finite number of seconds (after
    :func:`to_seconds`; ``nan`` and ``inf`` would fail only when a request sets its timeout)."""
    if value is not None and (not isinstance(value, float) or not math.isfinite(value) or value <= 0):
        raise error(instance, f"{attribute.name} must be a positive number of seconds, not {value!r}")


def check_base_url(exposes: str) -> Validator:
    """Validator: an ``http://`` or ``https://`` URL with a host, no ``user:password`` and a
    port (if it names one) from 1 to 65535, and plain ``http`` only to loopback
    (:func:`smsgate.is_loopback_host`) unless the settings' ``allow_insecure_http`` is true.

    :param exposes: what plain http would expose, for the error:
        ``"the account name and password hash"`` gives "… the account name and password hash
        would travel unencrypted".
    """

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError):
            raise error(instance, f"{attribute.name} is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise error(instance, f"{attribute.name} must be an http:// or https:// URL with a host")
        if url.userinfo:
            raise error(instance, f"{attribute.name} must not carry user:password")
        if url.port is not None and not 0 < url.port < 65536:
            # The resolver wraps a larger port (99999 is 34463): the credentials would go to
            # another service on that host.
            raise error(instance, f"{attribute.name} has the port {url.port}; a port is 1 to 65535")
        # Only localhost and literal loopback addresses: *.localhost can resolve elsewhere.
        insecure_ok = getattr(instance, "allow_insecure_http", False)
        if url.scheme == "http" and not insecure_ok and not is_loopback_host(url.host):
            raise error(
                instance,
                f"{attribute.name} uses plain http to {url.host}; {exposes} would travel "
                "unencrypted. Use https, or pass allow_insecure_http=True",
            )

    return check
