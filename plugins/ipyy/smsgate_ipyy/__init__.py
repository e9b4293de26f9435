"""smsgate provider for the ipyy (华信) SMS gateway.

Registered through the ``smsgate`` entry-point group as ``ipyy``; applications use it as::

    provider = smsgate.get_provider("ipyy", account=..., password=..., userid=...)

Importing this package is cheap: zeep is imported only when the SOAP transport is used.
"""

from __future__ import annotations

__all__: list[str] = []
