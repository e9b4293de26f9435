"""Every hook is documented in docs/hooks.md, and fires through the public API with the
arguments its spec promises (one scenario per hook, observed by a plugin installed as a real
distribution)."""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

import smsgate
from smsgate import AsyncGateway, Gateway, Sms, hookspecs
from smsgate._plugins import get_plugin_manager, reset_plugins
from smsgate.cli import SmsGateGroup
from smsgate.exceptions import AuthenticationError, UncertainOutcomeError
from smsgate.testing import InMemoryProvider

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DOC = ROOT / "docs" / "hooks.md"


def _hookspecs() -> dict[str, Callable[..., Any]]:
    """The functions of smsgate.hookspecs marked as hook specifications."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and getattr(fn, marker, None) is not None
    }


HOOKS = sorted(_hookspecs())


def test_the_known_hooks_are_found() -> None:
    """The scan finds the hook specs (so the tests below cannot pass on an empty list)."""
    assert {"register_providers", "message_sent", "register_commands"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_parameters(hook: str) -> None:
    """docs/hooks.md has a ``## hook(param, …)`` heading matching the spec's signature, and a
    table row for each parameter."""
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    params = list(inspect.signature(_hookspecs()[hook]).parameters)
    heading = f"## {hook}({', '.join(params)})"
    assert heading in doc.splitlines(), f"missing heading {heading!r} in docs/hooks.md"
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    for param in params:
        assert f"| `{param}` |" in section, f"{hook}: parameter {param!r} not described"


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    """Every hook heading in docs/hooks.md names a real hook spec."""
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (\w+)\(", doc, flags=re.MULTILINE))
    assert documented == set(HOOKS)


# --- every hook fires through the public API, with the arguments its spec promises --------

PROBE_SOURCE = """
import click
import smsgate
from smsgate.testing import InMemoryProvider

CALLS = []


@smsgate.hookimpl
def register_providers(register):
    CALLS.append(("register_providers", {"register": register}))
    register("hook-probe", lambda **config: InMemoryProvider("hook-probe", **config))


@smsgate.hookimpl
def register_commands(cli):
    CALLS.append(("register_commands", {"cli": cli}))

    @cli.command("hook-probe")
    def hook_probe():
        click.echo("hook-probe ran")


@smsgate.hookimpl
def message_sent(receipt, message):
    CALLS.append(("message_sent", {"receipt": receipt, "message": message}))


@smsgate.hookimpl
def send_failed(provider, operation, error, message):
    CALLS.append(
        ("send_failed", {"provider": provider, "operation": operation, "error": error, "message": message})
    )


@smsgate.hookimpl
def send_uncertain(key, message, error, result):
    CALLS.append(("send_uncertain", {"key": key, "message": message, "error": error, "result": result}))


@smsgate.hookimpl
def report_received(report):
    CALLS.append(("report_received", {"report": report}))


@smsgate.hookimpl
def inbound_received(message):
    CALLS.append(("inbound_received", {"message": message}))
"""


class Probe:
    """The calls recorded by the probe plugin, installed as a real distribution."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def calls(self, hook: str) -> list[dict[str, Any]]:
        """The keyword arguments of every call of ``hook`` so far."""
        return [kwargs for name, kwargs in self._module.CALLS if name == hook]


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    """A plugin implementing every hook, installed the way users install one: a module and a
    ``*.dist-info`` with an ``smsgate`` entry point on ``sys.path``, found by the normal loading."""
    module = f"smsgate_hook_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(PROBE_SOURCE, encoding="utf-8")
    info = tmp_path / "smsgate_hook_probe-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: smsgate_hook_probe\nVersion: 0.0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[smsgate]\nhook-probe = {module}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SMSGATE_PLUGINS", "hook-probe")
    reset_plugins()
    try:
        get_plugin_manager()
        yield Probe(sys.modules[module])
    finally:
        reset_plugins()
        sys.modules.pop(module, None)


SMS = Sms(to="13800138000", text="code 1234【shop】")


def _gateway_call(flavour: str, provider: InMemoryProvider, call: Callable[[Any], Any]) -> Any:
    """``call(gateway)`` on a Gateway or an AsyncGateway over ``provider``; the result or error."""
    if flavour == "sync":
        with Gateway(provider) as gateway:
            return call(gateway)

    async def main() -> Any:
        async with AsyncGateway(provider) as gateway:
            return await call(gateway)

    return asyncio.run(main())


def _register_providers(probe: Probe, flavour: str) -> None:
    built = smsgate.get_provider("hook-probe", password="pw")
    assert isinstance(built, InMemoryProvider), f"get_provider built {built!r}"
    assert built.name == "hook-probe"
    [call] = probe.calls("register_providers")
    assert callable(call["register"]), f"register_providers got register={call['register']!r}"


def _register_commands(probe: Probe, flavour: str) -> None:
    group = SmsGateGroup(name="smsgate")
    assert probe.calls("register_commands") == [], "commands were added before the CLI was used"
    result = CliRunner().invoke(group, ["hook-probe"])
    assert result.output == "hook-probe ran\n", f"the plugin command printed {result.output!r}"
    assert probe.calls("register_commands") == [{"cli": group}]


def _message_sent(probe: Probe, flavour: str) -> None:
    receipt = _gateway_call(flavour, InMemoryProvider("observed"), lambda g: g.send(SMS))
    assert probe.calls("message_sent") == [{"receipt": receipt, "message": SMS}]


def _send_failed(probe: Probe, flavour: str) -> None:
    provider = InMemoryProvider("observed")
    provider.fail_next(AuthenticationError("password refused", code="1005"))
    with pytest.raises(AuthenticationError) as info:
        _gateway_call(flavour, provider, lambda g: g.send(SMS))
    [call] = probe.calls("send_failed")
    assert call == {"provider": "observed", "operation": "send", "error": info.value, "message": SMS}
    assert call["error"] is info.value, f"send_failed got {call['error']!r}, the caller {info.value!r}"


def _send_uncertain(probe: Probe, flavour: str) -> None:
    # The Celery send task fires it in the worker; run eagerly here, in this process.
    from celery import Celery

    import smsgate.celery

    provider = InMemoryProvider("observed")
    provider.fail_next(UncertainOutcomeError("read timeout after the request", request_sent=True))
    app = Celery("hook-probe", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    store = smsgate.celery.MemoryIdempotencyStore()
    smsgate.celery.install(app, gateway=lambda: Gateway(provider), idempotency=store)
    try:
        result = smsgate.celery.enqueue(SMS, key="k-1", app=app).get()
    finally:
        smsgate.celery.close_worker_gateways()
    assert result["outcome"] == "uncertain", result
    [call] = probe.calls("send_uncertain")
    [failed] = probe.calls("send_failed")  # the error the gateway raised to the task
    assert call == {"key": "k-1", "message": SMS, "error": failed["error"], "result": result}
    assert call["error"] is failed["error"], f"send_uncertain got {call['error']!r}"


def _report_received(probe: Probe, flavour: str) -> None:
    provider = InMemoryProvider("observed")
    queued = provider.queue_report("13800138000", task_id="t-1")
    reports = _gateway_call(flavour, provider, lambda g: g.fetch_reports())
    assert reports == [queued]
    assert probe.calls("report_received") == [{"report": queued}]


def _inbound_received(probe: Probe, flavour: str) -> None:
    provider = InMemoryProvider("observed")
    queued = provider.queue_inbound("13800138000", "STOP")
    messages = _gateway_call(flavour, provider, lambda g: g.fetch_inbound())
    assert messages == [queued]
    assert probe.calls("inbound_received") == [{"message": queued}]


#: One scenario per hook: it triggers the hook through the public API (plugin loading, the
#: CLI, a gateway) and checks the probe plugin saw the call with the right arguments.
SCENARIOS: dict[str, Callable[[Probe, str], None]] = {
    "register_providers": _register_providers,
    "register_commands": _register_commands,
    "message_sent": _message_sent,
    "send_failed": _send_failed,
    "send_uncertain": _send_uncertain,
    "report_received": _report_received,
    "inbound_received": _inbound_received,
}
#: Hooks a gateway fires: their scenario runs over Gateway and AsyncGateway.
GATEWAY_HOOKS = {"message_sent", "send_failed", "report_received", "inbound_received"}


@pytest.mark.parametrize(
    ("hook", "flavour"),
    [
        (hook, flavour)
        for hook in HOOKS
        for flavour in (("sync", "async") if hook in GATEWAY_HOOKS else ("sync",))
    ],
)
def test_hook_fires_through_the_public_api(probe: Probe, hook: str, flavour: str) -> None:
    """Each hook has a scenario here; running it makes the hook fire once with the arguments
    its spec documents (a new hook without a scenario fails this test)."""
    scenario = SCENARIOS.get(hook)
    assert scenario is not None, f"hook {hook!r} has no scenario in SCENARIOS: add one"
    scenario(probe, flavour)
