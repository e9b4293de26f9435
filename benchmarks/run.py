"""Every speed goal of smsgate as one ratio against a raw baseline, measured in the same run.

Run by hand (it is not a test; tests/test_benchmarks_smoke.py only checks it still runs)::

    python benchmarks/run.py [--quick] [--json] [--only MEASURE ...] [--list]

Each measure runs the baseline (the raw library doing the same work) and smsgate
**interleaved**, pair by pair, and compares their medians, so a slow moment of the shared
machine hits both. Servers are on 127.0.0.1 and, where a client is measured, in a child
process (``_servers.py``): a fixed-reply asyncio server that is never the bottleneck.
``--quick`` shrinks sizes and sample counts (every measure within 4 minutes on 2 cores).
With ``--json`` the last line printed is one JSON object::

    {"<measure>": {"ratio": <float>, "goal": "<text>", "met": <bool>, ...}, ...}

What each baseline does and why it is fair: ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import gc
import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import SEND_REPLY, FastServer, drive, refused_port

ACCOUNT, PASSWORD, USERID = "demo", "demo-password", "1001"  # the sandbox's demo account
MOBILE = "13800138000"
TEXT = "您的验证码：1439，十分钟内有效。【腾飞】"


@dataclass
class Result:
    """One measure: its ratio, the goal in words, whether it is met, and its details."""

    ratio: float
    goal: str
    met: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON shape of the last line."""
        return {"ratio": round(self.ratio, 4), "goal": self.goal, "met": self.met, **self.details}


@dataclass(frozen=True)
class Sizes:
    """How much work each measure does: the full run, or ``--quick``."""

    pairs: int  # interleaved pairs per measure (the median is over these)
    sends: int  # sends per sample in the send measures
    batch: int  # messages of "the" batch (100k in the full run)
    reports: int  # rows of a report pull
    pushes: int  # pushes per sample of the receiver measure
    sandbox_sends: int  # sends per sample of the sandbox measure
    imports: int  # interpreter starts per side of the import measure
    parses: int  # report pulls parsed per sample

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        """The sizes of a full run, or of a quick one: smaller samples, as many pairs (a
        median of three pairs followed whichever side a pause of the machine, or of the
        sandbox's own work between requests, happened to fall in)."""
        if quick:
            return cls(
                pairs=7,
                sends=200,
                batch=20_000,
                reports=4_000,
                pushes=300,
                sandbox_sends=600,
                imports=5,
                parses=1,
            )
        return cls(
            pairs=7,
            sends=1_000,
            batch=100_000,
            reports=4_000,
            pushes=2_000,
            sandbox_sends=4_000,
            imports=25,
            parses=5,
        )


def pairs(baseline: Callable[[], float], subject: Callable[[], float], count: int) -> tuple[float, float]:
    """``count`` interleaved pairs of two timed runs (each returns seconds or a rate); the
    medians (after one untimed warm-up of each)."""
    baseline()
    subject()
    base: list[float] = []
    ours: list[float] = []
    for _ in range(count):
        base.append(baseline())
        ours.append(subject())
    return statistics.median(base), statistics.median(ours)


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    """``fn`` as a function returning the seconds one call took."""

    def run() -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    return run


def speed(base_seconds: float, our_seconds: float, goal: float, what: str, **details: Any) -> Result:
    """A "smsgate speed / baseline speed >= goal" result from two median times."""
    ratio = base_seconds / our_seconds
    details = {"baseline_s": round(base_seconds, 6), "smsgate_s": round(our_seconds, 6), **details}
    return Result(ratio, f">= {goal}x {what}", ratio >= goal, details)


# --- the ipyy request both sides send ----------------------------------------------------------


def form_fields() -> dict[str, str]:
    """spec 1.1: the fields a raw client posts (password as its upper-case MD5, spec 1.2)."""
    from smsgate_ipyy._crypto import md5_upper

    return {
        "action": "send",
        "userid": USERID,
        "account": ACCOUNT,
        "password": md5_upper(PASSWORD),
        "mobile": MOBILE,
        "content": TEXT,
        "sendTime": "",
        "extno": "",
    }


def ipyy(base_url: str, **settings: Any) -> Any:
    """The ipyy provider as an application configures it (form transport)."""
    import smsgate

    return smsgate.get_provider(
        "ipyy", account=ACCOUNT, password=PASSWORD, userid=USERID, base_url=base_url, **settings
    )


def check_success(status: int, body: bytes) -> None:
    """The raw client's minimal reply check."""
    if status != 200 or b"<returnstatus>Success</returnstatus>" not in body:
        raise RuntimeError(f"unexpected reply: {status} {body[:200]!r}")


# --- 1. async sends vs raw aiohttp ---------------------------------------------------------------


async def _many(send: Callable[[], Awaitable[None]], count: int, concurrency: int) -> None:
    left = [count]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await send()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure_async(sizes: Sizes, concurrency: int) -> Result:
    """AsyncGateway.send vs an aiohttp ClientSession posting the same form, ``concurrency``
    sends in flight, both over a real socket to the fast server."""
    import aiohttp

    import smsgate

    fields = form_fields()
    count = max(sizes.sends, concurrency * 4)
    with FastServer() as base_url, asyncio.Runner() as runner:

        async def setup() -> tuple[Any, Any]:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
            # The gateway's own client, as an application gets it (no more connections than
            # in flight either way).
            gateway = smsgate.AsyncGateway(ipyy(base_url))
            return session, gateway

        session, gateway = runner.run(setup())
        url = base_url + "sms.aspx"

        async def raw_send() -> None:
            async with session.post(url, data=fields) as response:
                check_success(response.status, await response.read())

        async def our_send() -> None:
            receipt = await gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))
            if not receipt.task_id:
                raise RuntimeError("no task id")

        try:
            base, ours = pairs(
                timed(lambda: runner.run(_many(raw_send, count, concurrency))),
                timed(lambda: runner.run(_many(our_send, count, concurrency))),
                sizes.pairs,
            )
        finally:

            async def close() -> None:
                await session.close()
                await gateway.aclose()

            runner.run(close())
    return speed(
        base,
        ours,
        0.5,
        "raw aiohttp",
        sends=count,
        baseline_per_s=round(count / base),
        smsgate_per_s=round(count / ours),
    )


# --- 2. sync sends vs http.client and requests ---------------------------------------------------


def measure_sync_http_client(sizes: Sizes) -> Result:
    """Gateway.send (its default client) vs http.client.HTTPConnection with keep-alive, one
    send at a time."""
    import smsgate

    body = urllib.parse.urlencode(form_fields()).encode("ascii")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    count = sizes.sends
    with FastServer() as base_url:
        port = int(base_url.rsplit(":", 1)[1].rstrip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port)
        gateway = smsgate.Gateway(ipyy(base_url))

        def raw() -> None:
            for _ in range(count):
                conn.request("POST", "/sms.aspx", body=body, headers=headers)
                response = conn.getresponse()
                check_success(response.status, response.read())

        def ours() -> None:
            for _ in range(count):
                gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))

        try:
            base, mine = pairs(timed(raw), timed(ours), sizes.pairs)
        finally:
            conn.close()
            gateway.close()
    return speed(base, mine, 0.5, "http.client keep-alive", sends=count)


def measure_sync_requests(sizes: Sizes) -> Result:
    """Gateway.send vs a plain ``requests.post`` per message (a new connection each time, as
    the simplest raw client does)."""
    import requests

    import smsgate

    fields = form_fields()
    count = max(50, sizes.sends // 4)
    with FastServer() as base_url:
        gateway = smsgate.Gateway(ipyy(base_url))
        url = base_url + "sms.aspx"

        def raw() -> None:
            for _ in range(count):
                response = requests.post(url, data=fields, timeout=10)
                check_success(response.status_code, response.content)

        def ours() -> None:
            for _ in range(count):
                gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))

        try:
            base, mine = pairs(timed(raw), timed(ours), sizes.pairs)
        finally:
            gateway.close()
    return speed(base, mine, 2.0, "requests.post per message", sends=count)


# --- 3. the receiver vs bare Starlette -------------------------------------------------------------


def push_body(n: int) -> bytes:
    """A spec 6.2 status push whose event is new for each ``n``."""
    return (
        '<?xml version="1.0" encoding="utf-8" ?><returnsms><statusbox>'
        f"<mobile>138{n % 10**8:08d}</mobile><taskid>{2611251200000000 + n}</taskid>"
        "<status>10</status><receivetime>2025-11-26 12:00:00</receivetime>"
        "<errorcode>DELIVRD</errorcode><extno></extno></statusbox></returnsms>"
    ).encode()


def measure_receiver(sizes: Sizes) -> Result:
    """Pushes/s acknowledged by a Receiver with its durable SQLite journal (served by
    ServerThread) vs a bare Starlette app answering ``1``, 16 concurrent connections."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from smsgate.receiver import Receiver, ServerThread

    async def bare(request: Request) -> Response:
        await request.body()
        return Response(b"1", media_type="text/plain; charset=utf-8")

    baseline_app = Starlette(routes=[Route("/", bare, methods=["POST"])])
    rounds = iter(range(10**6))
    with tempfile.TemporaryDirectory() as folder:
        receiver = Receiver(
            ipyy("http://127.0.0.1:9/"), lambda event: None, journal=Path(folder) / "j.sqlite3"
        )
        with ServerThread(baseline_app) as base_server, ServerThread(receiver.asgi_app()) as our_server:

            def load(port: int) -> Callable[[], float]:
                def run() -> float:
                    start = next(rounds) * sizes.pushes
                    bodies = [push_body(start + i) for i in range(sizes.pushes)]
                    rate = drive(
                        port,
                        "/",
                        bodies,
                        count=sizes.pushes,
                        concurrency=16,
                        expect=b"1",
                        content_type="text/xml",
                    )
                    return 1 / rate

                return run

            base, ours = pairs(load(base_server.port), load(our_server.port), sizes.pairs)
        receiver.close()
    return speed(
        base,
        ours,
        0.5,
        "bare Starlette answering 1 (16 concurrent)",
        baseline_per_s=round(1 / base),
        smsgate_per_s=round(1 / ours),
    )


# --- 4. the batch ----------------------------------------------------------------------------------


def batch_messages(count: int) -> list[Any]:
    """``count`` personalised messages, one recipient each."""
    import smsgate

    return [
        smsgate.Sms(to=f"138{i:08d}", text=f"尊敬的客户{i}，您的订单已发货【腾飞】") for i in range(count)
    ]


def raw_batch_bodies(messages: list[Any], per_request: int = 1000) -> Iterator[bytes]:
    """The fair raw baseline: per request of ``per_request`` lines, the lines, gzip, base64
    and the form encoding of the whole request body (what BatchSms.ashx receives)."""
    from smsgate_ipyy._crypto import md5_upper

    login = [("userid", USERID), ("account", ACCOUNT), ("password", md5_upper(PASSWORD))]
    for i in range(0, len(messages), per_request):
        chunk = messages[i : i + per_request]
        lines = "".join(f"{m.to[0]},{m.text}\r\n" for m in chunk).encode("utf-8")
        content = base64.b64encode(gzip.compress(lines, mtime=0)).decode("ascii")
        yield urllib.parse.urlencode([*login, ("content", content), ("sendTime", ""), ("extno", "")]).encode()


def drive_batch(provider: Any, messages: list[Any], on_request: Callable[[Any], None] | None = None) -> int:
    """Run the provider's send_batch flow, answering each request with a success; return
    the body bytes built."""
    import httpx

    flow = provider.send_batch(messages)
    total = 0
    try:
        request = next(flow)
        while True:
            total += len(request.content)
            if on_request is not None:
                on_request(request)
            request = flow.send(httpx.Response(200, content=SEND_REPLY, request=request))
    except StopIteration:
        return total


def measure_batch_build(sizes: Sizes) -> Result:
    """The provider's send_batch flow building every request of a personalised batch vs the
    raw baseline building the same bodies (checked equal before timing)."""
    messages = batch_messages(sizes.batch)
    provider = ipyy("http://127.0.0.1:9/")
    ours_bodies: list[bytes] = []
    drive_batch(provider, messages[:2500], lambda request: ours_bodies.append(request.content))
    if ours_bodies != list(raw_batch_bodies(messages[:2500])):
        raise RuntimeError("the raw baseline does not build the same request bodies")
    base, ours = pairs(
        timed(lambda: sum(len(b) for b in raw_batch_bodies(messages))),
        timed(lambda: drive_batch(provider, messages)),
        sizes.pairs,
    )
    return speed(base, ours, 0.6, "lines + gzip + base64 + form encoding", messages=sizes.batch)


def measure_batch_linearity(sizes: Sizes) -> Result:
    """Time of a batch twice as large over time of the batch, through ``Gateway.send_batch``
    (validation, requests, receipts, the hooks' receipt-to-message match) on an in-process
    transport answering success: at most 2.2."""
    import httpx

    import smsgate

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=SEND_REPLY)

    gateway = smsgate.Gateway(
        ipyy("http://127.0.0.1:9/"), client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    small = batch_messages(sizes.batch)
    large = batch_messages(2 * sizes.batch)
    try:
        t_small, t_large = pairs(
            timed(lambda: gateway.send_batch(small)), timed(lambda: gateway.send_batch(large)), sizes.pairs
        )
    finally:
        gateway.close()
    ratio = t_large / t_small
    return Result(
        ratio,
        f"<= 2.2 (time of {2 * sizes.batch:,} messages / time of {sizes.batch:,}, Gateway.send_batch)",
        ratio <= 2.2,
        {"small_s": round(t_small, 4), "large_s": round(t_large, 4)},
    )


def measure_batch_memory(sizes: Sizes) -> Result:
    """Working memory of the batch flow: the peak it allocates beyond the input list
    (tracemalloc), less what it still holds at the end (the receipts it returns), over one
    request's payload (the largest request's ``mobile,text\\r\\n`` lines, the bytes
    ``batch_max_bytes`` bounds): at most 2."""
    import urllib.parse as up

    provider = ipyy("http://127.0.0.1:9/")
    messages = batch_messages(sizes.batch)
    largest = [0]

    def seen(request: Any) -> None:
        content = dict(up.parse_qsl(request.content.decode("ascii")))["content"]
        largest[0] = max(largest[0], len(gzip.decompress(base64.b64decode(content))))

    drive_batch(provider, messages, seen)  # untraced: the largest request, and warm caches
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        flow = provider.send_batch(messages)
        receipts: list[Any] = []
        try:
            request = next(flow)
            while True:
                request = flow.send(_ok_response(request))
        except StopIteration as done:
            receipts = done.value
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    working = peak - current
    deflate = _deflate_state()
    ratio = (working - deflate) / largest[0]
    return Result(
        ratio,
        "<= 2 (working memory beyond the input, the receipts and zlib's state / one request's lines)",
        ratio <= 2,
        {
            "working_bytes": working,
            "deflate_state_bytes": deflate,
            "retained_bytes": current - before,
            "request_lines_bytes": largest[0],
            "messages": sizes.batch,
            "receipts": len(receipts),
        },
    )


def _deflate_state() -> int:
    """The memory zlib's level-9 gzip compressor itself takes (its window and hash tables):
    the raw baseline's gzip.compress needs it too, whatever the batch's size."""
    import zlib

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        compressor.compress(b"x" * 64)
        compressor.flush()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak


def _ok_response(request: Any) -> Any:
    import httpx

    return httpx.Response(200, content=SEND_REPLY, request=request)


class SandboxProcess:
    """The ipyy sandbox in a child process; ``with SandboxProcess() as base_url``."""

    def __enter__(self) -> str:
        code = (
            "import sys\nfrom smsgate_ipyy.sandbox import Sandbox\n"
            "with Sandbox() as s:\n    print(s.port, flush=True)\n    sys.stdin.read()\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.__exit__()
            raise RuntimeError("the sandbox did not start")
        return f"http://127.0.0.1:{port}/"

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def measure_batch_e2e(sizes: Sizes) -> Result:
    """Gateway.send_batch through the sandbox (child process) vs raw httpx building and
    posting the same bodies to it."""
    import httpx

    import smsgate

    count = max(5_000, sizes.batch // 10)
    messages = batch_messages(count)
    with SandboxProcess() as base_url:
        url = base_url + "BatchSms.ashx"
        raw_client = httpx.Client()
        gateway = smsgate.Gateway(ipyy(base_url), client=httpx.Client())
        headers = {"Content-Type": "application/x-www-form-urlencoded"}

        def raw() -> None:
            for body in raw_batch_bodies(messages):
                response = raw_client.post(url, content=body, headers=headers)
                check_success(response.status_code, response.content)

        def ours() -> None:
            gateway.send_batch(messages)

        try:
            base, mine = pairs(timed(raw), timed(ours), sizes.pairs)
        finally:
            raw_client.close()
            gateway.close()
    return speed(base, mine, 0.8, "raw httpx posting the same bodies (sandbox)", messages=count)


# --- 5. report pulls -------------------------------------------------------------------------------


def reports_rows(count: int) -> list[dict[str, str]]:
    """Rows of a status pull, alternating delivered and failed."""
    return [
        {
            "mobile": f"138{i:08d}",
            "taskid": f"26112512{i // 100:08d}",
            "receivetime": f"2025-11-26 12:{i // 60 % 60:02d}:{i % 60:02d}",
            "errorcode": "DELIVRD" if i % 3 else "UNDELIV",
        }
        for i in range(count)
    ]


def measure_json_pull(sizes: Sizes) -> Result:
    """parse_reports_reply on a JSON pull vs ``json.loads`` + a datetime parse per row."""

    body = json.dumps({"error": "1", "remark": "成功", "statusbox": reports_rows(sizes.reports)}).encode()

    def raw() -> list[Any]:
        rows = json.loads(body)["statusbox"]
        return [(row, dt.datetime.fromisoformat(row["receivetime"])) for row in rows]

    return _pull_parse(sizes, body, raw, 0.7, "json.loads + fromisoformat per row")


def _pull_parse(sizes: Sizes, body: bytes, raw: Callable[[], list[Any]], goal: float, what: str) -> Result:
    """parse_reports_reply on ``body`` against the baseline ``raw`` (same row count first)."""
    from smsgate_ipyy import _parse

    def ours() -> list[Any]:
        return _parse.parse_reports_reply(body, provider="ipyy")

    if len(ours()) != len(raw()):
        raise RuntimeError("different row counts")
    repeat = sizes.parses
    base, mine = pairs(
        timed(lambda: [raw() for _ in range(repeat)]),
        timed(lambda: [ours() for _ in range(repeat)]),
        sizes.pairs * 2,
    )
    return speed(base, mine, goal, what, rows=sizes.reports)


def measure_xml_pull(sizes: Sizes) -> Result:
    """parse_reports_reply on an XML pull vs a plain lxml child loop into dicts."""
    from lxml import etree

    rows = reports_rows(sizes.reports)
    boxes = "".join(
        "<statusbox>"
        + "".join(f"<{k}>{v}</{k}>" for k, v in row.items())
        + "<status>10</status><extno></extno></statusbox>\n"
        for row in rows
    )
    body = ('<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n' + boxes + "</returnsms>").encode()

    def raw() -> list[dict[str, str | None]]:
        root = etree.fromstring(body)
        return [{child.tag: child.text for child in box} for box in root]

    return _pull_parse(sizes, body, raw, 0.6, "plain lxml child loop into dicts")


# --- 6. import time --------------------------------------------------------------------------------


def _import_seconds(module: str, env: dict[str, str]) -> float:
    code = f"import time\nt = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout)


def measure_import(sizes: Sizes) -> Result:
    """``import smsgate`` vs ``import httpx``, each in a fresh interpreter (interleaved).

    Both sides read their modules' bytecode from one private cache, as an installed package
    does (pip compiles a wheel's modules at install; an editable install writes
    ``__pycache__`` on its first import): with ``PYTHONDONTWRITEBYTECODE`` set, as on some
    machines, an editable smsgate was compiled from source at every start while httpx read
    the bytecode pip wrote. The untimed warm-up of each side fills the cache."""
    with tempfile.TemporaryDirectory(prefix="smsgate-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        base, ours = pairs(
            lambda: _import_seconds("httpx", env), lambda: _import_seconds("smsgate", env), sizes.imports
        )
    ratio = ours / base
    return Result(
        ratio,
        "<= 1.2 (time of import smsgate / import httpx)",
        ratio <= 1.2,
        {"httpx_s": round(base, 5), "smsgate_s": round(ours, 5)},
    )


# --- 7. the sandbox ---------------------------------------------------------------------------------


def measure_sandbox(sizes: Sizes) -> Result:
    """Plain sms.aspx sends/s the sandbox answers vs a bare Starlette app answering the fixed
    reply, same ServerThread, 48 connections from a load generator process."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from smsgate.receiver import ServerThread
    from smsgate_ipyy.sandbox import Sandbox

    async def bare(request: Request) -> Response:
        await request.body()
        return Response(SEND_REPLY, media_type="text/xml; charset=utf-8")

    app = Starlette(routes=[Route("/sms.aspx", bare, methods=["POST"])])
    fields = form_fields()
    rounds = iter(range(10**6))
    expect = b"<returnstatus>Success</returnstatus>"
    form = "application/x-www-form-urlencoded"

    def bodies() -> list[bytes]:
        """A new recipient and code in every send of a sample, as a load test's messages
        have: no body is met twice (the sandbox remembers form pairs it decoded before)."""
        start = next(rounds) * sizes.sandbox_sends
        sends = range(start, start + sizes.sandbox_sends)
        code = "1439"
        return [
            urllib.parse.urlencode(
                fields | {"mobile": f"138{n % 10**8:08d}", "content": TEXT.replace(code, f"{n % 10**4:04d}")}
            ).encode("ascii")
            for n in sends
        ]

    with ServerThread(app) as base_server, Sandbox() as sandbox:

        def load(port: int) -> Callable[[], float]:
            return lambda: (
                1
                / drive(
                    port,
                    "/sms.aspx",
                    bodies(),
                    count=sizes.sandbox_sends,
                    concurrency=48,
                    expect=expect,
                    content_type=form,
                )
            )

        base, ours = pairs(load(base_server.port), load(sandbox.port), sizes.pairs)
    return speed(
        base,
        ours,
        0.8,
        "bare Starlette (48 connections)",
        baseline_per_s=round(1 / base),
        smsgate_per_s=round(1 / ours),
    )


# --- 8. failover -------------------------------------------------------------------------------------


def measure_failover(sizes: Sizes, retry: Any = None) -> Result:
    """A send whose first provider refuses the connection vs a send straight to the healthy
    one (breaker off, so the refusal happens on every send): at most +2 ms (median).
    ``retry``: the gateway's RetryPolicy (None: the default one)."""
    import smsgate

    count = max(20, sizes.sends // 10) if retry is not None else max(5, sizes.sends // 40)
    dead = f"http://127.0.0.1:{refused_port()}/"
    with FastServer() as base_url:
        direct = smsgate.Gateway(ipyy(base_url))
        failing = smsgate.Gateway(
            [ipyy(dead, name="dead"), ipyy(base_url)],
            strategy="failover",
            breaker=smsgate.BreakerPolicy.off(),
            retry=retry,
        )

        def send(gateway: Any) -> Callable[[], None]:
            def run() -> None:
                for _ in range(count):
                    receipt = gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))
                    if receipt.provider != "ipyy":
                        raise RuntimeError("sent by the wrong provider")

            return run

        try:
            base, ours = pairs(timed(send(direct)), timed(send(failing)), sizes.pairs)
        finally:
            direct.close()
            failing.close()
    extra_ms = (ours - base) / count * 1000
    return Result(
        base / ours,
        "<= +2 ms a send (first provider refuses the connection)",
        extra_ms <= 2.0,
        {"extra_ms": round(extra_ms, 3), "direct_ms": round(base / count * 1000, 3), "sends": count},
    )


def _no_retry() -> Any:
    import smsgate

    return smsgate.RetryPolicy(attempts=1)


def measure_open_circuit(sizes: Sizes) -> Result:
    """With the dead provider's circuit open, a send vs a send straight to the healthy one:
    no measurable extra cost (within 5 %, or 0.05 ms)."""
    import smsgate

    count = max(50, sizes.sends // 2)
    dead = f"http://127.0.0.1:{refused_port()}/"
    with FastServer() as base_url:
        direct = smsgate.Gateway(ipyy(base_url))
        gateway = smsgate.Gateway(
            [ipyy(dead, name="dead"), ipyy(base_url)],
            strategy="failover",
            breaker=smsgate.BreakerPolicy(failures=1, cool_down=3600),
        )
        gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))  # opens the dead provider's circuit

        def send(gw: Any) -> Callable[[], None]:
            def run() -> None:
                for _ in range(count):
                    gw.send(smsgate.Sms(to=MOBILE, text=TEXT))

            return run

        try:
            base, ours = pairs(timed(send(direct)), timed(send(gateway)), sizes.pairs * 2)
        finally:
            direct.close()
            gateway.close()
    extra_ms = (ours - base) / count * 1000
    ratio = base / ours
    return Result(
        ratio,
        ">= 0.95x a send straight to the healthy provider (or <= +0.05 ms)",
        ratio >= 0.95 or extra_ms <= 0.05,
        {"extra_ms": round(extra_ms, 4), "sends": count},
    )


MEASURES: dict[str, Callable[[Sizes], Result]] = {
    "async_send_1": lambda s: measure_async(s, 1),
    "async_send_16": lambda s: measure_async(s, 16),
    "async_send_64": lambda s: measure_async(s, 64),
    "sync_send_vs_http_client": measure_sync_http_client,
    "sync_send_vs_requests": measure_sync_requests,
    "receiver": measure_receiver,
    "batch_build": measure_batch_build,
    "batch_linearity": measure_batch_linearity,
    "batch_memory": measure_batch_memory,
    "batch_end_to_end": measure_batch_e2e,
    "json_pull": measure_json_pull,
    "xml_pull": measure_xml_pull,
    "import": measure_import,
    "sandbox": measure_sandbox,
    "failover": measure_failover,
    "failover_no_retry": lambda s: measure_failover(s, _no_retry()),
    "open_circuit": measure_open_circuit,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer pairs")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of every result")
    parser.add_argument("--only", nargs="+", choices=sorted(MEASURES), help="run only these measures")
    parser.add_argument("--list", action="store_true", help="list the measures and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(MEASURES))
        return 0
    sizes = Sizes.of(args.quick)
    results: dict[str, Result] = {}
    started = time.perf_counter()
    for name in args.only or MEASURES:
        began = time.perf_counter()
        # What earlier measures left behind (their modules, servers, caches) must not weigh on
        # this one: the garbage collector's full passes would walk it inside whichever side's
        # sample they fall in. Frozen objects are never walked again; both sides see the same heap.
        gc.collect()
        gc.freeze()
        try:
            results[name] = MEASURES[name](sizes)
        except Exception as exc:  # one broken measure must not hide the others
            results[name] = Result(0.0, "error", False, {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            gc.unfreeze()
        result = results[name]
        mark = "met" if result.met else "MISSED"
        took = time.perf_counter() - began
        print(f"{name:<26} {result.ratio:8.3f}  {mark:<6}  goal {result.goal}  ({took:.1f} s)")
        with contextlib.suppress(Exception):
            print(f"{'':<26} {json.dumps(result.details, ensure_ascii=False)}")
    print(f"({time.perf_counter() - started:.0f} s in all, medians of interleaved pairs)")
    if args.json:
        print(json.dumps({name: r.as_json() for name, r in results.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
