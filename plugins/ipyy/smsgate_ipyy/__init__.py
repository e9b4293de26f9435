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

from typing import TYPE_CHECKING

from smsgate import lazy_exports

if TYPE_CHECKING:
    from smsgate_ipyy._provider import IpyyProvider
    from smsgate_ipyy._settings import IpyySettings

__all__ = ["IpyyProvider", "IpyySettings"]

__getattr__ = lazy_exports(
    __name__, {"IpyyProvider": "smsgate_ipyy._provider", "IpyySettings": "smsgate_ipyy._settings"}
)
