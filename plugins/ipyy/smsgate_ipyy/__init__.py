"""smsgate provider for the ipyy (华信) SMS gateway.

Registered through the ``smsgate`` entry-point group as ``ipyy``; applications use it as::

    provider = smsgate.get_provider("ipyy", account=..., password=..., userid=...)

or build it from checked settings::

    from smsgate_ipyy import IpyyProvider, IpyySettings

    provider = IpyyProvider(IpyySettings(account=..., password=..., transport="json"))

Importing this package is cheap: the names above are loaded on first use, and zeep is
imported only when the SOAP transport sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsgate_ipyy._provider import IpyyProvider
    from smsgate_ipyy._settings import IpyySettings

__all__ = ["IpyyProvider", "IpyySettings"]

_LAZY = {"IpyyProvider": "smsgate_ipyy._provider", "IpyySettings": "smsgate_ipyy._settings"}


def __getattr__(name: str) -> Any:
    """Load ``IpyyProvider`` and ``IpyySettings`` on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smsgate_ipyy' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - only when a lazy name is first read

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
