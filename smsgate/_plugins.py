"""Plugin loading and the provider registry.

Nothing is loaded when ``smsgate`` is imported. The first call that needs providers
(:func:`get_provider`, :func:`provider_names`, the gateway's observation hooks) loads the
entry points of the group ``smsgate`` once, under a lock.

``SMSGATE_PLUGINS`` restricts loading: unset loads every installed plugin; a
comma-separated list of entry-point names loads only those; an empty value loads none.
The plugins of :data:`DEFAULT_PLUGINS` ship inside smsgate and are always registered, before
any installed plugin: the built-in ``memory`` and ``console`` providers are there even with
``SMSGATE_PLUGINS=""``.

A broken plugin never takes the others down: one that fails to import, whose hook
implementations pluggy refuses, or whose ``register_providers`` or ``register_commands``
raises, is skipped with one :class:`PluginLoadWarning` naming it and the error (also logged
on ``smsgate.plugins``); every other plugin, and the core, keep working. Two plugins claiming
one provider name, or an invalid name, remain a :class:`~smsgate.exceptions.ConfigurationError`:
that is a conflict to resolve, not a broken plugin to skip.

:func:`observe` registers an object of the application as an observer, with the same hook
names as plugin observers, called through the same machinery (:func:`notify`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import logging
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pluggy

from smsgate import hookspecs
from smsgate._models import DeliveryReport, InboundMessage
from smsgate._provider import Provider
from smsgate.exceptions import ConfigurationError, DuplicateProviderError, SmsGateError, UnknownProviderError
from smsgate.settings import cut_traceback

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Observation",
    "PluginLoadWarning",
    "get_plugin_manager",
    "get_provider",
    "observe",
    "provider_names",
    "register_commands",
    "reset_plugins",
    "unobserve",
]

ENTRY_POINT_GROUP = "smsgate"
ENV_VAR = "SMSGATE_PLUGINS"
log = logging.getLogger("smsgate.plugins")


#: The plugins that ship inside smsgate (module names), registered under their own names
#: before the entry points load, as simonw/llm registers its default plugins. Each is imported
#: only when plugins load.
DEFAULT_PLUGINS: tuple[str, ...] = ("smsgate.default_plugins.memory", "smsgate.default_plugins.console")


class PluginLoadWarning(UserWarning):
    """An installed plugin failed to load and was skipped; the others work."""


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.manager: pluggy.PluginManager | None = None
        self.factories: dict[str, tuple[hookspecs.ProviderFactory, str]] = {}
        # Observers registered in code (observe()), kept across reset_plugins().
        self.observers: dict[str, object] = {}


_state = _Registry()


def _skip(manager: pluggy.PluginManager | None, name: str, what: str, exc: BaseException) -> None:
    """Skip the broken plugin ``name``: unregister it and say so, once."""
    if manager is not None and manager.get_plugin(name) is not None:
        manager.unregister(name=name)
    message = f"plugin {name!r} skipped: {what} raised {type(exc).__name__}: {exc}"
    log.warning("%s", message)
    warnings.warn(message, PluginLoadWarning, stacklevel=3)


def _wanted() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _load() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
    wanted = _wanted()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            log.debug("plugin %s skipped: not in %s", ep.name, ENV_VAR)
            continue
        if manager.get_plugin(ep.name) is not None or manager.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin is skipped; the others load
            _skip(None, ep.name, f"importing {ep.value}", exc)
            continue
        try:
            # pluggy checks each hook implementation here: one asking for an argument its
            # hook does not pass would otherwise fail every later use of the registry.
            manager.register(plugin, name=ep.name)
        except Exception as exc:
            _skip(manager, ep.name, "registering its hooks", exc)
            continue
        log.debug("plugin %s loaded from %s", ep.name, ep.value)
    _warn_unknown_hooks(manager)
    _state.factories = _register_providers(manager)
    for name, observer in _state.observers.items():
        manager.register(observer, name=name)
    return manager


def _warn_unknown_hooks(manager: pluggy.PluginManager) -> None:
    """Warn, once per load, of each ``@hookimpl`` whose name is no smsgate hook (a misspelt
    ``message_send`` …): pluggy keeps it and never calls it, so the plugin would silently see
    nothing. Marked ``optionalhook=True``, it is left alone."""
    for name, caller in vars(manager.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                message = (
                    f"plugin {impl.plugin_name!r} implements {name!r}, which is no smsgate hook; "
                    f"it is never called (the hooks: {', '.join(sorted(_HOOK_NAMES))})"
                )
                log.warning("%s", message)
                warnings.warn(message, PluginLoadWarning, stacklevel=4)


#: Every hook of :mod:`smsgate.hookspecs`, for the warning above.
_HOOK_NAMES = frozenset(
    name for name in hookspecs.__all__ if name not in {"ProviderFactory", "hookimpl", "hookspec"}
)


class _Conflict(Exception):
    """A registration error of ours (duplicate or invalid name): never a plugin to skip."""

    def __init__(self, error: ConfigurationError) -> None:
        super().__init__(str(error))
        self.error = error


def _register_providers(manager: pluggy.PluginManager) -> dict[str, tuple[hookspecs.ProviderFactory, str]]:
    """Every plugin's providers; a plugin whose hook raises is skipped with what it registered."""
    factories: dict[str, tuple[hookspecs.ProviderFactory, str]] = {}
    for impl in manager.hook.register_providers.get_hookimpls():
        own: dict[str, tuple[hookspecs.ProviderFactory, str]] = {}

        def register(
            name: str,
            factory: hookspecs.ProviderFactory,
            *,
            _plugin: str = impl.plugin_name,
            _own: dict[str, tuple[hookspecs.ProviderFactory, str]] = own,
        ) -> None:
            if not isinstance(name, str) or not name:
                raise _Conflict(
                    ConfigurationError(f"plugin {_plugin!r} registered a provider with an invalid name")
                )
            if name in factories or name in _own:
                other = (factories.get(name) or _own[name])[1]
                raise _Conflict(
                    DuplicateProviderError(
                        f"provider name {name!r} is registered by both plugin {other!r} and plugin "
                        f"{_plugin!r}; uninstall one or restrict loading with {ENV_VAR}"
                    )
                )
            _own[name] = (factory, _plugin)

        try:
            impl.function(register=register)
        except _Conflict as conflict:
            raise conflict.error from None
        except Exception as exc:  # a broken plugin is skipped; the others register
            _skip(manager, impl.plugin_name, "register_providers", exc)
            continue
        factories.update(own)
    return factories


def register_commands(cli: Any) -> None:
    """Let every plugin add its commands to the click group ``cli``, each isolated.

    A plugin whose ``register_commands`` raises is skipped with a :class:`PluginLoadWarning`;
    the commands of the others (and the built-in ones) stay.
    """
    manager = get_plugin_manager()
    for impl in reversed(manager.hook.register_commands.get_hookimpls()):
        before = dict(cli.commands)
        try:
            impl.function(cli=cli)
        except Exception as exc:
            cli.commands = before  # nothing half-added by the broken plugin
            _skip(manager, impl.plugin_name, "register_commands", exc)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading plugins on first use (idempotent)."""
    manager = _state.manager  # set only once loaded: the lock is for loading (every send asks)
    if manager is not None:
        return manager
    with _state.lock:
        if _state.manager is None:
            _state.manager = _load()
        return _state.manager


def reset_plugins() -> None:
    """Forget loaded plugins so the next use loads them again (tests, ``SMSGATE_PLUGINS`` changes)."""
    with _state.lock:
        _state.manager = None
        _state.factories = {}


def provider_names() -> list[str]:
    """Names of every provider the loaded plugins register, sorted."""
    get_plugin_manager()
    return sorted(_state.factories)


def get_provider(name: str, /, **config: Any) -> Provider:
    """Build the provider registered as ``name`` from keyword configuration.

    :raises UnknownProviderError: no loaded plugin registers ``name``.
    :raises ValidationError: the configuration is invalid (raised by the provider).
    :raises ConfigurationError: the plugin's factory failed with an error of its own (a
        ``TypeError`` for a setting it does not take …): its type and message, with any
        configured text they quote masked; or it returned something that is no
        :class:`~smsgate.Provider`.
    """
    get_plugin_manager()
    try:
        factory, plugin = _state.factories[name]
    except KeyError:
        known = ", ".join(sorted(_state.factories)) or "none"
        raise UnknownProviderError(
            f"no provider named {name!r} is registered (known: {known}); install its plugin "
            f"or check {ENV_VAR}"
        ) from None
    try:
        provider: object = factory(**config)  # a plugin may break its promise
    except SmsGateError as error:
        # A refusal leaves the settings (passwords included) in the locals of the factory,
        # the provider's constructor and its validators, which error reporters capture: the
        # traceback is cut here, and ``config`` dropped. The message names the setting.
        del config
        cut_traceback(error)
        raise error
    except Exception as error:  # a plugin's own failure (a TypeError for a misspelt setting …)
        # Refused as the typed error a bad configuration gets. Its type and message are kept,
        # with any configured text the message quotes masked; the error itself is not chained
        # (its frames hold the settings, its arguments may hold a value).
        refusal = ConfigurationError(
            f"the provider {name!r} could not be built from this configuration: "
            f"{type(error).__name__}: {_masked(str(error), config)}"
        )
        del config, error
    else:
        if isinstance(provider, Provider):
            return provider
        # Refused here, naming the plugin (a gateway given it would only say "not a
        # Provider"); the settings and what the factory built stay out of the frame.
        refusal = ConfigurationError(
            f"the factory plugin {plugin!r} registered for provider {name!r} returned "
            f"{type(provider).__name__}, not a smsgate.Provider"
        )
        del config, provider
    raise refusal from None


def _masked(message: str, config: dict[str, Any]) -> str:
    """``message`` with every configured text of four or more characters in it replaced by
    ``***``: a plugin's error may quote the value it refused, a password included."""
    values = sorted(
        (value for value in config.values() if isinstance(value, str) and len(value) >= 4),
        key=len,
        reverse=True,
    )
    for value in values:
        message = message.replace(value, "***")
    return message


def observed(hook: str) -> bool:
    """Whether any observer (plain or wrapper) implements the observation hook ``hook`` now:
    a caller may skip working out what only an observer would be told."""
    return bool(getattr(get_plugin_manager().hook, hook).get_hookimpls())


def notify_event(event: DeliveryReport | InboundMessage) -> None:
    """Give a report to ``report_received`` or an inbound message to ``inbound_received``
    (pulled by a gateway, pushed to a receiver, or journaled first by a pull)."""
    if isinstance(event, DeliveryReport):
        notify("report_received", report=event)
    else:
        notify("inbound_received", message=event)


def notify(hook: str, **kwargs: Any) -> None:
    """Call an observation hook through pluggy's own calling machinery.

    Wrappers (``@hookimpl(wrapper=True)`` or ``hookwrapper=True``) run around the call as
    pluggy runs them, and ``tryfirst`` / ``trylast`` order the observers. Each plain
    observer is isolated: one that raises is logged and the others still run, so observers
    can never break sending (a wrapper that raises is logged the same way).
    """
    manager = get_plugin_manager()
    impls = getattr(manager.hook, hook).get_hookimpls()
    if not impls:
        return
    plain = [impl for impl in impls if not (impl.wrapper or impl.hookwrapper)]
    # The wrappers alone, as pluggy calls them; the plain observers join the same call,
    # each behind its own guard, in the order pluggy would have called them.
    wrappers = manager.subset_hook_caller(hook, remove_plugins=[impl.plugin for impl in plain])
    try:
        wrappers.call_extra([_isolated(impl, hook) for impl in plain], kwargs)
    except Exception:
        log.exception("a wrapper of the %s hook raised; ignored", hook)


def _isolated(impl: pluggy.HookImpl, hook: str) -> Callable[..., object]:
    """``impl``'s function behind a guard that logs and swallows its exceptions.

    ``functools.wraps`` keeps the signature visible to pluggy, which passes each observer
    only the arguments it names.
    """

    @functools.wraps(impl.function)
    def guarded(*args: Any, **kwargs: Any) -> object:
        try:
            return impl.function(*args, **kwargs)
        except Exception:
            log.exception("plugin %s: %s hook raised; ignored", impl.plugin_name, hook)
            return None

    return guarded


#: The hooks an observer may implement (the observation hooks of :mod:`smsgate.hookspecs`).
OBSERVATION_HOOKS = ("message_sent", "send_failed", "send_uncertain", "report_received", "inbound_received")


class Observation:
    """The handle :func:`observe` returns: ``close()`` (or leaving its ``with`` block) stops
    the observer; closing twice is harmless."""

    def __init__(self, name: str, observer: object) -> None:
        self.name = name
        self.observer = observer

    def close(self) -> None:
        """Stop observing."""
        with _state.lock:
            _state.observers.pop(self.name, None)
            manager = _state.manager
            if manager is not None and manager.get_plugin(self.name) is not None:
                manager.unregister(name=self.name)

    def __enter__(self) -> Observation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Observation {self.name}>"


def _forwarder(method: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function calling ``method``, with its signature (pluggy passes each observer
    only the arguments it names). A wrapper method (a generator function) gets a generator
    forwarder: pluggy refuses a ``wrapper=True`` implementation that is no generator."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def forward_wrapper(*args: Any, **kwargs: Any) -> Any:
            return (yield from method(*args, **kwargs))

        return forward_wrapper

    @functools.wraps(method)
    def forward(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return forward


def _check_arguments(observer: object, hook: str, method: Callable[..., Any]) -> None:
    """Refuse, now, a hook method asking for an argument the hook does not pass (pluggy would
    refuse it when the plugins load: every later ``get_provider()`` would raise), and one whose
    arguments pluggy never fills: a required keyword-only one (the method would raise at every
    event, logged and swallowed), or ``*args`` / ``**kwargs`` (it would be called with nothing)."""
    empty = inspect.Parameter.empty
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(method).parameters.values()
    wanted = [p.name for p in parameters if p.kind in kinds and p.default is empty]
    known = inspect.signature(getattr(hookspecs, hook)).parameters
    unknown = [name for name in wanted if name not in known]
    unfilled = [
        f"*{p.name}" if p.kind is p.VAR_POSITIONAL else f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name
        for p in parameters
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or (p.kind is p.KEYWORD_ONLY and p.default is empty)
    ]
    if unknown:
        raise TypeError(
            f"{observer!r}: {hook}() asks for {', '.join(map(repr, unknown))}, which the hook does not "
            f"pass; it passes {', '.join(known)} (a method may take fewer, by these names)"
        )
    if unfilled:
        raise TypeError(
            f"{observer!r}: {hook}() takes {', '.join(unfilled)}, which the hook never fills: the hook "
            f"passes {', '.join(known)} as plain arguments, each to a method naming it (it may take fewer)"
        )


def _as_plugin(observer: object) -> object:
    """A pluggy plugin calling ``observer``'s methods named after the observation hooks.

    Methods marked with :data:`smsgate.hookimpl` keep their options (``tryfirst``,
    ``wrapper`` …); unmarked ones become plain observers.
    """
    marker = f"{ENTRY_POINT_GROUP}_impl"
    plugin = type("ObserverPlugin", (), {})()
    plugin._observer = observer
    found = False
    for hook in OBSERVATION_HOOKS:
        method = getattr(observer, hook, None)
        if not callable(method):
            continue
        found = True
        _check_arguments(observer, hook, method)
        options = getattr(method, marker, None)
        forward = _forwarder(method)
        hookspecs.hookimpl(**(options or {}))(forward)
        setattr(plugin, hook, forward)
    if not found:
        raise TypeError(
            f"{observer!r} has none of the observation hooks ({', '.join(OBSERVATION_HOOKS)}); "
            "give it a method named after the hook to observe"
        )
    return plugin


def observe(observer: object) -> Observation:
    """Register ``observer`` so the gateway and receivers call its hook methods.

    ``observer`` is any object (an instance, a module, a namespace) with one or more methods
    named after the observation hooks, taking the same arguments as the plugin hooks
    (:mod:`smsgate.hookspecs`)::

        class Audit:
            def message_sent(self, receipt, message): ...
            def send_failed(self, provider, operation, error, message): ...

        handle = smsgate.observe(Audit())
        ...
        handle.close()  # or smsgate.unobserve(handle), or use it in a with block

    It goes through the same pluggy machinery as plugin observers: an observer that raises
    is logged and ignored, and ``smsgate.hookimpl(tryfirst=True)`` and wrappers work.

    :raises TypeError: ``observer`` has none of the observation hook methods, or one of them
        asks for an argument its hook does not pass.
    """
    plugin = _as_plugin(observer)
    name = f"observer-{id(plugin):x}"
    with _state.lock:
        _state.observers[name] = plugin
        if _state.manager is not None:
            _state.manager.register(plugin, name=name)
    return Observation(name, observer)


def unobserve(observation: Observation | object) -> None:
    """Stop an observer: the handle :func:`observe` returned, or the observed object itself."""
    if isinstance(observation, Observation):
        observation.close()
        return
    # The object itself: stop every registration of it.
    with _state.lock:
        names = [n for n, p in _state.observers.items() if getattr(p, "_observer", None) is observation]
    for name in names:
        Observation(name, observation).close()
