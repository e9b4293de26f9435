"""Client-side hardening (issue 9): absurd numbers in replies, the reply size cap, redirects,
the loopback rule and secrets kept out of frame locals. Real parts: the ipyy sandbox and
loopback servers started here."""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import smsgate
from smsgate import Balance, Receipt, Sms
from smsgate.cli import EXIT_UNCERTAIN, cli
from smsgate.exceptions import MalformedReplyError, ProviderError, ValidationError

sandbox_module = pytest.importorskip("smsgate_ipyy.sandbox")

TEXT = "hi【腾飞】"
ENV = {"SMSGATE_DEMO_PASSWORD": "demo-password"}
# The numbers a hostile or broken gateway wrote in the balance of a success reply.
ABSURD = ["sNaN", "NaN", "Infinity", "-Infinity", "1e5000", "1E+1000000"]


def repr_id(value: object) -> str:
    return type(value).__name__ if isinstance(value, int) else str(value)


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    with sandbox_module.Sandbox() as running:
        yield running


def _config(box: Any, tmp_path: Path, transport: str) -> Path:
    path = tmp_path / "smsgate.toml"
    path.write_text(
        f'[providers.demo]\ntype = "ipyy"\naccount = "demo"\nuserid = "1001"\n'
        f'base_url = "{box.base_url}"\ntransport = "{transport}"\n'
    )
    return path


def _invoke(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "--json", *args], env=ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return 99, result.stdout, repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _xml(fields: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8" ?><returnsms>{fields}</returnsms>'


def _send_reply(balance: str, task: str = "1504080852350206") -> str:
    return _xml(
        f"<returnstatus>Success</returnstatus><message>ok</message><remainpoint>{balance}</remainpoint>"
        f"<taskID>{task}</taskID><successCounts>1</successCounts>"
    )


@pytest.mark.e2e
@pytest.mark.parametrize("balance", ABSURD)
def test_cli_send_batch_and_mms_print_the_task_id_whatever_the_balance_says(
    box: Any, tmp_path: Path, balance: str
) -> None:
    """The message was accepted: the CLI prints its task id (balance null) and exits 0,
    however absurd the balance in the success reply (the sandbox sends it by fault injection)."""
    path = _config(box, tmp_path, "form")
    csv_file = tmp_path / "batch.csv"
    csv_file.write_text(f"13800138000,{TEXT}\n")
    part = tmp_path / "a.txt"
    part.write_bytes(b"hello")
    commands = {
        "/sms.aspx": ["send", "13800138000", "--text", TEXT],
        "/BatchSms.ashx": ["batch", str(csv_file)],
        "/mms.aspx": ["mms", "13800138000", "--subject", "s", "--part", str(part)],
    }
    for endpoint, args in commands.items():
        box.clear_faults()
        box.set_fault(kind="garbage", path=endpoint, body=_send_reply(balance, task="77"), times=1)
        code, out, err = _invoke(path, *args)
        assert code == 0, (endpoint, err)
        printed = json.loads(out)
        receipt = printed[0] if isinstance(printed, list) else printed
        assert (receipt["task_id"], receipt["balance"]) == ("77", None)
    box.clear_faults()


@pytest.mark.e2e
@pytest.mark.parametrize("overage", ABSURD)
def test_cli_balance_with_an_absurd_overage_is_a_typed_error_not_a_traceback(
    box: Any, tmp_path: Path, overage: str
) -> None:
    """A balance reply whose overage is no number: an uncertain-outcome exit, with a JSON error."""
    box.clear_faults()
    reply = _xml(f"<returnstatus>Sucess</returnstatus><message>ok</message><overage>{overage}</overage>")
    box.set_fault(kind="garbage", path="/sms.aspx", body=reply)  # every retry of the read too
    code, out, err = _invoke(_config(box, tmp_path, "form"), "balance")
    box.clear_faults()
    assert code == EXIT_UNCERTAIN, err
    assert "MalformedReplyError" in out + err
    assert "Traceback" not in out + err


NOT_AMOUNTS = [*ABSURD, Decimal("sNaN"), Decimal("Infinity"), 10**5000, float("nan")]


@pytest.mark.parametrize("value", NOT_AMOUNTS, ids=repr_id)
def test_models_refuse_non_finite_and_absurd_amounts(value: object) -> None:
    """A model never holds an amount it could not hash or compare, or print as a number."""
    with pytest.raises(ValidationError):
        Receipt(provider="p", task_id="t", accepted=1, balance=value)
    with pytest.raises(ValidationError):
        Balance(provider="p", remaining=value)
    with pytest.raises(ValidationError):
        Balance(provider="p", remaining=1, total=value)


@pytest.mark.parametrize("accepted", [-1, True, 1.5])
def test_receipt_refuses_a_count_that_is_not_a_count(accepted: Any) -> None:
    with pytest.raises(ValidationError):
        Receipt(provider="p", task_id="t", accepted=accepted)


def test_models_with_sane_amounts_stay_hashable_and_comparable() -> None:
    a = Receipt(provider="p", task_id="t", accepted=1, balance="-12.5")
    b = Receipt(provider="p", task_id="t", accepted=1, balance=Decimal("-12.50"))
    assert a == b
    assert hash(a) == hash(b)
    big = Balance(provider="p", remaining="99999999999999999")  # just below the limit
    assert big in {Balance(provider="p", remaining=Decimal("99999999999999999"))}


# --- loopback servers -------------------------------------------------------------------------


class _Server:
    """A stdlib HTTP server on 127.0.0.1 (port 0) in a thread; ``answer`` writes each reply."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append((self.path, self.rfile.read(length)))
                answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # shutdown() waits for the serve loop to look at its flag: every 0.5 s by default.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _ok_reply() -> bytes:
    return _send_reply("16").encode()


def _gateway_send(mode: str, url: str, client: Any, **settings: Any) -> Receipt:
    """One send through a sync or an async gateway with the user's own ``client``."""
    provider = smsgate.get_provider("ipyy", account="acct", password=PASSWORD, base_url=url, **settings)
    sms = Sms(to="13800138000", text=TEXT)
    if mode == "sync":
        with smsgate.Gateway(provider, client=client) as gateway:
            return gateway.send(sms)

    async def run() -> Receipt:
        async with smsgate.AsyncGateway(provider, client=client) as gateway:
            return await gateway.send(sms)

    return asyncio.run(run())


PASSWORD = "s3cret-Pass"
MD5 = hashlib.md5(PASSWORD.encode()).hexdigest().upper()


# --- redirects (defect 6) -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redirect_is_a_refusal_naming_the_host_and_is_never_followed(mode: str, status: int) -> None:
    """A user's client with follow_redirects=True still never re-posts the password MD5 to the
    host a 3xx names: the reply is a ProviderError naming that host only (not the URL, which
    may carry credentials), and the other host receives nothing."""

    def ok(handler: BaseHTTPRequestHandler) -> None:
        body = _ok_reply()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with _Server(ok) as elsewhere:
        target = elsewhere.url.replace("http://", "http://user:pw-in-url@") + "steal?token=tok-in-url"

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(status)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with _Server(redirect) as gateway_host:
            client: Any = (
                httpx.Client(follow_redirects=True)
                if mode == "sync"
                else httpx.AsyncClient(follow_redirects=True)
            )
            with pytest.raises(ProviderError) as info:
                _gateway_send(mode, gateway_host.url, client)
            if mode == "sync":
                client.close()
            else:
                asyncio.run(client.aclose())
    error = info.value
    assert type(error) is ProviderError
    assert not error.retry_safe
    assert not error.failover_safe
    assert (error.code, error.provider, error.operation) == (f"HTTP {status}", "ipyy", "send")
    assert "127.0.0.1" in str(error)
    for leaked in ("pw-in-url", "tok-in-url", "steal", "user"):
        assert leaked not in str(error)
    assert len(gateway_host.requests) == 1
    assert elsewhere.requests == []  # the MD5 went nowhere else


# --- the reply cap (defect 2) --------------------------------------------------------------------

HUGE = 200 * 1024 * 1024
CHUNK = b"<a/>" * (256 * 1024)  # 1 MiB of small elements


def _endless(declare_length: bool) -> Callable[[BaseHTTPRequestHandler], None]:
    """A success reply padded with small elements to 200 MB, written lazily (1 MiB at a time)."""
    head = _ok_reply().replace(b"</returnsms>", b"")

    def answer(handler: BaseHTTPRequestHandler) -> None:
        server = handler.server.owner  # type: ignore[attr-defined]
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml; charset=utf-8")
        if declare_length:
            handler.send_header("Content-Length", str(len(head) + HUGE + len(b"</returnsms>")))
        handler.end_headers()
        try:
            handler.wfile.write(head)
            while server.sent < HUGE:
                handler.wfile.write(CHUNK)
                server.sent += len(CHUNK)
            handler.wfile.write(b"</returnsms>")
        except (BrokenPipeError, ConnectionResetError):
            return

    return answer


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "content-length"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_200_mb_reply_is_not_read_past_the_cap(mode: str, declare_length: bool) -> None:
    """A 200 MB success reply is an uncertain outcome: the client stops reading past the cap
    (16 MiB by default), the server could not write much more, and memory stays small."""
    server = _Server(_endless(declare_length))
    server.httpd.owner = server  # type: ignore[attr-defined]
    before = _peak_rss_mib()
    with server:
        with pytest.raises(MalformedReplyError) as info:
            _gateway_send(mode, server.url, None)
    assert "max_reply_bytes" in str(info.value)
    assert info.value.body_excerpt.startswith(b"<?xml") or declare_length
    # Socket buffers let the server get a few MiB ahead of the reader, never 200.
    assert server.sent < 64 * 1024 * 1024
    assert _peak_rss_mib() - before < 150


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_reply_cap_is_a_provider_setting(mode: str) -> None:
    """``max_reply_bytes`` per provider: a 2 KiB cap refuses a 4 KiB reply, and a reply
    within the cap is read as before."""
    padded = _ok_reply().replace(b"</returnsms>", b"<a/>" * 1024 + b"</returnsms>")

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: read until the connection closes
        handler.wfile.write(padded)

    with _Server(answer) as server:
        with pytest.raises(MalformedReplyError):
            _gateway_send(mode, server.url, None, max_reply_bytes=2048)
        receipt = _gateway_send(mode, server.url, None, max_reply_bytes=len(padded))
    assert receipt.task_id == "1504080852350206"


# --- the loopback rule (defect 7) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("foo.localhost", False),
        ("localhost.localdomain", False),
        ("localhost.", False),
        ("127.0.0.1.nip.io", False),
        ("128.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("", False),
        ("example.com", False),
    ],
)
def test_is_loopback_host_counts_only_localhost_and_literal_loopback_addresses(
    host: str, loopback: bool
) -> None:
    assert smsgate.is_loopback_host(host) is loopback
