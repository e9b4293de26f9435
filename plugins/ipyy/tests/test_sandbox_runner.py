"""The sandbox runner: a real uvicorn server on a loopback socket in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from smsgate_ipyy.sandbox import Sandbox, SandboxConfig
from smsgate_ipyy.sandbox._runner import serve


def _send_form(sandbox: Sandbox, mobile: str = "13800138000") -> dict[str, str]:
    creds = sandbox.credentials
    return {
        "action": "send",
        "account": creds.account,
        "password": creds.password,
        "userid": creds.userid,
        "mobile": mobile,
        "content": "验证码 1234【腾飞】",
    }


def _sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("smsgate-sandbox")}


def test_start_serves_over_a_real_socket_and_stop_closes_it() -> None:
    sandbox = Sandbox().start()
    try:
        url = sandbox.base_url
        reply = httpx.post(url + "sms.aspx", data=_send_form(sandbox), timeout=5.0)
        assert b"<returnstatus>Success</returnstatus>" in reply.content
    finally:
        sandbox.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "_sandbox/accounts", timeout=2.0)
    assert not sandbox.running


def test_port_zero_picks_a_free_port_shown_in_the_base_url() -> None:
    with Sandbox(port=0) as sandbox:
        assert sandbox.port > 0
        assert sandbox.base_url == f"http://127.0.0.1:{sandbox.port}/"
        with socket.create_connection(("127.0.0.1", sandbox.port), timeout=2.0):
            pass


def test_two_sandboxes_run_at_once_with_separate_state() -> None:
    with Sandbox() as first, Sandbox() as second:
        assert first.port != second.port
        httpx.post(first.base_url + "sms.aspx", data=_send_form(first), timeout=5.0)
        assert len(first.requests()) == 1
        assert second.requests() == []


def test_no_thread_is_left_after_stop() -> None:
    """The threads this sandbox started are gone after stop (a session-scoped sandbox of
    other tests may be running meanwhile, so only new threads count)."""
    before = set(threading.enumerate())
    with Sandbox() as sandbox:
        assert _sandbox_threads() - before
        httpx.get(sandbox.base_url + "_sandbox/accounts", timeout=5.0)
    assert _sandbox_threads() - before == set()
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        Sandbox(host=host)


def test_public_host_is_allowed_only_when_asked() -> None:
    # Constructed, not started: the test must not listen on a public interface.
    sandbox = Sandbox(host="0.0.0.0", allow_public=True)
    assert not sandbox.running


@pytest.mark.parametrize(
    ("host", "bound"),
    [("127.0.0.1", "127.0.0.1"), ("127.0.0.2", "127.0.0.2"), ("localhost", "127.0.0.1"), ("::1", "::1")],
)
def test_every_loopback_host_is_accepted(host: str, bound: str) -> None:
    """Accepted means served: the sandbox listens on the loopback address asked for (localhost
    as 127.0.0.1), says so in its base URL, and answers there."""
    with Sandbox(host=host) as sandbox:
        url_host = f"[{bound}]" if ":" in bound else bound
        assert sandbox.base_url == f"http://{url_host}:{sandbox.port}/"
        family = socket.AF_INET6 if ":" in bound else socket.AF_INET
        with socket.socket(family) as probe:
            probe.settimeout(2.0)
            probe.connect((bound, sandbox.port))
        reply = httpx.get(sandbox.base_url + "_sandbox/health", timeout=5.0)
        assert reply.json() == {"ok": True}


def test_localhost_binds_ipv4_loopback() -> None:
    with Sandbox(host="localhost") as sandbox:
        assert sandbox.base_url.startswith("http://127.0.0.1:")


def test_taken_port_fails_start_with_a_clear_error() -> None:
    before = _sandbox_threads()
    with Sandbox() as running:
        with pytest.raises(RuntimeError, match="could not start"):
            Sandbox(port=running.port).start()
    assert _sandbox_threads() <= before


def test_stop_is_idempotent_and_start_twice_is_refused() -> None:
    sandbox = Sandbox().start()
    with pytest.raises(RuntimeError, match="already running"):
        sandbox.start()
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.base_url


def test_stop_does_not_wait_for_a_hung_request() -> None:
    with Sandbox() as sandbox:
        sandbox.set_fault(kind="hang", seconds=30)
        errors: list[BaseException] = []

        def hung_client() -> None:
            try:
                httpx.post(sandbox.base_url + "sms.aspx", data=_send_form(sandbox), timeout=20.0)
            except httpx.HTTPError as exc:
                errors.append(exc)

        client = threading.Thread(target=hung_client)
        client.start()
        time.sleep(0.2)
        started = time.monotonic()
        sandbox.stop()
        assert time.monotonic() - started < 2.5
        client.join(5)
        assert not client.is_alive()


def test_credentials_are_the_default_account_and_the_password_stays_out_of_reprs() -> None:
    sandbox = Sandbox()
    creds = sandbox.credentials
    assert (creds.account, creds.password, creds.userid) == ("demo", "demo-password", "1001")
    assert "demo-password" not in repr(creds)
    assert "demo-password" not in repr(sandbox)


def test_helpers_inject_inbound_faults_and_reset() -> None:
    config = SandboxConfig.default()
    config.faults = [{"kind": "status", "path": "/statusApi.aspx", "status": 503}]
    with Sandbox(config) as sandbox, httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        sandbox.inject_inbound("13800138000", "TD")
        [message] = sandbox.state.pull_inbound("demo")
        assert (message.mobile, message.text) == ("13800138000", "TD")

        assert http.get("/statusApi.aspx").status_code == 503
        sandbox.clear_faults()
        assert http.get("/statusApi.aspx").status_code == 200
        sandbox.set_fault({"kind": "status", "status": 502, "times": 1})
        assert http.get("/sms.aspx").status_code == 502

        http.post("/sms.aspx", data=_send_form(sandbox))
        assert sandbox.requests()
        sandbox.reset()
        assert sandbox.requests() == []
        # reset puts the config file's rules back
        assert http.get("/statusApi.aspx").status_code == 503


def test_serve_runs_until_told_to_stop_and_reports_where_it_listens(tmp_path: Path) -> None:
    config_file = tmp_path / "sandbox.toml"
    config_file.write_text(
        '[[accounts]]\naccount = "acme"\npassword = "s3cret"\nuserid = "42"\n'
        "sms_balance = 5\nmms_balance = 0\n",
        encoding="utf-8",
    )
    before = _sandbox_threads()
    ready: list[Sandbox] = []
    until = threading.Event()
    ready_event = threading.Event()

    def on_ready(sandbox: Sandbox) -> None:
        ready.append(sandbox)
        ready_event.set()

    server = threading.Thread(
        target=serve,
        kwargs={"port": 0, "config_path": config_file, "on_ready": on_ready, "until": until},
    )
    server.start()
    try:
        assert ready_event.wait(10)
        [sandbox] = ready
        assert sandbox.credentials.account == "acme"
        accounts = httpx.get(sandbox.base_url + "_sandbox/accounts", timeout=5.0).text
        assert "acme" in accounts
        assert "s3cret" not in accounts
    finally:
        until.set()
        server.join(10)
    assert not server.is_alive()
    assert _sandbox_threads() <= before


def test_serve_refuses_a_public_host_without_the_flag() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        serve(host="0.0.0.0", port=0)


PLUGIN_CONFTEST = """
pytest_plugins = ["smsgate_ipyy.pytest_plugin"]
"""

PLUGIN_TESTS = """
import smsgate

PORTS = []


def test_send_through_the_client(ipyy_sandbox_clean, ipyy_credentials):
    provider = smsgate.get_provider("ipyy", **ipyy_credentials)
    receipt = smsgate.Gateway(provider).send(smsgate.Sms(to=["13800138000"], text="欢迎【腾飞】"))
    assert receipt.accepted == 1
    [entry] = ipyy_sandbox_clean.requests()
    assert entry["fields"]["mobiles"] == ["13800138000"]
    assert ipyy_credentials["base_url"] == ipyy_sandbox_clean.base_url
    PORTS.append(ipyy_sandbox_clean.port)


def test_each_test_starts_clean_on_the_same_session_sandbox(ipyy_sandbox_clean):
    assert ipyy_sandbox_clean.requests() == []
    assert ipyy_sandbox_clean.faults.rules() == []
    PORTS.append(ipyy_sandbox_clean.port)
    assert len(set(PORTS)) == 1
    ipyy_sandbox_clean.set_fault(kind="status")


def test_faults_of_the_previous_test_are_gone(ipyy_sandbox_clean, ipyy_credentials):
    provider = smsgate.get_provider("ipyy", **ipyy_credentials)
    assert smsgate.Gateway(provider).balance().remaining > 0
"""


def test_pytest_plugin_fixtures_serve_a_users_integration_tests(tmp_path: Path) -> None:
    """The opt-in plugin as a user enables it: a session sandbox, reset per test."""
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text(PLUGIN_CONFTEST, encoding="utf-8")
    (tmp_path / "test_users_app.py").write_text(PLUGIN_TESTS, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
