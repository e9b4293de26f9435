"""Plugin loading and the provider registry.

Nothing is loaded when ``smsgate`` is imported. The first call that needs providers
(:func:`get_provider`, :func:`provider_names`, the gateway's observation hooks) loads the
entry points of the group ``smsgate`` once, under a lock.

``SMSGATE_PLUGINS`` restricts loading: unset loads every installed plugin; a
comma-separated list of entry-point names loads only those; an empty value loads none.
The plugins of :data:`DEFAULT_PLUGINS` ship inside smsgate and are always registered, before
any installed plugin: the built-in ``memory`` provider is there even with ``SMSGATE_PLUGINS=""``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pluggy

from smsgate import hookspecs
from smsgate._provider import Provider
from smsgate.exceptions import ConfigurationError, DuplicateProviderError, UnknownProviderError

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "get_plugin_manager",
    "get_provider",
    "provider_names",
    "reset_plugins",
]

ENTRY_POINT_GROUP = "smsgate"
ENV_VAR = "SMSGATE_PLUGINS"
log = logging.getLogger("smsgate.plugins")


#: The plugins that ship inside smsgate (module names), registered under their own names
#: before the entry points load, as simonw/llm registers its default plugins. Each is imported
#: only when plugins load.
DEFAULT_PLUGINS: tuple[str, ...] = ("smsgate.default_plugins.memory",)


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.manager: pluggy.PluginManager | None = None
        self.factories: dict[str, tuple[hookspecs.ProviderFactory, str]] = {}


_state = _Registry()


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
        except Exception as exc:
            raise ConfigurationError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        manager.register(plugin, name=ep.name)
        log.debug("plugin %s loaded from %s", ep.name, ep.value)

    factories: dict[str, tuple[hookspecs.ProviderFactory, str]] = {}
    for impl in manager.hook.register_providers.get_hookimpls():

        def register(
            name: str, factory: hookspecs.ProviderFactory, *, _plugin: str = impl.plugin_name
        ) -> None:
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"plugin {_plugin!r} registered a provider with an invalid name")
            if name in factories:
                other = factories[name][1]
                raise DuplicateProviderError(
                    f"provider name {name!r} is registered by both plugin {other!r} and plugin "
                    f"{_plugin!r}; uninstall one or restrict loading with {ENV_VAR}"
                )
            factories[name] = (factory, _plugin)

        impl.function(register=register)
    _state.factories = factories
    return manager


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading plugins on first use (idempotent)."""
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
    """
    get_plugin_manager()
    try:
        factory, _plugin = _state.factories[name]
    except KeyError:
        known = ", ".join(sorted(_state.factories)) or "none"
        raise UnknownProviderError(
            f"no provider named {name!r} is registered (known: {known}); install its plugin "
            f"or check {ENV_VAR}"
        ) from None
    return factory(**config)


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
