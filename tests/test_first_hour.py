"""Issue 10, what a new user expected: a gateway from the CLI's config file, observers in code,
a console provider, segment counting and cost, and the smaller public-API fixes."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import smsgate
from smsgate import _plugins
from smsgate.exceptions import AuthenticationError, ConfigurationError, ValidationError
from smsgate.routing import RoutingConfig
from smsgate.testing import InMemoryProvider

FULL_CONFIG = """
[gateway]
strategy = "weighted"
weights = { a = 3, b = 1 }
failover_on_uncertain = true

[gateway.retry]
attempts = 2
base = 0.0
cap = 1.0
total = 5.0

[gateway.breaker]
failures = 7
cool_down = 12.5

[gateway.rate_limit]
rate = 50.0
burst = 5

[providers.a]
type = "memory"
balance = 7

[providers.b]
type = "console"
stream = "stderr"
"""


# --- a gateway from the config file ------------------------------------------------------


def test_load_config_reads_every_routing_setting(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text(FULL_CONFIG, encoding="utf-8")
    config = smsgate.load_config(path)
    routing = config.routing
    assert isinstance(routing, RoutingConfig)
    assert routing.strategy is smsgate.Strategy.WEIGHTED
    assert routing.weights == {"a": 3, "b": 1}
    assert routing.retry == smsgate.RetryPolicy(attempts=2, base=0.0, cap=1.0, total=5.0)
    assert routing.breaker == smsgate.BreakerPolicy(failures=7, cool_down=12.5)
    assert routing.rate_limit == smsgate.RateLimit(rate=50.0, burst=5)
    assert routing.failover_on_uncertain is True


def test_gateway_from_config_builds_providers_and_routing(tmp_path: Path) -> None:
    path = tmp_path / "smsgate.toml"
    path.write_text(FULL_CONFIG, encoding="utf-8")
    with smsgate.Gateway.from_config(path, env={}) as gateway:
        assert [p.name for p in gateway.providers] == ["a", "b"]
        assert gateway._router.config.breaker.failures == 7
        assert gateway._router.config.retry.attempts == 2
        first = gateway.providers[0]
    assert isinstance(first, InMemoryProvider)
    assert first.balances["sms"] == 7


def test_async_gateway_from_config_found_like_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No path: ./smsgate.toml, as the CLI looks for it."""
    (tmp_path / "smsgate.toml").write_text('[providers.dev]\ntype = "memory"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    async def main() -> smsgate.Receipt:
        async with smsgate.AsyncGateway.from_config() as gateway:
            return await gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))

    assert asyncio.run(main()).task_id == "dev-1"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("[gateway.breaker]\nenabled = false\n", smsgate.BreakerPolicy.off()),
        ('[gateway]\nbreaker = "off"\n', smsgate.BreakerPolicy.off()),
    ],
    ids=["enabled-false", "off"],
)
def test_breaker_can_be_switched_off_in_the_file(table: str, expected: smsgate.BreakerPolicy) -> None:
    import tomllib

    from smsgate._config import parse_config

    assert parse_config(tomllib.loads(table)).routing.breaker == expected


def test_rate_limit_per_provider_in_the_file() -> None:
    import tomllib

    from smsgate._config import parse_config

    data = tomllib.loads(
        "[gateway.rate_limit.a]\nrate = 2.0\n[gateway.rate_limit.b]\nrate = 1.0\nburst = 3\n"
    )
    assert parse_config(data).routing.rate_limit == {
        "a": smsgate.RateLimit(rate=2.0),
        "b": smsgate.RateLimit(rate=1.0, burst=3),
    }


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[gateway.retry]\ntries = 3\n", "unknown key.*tries"),
        ("[gateway.retry]\nattempts = 0\n", r"\[gateway.retry\].*attempts"),
        ('[gateway.retry]\nattempts = "3"\n', "wrong type"),
        ("[gateway.breaker]\nenabled = 1\n", "wrong type"),
        ("[gateway.rate_limit]\nburst = 2\n", r"\[gateway.rate_limit\]"),
        ("[gateway]\nfailover_on_uncertain = 1\n", "true or false"),
        ("[gateway]\nweights = { a = 1 }\n", "weighted"),
    ],
)
def test_invalid_routing_settings_say_where(toml: str, message: str) -> None:
    import tomllib

    from smsgate._config import parse_config

    with pytest.raises(ConfigurationError, match=message):
        parse_config(tomllib.loads(toml))


def test_gateway_from_a_string_says_what_to_do() -> None:
    """Issue 10: ``Gateway("memory")`` said "'m' is not an smsgate.Provider"."""
    with pytest.raises(ConfigurationError) as info:
        smsgate.Gateway("memory")  # type: ignore[arg-type]
    assert "'m'" not in str(info.value)
    assert "smsgate.get_provider('memory')" in str(info.value)
    assert "from_config" in str(info.value)


# --- observers registered in code --------------------------------------------------------


class Audit:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def message_sent(self, receipt: smsgate.Receipt, message: Any) -> None:
        self.seen.append(("sent", receipt.task_id))

    def send_failed(self, provider: str, error: Exception) -> None:
        self.seen.append(("failed", provider))


def test_observe_sees_sends_and_failures_until_closed() -> None:
    audit = Audit()
    first = smsgate.get_provider("memory", name="first")
    first.fail_next(AuthenticationError)  # type: ignore[attr-defined]
    providers = [first, smsgate.get_provider("memory", name="second")]
    handle = smsgate.observe(audit)
    try:
        with smsgate.Gateway(providers) as gateway:
            gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))
    finally:
        handle.close()
    assert audit.seen == [("failed", "first"), ("sent", "second-1")]
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
        gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))
    assert len(audit.seen) == 2  # closed: no longer called


def test_unobserve_by_object_and_with_block_and_reset_keeps_observers() -> None:
    audit = Audit()
    smsgate.observe(audit)
    _plugins.reset_plugins()  # an application observer survives a plugin reload
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
        gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))
    smsgate.unobserve(audit)
    with smsgate.observe(Audit()) as handle:
        assert handle.name in _plugins._state.observers
    assert handle.name not in _plugins._state.observers
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
        gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))
    assert audit.seen == [("sent", "memory-1")]


def test_a_raising_observer_in_code_is_isolated_like_a_plugin_one(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    class Broken:
        @smsgate.hookimpl(tryfirst=True)
        def message_sent(self, receipt: smsgate.Receipt) -> None:
            calls.append("broken")
            raise RuntimeError("observer bug")

    class Fine:
        def message_sent(self, receipt: smsgate.Receipt) -> None:
            calls.append("fine")

    with smsgate.observe(Fine()), smsgate.observe(Broken()), caplog.at_level(logging.ERROR):
        with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
            receipt = gateway.send(smsgate.Sms(to="13800138000", text="hi【x】"))
    assert receipt.accepted == 1
    assert calls == ["broken", "fine"]
    assert any("observer bug" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


def test_observe_refuses_an_object_without_hooks() -> None:
    with pytest.raises(TypeError, match="message_sent"):
        smsgate.observe(object())


# --- the console provider -------------------------------------------------------------


def test_console_provider_prints_what_would_be_sent() -> None:
    out = io.StringIO()
    provider = smsgate.get_provider("console", stream=out)
    with smsgate.Gateway(provider) as gateway:
        receipt = gateway.send(
            smsgate.Sms(to=["13800138000", "13900139000"], text="您的验证码：1439【腾飞】")
        )
    text = out.getvalue()
    assert receipt.task_id == "console-1"
    assert "13800138000, 13900139000" in text
    assert "您的验证码：1439【腾飞】" in text
    assert "UCS-2, 1 segment" in text
    assert "console-1" in text


def test_console_provider_masks_numbers_on_request_and_prints_batches_and_mms() -> None:
    out = io.StringIO()
    provider = smsgate.get_provider("console", stream=out, mask_numbers=True)
    with smsgate.Gateway(provider) as gateway:
        gateway.send_batch(
            [smsgate.Sms(to="13800138000", text="a【x】"), smsgate.Sms(to="13900139000", text="b【x】")]
        )
        gateway.send_mms(
            smsgate.Mms(to="13700137000", subject="hi", parts=[smsgate.MmsPart(name="a.txt", data=b"abc")])
        )
    text = out.getvalue()
    assert "138****8000" in text
    assert "13800138000" not in text
    assert "MMS subject: hi" in text
    assert "part a.txt: 3 bytes" in text


def test_console_provider_from_a_config_file_prints_to_stdout(tmp_path: Path) -> None:
    """``type = "console"`` in the CLI's file: the message is printed, nothing is sent."""
    config = tmp_path / "smsgate.toml"
    config.write_text('[providers.dev]\ntype = "console"\n', encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from smsgate.cli import main; main()",
            "--config",
            str(config),
            "send",
            "13800138000",
            "--text",
            "hi【x】",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "----- smsgate console: dev, task dev-1 -----" in result.stdout
    assert "hi【x】" in result.stdout


def test_console_provider_refuses_an_unknown_stream_name() -> None:
    with pytest.raises(ConfigurationError, match="stdout"):
        smsgate.get_provider("console", stream="printer")


# --- segments and cost -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters take two septets
        ("{" * 81, "GSM-7", 2),
        ("中" * 70, "UCS-2", 1),
        ("中" * 71, "UCS-2", 2),
        ("中" * 134, "UCS-2", 2),
        ("中" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # two UTF-16 units each
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments_gsm7_and_ucs2_limits(text: str, encoding: str, segments: int) -> None:
    info = smsgate.segments(text)
    assert (info.encoding, info.segments) == (encoding, segments)
    assert info.characters == len(text)


def test_signature_is_counted() -> None:
    body = "中" * 67
    assert smsgate.segments(body).segments == 1
    assert smsgate.segments(body, signature="【腾飞】").segments == 2  # 71 characters
    assert smsgate.segments(body + "【腾飞】").characters == 71


def test_cost_estimate_is_decimal_and_refuses_floats() -> None:
    info = smsgate.segments("中" * 71)
    assert info.cost("0.045") == Decimal("0.090")
    assert smsgate.estimate_cost("中" * 71, Decimal("0.05"), recipients=3) == Decimal("0.30")
    with pytest.raises(ValidationError, match="Decimal"):
        info.cost(0.045)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        info.cost("-1")


# --- smaller things ---------------------------------------------------------------------


def test_memory_task_ids_start_at_one_for_each_provider() -> None:
    """Issue 10: one counter per process gave a second test ``memory-2``."""
    for _ in range(2):
        with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
            assert gateway.send(smsgate.Sms(to="13800138000", text="hi【x】")).task_id == "memory-1"


def test_library_warnings_stay_silent_without_logging_configured() -> None:
    """Issue 10: an app without logging configured got the gateway's WARNING lines on stderr."""
    script = (
        "import smsgate\n"
        "a = smsgate.get_provider('memory', name='a'); a.fail_next(smsgate.AuthenticationError)\n"
        "with smsgate.Gateway([a, smsgate.get_provider('memory', name='b')]) as g:\n"
        "    print(g.send(smsgate.Sms(to='13800138000', text='hi【x】')).provider)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "b\n"
    assert result.stderr == ""


@pytest.mark.parametrize("to", [13800138000, None, b"13800138000", 3.5])
def test_a_recipient_of_the_wrong_type_is_a_validation_error(to: Any) -> None:
    """Issue 10: ``Sms(to=13800138000)`` and ``Sms(to=None)`` raised TypeError."""
    with pytest.raises(ValidationError, match="as a string") as info:
        smsgate.Sms(to=to, text="hi【x】")
    assert info.value.field == "to"
    with pytest.raises(ValidationError, match="as a string"):
        smsgate.Mms(to=to, subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])


def test_the_conformance_suite_has_no_bare_assert() -> None:
    """Issue 10: a failure of the suite was sometimes a bare AssertionError with no values;
    every check goes through ConformanceFailure (``expect``), which says what was expected."""
    import ast

    from smsgate.testing import conformance

    tree = ast.parse(Path(conformance.__file__).read_text(encoding="utf-8"))
    asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts == [], f"bare assert statements at lines {asserts}"


def test_an_oversize_mms_is_refused_before_any_io() -> None:
    """Issue 10: refuse an oversize MMS before any I/O (``Capabilities.max_mms_size``)."""
    provider = InMemoryProvider(capabilities=smsgate.Capabilities(mms=True, max_mms_size=10))
    parts = [smsgate.MmsPart(name="a.txt", data=b"x" * 6), smsgate.MmsPart(name="b.txt", data=b"y" * 5)]
    with smsgate.Gateway(provider) as gateway:
        with pytest.raises(ValidationError, match="11 bytes") as info:
            gateway.send_mms(smsgate.Mms(to="13800138000", subject="s", parts=parts))
        assert info.value.field == "parts"
        assert provider.outbox == []
        gateway.send_mms(smsgate.Mms(to="13800138000", subject="s", parts=parts[:1]))
    assert len(provider.outbox) == 1
