"""docs/quickstart.md's code samples run as written (with a loopback address in place of the
elided one) and print what their comments say."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

import smsgate

QUICKSTART = Path(__file__).resolve().parent.parent / "docs" / "quickstart.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", QUICKSTART.read_text(encoding="utf-8"), flags=re.S)


def _block(needle: str) -> str:
    [block] = [block for block in _python_blocks() if needle in block]
    return block


def test_the_first_send_prints_what_its_comment_says(capsys: pytest.CaptureFixture[str]) -> None:
    block = _block('get_provider("memory")')
    exec(block, {})  # the documentation's own example, imports included
    [expected] = re.findall(r"# (memory .*)$", block, flags=re.M)
    assert capsys.readouterr().out.strip() == expected


def test_the_ipyy_provider_sample_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """It used os.environ without importing os."""
    monkeypatch.setenv("IPYY_PASSWORD", "pw")
    scope: dict[str, object] = {"smsgate": smsgate}
    exec(_block('get_provider(\n    "ipyy"').replace("https://…", "http://127.0.0.1:9/"), scope)
    provider = scope["provider"]
    assert isinstance(provider, smsgate.Provider)
    assert provider.timeout == 10.0


def test_every_gateway_method_of_the_page_runs_on_the_memory_provider() -> None:
    with smsgate.Gateway(smsgate.get_provider("memory")) as gateway:
        exec(_block("gateway.send_batch("), {"smsgate": smsgate, "gateway": gateway})


def test_the_async_sample_runs() -> None:
    body = _block("async with smsgate.AsyncGateway").strip()
    source = "async def main():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    scope: dict[str, object] = {"smsgate": smsgate, "provider": smsgate.get_provider("memory")}
    exec(source, scope)
    asyncio.run(scope["main"]())  # type: ignore[operator]


def test_the_observer_sample_sees_a_send(caplog: pytest.LogCaptureFixture) -> None:
    scope: dict[str, object] = {"smsgate": smsgate, "log": logging.getLogger("myapp")}
    exec(_block("smsgate.observe(Audit())"), scope)
    handle = scope["handle"]
    assert isinstance(handle, smsgate.Observation)
    try:
        with (
            caplog.at_level(logging.INFO, logger="myapp"),
            smsgate.Gateway(smsgate.get_provider("memory")) as gw,
        ):
            gw.send(smsgate.Sms(to="13800138000", text="hi【腾飞】"))
    finally:
        handle.close()
    assert "sent memory-1 via memory" in caplog.text


def test_the_index_names_every_public_name_and_concepts_every_error() -> None:
    """docs/index.md's "public surface" left out a third of smsgate.__all__ (load_config,
    segments, observe …)."""
    from smsgate import exceptions

    docs = QUICKSTART.parent
    index = (docs / "index.md").read_text(encoding="utf-8")
    concepts = (docs / "concepts.md").read_text(encoding="utf-8")
    errors = set(exceptions.__all__)
    assert [name for name in smsgate.__all__ if name not in errors and f"`{name}`" not in index] == []
    assert [name for name in sorted(errors) if name not in concepts] == []
