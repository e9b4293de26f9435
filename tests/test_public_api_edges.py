"""The public API on inputs a user gets wrong, and the documented options that must work as
documented: each mistake is a typed smsgate error before anything is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors

SMS = smsgate.Sms(to="13800138000", text="hi【shop】")


def test_an_observer_method_may_be_a_wrapper() -> None:
    """docs/hooks.md: with smsgate.observe, ``@smsgate.hookimpl(wrapper=True)`` on a method
    works as for a plugin (it was refused by pluggy: the forwarder was no generator)."""
    seen: list[object] = []

    class Timing:
        @smsgate.hookimpl(wrapper=True)
        def message_sent(self, receipt: smsgate.Receipt, message: object) -> Generator[None, Any, Any]:
            seen.append(("before", receipt.task_id))
            result = yield
            seen.append(("after", receipt.task_id))
            return result

        def send_failed(self, provider: str) -> None:
            seen.append(("failed", provider))

    class Plain:
        def message_sent(self, receipt: smsgate.Receipt) -> None:
            seen.append(("plain", receipt.task_id))

    with (
        smsgate.observe(Timing()),
        smsgate.observe(Plain()),
        smsgate.Gateway(smsgate.get_provider("memory")) as gateway,
    ):
        receipt = gateway.send(SMS)
    assert seen == [("before", receipt.task_id), ("plain", receipt.task_id), ("after", receipt.task_id)]


def _two() -> list[smsgate.Provider]:
    return [smsgate.get_provider("memory", name="a"), smsgate.get_provider("memory", name="b")]


@pytest.mark.parametrize("gateway_class", [smsgate.Gateway, smsgate.AsyncGateway])
@pytest.mark.parametrize(
    "options",
    [
        {"retry": 3},  # attempts meant: failed later with AttributeError, on the first failure
        {"breaker": 5},
        {"rate_limit": 5},
        {"rate_limit": {"a": 5}},
        {"strategy": "weighted", "weights": "ab"},
        {"strategy": "weighted", "weights": [1, float("nan")]},
        {"strategy": "weighted", "weights": {"a": float("inf")}},
        {"strategy": "weighted", "weights": {1.0, 2.0}},  # a set: no order to match the providers
        {"failover_on_uncertain": "no"},
        {"random": 5},
    ],
)
def test_wrong_routing_arguments_are_configuration_errors(
    gateway_class: type, options: dict[str, Any]
) -> None:
    with pytest.raises(errors.ConfigurationError):
        gateway_class(_two(), **options)


@pytest.mark.parametrize(
    ("policy", "options"),
    [
        (smsgate.RetryPolicy, {"attempts": 2.5}),
        (smsgate.RetryPolicy, {"attempts": True}),
        (smsgate.RetryPolicy, {"cap": float("nan")}),
        (smsgate.RetryPolicy, {"base": "0.2"}),
        (smsgate.BreakerPolicy, {"failures": 1.5}),
        (smsgate.BreakerPolicy, {"cool_down": float("nan")}),
        (smsgate.BreakerPolicy, {"enabled": "off"}),
        (smsgate.RateLimit, {"rate": float("nan")}),
        (smsgate.RateLimit, {"rate": "10"}),
        (smsgate.RateLimit, {"rate": float("inf")}),  # window_for() raised OverflowError
        (smsgate.RateLimit, {"rate": 10, "burst": 2.5}),
    ],
)
def test_policies_refuse_what_is_no_number_of_their_kind(policy: type, options: dict[str, Any]) -> None:
    """A NaN passed every check and reached time.sleep; a string raised TypeError."""
    with pytest.raises(errors.ConfigurationError):
        policy(**options)


@pytest.mark.parametrize("limit", ["5", 2.0, True])
def test_a_pull_limit_must_be_a_whole_number(limit: object) -> None:
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway, pytest.raises(errors.ValidationError):
        gateway.fetch_reports(limit=limit)  # type: ignore[arg-type]


async def _async_pull(limit: object) -> None:
    async with smsgate.AsyncGateway(smsgate.get_provider("memory")) as gateway:
        await gateway.fetch_reports(limit=limit)  # type: ignore[arg-type]


def test_a_pull_limit_must_be_a_whole_number_async_too() -> None:
    with pytest.raises(errors.ValidationError):
        asyncio.run(_async_pull("5"))


def _from_file(tmp_path: Path, text: str) -> smsgate.Gateway:
    path = tmp_path / "smsgate.toml"
    path.write_text(text, encoding="utf-8")
    return smsgate.Gateway.from_config(path, env={"SMSGATE_BACKUP_PASSWORD": "pw"})


@pytest.mark.parametrize(
    ("table", "label"),
    [
        ("[gateway.rate_limit.backup]\nrate = 1\n", "[gateway.rate_limit]"),
        ('[gateway]\nstrategy = "weighted"\nweights = { backup = 1 }\n', "[gateway] weights"),
    ],
)
def test_a_config_file_naming_no_provider_says_so_with_the_file(
    tmp_path: Path, table: str, label: str
) -> None:
    """docs/cli.md: an invalid value is an error naming the table (it named neither the file
    nor the table: "rate_limit name unknown providers: backup")."""
    with pytest.raises(errors.ConfigurationError) as info:
        _from_file(tmp_path, table + '[providers.primary]\ntype = "memory"\n')
    assert "smsgate.toml" in str(info.value)
    assert label in str(info.value)
    assert "backup" in str(info.value)


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('type = "ipyy"\naccount = "a"\nbogus = 1\n', errors.ConfigurationError),
        ('type = "console"\nstream = "file"\n', errors.ConfigurationError),
        ('type = "no-such-provider"\n', errors.UnknownProviderError),
    ],
)
def test_a_provider_setting_error_names_its_table(tmp_path: Path, table: str, error: type) -> None:
    """It said "[ipyy] unknown ipyy setting(s): bogus": the type, not the configured name."""
    with pytest.raises(error) as info:
        _from_file(tmp_path, f"[providers.backup]\n{table}")
    assert type(info.value) is error
    assert "[providers.backup]" in str(info.value)
    assert info.value.provider == "backup"


@pytest.mark.parametrize("provider", ["memory", "console", "ipyy"])
@pytest.mark.parametrize("text", ["您的验证码：{code!a}【腾飞】", "您的验证码：{code!r}【腾飞】"])
def test_a_template_converting_its_parameter_is_refused(provider: str, text: str) -> None:
    """{code!a} sent '您的验证码：'1439'' quoted, and every Chinese parameter as \\uXXXX escapes."""
    with pytest.raises(errors.ConfigurationError, match="quoted or escaped"):
        smsgate.get_provider(provider, account="a", password="p", templates={"verify": text})


def test_a_template_may_spell_the_plain_conversion() -> None:
    memory = smsgate.get_provider("memory", templates={"verify": "code {code!s}"})
    with smsgate.Gateway(memory) as gateway:
        gateway.send(smsgate.Sms(to="13800138000", template="verify", params={"code": "名字"}))
    assert memory.outbox[0].texts == ("code 名字",)  # type: ignore[attr-defined]


def test_the_cli_refuses_an_unknown_balance_kind_as_a_usage_error(tmp_path: Path) -> None:
    """`smsgate balance [--kind sms|mms]`: another kind exited 1 with an
    UnsupportedOperationError, as if the configuration were wrong; it is bad input (exit 2)."""
    from click.testing import CliRunner

    from smsgate.cli import cli

    config = tmp_path / "smsgate.toml"
    config.write_text('[providers.primary]\ntype = "memory"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "balance", "--kind", "voice"])
    assert result.exit_code == 2, result.output
    assert "voice" in result.output


def test_an_observer_asking_for_an_argument_no_hook_passes_is_refused_at_once() -> None:
    """It was accepted (or refused with pluggy's own error) and left registered: once the
    plugins loaded, every get_provider() and provider_names() raised PluginValidationError."""

    class Mistyped:
        def message_sent(self, receipt: smsgate.Receipt, sms: smsgate.Sms) -> None: ...

    observer = Mistyped()
    try:
        with pytest.raises(TypeError, match="'sms'"):
            smsgate.observe(observer)
        assert "memory" in smsgate.provider_names()
    finally:
        smsgate.unobserve(observer)


@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        ("ipyy", {"account": "a", "password": "p"}),
        ("aliyun", {"access_key_id": "LTAI5tTestKeyId", "access_key_secret": "s", "sign_name": "腾飞"}),
    ],
)
def test_an_unknown_setting_names_the_configured_provider(kind: str, settings: dict[str, str]) -> None:
    """Every other refusal of a setting named the provider "backup"; this one said its type."""
    with pytest.raises(errors.ConfigurationError) as info:
        smsgate.get_provider(kind, name="backup", bogus=1, **settings)
    assert info.value.provider == "backup"
    assert str(info.value).startswith("[backup] unknown")


@pytest.mark.parametrize(
    "options",
    [
        {"name": ""},
        {"capabilities": 5},  # was accepted; every send then raised AttributeError
        {"timeout": "10"},  # was accepted
        {"timeout": -1},
        {"balance": "abc"},  # decimal.InvalidOperation
        {"auto_report": "gone"},  # ValueError
        {"templates": ["verify"]},  # ValueError
    ],
)
@pytest.mark.parametrize("kind", ["memory", "console"])
def test_the_built_in_providers_refuse_a_wrong_option(kind: str, options: dict[str, Any]) -> None:
    from smsgate.testing import InMemoryProvider

    with pytest.raises(errors.ConfigurationError):
        smsgate.get_provider(kind, **options)
    with pytest.raises(errors.ConfigurationError):
        InMemoryProvider(**options)


class _Unnamed(smsgate.Provider):
    """A provider subclass that forgot what the base class asks of it."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        return "<_Unnamed>"


@pytest.mark.parametrize(
    "attributes",
    [
        {"name": "a", "capabilities": None},
        {"name": "a", "capabilities": 5},
        {"name": ""},
        {"name": 5},
    ],
)
@pytest.mark.parametrize("gateway_class", [smsgate.Gateway, smsgate.AsyncGateway])
def test_a_provider_without_capabilities_or_name_is_refused_by_the_gateway(
    gateway_class: type, attributes: dict[str, Any]
) -> None:
    """Such a provider was accepted; the first call raised AttributeError."""
    with pytest.raises(errors.ConfigurationError):
        gateway_class(_Unnamed(**attributes))


@pytest.mark.parametrize("value", ["false", 0, None])
def test_the_console_provider_takes_mask_numbers_as_a_bool(value: object) -> None:
    """mask_numbers="false" masked the numbers (bool("false") is True)."""
    with pytest.raises(errors.ConfigurationError, match="mask_numbers"):
        smsgate.get_provider("console", mask_numbers=value)


@pytest.mark.parametrize("messages", [None, 5])
def test_send_batch_of_no_sequence_is_a_validation_error(messages: object) -> None:
    """It raised TypeError: 'NoneType' object is not iterable."""
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway, pytest.raises(errors.ValidationError):
        gateway.send_batch(messages)  # type: ignore[arg-type]

    async def batch() -> None:
        async with smsgate.AsyncGateway(smsgate.get_provider("memory")) as gateway:
            await gateway.send_batch(messages)  # type: ignore[arg-type]

    with pytest.raises(errors.ValidationError):
        asyncio.run(batch())


def test_the_cli_help_lists_every_exit_code_of_the_docs() -> None:
    """docs/cli.md's table has 0 to 5; `smsgate --help` left out 5 (receive could not listen)."""
    import re

    from click.testing import CliRunner

    from smsgate.cli import cli

    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    codes = set(re.findall(r"^\| ([1-9]) \|", doc, flags=re.M))
    assert codes == {"1", "2", "3", "4", "5"}
    help_text = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    assert [code for code in sorted(codes) if f"{code} " not in help_text.split("Exit codes:")[1]] == []


def test_the_dry_run_json_keys_are_the_documented_ones(tmp_path: Path) -> None:
    """docs/cli.md listed every key of `smsgate --json send --dry-run` but `recipients`."""
    import json
    import re

    from click.testing import CliRunner

    from smsgate.cli import cli

    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    [listed] = re.findall(r"With `--json` the result is one object \((.*?)\)\.", doc, flags=re.S)
    config = tmp_path / "smsgate.toml"
    config.write_text('[providers.primary]\ntype = "memory"\n', encoding="utf-8")
    args = [
        "--config",
        str(config),
        "--json",
        "send",
        "13800138000",
        "--text",
        "hi",
        "--dry-run",
        "--price",
        "1",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == set(re.findall(r"`(\w+)`", listed))


def _celery_app(name: str) -> Any:
    celery = pytest.importorskip("celery")
    return celery.Celery(name, broker="memory://", set_as_current=False)


@pytest.mark.parametrize(
    "options",
    [
        {"key_ttl": -1},
        {"key_ttl": 0},
        {"max_retries": "5"},
        {"retry_backoff": float("nan")},
        {"retry_jitter": "no"},
    ],
)
def test_celery_install_refuses_wrong_settings(options: dict[str, Any]) -> None:
    """They were accepted; key_ttl=-1 then failed in Redis at the first send."""
    import smsgate.celery

    with pytest.raises(errors.ConfigurationError):
        smsgate.celery.install(
            _celery_app("install"), idempotency=smsgate.celery.MemoryIdempotencyStore(), **options
        )


def test_celery_enqueue_on_an_app_without_install_is_a_configuration_error() -> None:
    """It raised celery's NotRegistered('smsgate.send')."""
    import smsgate.celery

    with pytest.raises(errors.ConfigurationError, match="install"):
        smsgate.celery.enqueue(SMS, app=_celery_app("bare"))


@pytest.mark.parametrize("key", ["", " order-42", 42, "k" * 257])
def test_celery_enqueue_refuses_a_key_that_is_no_string(key: object) -> None:
    """An empty, padded or non-string key was queued as it was."""
    import smsgate.celery

    app = _celery_app("keys")
    smsgate.celery.install(app, idempotency=smsgate.celery.MemoryIdempotencyStore())
    with pytest.raises(errors.ValidationError):
        smsgate.celery.enqueue(SMS, app=app, key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "options"),
    [
        (5, {}),  # AttributeError: 'int' object has no attribute 'decode'
        ("redis://127.0.0.1:6379/0", {"timeout": "1"}),  # TypeError
        ("redis://127.0.0.1:6379/0", {"timeout": float("nan")}),
        ("redis://127.0.0.1:6379/0", {"prefix": ""}),
        ("redis://127.0.0.1:6379/0", {"prefix": 5}),
    ],
)
def test_a_shared_state_with_a_wrong_argument_is_a_configuration_error(
    url: object, options: dict[str, Any]
) -> None:
    scale = pytest.importorskip("smsgate.scale")
    with pytest.raises(errors.ConfigurationError):
        scale.RedisState(url, **options)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"limit": 0}, errors.ConfigurationError),  # accepted
        ({"limit": "10"}, errors.ConfigurationError),
        ({"lock_ttl": -1}, errors.ConfigurationError),
        ({"lease": 0}, errors.ConfigurationError),
        ({"every": "30"}, errors.ValidationError),  # TypeError
    ],
)
def test_celery_register_pull_task_refuses_wrong_settings(options: dict[str, Any], error: type) -> None:
    import smsgate.celery

    app = _celery_app("pulls")
    with pytest.raises(error):
        smsgate.celery.register_pull_task(
            app, journal="unused.sqlite3", redis_url="redis://127.0.0.1:9/0", **options
        )


def test_a_scheduled_message_skips_a_provider_that_cannot_schedule() -> None:
    """With the first provider unreachable, a scheduled message went to a backup without
    Capabilities.scheduling, which raised ValidationError ("cannot schedule"): bad input, said
    the error, for a message the first provider could take once back. Now the backup is
    skipped before any request, as for any capability it lacks, and the first is retried."""
    import datetime as dt

    from smsgate.testing import InMemoryProvider

    scheduled = smsgate.Sms(to="13800138000", text="hi", send_at=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    primary = InMemoryProvider("primary")
    primary.fail_next(errors.NotSentError)
    backup = InMemoryProvider("backup", capabilities=smsgate.Capabilities(send=True, scheduling=False))
    with smsgate.Gateway([primary, backup], sleep=lambda seconds: None) as gateway:
        receipt = gateway.send(scheduled)
    assert (receipt.provider, receipt.attempts) == ("primary", 2)
    assert backup.calls["send"] == 0
    with smsgate.Gateway(backup) as alone, pytest.raises(errors.UnsupportedOperationError, match="send_at"):
        alone.send(scheduled)


def test_weights_may_be_any_sized_collection_of_real_numbers() -> None:
    """A tuple, a Fraction: accepted as before the argument checks (not only lists of floats)."""
    import fractions

    weights = (1, fractions.Fraction(1, 2))
    with smsgate.Gateway(_two(), strategy="weighted", weights=weights) as gateway:
        assert gateway.send(SMS).provider in {"a", "b"}


def test_policies_take_any_integral_number() -> None:
    """numpy's int64 is a numbers.Integral but no int: accepted before the argument checks."""
    import numbers

    class Three:
        def __le__(self, other: object) -> bool:
            return other >= 3  # type: ignore[operator]

        def __index__(self) -> int:
            return 3

    numbers.Integral.register(Three)
    assert smsgate.RetryPolicy(attempts=Three()).attempts.__index__() == 3  # type: ignore[arg-type, attr-defined]
