"""The documented configurations work: the two-vendor TOML of docs/routing.md's failover guide
and the Aliyun TOML of docs/providers/aliyun.md load through the CLI's own config reader, and
the two-vendor one, pointed at the two sandboxes, fails over from ipyy to Aliyun."""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest

import smsgate
from smsgate._config import build_providers, load_config
from smsgate_aliyun.sandbox import Sandbox
from smsgate_ipyy.sandbox import Sandbox as IpyySandbox

pytest_plugins = ["smsgate_aliyun.pytest_plugin", "smsgate_ipyy.pytest_plugin"]

DOCS = Path(__file__).resolve().parents[3] / "docs"


def toml_blocks(path: Path, section: str) -> list[str]:
    """The ```toml blocks of ``path`` under the heading ``section`` (up to the next ``## ``)."""
    text = path.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return re.findall(r"```toml\n(.*?)```", text[start : end if end != -1 else None], flags=re.S)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_aliyun_page_s_toml_builds_an_aliyun_provider(tmp_path: Path) -> None:
    [block] = toml_blocks(DOCS / "providers" / "aliyun.md", "### From the command line")
    config = load_config(write(tmp_path, block))
    [provider] = build_providers(config, env={"SMSGATE_ALIYUN_PASSWORD": "the-secret-0"})
    assert provider.name == "aliyun"
    assert "the-secret-0" not in repr(provider)
    sms = smsgate.Sms(to="13800138000", template="shipped", params={})
    assert provider.cannot_render(sms) == "template 'shipped' needs parameter(s) name"


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_the_failover_guide_s_two_vendor_toml_fails_over_from_ipyy_to_aliyun(
    tmp_path: Path, ipyy_sandbox_clean: IpyySandbox, aliyun_sandbox_clean: Sandbox
) -> None:
    [block] = toml_blocks(DOCS / "routing.md", "## Failover across vendors")
    doc: dict[str, Any] = tomllib.loads(block)
    assert [p["type"] for p in doc["providers"].values()] == ["ipyy", "aliyun"]
    ipyy_creds = attrs.asdict(ipyy_sandbox_clean.credentials)
    aliyun_creds = aliyun_sandbox_clean.credentials()
    # The documented file, with only the addresses and account names swapped for the sandboxes'.
    text = (
        block.replace('account = "acme"', f'account = "{ipyy_creds["account"]}"')
        .replace('userid = "1001"', f'userid = "{ipyy_creds["userid"]}"')
        .replace('"https://dx.ipyy.net/"', f'"{closed_port()}"\ntimeout = 2.0')
        .replace('"LTAI5tExampleKeyId"', f'"{aliyun_creds["access_key_id"]}"')
        .replace('"SMS_123456789"', '"SMS_100001"')
        + f'base_url = "{aliyun_sandbox_clean.base_url}"\n'
    )
    config = load_config(write(tmp_path, text))
    env = {
        "SMSGATE_IPYY_PASSWORD": ipyy_creds["password"],
        "SMSGATE_ALIYUN_PASSWORD": aliyun_creds["access_key_secret"],
    }
    providers = build_providers(config, env=env)
    sms = smsgate.Sms(to="13800138000", template="verify", params={"code": "1439"}, reference="order-42")
    with smsgate.Gateway(providers, strategy=config.strategy) as gateway:
        receipt = gateway.send(sms)
    assert receipt.provider == "aliyun"
    [record] = aliyun_sandbox_clean.state.records
    assert (record.template_code, record.out_id) == ("SMS_100001", "order-42")
    assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"


@pytest.mark.parametrize("page", ["routing.md", "providers/aliyun.md"])
def test_no_documented_toml_holds_a_secret(page: str) -> None:
    """The CLI refuses secret-looking keys; the documented files must load as they are."""
    text = (DOCS / page).read_text(encoding="utf-8")
    for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S):
        assert not re.search(r"(?im)^\s*\w*(secret|password|token)\w*\s*=", block)


def test_every_test_the_aliyun_page_names_exists() -> None:
    """The endpoint coverage cites tests by file and name (``::name`` continues the last file)."""
    text = (DOCS / "providers" / "aliyun.md").read_text(encoding="utf-8")
    here = Path(__file__).parent
    cited: list[tuple[str, str]] = []
    current = ""
    for file, name in re.findall(r"`(?:(test_\w+\.py))?::(test_\w+)`", text):
        current = file or current
        cited.append((current, name))
    assert len(cited) >= 15
    missing = [f"{f}::{n}" for f, n in cited if f"def {n}(" not in (here / f).read_text(encoding="utf-8")]
    assert missing == []


def test_every_setting_has_a_row_in_the_provider_page() -> None:
    """Each AliyunSettings field is named in the first column of the page's settings table."""
    from smsgate_aliyun import AliyunSettings

    page = (DOCS / "providers" / "aliyun.md").read_text(encoding="utf-8")
    cells = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", page, flags=re.M)
    rows = {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}
    assert [f.name for f in attrs.fields(AliyunSettings) if f.name not in rows] == []
