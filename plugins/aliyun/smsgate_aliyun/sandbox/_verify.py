"""The sandbox's own check of the V3 signature (ACS3-HMAC-SHA256).

Written apart from the client's :mod:`smsgate_aliyun._signing` on purpose, and sharing no
code with it: it encodes with :func:`urllib.parse.quote`, reads the signed header list from
the ``Authorization`` header rather than choosing the headers itself, and hashes the body it
received. A mistake on either side therefore shows up as a refused request in the end-to-end
tests instead of being shared by both.

Checks, in the order the service reports them: the ``Authorization`` form
(``IncompleteSignature``), the key id (``InvalidAccessKeyId.NotFound``), the time
(``InvalidTimeStamp.Expired``, 15 minutes either way), the body hash and the signature
(``SignatureDoesNotMatch``), then the nonce (``SignatureNonceUsed``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Mapping

from ._state import Account, VendorError

__all__ = ["verify_request"]

_AUTHORIZATION = re.compile(
    r"\AACS3-HMAC-SHA256 Credential=(?P<key>[^,\s]+),SignedHeaders=(?P<signed>[a-z0-9;_.-]+),"
    r"Signature=(?P<signature>[0-9a-f]{64})\Z"
)
_WINDOW = dt.timedelta(minutes=15)


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def _query(raw_query: str) -> str:
    # The V3 page: sort the parameters by *name*, then encode (sorting the encoded "k=v"
    # strings differs: "00=" sorts before "0=").
    pairs = sorted(urllib.parse.parse_qsl(raw_query, keep_blank_values=True), key=lambda kv: kv[0])
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


def _time(value: str | None, now: dt.datetime) -> None:
    try:
        when = dt.datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise VendorError("InvalidTimeStamp.Format", "Specified time stamp is malformed.", 400) from exc
    if abs(now - when) > _WINDOW:
        raise VendorError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)


def _signed_block(signed: list[str], headers: Mapping[str, str]) -> str:
    unsigned = {name for name in headers if name.startswith("x-acs-")} - set(signed)
    if signed != sorted(signed) or "host" not in signed or unsigned:
        raise VendorError("IncompleteSignature", "The request signature does not cover the headers.", 400)
    try:
        return "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    except KeyError as exc:
        raise VendorError("IncompleteSignature", f"Signed header {exc} is missing.", 400) from exc


def verify_request(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    find_account: Callable[[str], Account | None],
    nonce_seen: Callable[[str, str], bool],
    now: dt.datetime,
) -> Account:
    """Check the request's V3 signature; return the account that signed it.

    :param headers: the request headers with lower-case names.
    :param nonce_seen: records ``(key id, nonce)`` and says whether it was seen before.
    :raises VendorError: with the service's code for the first check that fails.
    """
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None:
        raise VendorError("IncompleteSignature", "The request signature is missing or malformed.", 400)
    account = find_account(match["key"])
    if account is None:
        raise VendorError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    _time(headers.get("x-acs-date"), now)
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-acs-content-sha256") != payload_hash:
        raise VendorError("SignatureDoesNotMatch", "The body does not match x-acs-content-sha256.", 400)
    signed = match["signed"].split(";")
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(path or "/", safe="/-_.~"),
            _query(raw_query),
            _signed_block(signed, headers),
            match["signed"],
            payload_hash,
        ]
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    expected = hmac.new(
        account.secret.encode("utf-8"), f"ACS3-HMAC-SHA256\n{digest}".encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise VendorError(
            "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400
        )
    nonce = headers.get("x-acs-signature-nonce", "")
    if not nonce or nonce_seen(account.key_id, nonce):
        raise VendorError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
    return account
