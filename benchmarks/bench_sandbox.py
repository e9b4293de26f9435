"""Sandbox throughput: plain sms.aspx sends per second, against a bare-Starlette baseline.

Run by hand (it is not a test)::

    /work/venv/bin/python benchmarks/bench_sandbox.py [--requests 20000] [--concurrency 48]

Both servers run in this process under the very same uvicorn settings (the sandbox's own
``ServerThread``): first a baseline, a bare Starlette app answering a fixed ``<returnsms>`` body,
then the full sandbox (fault middleware, push lifespan, request decoding, login check, balance,
task id, report scheduling, inspection log). The load comes from a separate process — an asyncio
client over raw sockets with HTTP/1.1 keep-alive — so the client does not take the server's core.
Every sandbox reply is checked to be a ``Success``: a fast error would not count.

Prints requests/s for both and the ratio sandbox / baseline. Target: sandbox ≥ 2,000 sends/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.parse

from smsgate_ipyy._crypto import md5_upper

TARGET = 2_000
FIXED_REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>999999</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()


def build_request(host: str, port: int) -> bytes:
    """One keep-alive POST /sms.aspx with valid demo credentials (password as upper-case MD5)."""
    form = urllib.parse.urlencode(
        {
            "action": "send",
            "userid": "1001",
            "account": "demo",
            "password": md5_upper("demo-password"),
            "mobile": "13800138000",
            "content": "您的验证码：1439【腾飞】",
            "sendTime": "",
            "extno": "",
        }
    ).encode("ascii")
    head = (
        f"POST /sms.aspx HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode("ascii")
    return head + form


# --- the load generator (runs in a child process) ----------------------------------------------


async def _connection(host: str, port: int, request: bytes, budget: list[int], tally: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0:
            budget[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            ok = head.startswith(b"HTTP/1.1 200") and b"<returnstatus>Success</returnstatus>" in body
            tally["ok" if ok else "bad"] += 1
    finally:
        writer.close()


async def _load(host: str, port: int, count: int, concurrency: int) -> dict[str, float]:
    request = build_request(host, port)
    warmup = [min(500, count)]
    await asyncio.gather(
        *(_connection(host, port, request, warmup, {"ok": 0, "bad": 0}) for _ in range(concurrency))
    )
    budget = [count]
    tally = {"ok": 0, "bad": 0}
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, request, budget, tally) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"requests": count, "seconds": elapsed, "ok": tally["ok"], "bad": tally["bad"]}


def _loadgen_main(argv: list[str]) -> None:
    host, port, count, concurrency = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    print(json.dumps(asyncio.run(_load(host, port, count, concurrency))))


def drive(port: int, count: int, concurrency: int) -> dict[str, float]:
    """Run the load generator in a child process against 127.0.0.1:port."""
    out = subprocess.run(
        [sys.executable, __file__, "--loadgen", "127.0.0.1", str(port), str(count), str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


# --- the two servers ---------------------------------------------------------------------------


def baseline_app() -> object:
    """A bare Starlette app answering the fixed reply: the floor the sandbox is compared with."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(FIXED_REPLY, media_type="text/xml; charset=utf-8")

    return Starlette(routes=[Route("/sms.aspx", endpoint, methods=["GET", "POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=48)
    args = parser.parse_args()

    from smsgate_ipyy.sandbox import Sandbox
    from smsgate_ipyy.sandbox._runner import ServerThread

    with ServerThread(baseline_app()) as baseline:
        base = drive(baseline.port, args.requests, args.concurrency)
    with Sandbox() as sandbox:
        sand = drive(sandbox.port, args.requests, args.concurrency)
        accepted = len([r for r in sandbox.requests() if r.get("outcome", {}).get("code") == "OK"])

    base_rate = base["requests"] / base["seconds"]
    sand_rate = sand["requests"] / sand["seconds"]
    print(f"requests: {args.requests} per server, concurrency {args.concurrency}, keep-alive, loopback")
    print(f"baseline (bare Starlette, fixed XML): {base_rate:8.0f} req/s  ({base['bad']:.0f} bad replies)")
    print(f"sandbox  (plain sms.aspx sends)     : {sand_rate:8.0f} req/s  ({sand['bad']:.0f} bad replies)")
    print(f"ratio sandbox / baseline            : {sand_rate / base_rate:8.2f}")
    print(f"target ≥ {TARGET} sends/s: {'met' if sand_rate >= TARGET else 'NOT met'}")
    print(f"(inspection log holds the last {accepted} accepted sends)")
    if sand["bad"]:
        sys.exit("the sandbox answered something other than Success")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        _loadgen_main(sys.argv[2:])
    else:
        main()
