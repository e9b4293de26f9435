"""PushGuard's secrets under attack: the public URL (which carries the token and maybe the
Basic credentials) is kept out of the repr, and a lone surrogate in a token is a refusal, not
a UnicodeEncodeError whose traceback holds the configured token."""

from __future__ import annotations

import base64

import pytest

from smsgate.receiver import PushGuard, PushRequest

TOKEN = "tok-Adv3rs-7c1e"
PASSWORD = "basic-Pw-44d2"


def _request(token: str | None = None, authorization: str | None = None) -> PushRequest:
    headers = {"authorization": authorization} if authorization is not None else {}
    return PushRequest(peer="127.0.0.1", headers=headers, token=token, url="https://app.example/cb")


@pytest.mark.parametrize(
    "url",
    [
        f"https://app.example/callbacks/ipyy/{TOKEN}",
        f"https://app.example/callbacks?token={TOKEN}",
        f"https://vendor:{PASSWORD}@app.example/callbacks/{TOKEN}#x",
        f"https://app.example?token={TOKEN}",
    ],
)
def test_the_public_url_shows_its_scheme_and_host_only_in_the_repr(url: str) -> None:
    guard = PushGuard(token=TOKEN, basic=("vendor", PASSWORD), public_url=url)
    text = repr(guard)
    assert TOKEN not in text
    assert PASSWORD not in text
    assert "public_url='https://app.example/…'" in text
    assert guard.public_url == url  # kept whole for verify_push


def test_no_public_url_is_none_in_the_repr() -> None:
    assert "public_url=None" in repr(PushGuard())


@pytest.mark.parametrize(("configured", "given"), [(TOKEN, "x\ud800"), ("t\udfff", "t"), ("t\udfff", None)])
def test_a_lone_surrogate_in_a_token_is_a_refusal_not_an_encoding_error(
    configured: str, given: str | None
) -> None:
    refusal = PushGuard(token=configured).check(_request(token=given))
    assert refusal is not None
    assert refusal.status_code == 403


def test_a_configured_token_with_a_lone_surrogate_admits_that_token() -> None:
    assert PushGuard(token="t\udfff").check(_request(token="t\udfff")) is None


def test_basic_credentials_with_a_lone_surrogate_refuse_other_credentials() -> None:
    guard = PushGuard(basic=("u\ud800", PASSWORD))
    header = "Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode()
    refusal = guard.check(_request(authorization=header))
    assert refusal is not None
    assert refusal.status_code == 401
