"""Names a package exports without importing them until they are first read (PEP 562)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], *, submodules: bool = False
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: each name of ``exports`` is imported
    from its module when it is first read, then kept as a plain attribute of the package.

    A plugin's ``__init__.py`` stays cheap to import this way::

        __getattr__ = smsgate.lazy_exports(__name__, {"AcmeProvider": "smsgate_acme._provider"})

    (import the names under ``if TYPE_CHECKING:`` too, for type checkers).

    :param package: the package's ``__name__``.
    :param exports: each lazily exported name → the module that defines it.
    :param submodules: also answer a name that is not exported with the package's submodule
        of that name, importing it (``package.name``), as a package whose submodules used to
        be imported eagerly must.
    :returns: the function to assign to the package's ``__getattr__``; any other name raises
        :class:`AttributeError`.
    """

    def __getattr__(name: str) -> Any:
        """The package's names loaded on first use (PEP 562); each is then a plain attribute."""
        module = exports.get(name)
        if module is None:
            if submodules:
                try:
                    return importlib.import_module(f"{package}.{name}")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{package}.{name}":
                        raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
