"""``import smsgate`` is cheap: no plugin, no heavy dependency, no registry until needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Checked in a fresh interpreter, so modules imported by other tests cannot hide a regression.
SCRIPT = """
import importlib.metadata, json, sys
import smsgate

plugin_modules = sorted(
    {ep.module for ep in importlib.metadata.entry_points(group="smsgate")}
)
heavy = ["zeep", "Crypto", "lxml", "starlette", "uvicorn", "smsgate_ipyy", "redis", "limits", "smsgate.scale"]
before = {
    "loaded": sorted(
        name for name in [*heavy, *plugin_modules]
        if name in sys.modules or any(m.startswith(name + ".") for m in sys.modules)
    ),
    "manager": smsgate._plugins._state.manager is not None,
}
names = smsgate.provider_names()
after = {
    "plugins_loaded": sorted(m for m in plugin_modules if m in sys.modules),
    "manager": smsgate._plugins._state.manager is not None,
}
print(json.dumps({"plugin_modules": plugin_modules, "before": before, "after": after, "names": names}))
"""


def _run() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "SMSGATE_PLUGINS"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_import_loads_no_plugin_and_no_heavy_dependency() -> None:
    """After ``import smsgate``: no zeep, pycryptodome, lxml, starlette, uvicorn, redis, limits,
    smsgate.scale or plugin module, and no plugin manager; ``provider_names()`` then loads the
    plugins."""
    result = _run()
    assert "smsgate_ipyy.plugin" in result["plugin_modules"]  # type: ignore[operator]
    assert result["before"] == {"loaded": [], "manager": False}
    assert result["after"] == {"plugins_loaded": result["plugin_modules"], "manager": True}
    assert {"ipyy", "memory"} <= set(result["names"])  # type: ignore[call-overload]
