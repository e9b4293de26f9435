"""The ipyy plugin's commands: ``smsgate sandbox`` and ``smsgate demo``.

Both run the local sandbox of the gateway (:mod:`smsgate_ipyy.sandbox`), so nobody needs a
vendor account. The demo uses only the public API (``smsgate.get_provider``, ``Gateway``,
``AsyncGateway``, ``smsgate.receiver``) against it, the way an application would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

import smsgate
from smsgate.exceptions import SmsGateError, UncertainOutcomeError

if TYPE_CHECKING:
    from smsgate_ipyy.sandbox import Sandbox

__all__ = ["config_snippet", "demo", "sandbox"]

TRANSPORTS = ("form", "gbk", "json", "encrypted", "soap")
DEMO_TEXT = "您的验证码：1439【腾飞】"


# --- smsgate sandbox -----------------------------------------------------------------------


def config_snippet(running: Sandbox, name: str = "ipyy") -> str:
    """The ``smsgate.toml`` table that points smsgate at ``running``, ready to paste."""
    creds = running.credentials
    return (
        f"[providers.{name}]\n"
        'type = "ipyy"\n'
        f"account = {json.dumps(creds.account)}\n"
        f"userid = {json.dumps(creds.userid)}\n"
        f"base_url = {json.dumps(running.base_url)}\n"
    )


def _print_ready(console: Console) -> Callable[[Sandbox], None]:
    def ready(running: Sandbox) -> None:
        creds = running.credentials
        table = Table(title="ipyy sandbox", show_header=False)
        table.add_row("base URL", escape(running.base_url))
        table.add_row("account", escape(creds.account))
        # A published test credential of the sandbox, not a secret: printing it is the point.
        table.add_row("password", escape(creds.password))
        table.add_row("userid", escape(creds.userid))
        table.add_row("inspect", escape(f"{running.base_url}_sandbox/requests"))
        console.print(table)
        # Printed as plain text: Rich markup would read [providers.ipyy] as a style tag and
        # drop it, and the pasted snippet would not parse.
        console.print(
            "Point smsgate at it: put these lines in smsgate.toml\n\n"
            f"{config_snippet(running)}\n"
            f"and export SMSGATE_IPYY_PASSWORD={creds.password}\n"
            "Ctrl+C stops.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    return ready


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sandbox TOML (accounts, report delays and outcomes, [[faults]]).",
)
@click.option("--allow-public", is_flag=True, help="Allow a non-loopback host (the passwords are public!).")
def sandbox(host: str, port: int, config_path: Path | None, allow_public: bool) -> None:
    """Serve a local ipyy gateway sandbox (every endpoint, fault injection, pushes)."""
    from smsgate_ipyy.sandbox._runner import is_loopback_host, serve  # noqa: PLC0415 - heavy; only when run

    if not allow_public and not is_loopback_host(host):
        # Said here, with the command's option (the sandbox names its allow_public argument).
        raise click.BadParameter(
            f"refusing to serve the sandbox on non-loopback host {host!r}: it has well-known "
            "passwords and an open admin API; add --allow-public to do it anyway",
            param_hint="'--host'",
        )
    console = Console(highlight=False)
    try:
        serve(host, port, config_path, allow_public=allow_public, on_ready=_print_ready(console))
    except ValueError as exc:  # a non-loopback host, a bad config
        raise click.UsageError(str(exc)) from exc
    except RuntimeError as exc:  # the port is taken, the server died
        raise click.ClickException(str(exc)) from exc


# --- smsgate demo --------------------------------------------------------------------------

# What users copy or look up later is never cut, whatever the terminal width.
_WHOLE = {"provider": 12, "task id": 16, "mobile": 11}


def _column(table: Table, name: str) -> None:
    table.add_column(name, no_wrap=name in _WHOLE, min_width=_WHOLE.get(name))


class _Demo:
    """The demo's state: the sandbox, the console, and a record of failed steps."""

    def __init__(self, box: Sandbox, console: Console, workdir: Path) -> None:
        self.box = box
        self.console = console
        self.workdir = workdir
        self.failed: list[str] = []

    def provider(self, name: str, *, account: str = "demo", transport: str = "form") -> smsgate.Provider:
        """An ipyy provider on a sandbox account, built as an application would."""
        passwords = {a.account: (a.password, a.userid) for a in self.box.config.accounts}
        password, userid = passwords[account]
        return smsgate.get_provider(
            "ipyy",
            name=name,
            account=account,
            password=password,
            userid=userid,
            base_url=self.box.base_url,
            transport=transport,
            timeout=5.0,
        )

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.console.rule(f"[bold]{title}")
        started = time.monotonic()
        try:
            yield
        except Exception as exc:
            self.failed.append(title)
            self.console.print(f"[red]step failed[/]: {type(exc).__name__}: {escape(str(exc))}")
        else:
            self.console.print(f"[dim]{time.monotonic() - started:.2f} s[/]")

    def receipts(self, title: str, rows: Sequence[tuple[str, smsgate.Receipt]]) -> None:
        table = Table(title=title)
        for column in ("what", "provider", "task id", "accepted", "balance", "attempts"):
            _column(table, column)
        for label, r in rows:
            balance = "" if r.balance is None else str(r.balance)
            table.add_row(label, r.provider, r.task_id, str(r.accepted), balance, str(r.attempts))
        self.console.print(table)

    def events(self, title: str, events: Sequence[smsgate.DeliveryReport | smsgate.InboundMessage]) -> None:
        table = Table(title=title)
        for column in ("kind", "mobile", "task id", "status / text", "code", "time (+8)"):
            _column(table, column)
        for e in events:
            when = e.received_at.strftime("%H:%M:%S") if e.received_at else ""
            if isinstance(e, smsgate.DeliveryReport):
                table.add_row(
                    "report", e.mobile, e.task_id or "", str(e.status), escape(e.vendor_code or ""), when
                )
            else:
                table.add_row("inbound", e.mobile, e.task_id or "", escape(e.text), "", when)
        self.console.print(table)

    # --- the steps ----------------------------------------------------------------------

    def transports(self) -> None:
        rows = []
        for transport in TRANSPORTS:
            provider = self.provider(f"ipyy-{transport}", transport=transport)
            with smsgate.Gateway(provider) as gateway:
                rows.append((transport, gateway.send(smsgate.Sms(to="13800138000", text=DEMO_TEXT))))
        self.receipts("one send over each transport", rows)

    def batch(self) -> None:
        messages = [
            smsgate.Sms(to=f"1390000{i:04d}", text=f"尊敬的客户{i}号，您的订单已发货【腾飞】")
            for i in range(300)
        ]
        receipts: list[smsgate.Receipt] = []
        progress = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(), console=self.console)
        with smsgate.Gateway(self.provider("ipyy-batch")) as gateway, progress:
            task = progress.add_task("batch", total=len(messages))
            for start in range(0, len(messages), 50):
                chunk = messages[start : start + 50]
                receipts.extend(gateway.send_batch(chunk))
                progress.advance(task, len(chunk))
        self.receipts(
            f"personalised batch: {len(messages)} messages in {len(receipts)} requests",
            [(f"request {i + 1}", r) for i, r in enumerate(receipts)],
        )

    def mms(self) -> None:
        # A 1x1 GIF and a text part; part names are ASCII (wire notes §3).
        gif = bytes.fromhex(
            "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
        )
        mms = smsgate.Mms(
            to=["13800138000", "13900139000"],
            subject="smsgate 演示",
            parts=[
                smsgate.MmsPart(name="hello.txt", data="你好，彩信！".encode("gb18030")),
                smsgate.MmsPart(name="dot.gif", data=gif),
            ],
        )
        with smsgate.Gateway(self.provider("ipyy-mms")) as gateway:
            self.receipts("MMS with a text and an image part", [("mms", gateway.send_mms(mms))])

    def balances_and_schedule(self) -> None:
        async def run() -> tuple[smsgate.Balance, smsgate.Balance, smsgate.Receipt]:
            async with smsgate.AsyncGateway(self.provider("ipyy-async", transport="json")) as agw:
                sms_balance = await agw.balance()
                mms_balance = await agw.balance(kind="mms")
                later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                scheduled = await agw.send(smsgate.Sms(to="13700137000", text=DEMO_TEXT, send_at=later))
                return sms_balance, mms_balance, scheduled

        sms_balance, mms_balance, scheduled = asyncio.run(run())
        table = Table(title="balances (AsyncGateway, JSON transport)")
        for column in ("kind", "remaining", "sent total", "pay mode"):
            table.add_column(column)
        for b in (sms_balance, mms_balance):
            table.add_row(b.kind, str(b.remaining), "" if b.total is None else str(b.total), b.pay_mode or "")
        self.console.print(table)
        self.receipts(
            "scheduled send (one hour from now; its report comes after that)", [("scheduled", scheduled)]
        )

    def pulls(self) -> None:
        self.box.inject_inbound("13800138000", "退订")
        self.box.inject_inbound("13900139000", "好的，收到", ext="01")
        self.box.state.flush_reports()
        with smsgate.Gateway(self.provider("ipyy-pull")) as gateway:
            reports = gateway.fetch_reports(limit=5)
            rest = gateway.fetch_reports()
            inbound = gateway.fetch_inbound()
        self.events(f"delivery reports pulled: first 5 ({len(rest)} more in the next pull)", reports)
        self.events("inbound messages pulled", inbound)

    def push(self) -> None:
        from smsgate.receiver import Receiver, ServerThread  # noqa: PLC0415

        arrived: list[smsgate.DeliveryReport | smsgate.InboundMessage] = []
        lock = threading.Lock()

        def handler(event: smsgate.DeliveryReport | smsgate.InboundMessage) -> None:
            with lock:
                arrived.append(event)

        provider = self.provider("ipyy-push", account="push")
        journal = self.workdir / "journal.sqlite3"
        with (
            Receiver(provider, handler, journal=journal) as receiver,
            ServerThread(receiver.asgi_app()) as server,
        ):
            self.box.state.update_account("push", callback_url=server.url)
            self.console.print(
                f"receiver listening on {server.url} (journal {journal.name}); account 'push' points there"
            )
            with smsgate.Gateway(provider) as gateway:
                receipt = gateway.send(
                    smsgate.Sms(to=["13800138000", "13900139000", "13700137004"], text=DEMO_TEXT)
                )
            self.box.inject_inbound("13800138000", "明天见", account="push")
            self.box.state.flush_reports()
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                with lock:
                    if len(arrived) >= 4:
                        break
                time.sleep(0.02)
            self.box.state.update_account("push", callback_url=None)
            stored = receiver.journal.pending()
        with lock:
            got = list(arrived)
        self.events(
            f"pushed to the local receiver (task {receipt.task_id}), stored before the reply '1'", got
        )
        log = self.box.state.pushes()
        self.console.print(
            f"sandbox push log: {len(log)} push(es), {sum(1 for p in log if p['ok'])} acknowledged by the "
            f"receiver; journal: {len(stored)} event(s) left undispatched",
            highlight=False,
        )
        if len(got) < 4:
            raise RuntimeError(f"only {len(got)} of 4 pushed events arrived")

    def failover(self) -> None:
        poor = self.provider("ipyy-poor", account="poor")
        healthy = self.provider("ipyy-healthy")
        with smsgate.Gateway([poor, healthy], strategy="failover") as gateway:
            receipt = gateway.send(smsgate.Sms(to="13800138000", text=DEMO_TEXT))
        self.receipts(
            "failover: 'poor' has no balance (1111 AmountNotEnough) so 'healthy' sends",
            [("send", receipt)],
        )

    def uncertain(self) -> None:
        primary = self.provider("ipyy-primary")
        backup = self.provider("ipyy-backup", account="push")

        def backup_requests() -> int:
            return sum(1 for r in self.box.requests() if r.get("account") == "push")

        before = backup_requests()
        # The sandbox reads and acts on the next send, then drops the connection.
        self.box.set_fault(kind="drop", path="/sms.aspx", times=1)

        async def run() -> SmsGateError | None:
            async with smsgate.AsyncGateway([primary, backup], strategy="failover") as agw:
                try:
                    await agw.send(smsgate.Sms(to="13800138000", text=DEMO_TEXT))
                except SmsGateError as exc:
                    return exc
            return None

        error = asyncio.run(run())
        after = backup_requests()
        table = Table(title="uncertain outcome: the connection dropped after the send was made")
        table.add_column("what")
        table.add_column("result")
        table.add_row("error raised", escape(f"{type(error).__name__}: {error}") if error else "none")
        table.add_row("failed over?", "no" if after == before else f"YES ({after - before} requests)")
        table.add_row("backup provider called", f"{after - before} times")
        self.console.print(table)
        if not isinstance(error, UncertainOutcomeError) or after != before:
            raise RuntimeError("the uncertain outcome was not refused for failover")


@click.command("demo")
def demo() -> None:
    """Walk through everything on a local sandbox: no account needed, a few seconds."""
    from smsgate_ipyy.sandbox import Sandbox  # noqa: PLC0415 - heavy; only when run

    console = Console(highlight=False)
    # The gateway logs each failed attempt as a WARNING; the demo shows them in its tables.
    logging.getLogger("smsgate").addHandler(logging.NullHandler())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smsgate-demo-") as tmp, Sandbox() as box:
        console.print(f"[bold]smsgate demo[/] on a local ipyy sandbox at {box.base_url}")
        run = _Demo(box, console, Path(tmp))
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("1. send over each transport (form, GBK, JSON, encrypted, SOAP)", run.transports),
            ("2. personalised batch", run.batch),
            ("3. MMS", run.mms),
            ("4. balances and a scheduled send (AsyncGateway)", run.balances_and_schedule),
            ("5. pull delivery reports and inbound messages", run.pulls),
            ("6. pushed reports arriving at a local receiver", run.push),
            ("7. failover from a failing account to a healthy one", run.failover),
            ("8. uncertain outcome refused for failover", run.uncertain),
        ]
        for title, action in steps:
            with run.step(title):
                action()
    elapsed = time.monotonic() - started
    if run.failed:
        console.print(f"[red]demo finished with {len(run.failed)} failed step(s)[/] in {elapsed:.1f} s")
        raise click.exceptions.Exit(1)
    console.print(f"[green]demo finished[/]: every step worked, in {elapsed:.1f} s; nothing left running")
