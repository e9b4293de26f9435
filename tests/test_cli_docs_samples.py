"""docs/cli.md, docs/routing.md and docs/scaling.md as a new user reads them: their commands
and code samples run as written (loopback or in-memory providers in place of the real
gateways, no server needed) and print what the pages show; the wrong inputs a user is likely
to type end with a plain message and the documented exit code."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import smsgate
from smsgate.cli import EXIT_OTHER, EXIT_VALIDATION, cli

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _page(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _page(page), flags=re.S)


def _block(page: str, lang: str, needle: str) -> str:
    [block] = [block for block in _blocks(page, lang) if needle in block]
    return block


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no config or password in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _refused_port() -> int:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- docs/cli.md ------------------------------------------------------------------------------


def test_the_cli_page_config_file_builds_the_gateway_it_describes(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = _block("cli.md", "toml", "[providers.primary]")
    (workdir / "smsgate.toml").write_text(toml, encoding="utf-8")
    monkeypatch.setenv("SMSGATE_PRIMARY_PASSWORD", "pw")
    monkeypatch.setenv("SMSGATE_BACKUP_PASSWORD", "pw")
    config = smsgate.load_config("smsgate.toml")
    assert [p.name for p in config.providers] == ["primary", "backup"]
    assert config.routing.retry == smsgate.RetryPolicy(attempts=3, base=0.2, cap=5.0, total=30.0)
    assert config.routing.breaker == smsgate.BreakerPolicy(failures=5, cool_down=30.0)
    assert config.routing.rate_limit == smsgate.RateLimit(rate=10.0, burst=20)
    with smsgate.Gateway.from_config("smsgate.toml") as gateway:  # nothing is sent
        assert [p.name for p in gateway.providers] == ["primary", "backup"]


def test_the_dry_run_sample_prints_what_the_page_shows(workdir: Path) -> None:
    """The page's ``send --dry-run`` output, with its ``primary`` provider (an ipyy account:
    max_text_length 1000); nothing is sent, so the address is never asked."""
    block = _block("cli.md", "console", "--dry-run --price 0.045\ndry run")
    command, *shown = block.strip().splitlines()
    (workdir / "smsgate.toml").write_text(
        '[providers.primary]\ntype = "ipyy"\naccount = "acme"\nbase_url = "http://127.0.0.1:9/"\n',
        encoding="utf-8",
    )
    args = re.findall(r'"[^"]*"|\S+', command.removeprefix("$ smsgate "))
    result = run(*[a.strip('"') for a in args], env={"SMSGATE_PRIMARY_PASSWORD": "pw"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == shown


def test_the_partial_batch_sample_prints_what_the_page_shows(workdir: Path) -> None:
    """The page's failed batch: 103 rows for an account that can pay for 100."""
    block = _block("cli.md", "console", "--unsent rest.csv")
    command, *shown = block.strip().splitlines()
    assert command == "$ smsgate batch customers.csv --unsent rest.csv"
    (workdir / "smsgate.toml").write_text(
        '[providers.primary]\ntype = "memory"\nbalance = 100\n', encoding="utf-8"
    )
    rows = "".join(f"{13800138000 + n},您好【腾飞】\n" for n in range(1, 104))
    (workdir / "customers.csv").write_text("mobile,text\n" + rows, encoding="utf-8")
    result = run("batch", "customers.csv", "--unsent", "rest.csv")
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if not line.startswith("sending")]
    head, elided, *tail = shown
    assert elided.strip() == "..."
    assert lines[0] == head
    assert lines[-len(tail) :] == tail
    rest = (workdir / "rest.csv").read_text(encoding="utf-8").splitlines()
    assert rest == ["mobile,text", *(f"{13800138000 + n},您好【腾飞】" for n in (101, 102, 103))]


def test_a_batch_row_that_is_no_message_names_its_line(workdir: Path) -> None:
    """A bad number (or an empty text) on line 3 of a long file said only "recipient '***'
    is not a phone number": the user had no way to find the row."""
    (workdir / "smsgate.toml").write_text('[providers.p]\ntype = "memory"\n', encoding="utf-8")
    (workdir / "list.csv").write_text(
        "mobile,text\n13800138000,hi\n1380013800O,hi\n13900139000,\n", encoding="utf-8"
    )
    result = run("batch", "list.csv")
    assert result.exit_code == EXIT_VALIDATION
    assert "list.csv line 3: recipient" in result.stderr
    assert "`customers.csv line 3: recipient … is not a phone number`, exit 2" in _page("cli.md")
    (workdir / "list.csv").write_text("13900139000,\n", encoding="utf-8")
    result = run("--json", "batch", "list.csv")
    assert result.exit_code == EXIT_VALIDATION
    error = json.loads(result.stderr)
    assert error["error"] == "ValidationError"
    assert error["message"].startswith("list.csv line 1: ")


def test_price_without_dry_run_is_a_usage_error_and_sends_nothing(workdir: Path) -> None:
    """``--price`` only prices a dry run; given alone it was silently ignored and the message
    sent, where the user may have meant to price it first."""
    (workdir / "smsgate.toml").write_text('[providers.p]\ntype = "console"\n', encoding="utf-8")
    result = run("send", "13800138000", "--text", "hi", "--price", "0.045")
    assert result.exit_code == EXIT_VALIDATION
    assert "--price" in result.stderr
    assert "--dry-run" in result.stderr
    assert "without `--dry-run` it is a usage error\n(exit 2)" in _page("cli.md")
    assert "smsgate console" not in result.stdout  # the console provider printed nothing


def test_the_providers_table_keeps_its_title_on_one_line(workdir: Path) -> None:
    """The title was wrapped to the one narrow column: "registered" / "providers"."""
    result = run("providers")
    assert result.exit_code == 0
    assert "registered providers" in result.stdout


def test_balance_names_the_provider_that_reports_no_balance(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """routing.md's two-vendor file (ipyy, then Aliyun, which has no balance call): Aliyun's
    row said "no configured provider supports balance (sms)" next to ipyy's balance."""
    pytest.importorskip("smsgate_aliyun")
    (workdir / "smsgate.toml").write_text(
        '[providers.mem]\ntype = "memory"\n\n'
        '[providers.aliyun]\ntype = "aliyun"\naccess_key_id = "LTAI5tExampleKeyId"\n'
        'sign_name = "腾飞"\ntemplates = { verify = "SMS_123456789" }\n'
        f'base_url = "http://127.0.0.1:{_refused_port()}/"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SMSGATE_ALIYUN_PASSWORD", "secret")
    result = run("--json", "balance")
    rows = json.loads(result.stdout)
    assert rows[0]["provider"] == "mem"
    assert rows[1]["provider"] == "aliyun"
    assert rows[1]["error"] == "UnsupportedOperationError"
    assert "configured provider" not in rows[1]["message"]
    assert f"`UnsupportedOperationError: {rows[1]['message']}`" in _page("cli.md")
    assert result.exit_code == EXIT_OTHER


def test_an_unreachable_postgres_journal_is_an_smsgate_error_with_json(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``receive --journal postgresql://…`` that cannot connect printed click's plain
    "Error: …" even with --json, where a SQLite journal's failure is a JSON JournalError."""
    pytest.importorskip("psycopg")
    pytest.importorskip("uvicorn")
    (workdir / "smsgate.toml").write_text('[providers.p]\ntype = "memory"\n', encoding="utf-8")
    url = f"postgresql://app:pg-s3cret@127.0.0.1:{_refused_port()}/db"
    result = run("--json", "receive", "--port", "0", "--journal", url)
    assert result.exit_code == EXIT_OTHER
    error = json.loads(result.stderr)
    assert error["error"] == "JournalError"
    assert error["exit_code"] == EXIT_OTHER
    assert "pg-s3cret" not in result.output
    plain = run("receive", "--port", "0", "--journal", url)
    assert plain.exit_code == EXIT_OTHER
    assert plain.stderr.startswith("error: JournalError: ")
    assert "a journal that cannot be opened exits 1 with a `JournalError`" in _page("cli.md")


# --- docs/routing.md --------------------------------------------------------------------------


def test_the_routing_page_first_sample_builds_its_gateway() -> None:
    scope: dict[str, object] = {
        "primary": smsgate.get_provider("memory", name="primary"),
        "backup": smsgate.get_provider("memory", name="backup"),
    }
    exec(_block("routing.md", "python", "[primary, backup]"), scope)
    gateway = scope["gateway"]
    assert isinstance(gateway, smsgate.Gateway)
    with gateway:
        assert gateway.send(smsgate.Sms(to="13800138000", text="hi")).provider == "primary"


def test_the_two_vendor_file_builds_both_providers(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("smsgate_aliyun")
    pytest.importorskip("smsgate_ipyy")
    (workdir / "smsgate.toml").write_text(
        _block("routing.md", "toml", "[providers.aliyun]"), encoding="utf-8"
    )
    monkeypatch.setenv("SMSGATE_IPYY_PASSWORD", "pw")
    monkeypatch.setenv("SMSGATE_ALIYUN_PASSWORD", "secret")
    sms = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, reference="order-42")
    with smsgate.Gateway.from_config("smsgate.toml") as gateway:  # nothing is sent
        ipyy, aliyun = gateway.providers
        assert ipyy.cannot_render(sms) is None
        assert aliyun.cannot_render(sms) is None
        assert aliyun.cannot_render(smsgate.Sms(to="13800138000", text="hi【腾飞】")) is not None


def test_the_routing_page_shared_state_file_names_a_redis(workdir: Path) -> None:
    pytest.importorskip("redis")
    (workdir / "smsgate.toml").write_text(
        _block("routing.md", "toml", "shared_state =") + '\n[providers.p]\ntype = "memory"\n',
        encoding="utf-8",
    )
    config = smsgate.load_config("smsgate.toml")
    assert config.shared_state == "redis://10.0.0.5:6379/0"
    assert config.routing.rate_limit == smsgate.RateLimit(rate=100)


# --- docs/scaling.md --------------------------------------------------------------------------


def test_the_scaling_page_celery_app_registers_both_tasks_and_the_schedule() -> None:
    """``myapp/tasks.py`` as written: nothing connects until a task runs."""
    pytest.importorskip("celery")
    scope: dict[str, object] = {}
    exec(_block("scaling.md", "python", "# myapp/tasks.py"), scope)
    app = scope["app"]
    assert "smsgate.send" in app.tasks  # type: ignore[attr-defined]
    assert "smsgate.pull" in app.tasks  # type: ignore[attr-defined]
    schedule = app.conf.beat_schedule  # type: ignore[attr-defined]
    assert [entry["task"] for entry in schedule.values()] == ["smsgate.pull"]


def test_the_scaling_page_toml_file_loads(workdir: Path) -> None:
    pytest.importorskip("redis")
    (workdir / "smsgate.toml").write_text(_block("scaling.md", "toml", "shared_state"), encoding="utf-8")
    config = smsgate.load_config("smsgate.toml")
    assert config.shared_state == "redis://10.0.0.5:6379/3"
    assert [p.name for p in config.providers] == ["ipyy"]
    assert config.routing.breaker == smsgate.BreakerPolicy(failures=5, cool_down=30.0)


def test_balance_works_with_one_rate_limit_table_per_provider(workdir: Path) -> None:
    """The page's ``[gateway.rate_limit.<name>]`` form: each provider's balance was asked
    through a gateway given every provider's limit, which refused the other names."""
    (workdir / "smsgate.toml").write_text(
        "[gateway.rate_limit.a]\nrate = 5.0\n\n[gateway.rate_limit.b]\nrate = 5.0\n\n"
        '[providers.a]\ntype = "memory"\n\n[providers.b]\ntype = "memory"\n',
        encoding="utf-8",
    )
    result = run("--json", "balance")
    assert result.exit_code == 0, result.output
    assert [row["provider"] for row in json.loads(result.stdout)] == ["a", "b"]


def _count_state_closes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    from smsgate.scale import RedisState

    closed: list[object] = []
    original = RedisState.close

    def close(self: RedisState) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(RedisState, "close", close)
    return closed


@pytest.mark.parametrize("command", [["balance"], ["send", "13800138000", "--text", "hi"]])
def test_the_file_shared_state_is_used_and_closed(
    command: list[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[gateway] shared_state`` holds for every command: ``balance`` left it out (its
    limits and breakers were this process's own), and the Redis clients the CLI built from the
    file were never closed."""
    pytest.importorskip("redis")
    closed = _count_state_closes(monkeypatch)
    (workdir / "smsgate.toml").write_text(
        f'[gateway]\nshared_state = "redis://127.0.0.1:{_refused_port()}/0"\n\n'
        '[providers.p]\ntype = "memory"\n',
        encoding="utf-8",
    )
    result = run("--json", *command)
    assert result.exit_code == EXIT_OTHER, result.output
    assert json.loads(result.stderr)["error"] == "SharedStateError"  # Redis was asked
    assert len(closed) == 1


def test_the_scaling_page_names_every_key_of_a_send_result() -> None:
    """scaling.md listed outcome, key, receipt and error, not kind, retries and redelivered."""
    pytest.importorskip("celery")
    from celery import Celery

    import smsgate.celery

    app = Celery("docs", broker="memory://", backend="cache+memory://", set_as_current=False)
    task = smsgate.celery.install(
        app,
        gateway=lambda: smsgate.Gateway(smsgate.get_provider("memory")),
        idempotency=smsgate.celery.MemoryIdempotencyStore(),
    )
    payload = smsgate.celery.encode_message(smsgate.Sms(to="13800138000", text="hi"))
    try:
        first = task.apply(args=(payload, "order-42-code")).result
        again = task.apply(args=(payload, "order-42-code")).result
    finally:
        smsgate.celery.close_worker_gateways()
    assert set(first) == {"outcome", "key", "kind", "retries", "receipt"}
    assert set(again) == set(first) | {"redelivered"}
    page = _page("scaling.md")
    for key in ("kind", "retries", "receipt", '"redelivered": true'):
        assert f"`{key}`" in page, key


def test_the_routing_page_shared_state_sample_builds_its_gateway() -> None:
    """``RedisState(url)`` connects on first use: building the gateway asks nothing (the
    page's address is swapped for a loopback port nobody listens on)."""
    pytest.importorskip("redis")
    block = _block("routing.md", "python", "RedisState(")
    assert "# connects on first use" in block
    scope: dict[str, object] = {"smsgate": smsgate, "providers": [smsgate.get_provider("memory")]}
    exec(block.replace("10.0.0.5:6379", f"127.0.0.1:{_refused_port()}"), scope)
    gateway, state = scope["gateway"], scope["state"]
    assert isinstance(gateway, smsgate.Gateway)
    gateway.close()
    state.close()  # type: ignore[attr-defined]  # the caller's to close, as the page says


def _partial_batch(workdir: Path) -> None:
    """The page's failed batch again: 103 rows for an account that can pay for 100."""
    (workdir / "smsgate.toml").write_text(
        '[providers.primary]\ntype = "memory"\nbalance = 100\n', encoding="utf-8"
    )
    rows = "".join(f"{13800138000 + n},您好【腾飞】\n" for n in range(1, 104))
    (workdir / "customers.csv").write_text("mobile,text\n" + rows, encoding="utf-8")


def test_an_unsent_file_in_a_missing_directory_is_refused_before_sending(workdir: Path) -> None:
    """``--unsent`` in a directory that does not exist was found out only when the rows were
    to be written, after the send: a traceback, the accepted receipts never shown."""
    _partial_batch(workdir)
    result = run("batch", "customers.csv", "--unsent", "missing/rest.csv")
    assert result.exit_code == EXIT_VALIDATION
    assert "--unsent" in result.stderr
    assert "sending" not in result.stderr  # no progress: nothing was sent


def test_unsent_rows_that_cannot_be_written_are_still_listed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write failing after the send (a full disk …) must not hide the partial send."""
    import smsgate.cli

    def full_disk(path: Path, messages: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(smsgate.cli, "write_batch", full_disk)
    _partial_batch(workdir)
    result = run("batch", "customers.csv", "--unsent", "rest.csv")
    assert result.exit_code == 3
    assert "accepted by primary: task primary-1, 100 recipient(s)" in result.stderr
    assert "line 104: 13800138103" in result.stderr
    assert "could not write them to rest.csv (No space left on device)" in result.stderr
    assert "`could not write them to rest.csv (No space\nleft on device)`" in _page("cli.md")
    error = json.loads(run("--json", "batch", "customers.csv", "--unsent", "rest.csv").stderr)
    assert error["error"] == "PartialSendError"
    assert error["unsent_file"] is None
    assert error["unsent_write_error"] == "could not write them to rest.csv (No space left on device)"
    assert len(error["unsent"]) == 3
