"""Loading the CLI's TOML configuration: discovery order, validation, secrets refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsgate._config import (
    find_config,
    load_config,
    parse_config,
    password_env_var,
)
from smsgate.exceptions import ConfigurationError


def test_find_prefers_explicit_then_working_directory_then_environment(tmp_path: Path) -> None:
    local = tmp_path / "smsgate.toml"
    other = tmp_path / "other.toml"
    other.write_text("")
    env = {"SMSGATE_CONFIG": str(other)}
    assert find_config(None, env=env, cwd=tmp_path) == other
    local.write_text("")
    assert find_config(None, env=env, cwd=tmp_path) == local
    assert find_config(other, env={}, cwd=tmp_path) == other
    assert find_config(None, env={}, cwd=tmp_path / "sub") is None


def test_env_config_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        find_config(None, env={"SMSGATE_CONFIG": str(tmp_path / "x.toml")}, cwd=tmp_path)


def test_providers_keep_file_order_and_options(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[gateway]\nstrategy = "weighted"\nweights = {b = 2, a = 1}\n'
        '[providers.b]\ntype = "ipyy"\naccount = "x"\ntransport = "json"\n'
        '[providers.a]\ntype = "memory"\n'
    )
    config = load_config(path)
    assert config.strategy == "weighted"
    assert [p.name for p in config.providers] == ["b", "a"]
    assert dict(config.providers[0].options) == {"account": "x", "transport": "json"}
    assert config.provider("a").type == "memory"
    assert config.provider().name == "b"
    with pytest.raises(ConfigurationError, match="configured: b, a"):
        config.provider("c")


@pytest.mark.parametrize("key", ["password", "PASSWORD", "password_md5", "secret", "api_token", "key"])
def test_secret_keys_are_refused_naming_the_variable(key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config({"providers": {"main-1": {"type": "ipyy", key: "hunter2"}}})
    assert "SMSGATE_MAIN_1_PASSWORD" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"gateway": {"strategy": "random"}}, "strategy must be one of"),
        ({"gateway": {"retries": 3}}, "unknown [gateway] key"),
        ({"providers": {"a": {"account": "x"}}}, "needs type"),
        ({"providers": {"a b": {"type": "memory"}}}, "letters, digits"),
        ({"providers": {"a": {"type": "memory", "name": "b"}}}, "table name"),
        ({"provider": {}}, "unknown table"),
    ],
)
def test_invalid_documents_are_explained(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        parse_config(data)


def test_invalid_toml_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[providers\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(path)


def test_password_env_var_name() -> None:
    assert password_env_var("ipyy") == "SMSGATE_IPYY_PASSWORD"
    assert password_env_var("ipyy-backup") == "SMSGATE_IPYY_BACKUP_PASSWORD"
