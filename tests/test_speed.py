"""Speed fixes that are behaviour, not timing (issue 11); the timings live in ``benchmarks/``."""

from __future__ import annotations

import importlib.metadata
import re


def test_sniffio_is_a_declared_dependency() -> None:
    """httpcore retries a failing ``import sniffio`` on every async request when it is absent
    (encode/httpcore#1103); smsgate declares it so a fresh install has it."""
    requires = importlib.metadata.requires("smsgate") or []
    names = {re.split(r"[ <>=!;\[]", req, maxsplit=1)[0].lower() for req in requires if "extra ==" not in req}
    assert "sniffio" in names
    import sniffio

    assert callable(sniffio.current_async_library)


def test_import_smsgate_leaves_the_gateway_config_and_plugin_machinery_for_later() -> None:
    """``import smsgate`` loads what httpx and the models need, nothing more (issue 11: it
    took 1.5x ``import httpx``); the gateway, routing, config reader and pluggy load on the
    first name that needs them, and are then plain attributes."""
    import json
    import subprocess
    import sys

    script = (
        "import json, sys\nimport smsgate\n"
        "late = ['asyncio', 'tomllib', 'pluggy', 'importlib.metadata', 'smsgate._gateway',"
        " 'smsgate.routing', 'smsgate._config', 'smsgate._plugins']\n"
        "before = sorted(m for m in late if m in sys.modules)\n"
        "gateway = smsgate.Gateway\n"
        "after = sorted(m for m in late if m in sys.modules)\n"
        "print(json.dumps({'before': before, 'after': after, 'same': gateway is smsgate.Gateway,"
        " 'in_vars': 'Gateway' in vars(smsgate), 'dir': 'load_config' in dir(smsgate)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["before"] == []
    assert {"asyncio", "smsgate._gateway", "smsgate.routing"} <= set(result["after"])
    assert result["same"]
    assert result["in_vars"]
    assert result["dir"]


def test_import_smsgate_leaves_the_helpers_no_import_needs_for_later() -> None:
    """Segment counting (an attrs class), ``send_in_parts`` and ``is_loopback_host`` load on
    their first use, as the same objects their modules define."""
    import subprocess
    import sys

    script = (
        "import sys\nimport smsgate\n"
        "late = ['smsgate._segments', 'smsgate._parts', 'smsgate._net']\n"
        "assert not [m for m in late if m in sys.modules], sys.modules.keys() & set(late)\n"
        "from smsgate._segments import SegmentInfo, segments, estimate_cost\n"
        "from smsgate._parts import send_in_parts\n"
        "from smsgate._net import is_loopback_host\n"
        "assert (smsgate.SegmentInfo, smsgate.segments) == (SegmentInfo, segments)\n"
        "assert smsgate.estimate_cost is estimate_cost\n"
        "assert (smsgate.send_in_parts, smsgate.is_loopback_host) == (send_in_parts, is_loopback_host)\n"
        "assert smsgate.segments('hi').segments == 1\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_a_name_smsgate_does_not_have_is_still_an_attribute_error() -> None:
    import pytest

    import smsgate

    with pytest.raises(AttributeError, match="no attribute 'Gatway'"):
        _ = smsgate.Gatway
    assert smsgate.routing.RoutingConfig is not None  # a submodule reached as an attribute


def test_server_thread_connections_get_tcp_nodelay() -> None:
    """ServerThread binds its socket as TCP explicitly, so asyncio sets TCP_NODELAY on each
    accepted connection (it skips sockets created with proto 0): a keep-alive reply is not held
    back ~40 ms by the client's delayed ACK (23 requests/s on one connection before)."""
    import asyncio.base_events
    import socket

    from smsgate.receiver._server import _bind

    listener = _bind("127.0.0.1", 0)
    try:
        listener.listen()
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                vars(asyncio.base_events)["_set_nodelay"](accepted)  # what each accepted transport runs
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
