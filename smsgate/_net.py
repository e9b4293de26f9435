"""Which hosts count as this machine, for the rule that credentials never travel over plain
http to another one."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and the literal loopback addresses (127.0.0.0/8, ``::1``).

    Nothing else counts, however it is spelt: ``*.localhost``, ``localhost.localdomain`` or any
    other name is resolved through DNS or ``/etc/hosts`` on some systems and may reach
    another machine, so a provider refusing plain http except to loopback must refuse those.
    An IPv6 address may be given in brackets (``[::1]``), as in a URL.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False
