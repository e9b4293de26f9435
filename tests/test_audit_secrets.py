"""Audit: with a password or API secret configured, every failure we can provoke over loopback
(refused, dropped, timed out, redirected, HTTP 500, garbage, a refusal, bad input, a new
password that cannot be set) leaves the secret out of ``str``/``repr`` of the error, out of
the locals of every frame of its traceback (rendered the way error reporters capture them),
out of every log record at DEBUG (smsgate, httpx, httpcore, uvicorn), and out of the reprs of
the gateway, its providers and their settings, for the default client and a plain
``httpx.Client`` the application passes. Providers are built through ``get_provider`` and
``Gateway.from_config``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.receiver import PushGuard, Receiver, ServerThread
from smsgate.testing import frames_with_secrets
from tests.test_audit_httpclient import RawServer, reply_then_close

PASSWORD = "Audit-Secret-5e1f"
NEW_PASSWORD = "Audit-NewPw-8c2d"
ALIYUN_ID = "LTAIauditkeyid0001"
ALIYUN_SECRET = "AuditAliyunSecretValue77"


def _digests(secret: str) -> list[str]:
    digest = hashlib.md5(secret.encode()).hexdigest()  # the ipyy form's own digest
    return [secret, digest, digest.upper()]


SECRETS = [*_digests(PASSWORD), *_digests(NEW_PASSWORD), ALIYUN_SECRET]


def answer_with(data: bytes) -> Any:
    def answer(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        conn.sendall(data)
        return True

    return answer


def hang(server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes) -> bool:
    server.stop.wait(30)
    return False


FAILURES: dict[str, Any] = {
    "close": reply_then_close(b""),
    "cut": reply_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n<ret"),
    "hang": hang,
    "redirect": answer_with(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/x\r\nContent-Length: 0\r\n\r\n"
    ),
    "http-500": answer_with(b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\noops!"),
    "http-401": answer_with(b"HTTP/1.1 401 No\r\nContent-Length: 2\r\n\r\nno"),
    "garbage": answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<<garbag>"),
    "refusal": answer_with(
        b'HTTP/1.1 200 OK\r\nContent-Length: 121\r\n\r\n<?xml version="1.0" encoding="utf-8" ?>'
        b"<returnsms><returnstatus>Faild</returnstatus><message>\xe5\xaf\x86\xe7\xa0\x81\xe9\x94\x99"
        b"\xe8\xaf\xaf</message></returnsms>"
    ),
    "json-refusal": answer_with(
        b'HTTP/1.1 200 OK\r\nContent-Length: 53\r\n\r\n{"returnstatus":"Faild","message":"Password wrong!!"}'
    ),
}


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    """A base URL per failure (and one refusing connections)."""
    started = {name: RawServer(answer) for name, answer in FAILURES.items()}
    urls = {name: server.url for name, server in started.items()}
    urls["refused"] = refused_url()
    yield urls
    for server in started.values():
        server.close()


def leaks(error: BaseException, in_frames: list[str] = SECRETS) -> list[str]:
    """Where a secret shows in ``error``: text, repr, frame locals (walked, and the traceback
    rendered with ``capture_locals`` as reporters do), the members of an exception group.
    ``in_frames``: the secrets looked for in frame locals (all by default)."""
    found = [f"frame {where}" for where in frames_with_secrets(error, in_frames)]
    # Rendering never fails: no repr raises, not even a half-built provider's.
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    found += ["traceback" for secret in in_frames if secret in rendered]
    for text, what in ((str(error), "str"), (repr(error), "repr")):
        found += [what for secret in SECRETS if secret in text]
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found += leaks(inner, in_frames)
    return found


def attempt(call: Callable[[smsgate.Gateway], object], gw: smsgate.Gateway) -> errors.SmsGateError | None:
    """The smsgate error ``call`` raised, if any; its traceback starts in this frame, whose
    locals hold no secret (the test's own frames would)."""
    try:
        call(gw)
    except errors.SmsGateError as error:
        return error
    return None


def attempt_plain(call: Callable[[], object]) -> errors.SmsGateError | None:
    """:func:`attempt` for a call without a gateway."""
    try:
        call()
    except errors.SmsGateError as error:
        return error
    return None


def debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("smsgate", "httpx", "httpcore", "uvicorn", "smsgate_ipyy", "smsgate.ipyy"):
        caplog.set_level(logging.DEBUG, logger=name)


def logged_secrets(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    return [line for line in lines if any(secret in line for secret in SECRETS)]


def ipyy(url: str, transport: str) -> smsgate.Provider:
    return smsgate.get_provider(
        "ipyy",
        account="acct",
        password=PASSWORD,
        userid="1234",
        base_url=url,
        transport=transport,
        timeout=0.5,
    )


def aliyun(url: str) -> smsgate.Provider:
    return smsgate.get_provider(
        "aliyun",
        access_key_id=ALIYUN_ID,
        access_key_secret=ALIYUN_SECRET,
        sign_name="腾飞",
        templates={"verify": "SMS_123456789"},
        base_url=url,
        timeout=0.5,
    )


SMS = smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】")
TEMPLATED = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"})

CALLS: dict[str, Callable[[smsgate.Gateway], object]] = {
    "send": lambda gw: gw.send(SMS),
    "balance": lambda gw: gw.balance(),
    "fetch_reports": lambda gw: gw.fetch_reports(),
    "change_password": lambda gw: gw.change_password(NEW_PASSWORD),
}


@pytest.mark.parametrize(
    ("transport", "client"),
    [
        ("form", "default"),
        ("form", "httpx"),
        ("json", "default"),
        ("encrypted", "default"),
        ("soap", "default"),
    ],
)
def test_no_failure_of_ipyy_shows_a_secret(
    servers: dict[str, str], caplog: pytest.LogCaptureFixture, transport: str, client: str
) -> None:
    debug_everywhere(caplog)
    found: list[str] = []
    raised: set[str] = set()
    for failure, url in servers.items():
        if failure == "hang" and (transport, client) != ("form", "default"):
            continue  # a read timeout is the same on every transport (and costs a timeout per call)
        provider = ipyy(url, transport)
        options: dict[str, Any] = {"retry": smsgate.RetryPolicy(attempts=1), "sleep": lambda _s: None}
        given = httpx.Client() if client == "httpx" else None
        if given is not None:
            options["client"] = given
        with contextlib.ExitStack() as stack:
            if given is not None:
                stack.enter_context(given)
            gw = stack.enter_context(smsgate.Gateway(provider, **options))
            for name, call in CALLS.items():
                error = attempt(call, gw)
                if error is not None:
                    raised.add(type(error).__name__)
                    found += [f"{failure} {name}: {where}" for where in leaks(error)]
            for text in (repr(gw), str(gw), repr(provider), repr(getattr(provider, "settings", None))):
                found += [f"{failure} repr" for secret in SECRETS if secret in text]
    assert found == []
    assert logged_secrets(caplog) == []
    assert {"NotSentError", "UncertainOutcomeError", "MalformedReplyError"} <= raised


def test_bad_input_and_config_errors_show_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    debug_everywhere(caplog)
    provider = ipyy("http://127.0.0.1:9/", "form")
    found: list[str] = []
    bad_calls: list[Callable[[], object]] = [
        lambda: smsgate.Gateway(provider).send(smsgate.Sms(to="12", text="x【腾飞】")),
        lambda: smsgate.Gateway(provider).send(smsgate.Sms(to="13800138000", text="no signature")),
        lambda: smsgate.Gateway(provider).change_password("short"),
        lambda: smsgate.Gateway(provider).change_password(NEW_PASSWORD + "\r\n"),
        lambda: smsgate.get_provider("ipyy", account="a", password=PASSWORD, base_url="ftp://x/"),
        lambda: smsgate.get_provider("ipyy", account="a", password=PASSWORD, base_url="http://x/\r\n"),
        lambda: smsgate.get_provider("ipyy", account="a", password=PASSWORD, transport="encrypted"),
        lambda: smsgate.get_provider("ipyy", account="a", password=PASSWORD, timeout=-1),
        lambda: smsgate.get_provider("ipyy", account="a", password=PASSWORD, nonsense=1),
        lambda: smsgate.get_provider(
            "aliyun", access_key_id=ALIYUN_ID, access_key_secret=ALIYUN_SECRET + " "
        ),
        lambda: smsgate.get_provider("aliyun", access_key_id=ALIYUN_ID, access_key_secret=ALIYUN_SECRET, x=1),
    ]
    for number, call in enumerate(bad_calls):
        error = attempt_plain(call)
        assert error is not None, number
        found += [f"{number}: {where}" for where in leaks(error)]
    assert found == []
    assert logged_secrets(caplog) == []


def query(gw: smsgate.Gateway, receipt: smsgate.Receipt) -> object:
    return gw.query_status(receipt)


def test_no_failure_of_aliyun_shows_its_secret(
    servers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    found: list[str] = []
    for failure, url in servers.items():
        if failure == "hang":
            continue  # as for ipyy: a read timeout, checked there
        provider = aliyun(url)
        receipt = smsgate.Receipt(
            provider=provider.name, task_id="1", accepted=1, recipients=("13800138000",)
        )
        with smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1), sleep=lambda _s: None) as gw:
            calls: dict[str, Callable[[smsgate.Gateway], object]] = {
                "send": lambda gw: gw.send(TEMPLATED),
                "query_status": functools.partial(query, receipt=receipt),
            }
            for name, call in calls.items():
                error = attempt(call, gw)
                if error is not None:
                    found += [f"{failure} {name}: {where}" for where in leaks(error)]
            for text in (repr(gw), repr(provider), repr(getattr(provider, "settings", None))):
                found += [f"{failure} repr" for secret in SECRETS if secret in text]
    assert found == []
    assert logged_secrets(caplog) == []


def test_a_gateway_from_a_config_file_shows_no_secret(
    servers: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    config = tmp_path / "smsgate.toml"
    config.write_text(
        "[providers.primary]\n"
        'type = "ipyy"\n'
        'account = "acct"\n'
        f'base_url = "{servers["cut"]}"\n'
        "timeout = 0.5\n"
        "[providers.backup]\n"
        'type = "ipyy"\n'
        'account = "acct2"\n'
        f'base_url = "{servers["refused"]}"\n'
        "[gateway]\n"
        'strategy = "failover"\n',
        encoding="utf-8",
    )
    env = {"SMSGATE_PRIMARY_PASSWORD": PASSWORD, "SMSGATE_BACKUP_PASSWORD": NEW_PASSWORD}
    found: list[str] = []
    with smsgate.Gateway.from_config(config, env=env, sleep=lambda _s: None) as gw:
        for text in (repr(gw), str(gw), *(repr(p) for p in gw.providers)):
            found += [f"repr {text[:40]}" for secret in SECRETS if secret in text]
        for call in CALLS.values():
            error = attempt(call, gw)
            if error is not None:
                found += leaks(error)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'[providers.primary]\ntype = "ipyy"\naccount = "a"\npassword = "{PASSWORD}"\n', encoding="utf-8"
    )
    refused = attempt_plain(lambda: smsgate.Gateway.from_config(bad, env={}))
    assert isinstance(refused, errors.ConfigurationError)
    found += leaks(refused)
    # A provider refusing its settings, its password from the environment: the env mapping
    # and the settings are locals of the frames below Gateway.from_config.
    refusing = tmp_path / "refusing.toml"
    refusing.write_text(
        '[providers.primary]\ntype = "ipyy"\naccount = "a"\nbase_url = "ftp://x/"\n', encoding="utf-8"
    )
    refused = attempt_plain(
        lambda: smsgate.Gateway.from_config(refusing, env={"SMSGATE_PRIMARY_PASSWORD": PASSWORD})
    )
    assert isinstance(refused, errors.ConfigurationError)
    found += leaks(refused)
    assert found == []
    assert logged_secrets(caplog) == []


def test_many_threads_failing_at_once_show_no_secret(servers: dict[str, str]) -> None:
    """Failures raised in threads sharing one gateway (the pooled transport) are as clean."""
    provider = ipyy(servers["cut"], "form")
    found: list[str] = []
    lock = threading.Lock()
    with smsgate.Gateway(
        provider, retry=smsgate.RetryPolicy(attempts=1), breaker=smsgate.BreakerPolicy.off()
    ) as gw:

        def work() -> None:
            for _ in range(5):
                error = attempt(lambda gw: gw.send(SMS), gw)
                if error is not None:
                    with lock:
                        found.extend(leaks(error))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert found == []


def test_the_receiver_s_guard_secrets_stay_out_of_its_logs_and_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Pushes with the right token and wrong Basic credentials, the token in the query,
    garbage behind the right credentials: the token, the Basic password and the provider's
    password appear in no record of the receiver or uvicorn (the test's own httpx client,
    which logs its URLs, aside) and in no repr."""
    debug_everywhere(caplog)
    token, basic = "tok-AUDIT-9f8e7d6c", "basic-AUDIT-pw-41"
    good = (
        b'<?xml version="1.0" encoding="utf-8" ?><returnsms><callbox><mobile>13800138000</mobile>'
        b"<taskid></taskid><content>hi</content><receivetime>2026-12-01 10:00:00</receivetime>"
        b"<extno></extno></callbox></returnsms>"
    )
    right = httpx.BasicAuth("user", basic)
    wrong = httpx.BasicAuth("user", "nope")
    guard = PushGuard(token=token, basic=("user", basic))
    provider = ipyy("http://127.0.0.1:9/", "form")
    statuses = []
    with (
        Receiver(provider, journal=tmp_path / "j.sqlite3", guard=guard) as receiver,
        ServerThread(receiver.asgi_app()) as server,
        httpx.Client(timeout=10) as client,
    ):
        base = f"http://127.0.0.1:{server.port}/"
        for url, auth, body in [
            (base + token, right, good),
            (base + token, wrong, good),
            (base + "?token=" + token, wrong, good),
            (base + token, right, b"<<garbage"),
            (base + token, None, good),
        ]:
            statuses.append(client.post(url, content=body, auth=auth or httpx.USE_CLIENT_DEFAULT).status_code)
        reprs = repr(receiver) + repr(guard) + str(guard) + repr(server)
    assert statuses == [200, 401, 401, 200, 401]
    secrets = [token, basic, *SECRETS]
    assert [s for s in secrets if s in reprs] == []
    lines = [
        f"{r.name}: {r.getMessage()}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    assert [line for line in lines if any(s in line for s in secrets)] == []
