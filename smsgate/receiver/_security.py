"""Who may post to a receiver: a secret token in the callback URL, an allow-list of source
networks (with the proxies whose ``X-Forwarded-For`` is believed), HTTP Basic credentials.

Vendors that do not sign their pushes (ipyy) leave the URL as the only thing a forger must
find; :class:`PushGuard` adds what a receiver can check on its own. Vendors that sign pushes
are checked by their provider's :meth:`~smsgate.Provider.verify_push`. See ``docs/receiver.md``,
"securing the endpoint".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import attrs

from smsgate.exceptions import ConfigurationError, ValidationError

__all__ = ["PushGuard", "PushRequest", "Refusal"]

_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


#: What one entry of ``allow`` / ``trusted_proxies`` may be: a network or an address, as text
#: or as an :mod:`ipaddress` object (an int or bytes would be read as a packed address).
_ENTRY_TYPES = (
    str,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
)


def _networks(field: str, values: object) -> tuple[_Network, ...]:
    """The networks of the list ``field`` (``allow``, ``trusted_proxies``); a
    :class:`ConfigurationError` naming the first entry that is none (its ``ValueError`` as the
    cause). A string alone is refused: it would be read as a list of one-character entries."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"PushGuard.{field} must be a list of networks (such as ['203.0.113.0/24']), "
            f"not {type(values).__name__} {values!r}"
        )
    networks = []
    for value in values:
        if not isinstance(value, _ENTRY_TYPES):
            raise ConfigurationError(
                f"PushGuard.{field}: {value!r} is not a network (such as '203.0.113.0/24') "
                f"but a {type(value).__name__}"
            )
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ConfigurationError(
                f"PushGuard.{field}: {value!r} is not a network (such as '203.0.113.0/24'): {exc}"
            ) from exc
    return tuple(networks)


def _allow(values: Iterable[str | _Network]) -> tuple[_Network, ...]:
    return _networks("allow", values)


def _trusted_proxies(values: Iterable[str | _Network]) -> tuple[_Network, ...]:
    return _networks("trusted_proxies", values)


def _token(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    """``None`` or a non-empty string (an empty token would let every push without one in).
    The value is secret: never in the message."""
    if value is not None and (not isinstance(value, str) or not value):
        kind = "an empty string" if value == "" else f"a {type(value).__name__}"
        raise ConfigurationError(f"PushGuard.token must be a non-empty string or None, not {kind}")


def _basic(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    """``None`` or ``(user, password)``, two strings, the password not empty. The values are
    secret: never in the message."""
    if value is None:
        return
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2  # user, password
        or not all(isinstance(part, str) for part in value)
    ):
        kind = type(value).__name__
        raise ConfigurationError(
            f"PushGuard.basic must be a (user, password) pair of strings or None, not a {kind}"
        )
    if not value[1]:
        raise ConfigurationError("PushGuard.basic: the password must not be empty")


def _public_url(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"PushGuard.public_url must be a non-empty string or None, not {value!r}")


def _url_repr(url: str | None) -> str:
    """``public_url`` in the repr: its scheme and host only. The URL the vendor was given holds
    the token (its last path segment or ``?token=``) and maybe the Basic credentials."""
    if url is None:
        return "None"
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    return repr(f"{scheme}{sep}{host}/…")


def _address(text: str | None) -> _Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _within(address: _Address, networks: tuple[_Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


@attrs.frozen(kw_only=True)
class PushRequest:
    """What an adapter passes the receiver about one request, besides the body.

    :ivar peer: the address the connection came from (``None`` when the server does not say).
    :ivar headers: the request headers, names in lower case.
    :ivar token: the token the URL carries (the path's last segment after the mount point,
        or the ``token`` query parameter), or ``None``.
    :ivar url: the URL the request was made to, as the server saw it.

    :raises ValidationError: a field of the wrong type (``peer`` or ``token`` neither text nor
        ``None``, ``headers`` no mapping, ``url`` no text), naming the field; never its value
        (the token, the URL and the headers may hold secrets). The header values are not
        walked when a request is built (one is built per push): one the guard reads
        (``x-forwarded-for``, ``authorization``) that is not text is refused the same way
        when :meth:`PushGuard.check` reads it.
    """

    peer: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    url: str = ""

    def __attrs_post_init__(self) -> None:
        # Type tests only (an adapter builds one per push); the rest looked at closely.
        if (
            type(self.peer) not in _TEXT_OR_NONE
            or type(self.token) not in _TEXT_OR_NONE
            or type(self.url) is not str
            or type(self.headers) is not dict
        ):
            _check_request(self)


_TEXT_OR_NONE = (str, type(None))


def _header(request: PushRequest, name: str) -> str:
    """The value of header ``name`` (lower case) the guard reads, ``""`` when absent; a value
    that is not text is a :class:`ValidationError` (the headers are not walked one by one
    when a request is built, a push at a time: each is looked at where it is read)."""
    value: object = request.headers.get(name, "")
    if not isinstance(value, str):
        raise _wrong("headers", "a mapping of header names to values, both text", value)
    return value


def _check_request(request: PushRequest) -> None:
    """:class:`PushRequest`'s fields, the first of the wrong type refused with a
    :class:`ValidationError` naming it (its type, never its value)."""
    for name in ("peer", "token"):
        value = getattr(request, name)
        if value is not None and not isinstance(value, str):
            raise _wrong(name, "text or None", value)
    url: object = request.url
    if not isinstance(url, str):
        raise _wrong("url", "text", url)
    headers: object = request.headers
    if not isinstance(headers, Mapping):
        raise _wrong("headers", "a mapping of header names to values (text)", headers)


def _wrong(field: str, expected: str, value: object) -> ValidationError:
    return ValidationError(f"PushRequest.{field} must be {expected}, not {type(value).__name__}", field=field)


@attrs.frozen
class Refusal:
    """Why a push was refused: the HTTP status, a reason for the log, its kind (``token``,
    ``source``, ``credentials``, ``signature``: log lines are rate-limited per kind) and
    extra headers for the reply."""

    status_code: int
    reason: str
    kind: str
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen(kw_only=True)
class PushGuard:
    """The checks a receiver makes before it reads a push's events (all off by default).

    :param token: a secret the callback URL must carry, as its last path segment
        (``https://example.com/callbacks/ipyy/<token>``) or as ``?token=<token>``; compared in
        constant time. Generate it with ``python -c "import secrets; print(secrets.token_urlsafe(32))"``.
    :param allow: networks pushes may come from (``["203.0.113.0/24", "2001:db8::/32"]``);
        empty: any.
    :param trusted_proxies: the proxies whose ``X-Forwarded-For`` is believed, and no other:
        a request from one of them is judged by the last address in ``X-Forwarded-For`` that
        is not itself a trusted proxy; a request from anywhere else by its own address, its
        ``X-Forwarded-For`` ignored.
    :param basic: ``(user, password)`` for HTTP Basic authentication, if the vendor can be
        given a URL that carries them (``https://user:password@example.com/…``).
    :param public_url: the URL the provider was given, for :meth:`Provider.verify_push
        <smsgate.Provider.verify_push>` when the server sees another one (behind a proxy). It
        may carry the token and the Basic credentials: the repr shows its scheme and host only.

    Secrets never appear in the repr, nor in the errors. A wrong argument (an entry that is
    not a network, a token that is not a non-empty string, an empty Basic password …) is
    refused with a :class:`~smsgate.exceptions.ConfigurationError` naming the field.
    """

    token: str | None = attrs.field(default=None, repr=False, validator=_token)
    allow: tuple[_Network, ...] = attrs.field(default=(), converter=_allow)
    trusted_proxies: tuple[_Network, ...] = attrs.field(default=(), converter=_trusted_proxies)
    basic: tuple[str, str] | None = attrs.field(default=None, repr=False, validator=_basic)
    public_url: str | None = attrs.field(default=None, repr=_url_repr, validator=_public_url)

    def client(self, request: PushRequest) -> _Address | None:
        """The address the push is judged by: the peer, or what a trusted proxy forwarded."""
        peer = _address(request.peer)
        if peer is None or not _within(peer, self.trusted_proxies):
            return peer
        forwarded = _header(request, "x-forwarded-for")
        hops = [h for h in (part.strip() for part in forwarded.split(",")) if h]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return None  # a garbled chain is not believed
            if not _within(address, self.trusted_proxies):
                return address
        return peer

    def check(self, request: PushRequest) -> Refusal | None:
        """``None`` when ``request`` passes every configured check, else why it does not."""
        if self.token is not None and not _same(request.token or "", self.token):
            return Refusal(403, "wrong or missing token", "token")
        if self.allow:
            client = self.client(request)
            if client is None or not _within(client, self.allow):
                return Refusal(403, f"source {client or 'unknown'} not allowed", "source")
        if self.basic is not None and not self._basic_ok(_header(request, "authorization")):
            challenge = (("WWW-Authenticate", 'Basic realm="smsgate"'),)
            return Refusal(401, "wrong or missing credentials", "credentials", challenge)
        return None

    def _basic_ok(self, header: str) -> bool:
        if self.basic is None:
            return True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            user, sep, password = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Both compared, always: the time taken says nothing about which one was wrong.
        user_ok = _same(user, self.basic[0])
        password_ok = _same(password, self.basic[1])
        return bool(sep) and user_ok and password_ok


def _same(given: str, expected: str) -> bool:
    # surrogatepass: a lone surrogate (in a configured token, or in a token a custom adapter
    # passes) is compared like any other character, not a UnicodeEncodeError whose traceback
    # holds the secret.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
