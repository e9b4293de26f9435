"""Who may post to the receiver (issue 9): token in the URL, allow-list with trusted proxies,
HTTP Basic, and the provider's signature hook. Over real sockets on loopback (uvicorn via
ServerThread, and wsgiref); a refused push gets a 4xx, is never journaled, and is logged once
without its body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest

from smsgate.receiver import PushGuard, PushRequest, Receiver, ServerThread, SQLiteJournal
from smsgate.testing import InMemoryProvider
from tests.test_receiver import push_body

pytestmark = pytest.mark.e2e

SECRET_TEXT = "private words 7731"


def _body(mobile: str = "13800138000") -> bytes:
    return push_body(mobile, inbound=(("13700137000", f"{SECRET_TEXT} to {mobile}"),))


@contextmanager
def serving(tmp_path: Path, guard: PushGuard, provider: InMemoryProvider | None = None) -> Iterator[str]:
    provider = provider or InMemoryProvider(name="mem")
    with Receiver(provider, journal=tmp_path / "j.sqlite3", guard=guard) as receiver:
        with ServerThread(receiver.asgi_app()) as server:
            yield server.url


def _stored(tmp_path: Path) -> int:
    with SQLiteJournal(tmp_path / "j.sqlite3") as journal:
        return len(journal.entries())


def test_a_token_in_the_url_is_required_when_configured(tmp_path: Path) -> None:
    with serving(tmp_path, PushGuard(token="tok-9f8e7d")) as url:
        assert httpx.post(url, content=_body()).status_code == 403
        assert httpx.post(url + "tok-9f8e7", content=_body()).status_code == 403
        assert httpx.post(url + "?token=nope", content=_body()).status_code == 403
        assert _stored(tmp_path) == 0  # refused pushes are never journaled
        ok = httpx.post(url + "tok-9f8e7d", content=_body("13800000001"))
        assert (ok.status_code, ok.content) == (200, b"ok")
        assert httpx.post(url + "?token=tok-9f8e7d", content=_body("13800000002")).status_code == 200
    assert _stored(tmp_path) == 4


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    guard = PushGuard(token="tok")
    assert guard.check(PushRequest(token="tok")) is None
    assert guard.check(PushRequest(token="tox")) is not None
    assert calls == [(b"tok", b"tok"), (b"tox", b"tok")]
    assert "tok" not in repr(guard)


def test_an_untrusted_peer_cannot_spoof_x_forwarded_for(tmp_path: Path) -> None:
    guard = PushGuard(allow=["203.0.113.0/24"])  # the vendor's network; loopback is not in it
    with serving(tmp_path, guard) as url:
        spoofed = httpx.post(url, content=_body(), headers={"X-Forwarded-For": "203.0.113.7"})
        assert spoofed.status_code == 403
        assert httpx.post(url, content=_body()).status_code == 403
    assert _stored(tmp_path) == 0


def test_a_trusted_proxy_s_x_forwarded_for_is_believed(tmp_path: Path) -> None:
    guard = PushGuard(allow=["203.0.113.0/24"], trusted_proxies=["127.0.0.1"])
    with serving(tmp_path, guard) as url:
        believed = httpx.post(url, content=_body(), headers={"X-Forwarded-For": "203.0.113.7"})
        assert (believed.status_code, believed.content) == (200, b"ok")
        # A forger puts the vendor's address first; the proxy appends the real one: refused.
        forged = httpx.post(url, content=_body(), headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.4"})
        assert forged.status_code == 403
        # Without the header, the proxy itself is judged: not in the allow-list.
        assert httpx.post(url, content=_body()).status_code == 403
        garbled = httpx.post(url, content=_body(), headers={"X-Forwarded-For": "203.0.113.7, not-an-ip"})
        assert garbled.status_code == 403
    assert _stored(tmp_path) == 2


def test_the_allow_list_admits_its_networks(tmp_path: Path) -> None:
    with serving(tmp_path, PushGuard(allow=["127.0.0.0/8", "::1/128"])) as url:
        assert httpx.post(url, content=_body()).status_code == 200


def test_http_basic_credentials(tmp_path: Path) -> None:
    with serving(tmp_path, PushGuard(basic=("ipyy", "pa:ss"))) as url:
        missing = httpx.post(url, content=_body())
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Basic")
        assert httpx.post(url, content=_body(), auth=("ipyy", "wrong")).status_code == 401
        assert httpx.post(url, content=_body(), auth=("other", "pa:ss")).status_code == 401
        bad = {"Authorization": "Basic !!!"}
        assert httpx.post(url, content=_body(), headers=bad).status_code == 401
        assert httpx.post(url, content=_body(), auth=("ipyy", "pa:ss")).status_code == 200
    assert _stored(tmp_path) == 2


class SigningProvider(InMemoryProvider):
    """A vendor that signs pushes Twilio-style: HMAC-SHA256 of URL + body in X-Signature."""

    key = b"signing-key"

    def verify_push(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        if headers.get("x-signature") == "boom":
            raise ValueError("malformed signature")
        expected = hmac.new(self.key, url.encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("x-signature", ""), expected)


def _sign(url: str, body: bytes) -> str:
    return hmac.new(SigningProvider.key, url.encode() + body, hashlib.sha256).hexdigest()


def test_a_provider_that_signs_pushes_verifies_them(tmp_path: Path) -> None:
    provider = SigningProvider(name="signed")
    body = _body()
    with serving(tmp_path, PushGuard(), provider) as url:
        good = httpx.post(url, content=body, headers={"X-Signature": _sign(url, body)})
        assert (good.status_code, good.content) == (200, b"ok")
        assert (
            httpx.post(url, content=body + b" ", headers={"X-Signature": _sign(url, body)}).status_code == 403
        )
        assert httpx.post(url, content=body).status_code == 403
        assert httpx.post(url, content=body, headers={"X-Signature": "boom"}).status_code == 403
    assert _stored(tmp_path) == 2


def test_verify_push_sees_the_public_url_behind_a_proxy(tmp_path: Path) -> None:
    public = "https://hooks.example.com/sms/"
    body = _body()
    guard = PushGuard(public_url=public)
    with serving(tmp_path, guard, SigningProvider(name="signed")) as url:
        assert httpx.post(url, content=body, headers={"X-Signature": _sign(url, body)}).status_code == 403
        assert httpx.post(url, content=body, headers={"X-Signature": _sign(public, body)}).status_code == 200


def test_refusals_are_logged_once_per_interval_without_the_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="smsgate"):
        with serving(tmp_path, PushGuard(token="tok")) as url, httpx.Client() as client:
            for _ in range(30):
                assert client.post(url + "guess", content=_body()).status_code == 403
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1, refused
    assert "token" in refused[0]
    text = caplog.text
    assert SECRET_TEXT not in text
    assert "13700137000" not in text
    assert "guess" not in text


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_wsgi_adapter_applies_the_same_guard(tmp_path: Path) -> None:
    guard = PushGuard(token="tok-w", basic=("u", "p"))
    with Receiver(InMemoryProvider(name="mem"), journal=tmp_path / "j.sqlite3", guard=guard) as receiver:
        server = make_server("127.0.0.1", 0, receiver.wsgi_app(), handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}/"
            auth = "Basic " + base64.b64encode(b"u:p").decode()
            assert httpx.post(url, content=_body(), headers={"Authorization": auth}).status_code == 403
            assert httpx.post(url + "tok-w", content=_body()).status_code == 401
            assert httpx.post(url + "tok-w/x", content=_body()).status_code == 404
            ok = httpx.post(url + "tok-w", content=_body(), headers={"Authorization": auth})
            assert (ok.status_code, ok.content) == (200, b"ok")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
    assert _stored(tmp_path) == 2
