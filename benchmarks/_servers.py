"""Loopback helpers for benchmarks/run.py (not a benchmark itself): a fast fixed-reply HTTP
server and a raw-socket load generator, each run in its own child process so neither shares
the measured process's GIL.

Both speak just enough HTTP/1.1 for keep-alive POSTs with a Content-Length; they are load
tools for measuring, never library code.

    python benchmarks/_servers.py serve            # prints its port, serves until stdin closes
    python benchmarks/_servers.py load HOST PORT COUNT CONCURRENCY   # requests as JSON on stdin
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time

#: The ipyy send reply the fast server answers to every request.
SEND_REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>999999</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()


# --- the fast server ---------------------------------------------------------------------------


class _Answer(asyncio.Protocol):
    """Reads requests (head + Content-Length body) and answers each with the fixed reply."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(self.response)


async def _serve_fixed(reply: bytes) -> None:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {len(reply)}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Answer(head + reply), "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


class FastServer:
    """The fixed-reply server in a child process; ``with FastServer() as base_url: ...``."""

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.__exit__()
            raise RuntimeError("the fast server did not start")
        return f"http://127.0.0.1:{port}/"

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the load generator ------------------------------------------------------------------------


async def _connection(
    host: str, port: int, requests: list[bytes], *, budget: list[int], expect: bytes, tally: dict[str, int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0:
            budget[0] -= 1
            writer.write(requests[budget[0] % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            ok = head.startswith(b"HTTP/1.1 200") and expect in body
            tally["ok" if ok else "bad"] += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _load(
    host: str, port: int, requests: list[bytes], *, count: int, concurrency: int, expect: bytes
) -> dict[str, float]:
    budget = [count]
    tally = {"ok": 0, "bad": 0}
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(host, port, requests, budget=budget, expect=expect, tally=tally)
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    return {"requests": count, "seconds": elapsed, "ok": tally["ok"], "bad": tally["bad"]}


def http_request(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    """One keep-alive POST, as bytes."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii")
    return head + body


def drive(
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    count: int,
    concurrency: int,
    expect: bytes,
    content_type: str,
) -> float:
    """Run ``count`` POSTs (``concurrency`` connections, cycling through ``bodies``) from a
    child process against 127.0.0.1:port; return requests/s. Every reply must hold ``expect``."""
    requests = [http_request("127.0.0.1", port, path, body, content_type) for body in bodies]
    blob = json.dumps([r.decode("latin-1") for r in requests])
    out = subprocess.run(
        [sys.executable, __file__, "load", "127.0.0.1", str(port), str(count), str(concurrency)],
        input=json.dumps({"requests": blob, "expect": expect.decode("latin-1")}),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["bad"]:
        raise RuntimeError(f"{result['bad']:.0f} unexpected replies from port {port}")
    return float(result["requests"] / result["seconds"])


def _load_main(argv: list[str]) -> None:
    host, port, count, concurrency = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    given = json.loads(sys.stdin.read())
    requests = [r.encode("latin-1") for r in json.loads(given["requests"])]
    expect = given["expect"].encode("latin-1")
    print(
        json.dumps(
            asyncio.run(_load(host, port, requests, count=count, concurrency=concurrency, expect=expect))
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(_serve_fixed(SEND_REPLY))
    elif sys.argv[1:2] == ["load"]:
        _load_main(sys.argv[2:])
    else:
        sys.exit(__doc__)
