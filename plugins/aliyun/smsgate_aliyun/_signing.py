"""Request signing for Dysmsapi with Alibaba Cloud's V3 signature (``ACS3-HMAC-SHA256``).

Source: Alibaba Cloud, "Request syntax and signature method V3" / "V3版本请求体&签名机制"
(https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature, English at
https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature).
``tests/test_signing.py`` reproduces the page's worked example byte for byte.

Why V3 and not the RPC V1 signature (``SignatureMethod=HMAC-SHA1``):

* **Nothing about the account travels in the URL.** The RPC signature puts ``AccessKeyId``,
  ``Signature``, ``SignatureNonce`` and ``Timestamp`` in the query string, so every place that
  logs a URL (httpx's own ``HTTP Request: POST …`` line, proxies, access logs) would record the
  key id and a signature replayable within its validity window. V3 carries them in the
  ``Authorization`` and ``x-acs-*`` headers. With the operation's parameters in a form body
  (see :mod:`smsgate_aliyun._build`), the URL is the bare endpoint: a logged URL holds
  neither the key id nor a recipient number.
* **The body is signed.** ``x-acs-content-sha256`` (SHA-256 of the body) is part of the
  canonical request, so the recipients and template parameters are covered by the signature.
* **SHA-256, not SHA-1**, and it is the current scheme: Alibaba Cloud's page for the RPC
  signature ("Request body and signature mechanism V2 for RPC-style APIs", the
  ``SignatureVersion=1.0`` HMAC-SHA1 scheme) says it is deprecated and recommends V3. One
  algorithm serves RPC- and ROA-style APIs.
* **A published known-answer example** (canonical request, its hash and the signature) makes
  the implementation checkable offline.

The AccessKey secret lives only in :class:`AccessKey`, whose repr and str hide it; it is used
as an HMAC key and never written anywhere. Everything here is pure: the time and the nonce are
arguments, so a signature is reproducible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping

from smsgate.exceptions import ConfigurationError

__all__ = [
    "ALGORITHM",
    "AccessKey",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "fresh_nonce",
    "percent_encode",
    "sha256_hex",
    "sign_headers",
    "string_to_sign",
]

#: The only algorithm V3 defines.
ALGORITHM = "ACS3-HMAC-SHA256"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# RFC 3986 unreserved characters: the only ones V3 leaves unencoded.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
# A key id or secret is pasted into headers and an HMAC key: refuse whitespace and controls,
# which would otherwise allow header injection or silently different keys.
_KEY_TEXT = re.compile(r"\A[\x21-\x7e]+\Z")


class AccessKey:
    """An AccessKey pair. The secret is kept out of every repr, str, log line and error.

    :param key_id: the AccessKey id (it travels in the ``Authorization`` header).
    :param secret: the AccessKey secret (used only as the HMAC key).
    :raises ConfigurationError: either is empty or holds whitespace or control characters.
    """

    __slots__ = ("_secret", "key_id")

    def __init__(self, key_id: str, secret: str) -> None:
        for what, value in (("access_key_id", key_id), ("access_key_secret", secret)):
            if not isinstance(value, str) or not _KEY_TEXT.match(value):
                # The value itself is never quoted: it may be the secret.
                raise ConfigurationError(
                    f"{what} must be a non-empty string of printable ASCII without spaces",
                    provider="aliyun",
                )
        self.key_id = key_id
        self._secret = secret.encode("ascii")

    def __repr__(self) -> str:
        return f"<AccessKey {self.key_id!r} secret=****>"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret out; a key is rebuilt from configuration instead.
        raise TypeError("an AccessKey cannot be pickled")

    def sign(self, text: str) -> str:
        """The V3 signature of ``text``: lower-case hex of HMAC-SHA256 keyed by the secret."""
        return hmac.new(self._secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def fresh_nonce() -> str:
    """A new ``x-acs-signature-nonce``: 32 random hex digits (the service refuses a reuse)."""
    return secrets.token_hex(16)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the ``HexEncode(Hash(…))`` of the V3 page."""
    return hashlib.sha256(data).hexdigest()


def percent_encode(text: str) -> str:
    """Encode ``text`` as V3 requires: UTF-8, RFC 3986 unreserved characters kept, every other
    byte as upper-case ``%XY`` (so a space is ``%20``, ``*`` is ``%2A`` and ``~`` stays)."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8"))


def canonical_uri(path: str) -> str:
    """The CanonicalURI: each ``/``-separated segment percent-encoded; ``/`` for RPC APIs."""
    return "/".join(percent_encode(segment) for segment in (path or "/").split("/"))


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The CanonicalQueryString (also the form body here): pairs sorted by name, names and
    values percent-encoded, joined as ``name=value`` with ``&``."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params))


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The CanonicalHeaders block and the SignedHeaders list.

    Every ``x-acs-*``, ``host`` and ``content-type`` header is signed: names lower-cased and
    sorted, values trimmed, each entry ``name:value`` and a newline.
    """
    picked = sorted(
        (name.lower(), value.strip())
        for name, value in headers.items()
        if name.lower().startswith("x-acs-") or name.lower() in {"host", "content-type"}
    )
    block = "".join(f"{name}:{value}\n" for name, value in picked)
    return block, ";".join(name for name, _ in picked)


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> str:
    """The CanonicalRequest of the V3 page, from its six parts."""
    block, signed = canonical_headers(headers)
    return "\n".join([method.upper(), canonical_uri(path), query, block, signed, payload_hash])


def string_to_sign(canonical: str) -> str:
    """``ACS3-HMAC-SHA256`` and the hex SHA-256 of the canonical request, on two lines."""
    return f"{ALGORITHM}\n{sha256_hex(canonical.encode('utf-8'))}"


def sign_headers(
    key: AccessKey,
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    action: str,
    version: str,
    body: bytes,
    now: dt.datetime,
    nonce: str,
    content_type: str | None = None,
) -> dict[str, str]:
    """Every header a V3-signed request carries, ``Authorization`` included.

    :param host: the ``host`` header as sent (with ``:port`` for a non-default port).
    :param query: the canonical query string (empty when the parameters are in the body).
    :param now: the signing time; must be timezone-aware (sent as UTC).
    :param nonce: a value never used before with this key (see :func:`fresh_nonce`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigurationError("the signing time must be timezone-aware", provider="aliyun")
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": now.astimezone(dt.UTC).strftime(_DATE_FORMAT),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": sha256_hex(body),
    }
    if content_type is not None:
        headers["content-type"] = content_type
    canonical = canonical_request(method, path, query, headers, headers["x-acs-content-sha256"])
    _, signed = canonical_headers(headers)
    signature = key.sign(string_to_sign(canonical))
    headers["authorization"] = (
        f"{ALGORITHM} Credential={key.key_id},SignedHeaders={signed},Signature={signature}"
    )
    return headers
