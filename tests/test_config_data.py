"""A gateway built from a configuration already read into a mapping: ``Gateway.from_config(
data=...)`` and ``load_config(data=...)`` take the TOML document's shape and apply the file's
checks, with the file's errors; secrets stay out of it (passwords from the environment)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import frames_with_secrets

FILE = """
[gateway]
strategy = "weighted"
weights = { primary = 3, backup = 1 }

[gateway.retry]
attempts = 2
base = 0.1

[gateway.breaker]
failures = 3

[gateway.rate_limit.primary]
rate = 5.0

[providers.primary]
type = "ipyy"
account = "acme"
userid = "1001"
base_url = "http://127.0.0.1:9/"

[providers.backup]
type = "memory"
"""

DATA: dict[str, Any] = {
    "gateway": {
        "strategy": "weighted",
        "weights": {"primary": 3, "backup": 1},
        "retry": {"attempts": 2, "base": 0.1},
        "breaker": {"failures": 3},
        "rate_limit": {"primary": {"rate": 5.0}},
    },
    "providers": {
        "primary": {"type": "ipyy", "account": "acme", "userid": "1001", "base_url": "http://127.0.0.1:9/"},
        "backup": {"type": "memory"},
    },
}
ENV = {"SMSGATE_PRIMARY_PASSWORD": "s3cret-from-env"}


def test_the_mapping_gives_the_config_the_file_gives(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text(FILE, encoding="utf-8")
    from_file, from_data = smsgate.load_config(path), smsgate.load_config(data=DATA)
    assert from_data.routing == from_file.routing
    assert from_data.providers == from_file.providers
    assert (from_data.source, from_file.source) == (None, path)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_gateway_from_a_mapping(flavour: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No file is looked for, not even the one the CLI would read.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smsgate.toml").write_text("[providers.other]\ntype = 'memory'\n", encoding="utf-8")
    cls = smsgate.Gateway if flavour == "sync" else smsgate.AsyncGateway
    gateway = cls.from_config(data=DATA, env=ENV)
    try:
        assert [p.name for p in gateway.providers] == ["primary", "backup"]
        assert gateway._router.strategy is smsgate.Strategy.WEIGHTED
        assert gateway._router.config.retry == smsgate.RetryPolicy(attempts=2, base=0.1)
        assert gateway._router.config.breaker == smsgate.BreakerPolicy(failures=3)
        primary = gateway.providers[0]
        assert "s3cret-from-env" not in repr(primary)
    finally:
        if flavour == "sync":
            gateway.close()
        else:
            asyncio.run(gateway.aclose())


def test_the_password_comes_from_the_environment_only() -> None:
    with pytest.raises(errors.ConfigurationError, match="SMSGATE_PRIMARY_PASSWORD"):
        smsgate.Gateway.from_config(data=DATA, env={})


@pytest.mark.parametrize("key", ["password", "api_key", "secret"])
def test_a_secret_in_the_mapping_is_refused_as_in_the_file(key: str, tmp_path: Path) -> None:
    data = {"providers": {"primary": {**DATA["providers"]["primary"], key: "hunter2-secret"}}}
    path = tmp_path / "smsgate.toml"
    path.write_text(FILE.replace('account = "acme"', f'{key} = "hunter2-secret"'), encoding="utf-8")
    with pytest.raises(errors.ConfigurationError) as by_file:
        smsgate.load_config(path)
    for build in (lambda: smsgate.load_config(data=data), lambda: smsgate.Gateway.from_config(data=data)):
        with pytest.raises(errors.ConfigurationError) as by_data:
            build()
        assert str(by_data.value) == str(by_file.value).replace(str(path), "the configuration")
        assert "hunter2-secret" not in str(by_data.value) + repr(by_data.value)
    assert _leaks(by_data.value) == []  # the last one: from_config's


def _leaks(error: BaseException) -> list[str]:
    """The frames below the test holding the secret (the test's own, and its lambdas, hold it)."""
    frames = frames_with_secrets(error, ["hunter2-secret"])
    return [f for f in frames if not f.startswith(("test_", "<lambda>"))]


def test_a_password_in_the_shared_state_url_is_refused() -> None:
    data = {**DATA, "gateway": {"shared_state": "redis://:hunter2-secret@127.0.0.1:6379/0"}}
    with pytest.raises(errors.ConfigurationError, match="contains a password") as info:
        smsgate.Gateway.from_config(data=data, env=ENV)
    assert "hunter2-secret" not in str(info.value)
    assert _leaks(info.value) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"providers": {}}, "no provider is configured in data="),
        ({}, "no provider is configured in data="),
        ({"routing": {}}, "unknown table"),
        (
            {"gateway": {"retry": smsgate.RetryPolicy()}, **{"providers": DATA["providers"]}},
            "must be a table",
        ),
        ({"gateway": {"retry": {"attempts": "3"}}}, "wrong type"),
        ({"providers": {"x": {"type": "memory", "name": "y"}}}, "table name is the provider's name"),
        ({"providers": {5: {"type": "memory"}}}, "no string"),
        ({"gateway": {"retry": {1: 2}}}, r"key in \[gateway.retry\] is no string"),
        ({3: {}}, "at the top level"),
        ([("providers", {})], "takes a mapping"),
        ("smsgate.toml", "takes a mapping"),
    ],
)
def test_a_bad_mapping_is_a_configuration_error(data: Any, message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        smsgate.Gateway.from_config(data=data, env=ENV)


def test_a_path_and_a_mapping_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="not both"):
        smsgate.Gateway.from_config(tmp_path / "smsgate.toml", data=DATA)
    with pytest.raises(errors.ConfigurationError, match="not both"):
        smsgate.load_config(tmp_path / "smsgate.toml", data=DATA)


def test_overrides_win_over_the_mapping() -> None:
    retry = smsgate.RetryPolicy(attempts=1)
    with smsgate.Gateway.from_config(data=DATA, env=ENV, retry=retry) as gateway:
        assert gateway._router.config.retry is retry


def test_the_routing_page_sample_builds_its_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("smsgate_aliyun")
    page = (Path(__file__).parent.parent / "docs" / "routing.md").read_text(encoding="utf-8")
    [sample] = [b for b in page.split("```python\n")[1:] if "from_config(data=" in b.split("```")[0]]
    monkeypatch.setenv("SMSGATE_IPYY_PASSWORD", "ipyy-secret")
    monkeypatch.setenv("SMSGATE_ALIYUN_PASSWORD", "aliyun-secret")
    scope: dict[str, Any] = {"smsgate": smsgate}
    exec(sample.split("```")[0], scope)
    with scope["gateway"] as gateway:
        assert [p.name for p in gateway.providers] == ["ipyy", "aliyun"]
        assert gateway._router.config.retry.attempts == 3
