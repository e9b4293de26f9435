"""Issue 10's documentation items: each is checked against the code it describes."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import click
import pytest

import smsgate
from smsgate.cli import cli
from smsgate.exceptions import NotSentError

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_quickstart_error_example_catches_what_an_unreachable_provider_raises() -> None:
    """Issue 10: the quickstart's error example missed NotSentError, which is what a single
    unreachable provider raises."""
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = smsgate.get_provider(
        "ipyy", account="a", password="p", base_url=f"http://127.0.0.1:{port}/", timeout=2.0
    )
    with (
        smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway,
        pytest.raises(NotSentError) as info,
    ):
        gateway.send(smsgate.Sms(to="13800138000", text="hi【腾飞】"))
    name = type(info.value).__name__
    quickstart = _read(DOCS / "quickstart.md")
    assert f"except errors.{name}" in quickstart or "except errors.NotSentError" in quickstart


def _option_flags(command: click.Command) -> set[str]:
    return {
        flag
        for param in command.params
        if isinstance(param, click.Option)
        for flag in param.opts
        if flag != "--help"
    }


CORE_COMMANDS = sorted(set(cli.commands) - {"sandbox", "demo", "demo-failover"})


@pytest.mark.parametrize("name", CORE_COMMANDS)
def test_cli_docs_name_every_option_of_every_core_command(name: str) -> None:
    """docs/cli.md covers the new options (--dry-run, --price, --unsent, --password-stdin …)."""
    doc = _read(DOCS / "cli.md")
    assert f"smsgate {name}" in doc
    missing = sorted(flag for flag in _option_flags(cli.commands[name]) if flag not in doc)
    assert missing == [], f"docs/cli.md does not mention {missing} of smsgate {name}"


def test_cli_docs_cover_the_new_behaviour() -> None:
    doc = _read(DOCS / "cli.md")
    for needle in (
        "| 5 |",  # the receive exit code
        "SMSGATE_NEW_PASSWORD",
        'type = "console"',
        "mask_numbers",
        "[gateway.retry]",
        "[gateway.breaker]",
        "[gateway.rate_limit]",
        "Gateway.from_config",
        "**every** configured provider",
        '"unsent"',
        "skipped with one",
    ):
        assert needle in doc, needle
    assert "--new-password" not in doc


def test_testing_docs_cover_observe_console_and_fresh_task_ids() -> None:
    doc = _read(DOCS / "testing.md")
    for needle in ("smsgate.observe(", 'get_provider("console"', "mask_numbers", "starts at `<name>-1`"):
        assert needle in doc, needle
    assert "smsgate.segments(" in doc


def test_hooks_docs_describe_broken_plugins_and_observe() -> None:
    doc = _read(DOCS / "hooks.md")
    assert "PluginLoadWarning" in doc
    assert "smsgate.observe(" in doc
    assert "smsgate.unobserve(" in doc


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_keeps_its_two_commands_and_gains_the_config_file_step() -> None:
    readme = _read(ROOT / "README.md")
    assert _blocks(readme, "console") == [
        "python3 -m venv .venv && .venv/bin/pip install -q -e . -e ./plugins/ipyy"
        " && .venv/bin/smsgate demo\n",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' -e ./plugins/ipyy -e ./plugins/aliyun"
        " && .venv/bin/python -m pytest\n",
    ]
    assert 'smsgate.Gateway.from_config("smsgate.toml")' in readme


def test_the_quickstart_config_file_builds_the_gateway_it_describes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quickstart's "From your own config file" step works as written (with a real
    address in place of the elided one)."""
    quickstart = _read(DOCS / "quickstart.md")
    [toml] = [block for block in _blocks(quickstart, "toml") if "# smsgate.toml" in block]
    (tmp_path / "smsgate.toml").write_text(toml.replace("https://…", "http://127.0.0.1:9/"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMSGATE_PRIMARY_PASSWORD", "pw")
    [code] = [block for block in _blocks(quickstart, "python") if "from_config" in block]
    scope: dict[str, object] = {"smsgate": smsgate}
    exec(code, scope)  # the documentation's own example
    gateway = scope["gateway"]
    assert isinstance(gateway, smsgate.Gateway)
    with gateway:
        assert [p.name for p in gateway.providers] == ["primary", "dev"]
        assert gateway._router.config.retry.attempts == 2
    config = scope["config"]
    assert isinstance(config, smsgate.Config)


def test_the_quickstart_segment_example_is_right() -> None:
    quickstart = _read(DOCS / "quickstart.md")
    info = smsgate.segments("您的验证码：1439【腾飞】")
    assert f"# {(info.encoding, info.characters, info.segments)!r}" in quickstart
    assert f"# Decimal('{info.cost('0.045', recipients=1000)}')" in quickstart
