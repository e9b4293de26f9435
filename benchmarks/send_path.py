"""Count the project functions on one happy-path send (not a timing benchmark).

An ipyy provider on the form transport sends one message through ``smsgate.Gateway`` over an
``httpx.MockTransport``; a profile hook records every call of a function defined in this
repository (the core and the plugins, not tests or installed libraries). It prints how many
distinct functions run, in how many files, and how often the path jumps between files:
the figures ``docs/architecture.md`` quotes for the path it draws.

    python benchmarks/send_path.py [-v]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

import smsgate

ROOT = str(Path(__file__).resolve().parent.parent) + "/"
REPLY = (
    b'<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Success</returnstatus>'
    b"<message>ok</message><remainpoint>100</remainpoint><taskID>1234</taskID>"
    b"<successCounts>1</successCounts></returnsms>"
)


def main(verbose: bool) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=REPLY)))
    provider = smsgate.get_provider(
        "ipyy", account="a", password="p", userid="1", base_url="http://127.0.0.1:9"
    )
    gateway = smsgate.Gateway(provider, client=client)
    sms = smsgate.Sms(to="13800138000", text="hi【x】")
    gateway.send(sms)  # warm up: lazy imports and caches are not the path
    calls: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        name = frame.f_code.co_filename
        ours = name.startswith(ROOT) and not name.startswith(ROOT + "benchmarks/")
        if event == "call" and ours and "/tests/" not in name and "/.venv/" not in name:
            calls.append((name.removeprefix(ROOT), frame.f_code.co_qualname))

    sys.setprofile(profile)
    receipt = gateway.send(sms)
    sys.setprofile(None)
    functions = list(dict.fromkeys(calls))
    jumps = sum(1 for a, b in itertools.pairwise(calls) if a[0] != b[0])
    files = {path for path, _ in functions}
    print(f"functions={len(functions)} files={len(files)} file-jumps={jumps} accepted={receipt.accepted}")
    if verbose:
        for path, name in functions:
            print(f"  {path}  {name}")


if __name__ == "__main__":
    main("-v" in sys.argv)
