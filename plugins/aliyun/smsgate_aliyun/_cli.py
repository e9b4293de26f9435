"""The Aliyun plugin's commands: ``smsgate aliyun-sandbox`` and ``smsgate demo-failover``.

``demo-failover`` runs the two local sandboxes (ipyy's, from ``smsgate-ipyy``, and Aliyun's)
and shows one logical-template message failing over across vendors, using only the public
API (``smsgate.get_provider``, ``Gateway``), the way an application would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import smsgate
from smsgate.exceptions import SmsGateError, UncertainOutcomeError

if TYPE_CHECKING:
    from smsgate_aliyun.sandbox import Sandbox

__all__ = ["aliyun_sandbox", "demo_failover", "run_failover_demo"]

#: The template the demo sends, and how each vendor renders it.
IPYY_TEMPLATES = {"verify": "您的验证码：{code}，5分钟内有效。【腾飞】"}
CODE = {"code": "1439"}


# --- smsgate aliyun-sandbox --------------------------------------------------------------------


def _print_ready(console: Console, box: Sandbox) -> None:
    creds = box.credentials()
    table = Table(title="Aliyun SMS sandbox", show_header=False)
    table.add_row("base URL", box.base_url)
    table.add_row("access_key_id", creds["access_key_id"])
    # A published test key of the sandbox, not a secret: printing it is the point.
    table.add_row("access_key_secret", creds["access_key_secret"])
    table.add_row("sign names", "腾飞, 阿里云")
    table.add_row("templates", ", ".join(f"{n} = {t['code']}" for n, t in creds["templates"].items()))
    table.add_row("admin", f"{box.base_url}admin/records")
    console.print(table)
    templates = ", ".join(
        f'{n} = {{ code = "{t["code"]}", params = {json.dumps(t["params"])} }}'
        for n, t in creds["templates"].items()
    )
    console.print(
        "Point smsgate at it (smsgate.toml):\n"
        f'  [providers.aliyun]\n  type = "aliyun"\n  access_key_id = "{creds["access_key_id"]}"\n'
        f'  sign_name = "{creds["sign_name"]}"\n  templates = {{ {templates} }}\n'
        f'  base_url = "{box.base_url}"\n'
        f"and export SMSGATE_ALIYUN_PASSWORD={creds['access_key_secret']}\nCtrl+C stops.",
        highlight=False,
        markup=False,  # the TOML's [providers.aliyun] is not rich markup
        soft_wrap=True,  # a TOML line cut at the terminal's width would not paste
    )


@click.command("aliyun-sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
def aliyun_sandbox(host: str, port: int) -> None:
    """Serve a local Aliyun SMS sandbox (SendSms, SendBatchSms, QuerySendDetails, pushes, faults)."""
    from smsgate_aliyun.sandbox import Sandbox  # noqa: PLC0415 - heavy; only when run

    console = Console(highlight=False)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        with Sandbox.demo(host=host, port=port) as box:
            _print_ready(console, box)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.2):
                    if not box.running:
                        raise click.ClickException("the sandbox server stopped unexpectedly")
    except ValueError as exc:  # a non-loopback host
        raise click.UsageError(str(exc)) from exc
    except RuntimeError as exc:  # the port is taken
        raise click.ClickException(str(exc)) from exc
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


# --- smsgate demo-failover ---------------------------------------------------------------------


def closed_port_url() -> str:
    """A loopback URL where nothing listens (a port bound, then released): "not sent"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class _Demo:
    """The two sandboxes, the console, and the steps that failed."""

    def __init__(self, ipyy_box: Any, aliyun_box: Sandbox, console: Console) -> None:
        self.ipyy_box = ipyy_box
        self.aliyun_box = aliyun_box
        self.console = console
        self.failed: list[str] = []

    def ipyy(self, *, base_url: str | None = None) -> smsgate.Provider:
        creds = self.ipyy_box.credentials
        return smsgate.get_provider(
            "ipyy",
            name="ipyy",
            account=creds.account,
            password=creds.password,
            userid=creds.userid,
            base_url=base_url or self.ipyy_box.base_url,
            templates=IPYY_TEMPLATES,
            timeout=2.0,
        )

    def aliyun(self) -> smsgate.Provider:
        return smsgate.get_provider("aliyun", name="aliyun", timeout=5.0, **self.aliyun_box.credentials())

    def aliyun_records(self) -> int:
        return len(self.aliyun_box.state.records)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.console.rule(f"[bold]{title}")
        try:
            yield
        except Exception as exc:
            self.failed.append(title)
            self.console.print(f"[red]step failed[/]: {type(exc).__name__}: {escape(str(exc))}")

    def show(self, rows: list[tuple[str, str]]) -> None:
        table = Table(show_header=False)
        for what, value in rows:
            table.add_row(what, escape(value))
        self.console.print(table)

    def check(self, condition: bool, why: str) -> None:
        if not condition:
            raise RuntimeError(why)

    # --- the steps ------------------------------------------------------------------------

    def healthy(self) -> None:
        sms = smsgate.Sms(to="13800138000", template="verify", params=CODE, reference="order-41")
        with smsgate.Gateway([self.ipyy(), self.aliyun()]) as gateway:
            receipt = gateway.send(sms)
        self.show([("accepted by", receipt.provider), ("task id", receipt.task_id)])
        self.check(receipt.provider == "ipyy", "ipyy, first in order, should have sent it")

    def unreachable(self) -> None:
        before = self.aliyun_records()
        sms = smsgate.Sms(to="13800138000", template="verify", params=CODE, reference="order-42")
        with smsgate.Gateway([self.ipyy(base_url=closed_port_url()), self.aliyun()]) as gateway:
            receipt = gateway.send(sms)
            reports = gateway.query_status(receipt)
        record = self.aliyun_box.state.records[-1]
        self.show(
            [
                ("ipyy", "connection refused: not sent, safe to fail over"),
                (
                    "accepted by",
                    f"{receipt.provider} (attempt {receipt.attempts}, after {receipt.attempts - 1} on ipyy)",
                ),
                ("BizId", receipt.task_id),
                ("rendered as", f"{record.template_code} {record.content}"),
                ("OutId", record.out_id),
                ("query_status", ", ".join(f"{r.mobile}: {r.status}" for r in reports)),
            ]
        )
        self.check(
            receipt.provider == "aliyun" and self.aliyun_records() == before + 1, "Aliyun should have sent it"
        )

    def uncertain(self) -> None:
        before = self.aliyun_records()
        self.ipyy_box.set_fault(kind="drop", path="/sms.aspx", times=1)
        sms = smsgate.Sms(to="13800138000", template="verify", params=CODE, reference="order-43")
        error: SmsGateError | None = None
        with smsgate.Gateway([self.ipyy(), self.aliyun()]) as gateway:
            try:
                gateway.send(sms)
            except SmsGateError as exc:
                error = exc
        called = self.aliyun_records() - before
        self.show(
            [
                ("ipyy", "the sandbox acted on the send, then dropped the connection"),
                ("error raised", f"{type(error).__name__}: {error}" if error else "none"),
                ("Aliyun called", f"{called} times"),
            ]
        )
        self.check(
            isinstance(error, UncertainOutcomeError) and called == 0, "an uncertain send must not fail over"
        )

    def missing_template(self) -> None:
        sms = smsgate.Sms(to="13900139000", template="shipped", params={"name": "张三"})
        with smsgate.Gateway([self.ipyy(), self.aliyun()]) as gateway:
            receipt = gateway.send(sms)
        record = self.aliyun_box.state.records[-1]
        self.show(
            [
                ("ipyy", "has no template 'shipped': skipped before any request"),
                ("accepted by", receipt.provider),
                ("rendered as", f"{record.template_code} {record.content}"),
            ]
        )
        self.check(receipt.provider == "aliyun", "only Aliyun knows 'shipped'")

    def free_text(self) -> None:
        before = self.aliyun_records()
        sms = smsgate.Sms(to="13700137000", text="周末大促，全场八折【腾飞】")
        error: SmsGateError | None = None
        with smsgate.Gateway([self.ipyy(base_url=closed_port_url()), self.aliyun()]) as gateway:
            try:
                gateway.send(sms)
            except SmsGateError as exc:
                error = exc
        self.show(
            [
                ("ipyy", "unreachable"),
                ("Aliyun", "sends only registered templates: skipped before any request"),
                ("error raised", f"{type(error).__name__}: {error}" if error else "none"),
                ("Aliyun called", f"{self.aliyun_records() - before} times"),
            ]
        )
        self.check(error is not None and self.aliyun_records() == before, "free text must never reach Aliyun")


def run_failover_demo(console: Console) -> list[str]:
    """Run the cross-vendor demo on two fresh sandboxes; return the titles of failed steps."""
    from smsgate_aliyun.sandbox import Sandbox  # noqa: PLC0415 - heavy; only when run

    try:
        from smsgate_ipyy.sandbox import Sandbox as IpyySandbox  # noqa: PLC0415
    except ImportError as exc:
        raise click.ClickException(
            "the failover demo needs smsgate-ipyy installed (pip install smsgate-ipyy)"
        ) from exc
    with IpyySandbox() as ipyy_box, Sandbox.demo() as aliyun_box:
        console.print(
            f"[bold]cross-vendor failover[/]: ipyy sandbox {ipyy_box.base_url}, "
            f"Aliyun sandbox {aliyun_box.base_url}"
        )
        console.print(
            "One logical template, two renderings: ipyy formats "
            f"{IPYY_TEMPLATES['verify']!r}; Aliyun sends SMS_100001 with sign 腾飞 and TemplateParam.",
            highlight=False,
        )
        run = _Demo(ipyy_box, aliyun_box, console)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("1. both up: the first provider (ipyy) sends", run.healthy),
            ("2. ipyy unreachable: the same template message goes to Aliyun", run.unreachable),
            ("3. ipyy uncertain: no failover, Aliyun is never called", run.uncertain),
            ("4. a template ipyy lacks: routed to Aliyun", run.missing_template),
            ("5. free text: never sent to Aliyun", run.free_text),
        ]
        for title, action in steps:
            with run.step(title):
                action()
    return run.failed


@click.command("demo-failover")
def demo_failover() -> None:
    """Fail over from ipyy to Aliyun SMS on two local sandboxes: no account needed, a few seconds."""
    console = Console(highlight=False)
    # The gateway logs each failed attempt as a WARNING; the demo shows them in its tables.
    logging.getLogger("smsgate").addHandler(logging.NullHandler())
    started = time.monotonic()
    failed = run_failover_demo(console)
    elapsed = time.monotonic() - started
    if failed:
        console.print(f"[red]demo finished with {len(failed)} failed step(s)[/] in {elapsed:.1f} s")
        raise click.exceptions.Exit(1)
    console.print(f"[green]demo finished[/]: every step worked, in {elapsed:.1f} s; nothing left running")
