"""Known-answer tests for the V3 signature (ACS3-HMAC-SHA256), and the secret's discretion.

The vector is the worked example of Alibaba Cloud's own signature documentation:
"V3版本请求体&签名机制" / "Request syntax and signature method V3",
https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature
(English: https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature),
repeated in Function Compute's "签名机制" page,
https://help.aliyun.com/zh/functioncompute/fc/developer-reference/signature-mechanism.
Its inputs: POST ``/`` to ``ecs.cn-shanghai.aliyuncs.com``, action ``RunInstances`` version
``2014-05-26``, query ``ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd`` and
``RegionId=cn-shanghai``, empty body, ``x-acs-date: 2023-10-26T10:22:32Z``, nonce
``3156853299f313e23d1673dc12e1703d``, key ``YourAccessKeyId`` / ``YourAccessKeySecret``.
Each intermediate value the page prints is checked byte for byte.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle

import pytest

from smsgate.exceptions import ConfigurationError
from smsgate_aliyun import _signing
from smsgate_aliyun._signing import AccessKey

DOC_QUERY = "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
DOC_EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DOC_HEADERS_BLOCK = (
    "host:ecs.cn-shanghai.aliyuncs.com\n"
    "x-acs-action:RunInstances\n"
    "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-acs-date:2023-10-26T10:22:32Z\n"
    "x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n"
    "x-acs-version:2014-05-26\n"
)
DOC_SIGNED_HEADERS = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
DOC_STRING_TO_SIGN = "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
DOC_SIGNATURE = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
DOC_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders="
    + DOC_SIGNED_HEADERS
    + ",Signature="
    + DOC_SIGNATURE
)
DOC_NOW = dt.datetime(2023, 10, 26, 10, 22, 32, tzinfo=dt.UTC)
DOC_NONCE = "3156853299f313e23d1673dc12e1703d"


def doc_headers() -> dict[str, str]:
    return _signing.sign_headers(
        AccessKey("YourAccessKeyId", "YourAccessKeySecret"),
        method="POST",
        host="ecs.cn-shanghai.aliyuncs.com",
        path="/",
        query=_signing.canonical_query(
            [("RegionId", "cn-shanghai"), ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd")]
        ),
        action="RunInstances",
        version="2014-05-26",
        body=b"",
        now=DOC_NOW,
        nonce=DOC_NONCE,
    )


def test_the_documented_canonical_query_string_is_reproduced() -> None:
    """Parameters given out of order come out sorted and encoded as the page prints them."""
    pairs = [("RegionId", "cn-shanghai"), ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd")]
    assert _signing.canonical_query(pairs) == DOC_QUERY


def test_the_documented_empty_payload_hash_is_reproduced() -> None:
    assert _signing.sha256_hex(b"") == DOC_EMPTY_HASH


def test_the_documented_canonical_headers_and_signed_headers_are_reproduced() -> None:
    headers = {k: v for k, v in doc_headers().items() if k != "authorization"}
    # Upper-case names and padded values must canonicalise to the same block.
    shouty = {k.upper(): f"  {v} " for k, v in headers.items()}
    assert _signing.canonical_headers(headers) == (DOC_HEADERS_BLOCK, DOC_SIGNED_HEADERS)
    assert _signing.canonical_headers(shouty) == (DOC_HEADERS_BLOCK, DOC_SIGNED_HEADERS)


def test_the_documented_string_to_sign_and_signature_are_reproduced() -> None:
    headers = {k: v for k, v in doc_headers().items() if k != "authorization"}
    canonical = _signing.canonical_request("POST", "/", DOC_QUERY, headers, DOC_EMPTY_HASH)
    assert canonical == "\n".join(
        ["POST", "/", DOC_QUERY, DOC_HEADERS_BLOCK, DOC_SIGNED_HEADERS, DOC_EMPTY_HASH]
    )
    assert _signing.string_to_sign(canonical) == DOC_STRING_TO_SIGN
    assert AccessKey("YourAccessKeyId", "YourAccessKeySecret").sign(DOC_STRING_TO_SIGN) == DOC_SIGNATURE


def test_the_documented_authorization_header_is_reproduced() -> None:
    assert doc_headers()["authorization"] == DOC_AUTHORIZATION


def test_a_different_secret_gives_a_different_signature() -> None:
    assert AccessKey("YourAccessKeyId", "YourAccessKeySecreT").sign(DOC_STRING_TO_SIGN) != DOC_SIGNATURE


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("AZaz09-_.~", "AZaz09-_.~"),
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("+/=&:", "%2B%2F%3D%26%3A"),
        ('"', "%22"),
        ("阿里云", "%E9%98%BF%E9%87%8C%E4%BA%91"),
        ('{"code":"1439"}', "%7B%22code%22%3A%221439%22%7D"),
    ],
)
def test_percent_encoding_follows_the_v3_rules(text: str, encoded: str) -> None:
    """RFC 3986: unreserved kept, space %20 (never +), * %2A, ~ kept, UTF-8 bytes upper-case."""
    assert _signing.percent_encode(text) == encoded


def test_the_canonical_uri_encodes_each_segment_and_keeps_the_slashes() -> None:
    assert _signing.canonical_uri("/") == "/"
    assert _signing.canonical_uri("") == "/"
    assert _signing.canonical_uri("/a b/c*d") == "/a%20b/c%2Ad"


def test_a_naive_signing_time_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        _signing.sign_headers(
            AccessKey("id", "secret"),
            method="POST",
            host="h",
            path="/",
            query="",
            action="SendSms",
            version="2017-05-25",
            body=b"",
            now=dt.datetime(2023, 10, 26),
            nonce="n",
        )


def test_a_signing_time_in_another_zone_is_sent_as_utc() -> None:
    china = dt.timezone(dt.timedelta(hours=8))
    headers = _signing.sign_headers(
        AccessKey("id", "secret"),
        method="POST",
        host="h",
        path="/",
        query="",
        action="SendSms",
        version="2017-05-25",
        body=b"",
        now=dt.datetime(2023, 10, 26, 18, 22, 32, tzinfo=china),
        nonce="n",
    )
    assert headers["x-acs-date"] == "2023-10-26T10:22:32Z"


def test_the_secret_is_in_no_repr_str_or_pickle() -> None:
    key = AccessKey("LTAI5tExampleId", "VerySecretValue42")
    assert "VerySecretValue42" not in repr(key)
    assert "VerySecretValue42" not in str(key)
    assert "LTAI5tExampleId" in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize("secret", ["", "with space", "tab\there", "new\nline", "中文"])
def test_a_malformed_secret_is_refused_without_being_quoted(secret: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AccessKey("LTAI5tExampleId", secret)
    assert "access_key_secret" in str(info.value)
    if secret.strip():
        assert secret not in str(info.value)


def test_signing_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    doc_headers()
    assert caplog.records == []


def test_nonces_are_fresh_hex() -> None:
    nonces = {_signing.fresh_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) == 32 and int(n, 16) >= 0 for n in nonces)
