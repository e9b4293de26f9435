"""Plugin loading: lazy, idempotent, restrictable, clear about conflicts, and really discovered.

The in-process tests give importlib.metadata real distributions: a ``*.dist-info`` folder
with an ``entry_points.txt`` next to the plugin module, in a temporary folder put on
``sys.path``. The last test builds and pip-installs a throwaway distribution and checks
discovery in a fresh interpreter.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import click.testing
import httpx
import pytest

import smsgate
from smsgate import _plugins
from smsgate._plugins import get_plugin_manager, notify, reset_plugins
from smsgate.exceptions import ConfigurationError, DuplicateProviderError, UnknownProviderError
from smsgate.testing import InMemoryProvider

PLUGIN_SOURCE = """
import smsgate
from smsgate.testing import InMemoryProvider

CALLS = []

@smsgate.hookimpl
def register_providers(register):
    CALLS.append("register_providers")
    for name in {names!r}:
        register(name, lambda _name=name, **config: InMemoryProvider(_name, **config))
"""

AddPlugin = Callable[..., ModuleType | None]


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with nothing loaded and no SMSGATE_PLUGINS, and leaves nothing behind."""
    monkeypatch.delenv("SMSGATE_PLUGINS", raising=False)
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def add_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AddPlugin]:
    """Install a plugin as a real (unpacked) distribution on ``sys.path``.

    ``add_plugin(entry_point_name, names=[...])`` writes a module registering the given
    provider names, or ``source=...`` for a module of your own. Returns the module name.
    """
    modules: list[str] = []

    def add(
        entry_point: str,
        *,
        names: list[str] | None = None,
        source: str | None = None,
        folder: Path | None = None,
        module: str | None = None,
    ) -> str:
        site = folder or tmp_path / f"site-{uuid.uuid4().hex[:8]}"
        site.mkdir(exist_ok=True)
        module = module or f"smsgate_test_{entry_point}_{uuid.uuid4().hex[:8]}"
        code = source if source is not None else PLUGIN_SOURCE.format(names=names or [])
        (site / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
        dist = f"smsgate_test_{entry_point}"
        info = site / f"{dist}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(f"[smsgate]\n{entry_point} = {module}\n", encoding="utf-8")
        monkeypatch.syspath_prepend(str(site))
        modules.append(module)
        return module

    yield add  # type: ignore[misc]
    for module in modules:
        sys.modules.pop(module, None)


def test_nothing_is_loaded_until_first_use(add_plugin: Callable[..., str]) -> None:
    """Building the registry is deferred: the plugin module is imported by provider_names()."""
    module = add_plugin("lazy", names=["lazy"])
    assert _plugins._state.manager is None
    assert module not in sys.modules
    assert "lazy" in smsgate.provider_names()
    assert module in sys.modules
    assert _plugins._state.manager is not None


def test_loading_is_idempotent(add_plugin: Callable[..., str]) -> None:
    """Many calls load and register each plugin once."""
    module = add_plugin("once", names=["once"])
    smsgate.provider_names()
    smsgate.provider_names()
    smsgate.get_provider("once")
    assert get_plugin_manager() is get_plugin_manager()
    assert sys.modules[module].CALLS == ["register_providers"]
    plugins = [p for p in get_plugin_manager().get_plugins() if p is sys.modules[module]]
    assert len(plugins) == 1


def test_same_distribution_on_two_path_entries_registers_once(
    add_plugin: Callable[..., str], tmp_path: Path
) -> None:
    """A distribution visible twice (say, editable and installed) is not a duplicate provider."""
    module = add_plugin("twice", names=["twice"], folder=tmp_path / "a")
    add_plugin("twice", names=["twice"], folder=tmp_path / "b", module=module)
    assert smsgate.provider_names().count("twice") == 1


def test_reset_loads_again(add_plugin: Callable[..., str]) -> None:
    """reset_plugins() forgets the registry; the next use rebuilds it."""
    module = add_plugin("again", names=["again"])
    smsgate.provider_names()
    reset_plugins()
    assert _plugins._state.manager is None
    smsgate.provider_names()
    assert sys.modules[module].CALLS == ["register_providers", "register_providers"]


def test_builtin_memory_provider_is_always_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with every plugin excluded, ``memory`` builds an InMemoryProvider from config."""
    monkeypatch.setenv("SMSGATE_PLUGINS", "")
    provider = smsgate.get_provider("memory", name="mine", account="ignored")
    assert isinstance(provider, InMemoryProvider)
    assert provider.name == "mine"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, {"alpha", "beta", "ipyy", "memory", "console"}),
        ("alpha", {"alpha", "memory", "console"}),
        (" alpha , beta ", {"alpha", "beta", "memory", "console"}),
        ("", {"memory", "console"}),
        ("nonexistent", {"memory", "console"}),
    ],
    ids=["unset", "one", "list-with-blanks", "empty", "unknown-name"],
)
def test_smsgate_plugins_restricts_loading(
    add_plugin: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    expected: set[str],
) -> None:
    """Unset loads every plugin; a list loads those named; an empty value loads none."""
    alpha = add_plugin("alpha", names=["alpha"])
    beta = add_plugin("beta", names=["beta"])
    if setting is not None:
        monkeypatch.setenv("SMSGATE_PLUGINS", setting)
        assert set(smsgate.provider_names()) == expected
    else:  # every installed plugin: at least these
        assert expected <= set(smsgate.provider_names())
    # Excluded plugins are not even imported.
    assert (alpha in sys.modules) == ("alpha" in expected)
    assert (beta in sys.modules) == ("beta" in expected)


def test_duplicate_provider_name_names_both_plugins(add_plugin: Callable[..., str]) -> None:
    """Two plugins registering one name is a clear error, not a silent winner."""
    add_plugin("first", names=["shared"])
    add_plugin("second", names=["shared"])
    with pytest.raises(DuplicateProviderError) as info:
        smsgate.provider_names()
    message = str(info.value)
    assert "'shared'" in message
    assert "'first'" in message
    assert "'second'" in message
    assert "SMSGATE_PLUGINS" in message


def test_duplicate_is_resolved_by_restricting(
    add_plugin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remedy the error suggests works: restrict loading to one of the two plugins."""
    add_plugin("first", names=["shared"])
    add_plugin("second", names=["shared"])
    monkeypatch.setenv("SMSGATE_PLUGINS", "second")
    assert "shared" in smsgate.provider_names()


def test_plugin_cannot_take_the_builtin_name(add_plugin: Callable[..., str]) -> None:
    """A plugin registering ``memory`` collides with the core's own provider."""
    add_plugin("impostor", names=["memory"])
    with pytest.raises(DuplicateProviderError, match=r"smsgate\.default_plugins\.memory"):
        smsgate.provider_names()


def test_unknown_provider_lists_the_known_ones(
    add_plugin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error for a typo shows what is available."""
    add_plugin("alpha", names=["alpha"])
    monkeypatch.setenv("SMSGATE_PLUGINS", "alpha")
    with pytest.raises(UnknownProviderError) as info:
        smsgate.get_provider("alhpa")
    assert "'alhpa'" in str(info.value)
    assert "known: alpha, console, memory" in str(info.value)


def test_get_provider_passes_configuration_to_the_factory(
    add_plugin: Callable[..., str],
) -> None:
    """Keyword configuration reaches the plugin's factory unchanged."""
    module = add_plugin(
        "configured",
        source="""
        import smsgate
        from smsgate.testing import InMemoryProvider
        SEEN = []

        @smsgate.hookimpl
        def register_providers(register):
            def build(**config):
                SEEN.append(config)
                return InMemoryProvider("configured")
            register("configured", build)
        """,
    )
    provider = smsgate.get_provider("configured", account="a1", timeout=3.0)
    assert provider.name == "configured"
    assert sys.modules[module].SEEN == [{"account": "a1", "timeout": 3.0}]


FAILING_FACTORY = """
import smsgate
from smsgate.testing import InMemoryProvider

@smsgate.hookimpl
def register_providers(register):
    def build(*, account, password, **unknown):
        if unknown:
            raise TypeError(f"unexpected settings {sorted(unknown)}")
        raise RuntimeError(f"login {account!r} refused with password {password!r}")
    register("failing", build)
"""


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        (
            {"account": "acct1", "password": "hunter2-secret"},
            "RuntimeError: login '***' refused with password '***'",
        ),
        (
            {"account": "acct1", "password": "hunter2-secret", "pasword": "x"},
            "TypeError: unexpected settings ['pasword']",
        ),
    ],
)
def test_a_factory_failing_on_its_own_is_a_configuration_error_without_the_settings(
    add_plugin: Callable[..., str], config: dict[str, str], shown: str
) -> None:
    """A plugin's factory that fails with an error of its own (not a smsgate error) is refused
    as a ConfigurationError naming the provider, the error's type and its message, with every
    configured text it quotes masked; the original error is not chained (its arguments quote
    the password) and no frame below the public call holds the settings."""
    add_plugin("failing", source=FAILING_FACTORY)
    with pytest.raises(ConfigurationError) as info:
        smsgate.get_provider("failing", **config)
    error = info.value
    assert str(error) == f"the provider 'failing' could not be built from this configuration: {shown}"
    assert error.__cause__ is None
    assert error.__suppress_context__
    tb = error.__traceback__
    assert tb is not None
    tb = tb.tb_next  # below this test's own frame, which holds its parameters
    assert tb is not None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            assert "hunter2-secret" not in repr(value)
        tb = tb.tb_next


def test_a_factory_returning_no_provider_is_a_configuration_error_naming_the_plugin(
    add_plugin: Callable[..., str],
) -> None:
    """get_provider() returned whatever the factory built (here the settings dict), and the
    first gateway given it said only "providers must be Provider objects, not the dict …";
    nothing of the settings stays in a frame of the refusal."""
    add_plugin(
        "notprovider",
        source="""
        import smsgate

        @smsgate.hookimpl
        def register_providers(register):
            register("notprovider", lambda **config: dict(config))
        """,
    )
    with pytest.raises(ConfigurationError) as info:
        smsgate.get_provider("notprovider", password="hunter2-secret")
    assert str(info.value) == (
        "the factory plugin 'notprovider' registered for provider 'notprovider' returned dict, "
        "not a smsgate.Provider"
    )
    tb = info.value.__traceback__
    assert tb is not None
    tb = tb.tb_next  # below this test's own frame
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            assert "hunter2-secret" not in repr(value)
        tb = tb.tb_next


BROKEN_PLUGINS = {
    "import": "raise ImportError('missing dependency xyz')\n",
    "register_providers": """
        import smsgate

        @smsgate.hookimpl
        def register_providers(register):
            register("half", object)
            raise RuntimeError("bad provider setup xyz")
        """,
    "register_commands": """
        import smsgate

        @smsgate.hookimpl
        def register_commands(cli):
            @cli.command("half-command")
            def half():
                pass
            raise RuntimeError("bad command setup xyz")
        """,
    # pluggy refuses the hook implementation when the plugin is registered: that raised out of
    # every get_provider() (memory included), as a bare pluggy.PluginValidationError.
    "hook_arguments": """
        import smsgate

        @smsgate.hookimpl
        def register_providers(register):
            register("half", object)

        @smsgate.hookimpl
        def message_sent(receipt, sent_xyz):
            pass
        """,
}


@pytest.mark.parametrize("failure", list(BROKEN_PLUGINS))
def test_a_broken_plugin_is_skipped_with_one_warning_and_the_others_work(
    add_plugin: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
    failure: str,
) -> None:
    """Issue 10: a plugin that fails to import, or whose register_providers or
    register_commands raises, is skipped with one warning naming it and its error; the
    built-in providers, the ipyy plugin, and the CLI's core and plugin commands keep working."""
    from smsgate.cli import cli

    add_plugin("broken", source=BROKEN_PLUGINS[failure])
    add_plugin("healthy", names=["healthy"])
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    names = smsgate.provider_names()
    runner = click.testing.CliRunner()
    listing = runner.invoke(cli, ["--help"])
    messages = [str(w.message) for w in recwarn if issubclass(w.category, _plugins.PluginLoadWarning)]
    assert len(messages) == 1, messages
    assert "'broken'" in messages[0]
    assert "xyz" in messages[0]
    assert {"memory", "console", "ipyy", "healthy"} <= set(names)
    assert "half" not in names  # nothing half-registered by the broken plugin
    assert smsgate.get_provider("ipyy", account="a", password="p", base_url="http://127.0.0.1:1/").name
    assert listing.exit_code == 0, listing.output
    for command in ("sandbox", "demo", "send", "providers"):
        assert command in listing.output
    assert "half-command" not in listing.output
    providers = runner.invoke(cli, ["--json", "providers"])
    assert providers.exit_code == 0, providers.output
    assert "ipyy" in json.loads(providers.stdout)


def test_the_cli_sends_with_a_broken_plugin_installed(
    add_plugin: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``smsgate send`` works although an installed plugin cannot be imported."""
    from smsgate.cli import cli

    add_plugin("broken", source=BROKEN_PLUGINS["import"])
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    config = tmp_path / "smsgate.toml"
    config.write_text('[providers.dev]\ntype = "memory"\n', encoding="utf-8")
    with pytest.warns(_plugins.PluginLoadWarning, match="'broken'"):
        result = click.testing.CliRunner().invoke(
            cli, ["--config", str(config), "--json", "send", "13800138000", "--text", "hi【x】"]
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 1


def test_registering_an_empty_name_is_refused(add_plugin: Callable[..., str]) -> None:
    """A provider needs a name applications can ask for."""
    add_plugin("nameless", names=[""])
    with pytest.raises(ConfigurationError, match="'nameless'"):
        smsgate.provider_names()


OBSERVER_SOURCE = """
import smsgate
SEEN = []

@smsgate.hookimpl
def message_sent(receipt, message):
    {body}("message_sent", receipt, message)

@smsgate.hookimpl
def send_failed(provider, operation, error, message):
    {body}("send_failed", provider, operation, error, message)

@smsgate.hookimpl
def report_received(report):
    {body}("report_received", report)

@smsgate.hookimpl
def inbound_received(message):
    {body}("inbound_received", message)

def record(*args):
    SEEN.append(args)

def explode(*args):
    raise RuntimeError("observer bug")
"""


def _observation_calls() -> list[tuple[str, dict[str, Any]]]:
    sms = smsgate.Sms(to="13800138000", text="hi")
    receipt = smsgate.Receipt(provider="p", task_id="t", accepted=1)
    error = smsgate.exceptions.NotSentError("refused", provider="p")
    report = smsgate.DeliveryReport(provider="p", mobile="13800138000", task_id="t", status="delivered")
    inbound = smsgate.InboundMessage(provider="p", mobile="13800138000", text="yes")
    return [
        ("message_sent", {"receipt": receipt, "message": sms}),
        ("send_failed", {"provider": "p", "operation": "send", "error": error, "message": sms}),
        ("report_received", {"report": report}),
        ("inbound_received", {"message": inbound}),
    ]


@pytest.mark.parametrize(("hook", "kwargs"), _observation_calls(), ids=[c[0] for c in _observation_calls()])
def test_notify_isolates_a_raising_observer(
    add_plugin: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    hook: str,
    kwargs: dict[str, Any],
) -> None:
    """An observer that raises is logged and skipped; the observers after it still see the event."""
    add_plugin("broken_observer", source=OBSERVER_SOURCE.replace("{body}", "explode"))
    good = add_plugin("good_observer", source=OBSERVER_SOURCE.replace("{body}", "record"))
    # pluggy calls the last registered first: reverse the stored order to get the call order.
    order = [impl.plugin_name for impl in getattr(get_plugin_manager().hook, hook).get_hookimpls()][::-1]
    assert order.index("broken_observer") < order.index("good_observer"), "the broken one must run first"
    with caplog.at_level(logging.ERROR, logger="smsgate.plugins"):
        notify(hook, **kwargs)
    seen = sys.modules[good].SEEN
    assert seen == [(hook, *kwargs.values())]
    [record] = [r for r in caplog.records if r.name == "smsgate.plugins"]
    assert "broken_observer" in record.getMessage()
    assert hook in record.getMessage()


WRAPPER_SOURCE = """
import smsgate
SEEN = []

@smsgate.hookimpl(wrapper=True)
def message_sent(receipt, message):
    SEEN.append(("before", receipt.task_id))
    result = yield
    SEEN.append(("after", receipt.task_id))
    return result
"""


def test_a_wrapper_observer_runs_around_the_plain_observers(add_plugin: Callable[..., str]) -> None:
    """A ``wrapper=True`` implementation is run by pluggy, around the plain observers."""
    wrapper = add_plugin("wrapping_observer", source=WRAPPER_SOURCE)
    plain = add_plugin("plain_observer", source=OBSERVER_SOURCE.replace("{body}", "record"))
    receipt = smsgate.Receipt(provider="p", task_id="t-1", accepted=1)
    sms = smsgate.Sms(to="13800138000", text="hi")
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
        sent = gateway.send(sms)
    wrapped, observed = sys.modules[wrapper].SEEN, sys.modules[plain].SEEN
    assert wrapped == [("before", sent.task_id), ("after", sent.task_id)]
    assert observed == [("message_sent", sent, sms)]
    notify("message_sent", receipt=receipt, message=sms)
    assert wrapped[2:] == [("before", "t-1"), ("after", "t-1")]


def test_a_raising_observer_stays_isolated_inside_a_wrapper(
    add_plugin: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    """With a wrapper around them, a raising observer is still logged and skipped: the wrapper
    completes and the other observer sees the event."""
    wrapper = add_plugin("wrapping_observer", source=WRAPPER_SOURCE)
    add_plugin("broken_observer", source=OBSERVER_SOURCE.replace("{body}", "explode"))
    good = add_plugin("good_observer", source=OBSERVER_SOURCE.replace("{body}", "record"))
    receipt = smsgate.Receipt(provider="p", task_id="t-2", accepted=1)
    sms = smsgate.Sms(to="13800138000", text="hi")
    with caplog.at_level(logging.ERROR, logger="smsgate.plugins"):
        notify("message_sent", receipt=receipt, message=sms)
    wrapped, observed = sys.modules[wrapper].SEEN, sys.modules[good].SEEN
    assert wrapped == [("before", "t-2"), ("after", "t-2")]
    assert observed == [("message_sent", receipt, sms)]
    [record] = [r for r in caplog.records if r.name == "smsgate.plugins"]
    assert "broken_observer" in record.getMessage()


def test_register_commands_adds_to_the_given_group(add_plugin: Callable[..., str]) -> None:
    """register_commands receives the root click group; a plugin's command becomes runnable."""
    add_plugin(
        "commands",
        source="""
        import click
        import smsgate

        @smsgate.hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello from a plugin")
        """,
    )
    group = click.Group("smsgate")
    get_plugin_manager().hook.register_commands(cli=group)
    assert "hello" in group.commands
    result = click.testing.CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0
    assert result.output == "hello from a plugin\n"


def test_register_commands_reaches_the_smsgate_cli(
    add_plugin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin's command shows in ``smsgate --help`` and runs, through the real CLI group."""
    from smsgate.cli import cli

    add_plugin(
        "cli_extra",
        source="""
        import click
        import smsgate

        @smsgate.hookimpl
        def register_commands(cli):
            @cli.command("hello-plugin")
            @click.argument("who")
            def hello(who):
                "Greet someone (added by a plugin)."
                click.echo(f"hello {who}")
        """,
    )
    # The CLI group is process-wide and loads plugin commands once: start it afresh here
    # and restore its commands afterwards.
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    runner = click.testing.CliRunner()
    listing = runner.invoke(cli, ["--help"])
    assert listing.exit_code == 0, listing.output
    assert "hello-plugin" in listing.output
    result = runner.invoke(cli, ["hello-plugin", "world"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello world\n"


THROWAWAY_MODULE = '''
"""A provider plugin installed only for a test."""
import httpx
import smsgate


class EchoProvider(smsgate.Provider):
    capabilities = smsgate.Capabilities(send=True)

    def __init__(self, *, base_url="http://echo.test", name="throwaway", **_):
        self.name = name
        self.base_url = base_url

    def send(self, sms):
        reply = yield httpx.Request("POST", self.base_url + "/send", json={"to": list(sms.to)})
        return smsgate.Receipt(provider=self.name, task_id=reply.text, accepted=len(sms.to))


@smsgate.hookimpl
def register_providers(register):
    register("throwaway", EchoProvider)
'''

THROWAWAY_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "smsgate-throwaway"
version = "0.0.1"
dependencies = ["smsgate"]

[project.entry-points.smsgate]
throwaway = "smsgate_throwaway"

[tool.hatch.build.targets.wheel]
packages = ["smsgate_throwaway"]
"""

DISCOVERY_SCRIPT = """
import json, sys
import httpx, smsgate

loaded_early = "smsgate_throwaway" in sys.modules
names = smsgate.provider_names()
provider = smsgate.get_provider("throwaway", base_url="http://echo.test")
transport = httpx.MockTransport(lambda request: httpx.Response(200, text="task-7"))
with httpx.Client(transport=transport) as client:
    receipt = smsgate.run_flow(provider.send(smsgate.Sms(to="13800138000", text="hi")), client)
print(json.dumps({
    "loaded_early": loaded_early,
    "names": names,
    "type": type(provider).__module__ + "." + type(provider).__name__,
    "receipt": [receipt.provider, receipt.task_id, receipt.accepted],
}))
"""


def test_installed_distribution_is_discovered_through_its_entry_point(tmp_path: Path) -> None:
    """pip-install a tiny distribution with an ``smsgate`` entry point into a folder; a fresh
    interpreter with that folder on PYTHONPATH lists its provider and can use it."""
    project = tmp_path / "project"
    package = project / "smsgate_throwaway"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(THROWAWAY_PYPROJECT, encoding="utf-8")
    (package / "__init__.py").write_text(THROWAWAY_MODULE, encoding="utf-8")
    target = tmp_path / "site"
    # --no-build-isolation: build with the hatchling of this environment (dev extra), offline.
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "smsgate_throwaway" / "__init__.py").is_file()

    env = {k: v for k, v in os.environ.items() if k != "SMSGATE_PLUGINS"}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run(
        [sys.executable, "-c", DISCOVERY_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["loaded_early"] is False
    assert "throwaway" in result["names"]
    assert result["type"] == "smsgate_throwaway.EchoProvider"
    assert result["receipt"] == ["throwaway", "task-7", 1]

    # The same installed plugin is left out when SMSGATE_PLUGINS does not name it.
    env["SMSGATE_PLUGINS"] = "ipyy"
    restricted = subprocess.run(
        [sys.executable, "-c", "import smsgate; print(','.join(smsgate.provider_names()))"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert restricted.returncode == 0, restricted.stderr
    assert "throwaway" not in restricted.stdout.strip().split(",")


def test_throwaway_module_flow_is_sane() -> None:
    """The throwaway plugin's provider works in-process too (guards the subprocess test's fixture)."""
    namespace: dict[str, Any] = {}
    exec(compile(THROWAWAY_MODULE, "smsgate_throwaway", "exec"), namespace)
    provider = namespace["EchoProvider"]()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="t1"))
    with httpx.Client(transport=transport) as client:
        receipt = smsgate.run_flow(provider.send(smsgate.Sms(to="13800138000", text="x")), client)
    assert receipt.task_id == "t1"


class _KeywordOnly:
    def message_sent(self, *, receipt: object) -> None: ...


class _StarArgs:
    def message_sent(self, *args: object) -> None: ...


class _StarKwargs:
    def send_failed(self, provider: str, **event: object) -> None: ...


@pytest.mark.parametrize(
    ("observer", "named"), [(_KeywordOnly(), "receipt"), (_StarArgs(), "*args"), (_StarKwargs(), "**event")]
)
def test_an_observer_whose_arguments_the_hook_never_fills_is_refused_at_once(
    observer: object, named: str
) -> None:
    """observe() took them: a keyword-only argument made the method raise at every event
    (logged and swallowed), and *args / **kwargs were called with nothing at all."""
    with pytest.raises(TypeError, match=rf"takes {re.escape(named)}, which the hook never fills"):
        smsgate.observe(observer)
    assert not any(getattr(p, "_observer", None) is observer for p in _plugins._state.observers.values())


def test_a_misspelt_hook_is_warned_of_and_the_plugin_still_loads(
    add_plugin: Callable[..., str], recwarn: pytest.WarningsRecorder
) -> None:
    """pluggy keeps an implementation of no known hook and never calls it: a plugin observing
    ``message_send`` saw nothing, silently."""
    add_plugin(
        "typo",
        source="""
        import smsgate
        from smsgate.testing import InMemoryProvider

        @smsgate.hookimpl
        def register_providers(register):
            register("typo", lambda **config: InMemoryProvider("typo"))

        @smsgate.hookimpl
        def message_send(receipt):
            pass

        @smsgate.hookimpl(optionalhook=True)
        def message_archived(receipt):
            pass
        """,
    )
    assert "typo" in smsgate.provider_names()
    messages = [str(w.message) for w in recwarn if issubclass(w.category, _plugins.PluginLoadWarning)]
    assert len(messages) == 1, messages
    assert "plugin 'typo' implements 'message_send', which is no smsgate hook" in messages[0]
    assert "message_sent" in messages[0]
