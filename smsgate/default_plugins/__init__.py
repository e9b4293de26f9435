"""The plugins that ship inside smsgate, registered before any installed plugin.

Each module named in :data:`smsgate._plugins.DEFAULT_PLUGINS` is a plugin like any other: it
implements hooks of :mod:`smsgate.hookspecs` at module level. There are two:
:mod:`smsgate.default_plugins.memory`, the built-in ``memory`` provider, and
:mod:`smsgate.default_plugins.console`, the ``console`` provider (prints, sends nothing).
"""
