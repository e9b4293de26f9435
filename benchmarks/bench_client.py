"""Gateway overhead: sends through smsgate.Gateway + the ipyy provider vs a raw httpx client.

Run by hand (it is not a test)::

    /work/venv/bin/python benchmarks/bench_client.py [--quick] [--only NAME ...] [--concurrency 4]

Both sides send the very same ``sms.aspx`` form request (checked byte for byte before timing)
and accept the same ``<returnsms>`` success reply:

- **baseline**: ``httpx.Client.post(url, data=fields)`` (or ``httpx.AsyncClient``), then a
  check that the body says ``Success`` — what an application writing raw httpx would do;
- **smsgate**: ``Gateway.send(Sms(...))`` (or ``AsyncGateway``) with the ipyy provider
  (``transport="form"``): validation, the routing plan, the flow driver, the request
  builder, the reply parser, the Receipt, logging calls and hooks.

Four blocks:

- ``mock-sync`` / ``mock-async``: both clients on an in-process ``httpx.MockTransport``
  answering the canned reply, so no network is measured and the ratio is pure client cost;
- ``loopback-sync`` / ``loopback-async``: both clients over a real loopback socket to the
  ipyy sandbox (``smsgate_ipyy.sandbox.Sandbox``), run in a **child process** so the server
  does not share this process's GIL; async runs ``--concurrency`` sends at a time.

Prints baseline sends/s, smsgate sends/s, the ratio and a verdict per block.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
from _bench import Settings, compare, report

import smsgate
from smsgate_ipyy._crypto import md5_upper

ACCOUNT, PASSWORD, USERID = "demo", "demo-password", "1001"  # the sandbox's published demo account
MOBILE = "13800138000"
TEXT = "您的验证码：1439，十分钟内有效。【腾飞】"
REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>999999</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()
MOCK_BASE = "http://127.0.0.1:9/"  # never contacted: the mock transport answers


def form_fields() -> dict[str, str]:
    """The fields of spec 1.1 a raw client posts (password as its upper-case MD5, spec 1.2)."""
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


def provider(base_url: str) -> smsgate.Provider:
    """The ipyy provider as an application configures it (form transport)."""
    return smsgate.get_provider("ipyy", account=ACCOUNT, password=PASSWORD, userid=USERID, base_url=base_url)


def check_success(response: httpx.Response) -> None:
    """The raw client's minimal reply check."""
    if response.status_code != 200 or b"<returnstatus>Success</returnstatus>" not in response.content:
        raise RuntimeError(f"unexpected reply: {response.status_code} {response.content[:200]!r}")


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=REPLY, headers={"Content-Type": "text/xml; charset=utf-8"})


def limits(concurrency: int) -> httpx.Limits:
    """The same pool for both sides: one keep-alive connection per concurrent send."""
    return httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)


def same_request_check(base_url: str) -> None:
    """Before timing: the gateway and the raw client put the same bytes on the wire."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(request)

    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        client.post(base_url + "sms.aspx", data=form_fields())
        with smsgate.Gateway(provider(base_url), client=client) as gateway:
            gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))
    raw, ours = seen
    assert (raw.method, raw.url, raw.content) == (ours.method, ours.url, ours.content), "requests differ"
    assert raw.headers["content-type"] == ours.headers["content-type"]


# --- sync -----------------------------------------------------------------------------------


def bench_sync(title: str, settings: Settings, base_url: str, transport: httpx.BaseTransport | None) -> None:
    """Sequential sends on one keep-alive connection per side."""
    url = base_url + "sms.aspx"
    fields = form_fields()
    raw_client = httpx.Client(transport=transport, limits=limits(1))
    our_client = httpx.Client(transport=transport, limits=limits(1))
    gateway = smsgate.Gateway(provider(base_url), client=our_client)
    try:

        def baseline() -> None:
            check_success(raw_client.post(url, data=fields))

        def subject() -> None:
            receipt = gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))
            if not receipt.task_id:
                raise RuntimeError("no task id")

        report(
            title,
            "httpx.Client.post + Success check",
            "Gateway.send (ipyy, form)",
            compare(baseline, subject, settings),
            "ops = sends, one at a time",
        )
    finally:
        gateway.close()
        raw_client.close()
        our_client.close()


# --- async ----------------------------------------------------------------------------------


async def _many(send: Callable[[], Awaitable[None]], count: int, concurrency: int) -> None:
    """``count`` sends, ``concurrency`` in flight at any time."""
    left = [count]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await send()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def bench_async(
    title: str,
    settings: Settings,
    *,
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    count: int,
    concurrency: int,
) -> None:
    """``count`` sends per sample, ``concurrency`` at a time, on one event loop."""
    url = base_url + "sms.aspx"
    fields = form_fields()
    with asyncio.Runner() as runner:

        async def clients() -> tuple[httpx.AsyncClient, httpx.AsyncClient, smsgate.AsyncGateway]:
            raw = httpx.AsyncClient(transport=transport, limits=limits(concurrency))
            ours = httpx.AsyncClient(transport=transport, limits=limits(concurrency))
            return raw, ours, smsgate.AsyncGateway(provider(base_url), client=ours)

        raw_client, our_client, gateway = runner.run(clients())

        async def raw_send() -> None:
            check_success(await raw_client.post(url, data=fields))

        async def our_send() -> None:
            receipt = await gateway.send(smsgate.Sms(to=MOBILE, text=TEXT))
            if not receipt.task_id:
                raise RuntimeError("no task id")

        try:
            report(
                title,
                "httpx.AsyncClient.post + Success check",
                "AsyncGateway.send (ipyy, form)",
                compare(
                    lambda: runner.run(_many(raw_send, count, concurrency)),
                    lambda: runner.run(_many(our_send, count, concurrency)),
                    Settings(settings.repeats, settings.sample_seconds, warmup=1),
                    ops_per_call=count,
                    number=1,
                ),
                f"ops = sends, {concurrency} in flight",
            )
        finally:

            async def close() -> None:
                await gateway.aclose()
                await raw_client.aclose()
                await our_client.aclose()

            runner.run(close())


# --- the sandbox in a child process ---------------------------------------------------------


def _serve() -> None:
    """Child process: run the sandbox until stdin closes; print its port first."""
    from smsgate_ipyy.sandbox import Sandbox

    with Sandbox() as sandbox:
        print(sandbox.port, flush=True)
        sys.stdin.read()


class SandboxProcess:
    """The ipyy sandbox on 127.0.0.1 in a child process, stopped on exit."""

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self._stop()
            raise RuntimeError("the sandbox did not start")
        return f"http://127.0.0.1:{port}/"

    def _stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *exc_info: object) -> None:
        self._stop()


BENCHMARKS = ("mock-sync", "mock-async", "loopback-sync", "loopback-async")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (fewer, shorter samples)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these blocks")
    parser.add_argument("--concurrency", type=int, default=4, help="sends in flight in the async blocks")
    args = parser.parse_args()
    settings = Settings.from_quick(args.quick)
    chosen = args.only or BENCHMARKS
    started = time.perf_counter()
    same_request_check(MOCK_BASE)
    per_sample = 60 if args.quick else 400
    if "mock-sync" in chosen:
        bench_sync("mock-sync: in-process MockTransport", settings, MOCK_BASE, httpx.MockTransport(_answer))
    if "mock-async" in chosen:
        bench_async(
            "mock-async: in-process MockTransport",
            settings,
            base_url=MOCK_BASE,
            transport=httpx.MockTransport(_answer),
            count=per_sample * 2,
            concurrency=args.concurrency,
        )
    if {"loopback-sync", "loopback-async"} & set(chosen):
        loop_settings = Settings(max(3, settings.repeats - 2), settings.sample_seconds, settings.warmup)
        with SandboxProcess() as base_url:
            if "loopback-sync" in chosen:
                bench_sync("loopback-sync: the sandbox in a child process", loop_settings, base_url, None)
            if "loopback-async" in chosen:
                bench_async(
                    "loopback-async: the sandbox in a child process",
                    loop_settings,
                    base_url=base_url,
                    transport=None,
                    count=per_sample * 2,
                    concurrency=args.concurrency,
                )
    print(f"({time.perf_counter() - started:.1f} s, medians of interleaved samples)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        main()
