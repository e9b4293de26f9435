"""The ``smsgate`` command line.

::

    smsgate providers                         registered provider names
    smsgate send 13800138000 --text "…【Acme】" [--dry-run [--price 0.045]]
    smsgate batch messages.csv [--unsent F]   personalised batch from a mobile,text CSV
    smsgate mms 13800138000 --subject Hi --part a.txt --part b.jpg
    smsgate balance [--kind mms]              every configured provider's balance
    smsgate reports [--limit N] [--task-id ID]
    smsgate inbound
    smsgate change-password [--provider NAME]
    smsgate receive --port 8080 --journal pushes.sqlite3
    smsgate unreadable [--reparse | --discard KEY]   the pushes the receiver could not read

plus the commands plugins add (the ipyy plugin adds ``sandbox`` and ``demo``).

Providers come from a TOML file (see :mod:`smsgate._config`); passwords only from
``SMSGATE_<NAME>_PASSWORD``. Exit codes: 0 success, 2 invalid input (nothing sent),
3 the provider refused, 4 outcome uncertain (the message may have been sent), 5 the receiver
could not listen (port in use, no permission), 1 anything else.
``--json`` prints machine-readable results (and errors, on stderr).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import attrs
import click
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import smsgate
from smsgate import _config, _plugins
from smsgate._config import Config
from smsgate._models import Balance, DeliveryReport, InboundMessage, Mms, MmsPart, Receipt, Sms
from smsgate._parts import call_in_parts
from smsgate._provider import Operation
from smsgate.exceptions import (
    AllProvidersFailedError,
    ConfigurationError,
    PartialBatchError,
    PartialSendError,
    ProviderError,
    SmsGateError,
    UncertainOutcomeError,
    UnsupportedOperationError,
    ValidationError,
)

if TYPE_CHECKING:
    from smsgate.receiver import (
        Journal,
        PushGuard,
        Receiver,
        ServerThread,
        SQLiteJournal,
        UnreadablePush,
        UnreadableStore,
    )

__all__ = [
    "EXIT_LISTEN",
    "EXIT_OTHER",
    "EXIT_REFUSED",
    "EXIT_UNCERTAIN",
    "EXIT_VALIDATION",
    "NEW_PASSWORD_ENV_VAR",
    "cli",
    "exit_code",
    "main",
]

EXIT_OTHER = 1
EXIT_VALIDATION = 2
EXIT_REFUSED = 3
EXIT_UNCERTAIN = 4
#: ``smsgate receive`` could not listen: the port is in use, or binding it is not allowed.
EXIT_LISTEN = 5
#: Where ``change-password`` reads the new password from when it is set (else a prompt).
NEW_PASSWORD_ENV_VAR = "SMSGATE_NEW_PASSWORD"  # noqa: S105 - a variable's name, not a password


def exit_code(exc: SmsGateError) -> int:
    """The process exit code for an error: 2 invalid input, 3 refused, 4 uncertain, 1 other.

    A partial send exits with its cause's code, except invalid input (1: part was sent).
    """
    if isinstance(exc, AllProvidersFailedError):
        attempts = exc.exceptions
        if attempts and all(isinstance(e, ProviderError) for e in attempts):
            return EXIT_REFUSED
        return EXIT_OTHER
    if isinstance(exc, PartialBatchError):
        # Part of it was sent, so "invalid input, nothing was sent" (2) would be a lie.
        code = exit_code(exc.cause)
        return EXIT_OTHER if code == EXIT_VALIDATION else code
    if isinstance(exc, ValidationError):
        return EXIT_VALIDATION
    if isinstance(exc, UncertainOutcomeError):
        return EXIT_UNCERTAIN
    if isinstance(exc, ProviderError):
        return EXIT_REFUSED
    return EXIT_OTHER


# --- state shared by the commands ----------------------------------------------------------


@attrs.define
class Settings:
    """What the root options chose; commands read it from ``ctx.obj``."""

    config_path: Path | None = None
    json: bool = False
    loaded: Config | None = None
    #: Rows of a batch that were not sent (line, mobile), shown with the error.
    unsent: list[tuple[int, str]] | None = None
    #: Where those rows were written (``batch --unsent``).
    unsent_file: Path | None = None
    #: Why they could not be written there (the OS's reason), if so.
    unsent_write_error: str | None = None

    def config(self) -> Config:
        """The configuration, read on first use (commands that need none never fail on it)."""
        if self.loaded is None:
            self.loaded = _config.load_config(_config.find_config(self.config_path))
        return self.loaded

    def providers(self) -> list[smsgate.Provider]:
        """Every configured provider, passwords from the environment."""
        return _config.build_providers(self.config())

    def provider(self, name: str | None) -> smsgate.Provider:
        """One configured provider: ``name``, or the first."""
        return _config.build_provider(self.config().provider(name))

    @contextmanager
    def routing(self) -> Iterator[dict[str, Any]]:
        """The file's routing (``[gateway]``) as :class:`smsgate.Gateway` keywords; the shared
        state built from its ``shared_state`` URL is closed afterwards (a gateway leaves the
        state it is given open)."""
        options = self.config().gateway_options()
        try:
            yield options
        finally:
            state = options.get("shared_state")
            if state is not None:
                state.close()

    @contextmanager
    def gateway(self) -> Iterator[smsgate.Gateway]:
        """A gateway over every configured provider with the file's routing (``[gateway]``)."""
        with self.routing() as options, smsgate.Gateway(self.providers(), **options) as gateway:
            yield gateway


def _out() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Models refuse non-finite and absurd amounts; should one come anyway, print it as
        # text rather than crash after a send (int(Infinity) raises, int(1E+1000000) burns CPU).
        if not value.is_finite() or value.adjusted() >= 18:
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=_jsonable, indent=2))


def receipt_dict(receipt: Receipt) -> dict[str, Any]:
    """A receipt as plain data for ``--json``."""
    return {
        "provider": receipt.provider,
        "task_id": receipt.task_id,
        "task_ids": list(receipt.task_ids),
        "accepted": receipt.accepted,
        "balance": receipt.balance,
        "attempts": receipt.attempts,
    }


#: Columns that may wrap; every other column is printed whole (ids are copied and looked up).
_WRAPPING = frozenset({"text", "error"})


def _print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table whose ids, numbers and codes are never cut, whatever the terminal width
    (wider than the terminal if need be; only a text column wraps)."""
    table = Table(title=title, min_width=cell_len(title))  # a short table keeps its title whole
    for index, column in enumerate(columns):
        if column in _WRAPPING:
            table.add_column(column, overflow="fold")
        else:
            widest = max([len(column), *(cell_len(row[index]) for row in rows)])
            table.add_column(column, no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    console = _out()
    needed = Measurement.get(console, console.options.update_width(10_000), table).minimum
    if needed > console.width:
        console = Console(highlight=False, soft_wrap=False, width=needed)
    console.print(table)


def _show_receipts(
    settings: Settings, receipts: Sequence[Receipt], title: str, *, many: bool = False
) -> None:
    if settings.json:
        _emit_json([receipt_dict(r) for r in receipts] if many else receipt_dict(receipts[0]))
        return
    rows = [
        [
            escape(r.provider),
            escape(r.task_id),
            str(r.accepted),
            "" if r.balance is None else str(r.balance),
            str(r.attempts),
        ]
        for r in receipts
    ]
    _print_table(title, ("provider", "task id", "accepted", "balance", "attempts"), rows)


def _event_rows(events: Sequence[DeliveryReport | InboundMessage]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        row: dict[str, Any] = {
            "kind": "report" if isinstance(e, DeliveryReport) else "inbound",
            "provider": e.provider,
            "mobile": e.mobile,
            "task_id": e.task_id,
            "received_at": e.received_at,
            "ext": e.ext,
        }
        if isinstance(e, DeliveryReport):
            row.update(status=str(e.status), vendor_code=e.vendor_code)
        else:
            row["text"] = e.text
        rows.append(row)
    return rows


def _fail(settings: Settings, exc: SmsGateError) -> NoReturn:
    code = exit_code(exc)
    attempts: list[SmsGateError] = list(exc.attempts)
    if isinstance(exc, AllProvidersFailedError):
        attempts = [e for e in exc.exceptions if isinstance(e, SmsGateError)]
    # A partial send: what was accepted must be shown, or the user may send it again.
    accepted = list(exc.receipts) if isinstance(exc, PartialBatchError) else []
    if settings.json:
        payload: dict[str, Any] = {
            "error": type(exc).__name__,
            "message": str(exc),
            "provider": exc.provider,
            "exit_code": code,
            "attempts": [
                {"error": type(a).__name__, "provider": a.provider, "message": str(a)} for a in attempts
            ],
        }
        if isinstance(exc, PartialBatchError):
            payload["accepted"] = [receipt_dict(r) for r in accepted]
            payload["pending"] = len(exc.pending)
        if settings.unsent is not None:
            payload["unsent"] = [{"line": line, "mobile": mobile} for line, mobile in settings.unsent]
            payload["unsent_file"] = None if settings.unsent_file is None else str(settings.unsent_file)
            if settings.unsent_write_error is not None:
                payload["unsent_write_error"] = settings.unsent_write_error
        click.echo(json.dumps(payload, ensure_ascii=False, default=_jsonable), err=True)
    else:
        console = _err()
        console.print(f"[bold red]error[/]: {type(exc).__name__}: {escape(str(exc))}")
        for attempt in attempts:
            where = escape(attempt.provider or "?")
            console.print(f"  attempt on {where}: {type(attempt).__name__}: {escape(str(attempt))}")
        for r in accepted:
            console.print(
                f"  accepted by {escape(r.provider)}: task {escape(r.task_id)}, {r.accepted} recipient(s)"
            )
        if isinstance(exc, PartialBatchError):
            console.print(f"  {len(exc.pending)} pending message(s) not sent")
        _print_unsent(console, settings)
    raise click.exceptions.Exit(code)


def _print_unsent(console: Console, settings: Settings) -> None:
    """The batch rows that were not sent, by line of the input file."""
    if settings.unsent is None:
        return
    console.print(f"  {len(settings.unsent)} row(s) not sent:", markup=False)
    for line, mobile in settings.unsent:
        console.print(f"    line {line}: {mobile}", markup=False)
    if settings.unsent_file is not None:
        console.print(f"  written to {settings.unsent_file}: send them with smsgate batch", markup=False)
    if settings.unsent_write_error is not None:
        console.print(f"  {settings.unsent_write_error}", markup=False)


def _cannot_listen(settings: Settings, exc: Exception) -> NoReturn:
    """``receive`` could not listen: exit 5 (not 3, "the provider refused"), JSON with --json."""
    if settings.json:
        payload = {"error": "ListenError", "message": str(exc), "provider": None, "exit_code": EXIT_LISTEN}
        click.echo(json.dumps(payload, ensure_ascii=False), err=True)
    else:
        _err().print(f"[bold red]error[/]: cannot listen: {escape(str(exc))}")
    raise click.exceptions.Exit(EXIT_LISTEN)


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(Settings)
    if obj is None:  # a command invoked without the root group (tests, embedding)
        obj = ctx.ensure_object(Settings)
    return obj


# --- the root group ------------------------------------------------------------------------


class SmsGateGroup(click.Group):
    """The root group: adds plugin commands once, on first use, and maps errors to exit codes."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from smsgate._plugins import register_commands  # noqa: PLC0415 - plugins load lazily

        # A broken plugin is skipped with a PluginLoadWarning; the others' commands stay.
        try:
            register_commands(self)
        except SmsGateError as exc:  # a conflict (two plugins, one name): core commands stay
            _err().print(f"warning: plugin commands unavailable: {type(exc).__name__}: {escape(str(exc))}")

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SmsGateError as exc:
            _fail(_settings(ctx), exc)


@click.group(cls=SmsGateGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file (default: ./smsgate.toml if present, else $SMSGATE_CONFIG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON (errors as JSON on stderr).")
@click.version_option(smsgate.__version__, prog_name="smsgate")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, as_json: bool) -> None:
    """Send SMS and MMS, read delivery reports and inbound messages, through any provider.

    Passwords come from the environment: SMSGATE_<NAME>_PASSWORD for [providers.<name>].
    Exit codes: 2 invalid input, 3 refused by the provider, 4 outcome uncertain, 5 receive
    could not listen, 1 other.
    """
    ctx.obj = Settings(config_path=config_path, json=as_json)


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"--at {value!r} is not an ISO 8601 date-time", field="send_at") from None
    if moment.tzinfo is not None:
        return moment
    try:  # a time without offset means local time, as a person typing it would expect
        return moment.astimezone()
    except (ValueError, OverflowError, OSError):  # out of the platform's local-time range
        raise ValidationError(
            f"--at {value!r} is out of the range local time can express; give an offset", field="send_at"
        ) from None


_at_option = click.option(
    "--at", "send_at", metavar="DATETIME", help="Schedule: ISO 8601 (no offset = local time)."
)
_ext_option = click.option("--ext", help="Extension digits appended to the sender number.")


@cli.command("providers")
@click.pass_context
def providers_command(ctx: click.Context) -> None:
    """List the provider names installed plugins register."""
    settings = _settings(ctx)
    names = smsgate.provider_names()
    if settings.json:
        _emit_json(names)
        return
    _print_table("registered providers", ("name",), [[escape(name)] for name in names])


#: ``--price``'s bounds: below a billion, at most 12 decimal places.
_PRICE_LIMIT = Decimal(10) ** 9
_PRICE_PLACES = 12


def _price(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    """``send --price``: the price of one segment as a Decimal; anything but a plain amount is
    a usage error naming the option.

    ``estimate_cost`` takes any finite Decimal, so ``1e999999`` would be priced
    ``1E+999999``: the command line takes an amount from 0 to below a billion, with at most
    12 decimal places once trailing zeros are dropped.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        price = Decimal(text) if text.isascii() else None
    except ArithmeticError:
        price = None
    if price is None or not price.is_finite() or not 0 <= price < _PRICE_LIMIT:
        raise click.BadParameter(
            f"{value!r} is not a price: give an amount from 0 to below 1000000000, e.g. 0.045"
        )
    if int(price.normalize().as_tuple().exponent) < -_PRICE_PLACES:
        raise click.BadParameter(f"{value!r} has more than {_PRICE_PLACES} decimal places")
    return price


def _listen_host(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``receive --host``: an address; an empty or blank one is a usage error naming the option
    (the server would refuse it with a ConfigurationError, exit 1)."""
    if not value.strip():
        raise click.BadParameter("give the address to listen on, such as 127.0.0.1 (it is empty)")
    return value


def _dry_run(settings: Settings, sms: Sms, price: Decimal | None) -> None:
    """What ``send`` would send: segments, cost, and each provider's length limit; no I/O."""
    info = smsgate.segments(sms.text or "")
    cost = None if price is None else smsgate.estimate_cost(info, price, recipients=len(sms.to))
    limits: dict[str, int | None] = {}
    if settings.config().providers:
        for provider in settings.providers():
            limits[provider.name] = provider.capabilities.max_text_length
    too_long = [name for name, limit in limits.items() if limit is not None and info.characters > limit]
    if settings.json:
        _emit_json(
            {
                "recipients": len(sms.to),
                "encoding": info.encoding,
                "characters": info.characters,
                "segments": info.segments,
                "per_segment": info.per_segment,
                "segments_total": info.segments * len(sms.to),
                "cost": cost,
                "max_text_length": limits,
                "too_long_for": too_long,
            }
        )
    else:
        click.echo(
            f"dry run, nothing sent: {len(sms.to)} recipient(s); {info.characters} characters, "
            f"{info.encoding}, {info.segments} segment(s) of up to {info.per_segment} "
            f"({info.segments * len(sms.to)} in all)" + ("" if cost is None else f"; estimated cost {cost}")
        )
        for name, limit in limits.items():
            verdict = "no length limit" if limit is None else f"max_text_length {limit}"
            mark = " (TOO LONG: it would be refused)" if name in too_long else ""
            click.echo(f"  {name}: {verdict}{mark}")
    if too_long and len(too_long) == len(limits):
        raise ValidationError(
            f"the text has {info.characters} characters, more than every provider allows", field="text"
        )


@cli.command("send")
@click.argument("to", nargs=-1, required=True)
@click.option("--text", "-t", required=True, help="Message text (with the signature your provider needs).")
@_at_option
@_ext_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Send nothing: print the encoding, segment count, cost (with --price) and length limits.",
)
@click.option(
    "--price",
    metavar="AMOUNT",
    callback=_price,
    help="Price of one segment, for --dry-run's cost estimate (e.g. 0.045; from 0 to below 1000000000).",
)
@click.pass_context
def send_command(
    ctx: click.Context,
    *,
    to: tuple[str, ...],
    text: str,
    send_at: str | None,
    ext: str | None,
    dry_run: bool,
    price: Decimal | None,
) -> None:
    """Send one text message to one or more numbers (--dry-run: count and price it only)."""
    if price is not None and not dry_run:
        # Given alone it would be ignored and the message sent: the user meant to price it.
        raise click.UsageError("--price prices a --dry-run only: add --dry-run, or leave --price out to send")
    settings = _settings(ctx)
    sms = Sms(to=to, text=text, send_at=_when(send_at), ext=ext)
    if dry_run:
        _dry_run(settings, sms, price)
        return
    with settings.gateway() as gateway:
        receipt = gateway.send(sms)
    _show_receipts(settings, [receipt], "sent")


def read_batch(path: Path) -> list[Sms]:
    """Read a ``mobile,text`` CSV (an optional ``mobile,text`` header row is skipped)."""
    return [sms for _, sms in read_batch_rows(path)]


def read_batch_rows(path: Path) -> list[tuple[int, Sms]]:
    """:func:`read_batch` with each message's line number in the file."""
    messages: list[tuple[int, Sms]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or not "".join(row).strip():
                    continue
                if number == 1 and [c.strip().lower() for c in row[:2]] == ["mobile", "text"]:
                    continue
                if len(row) < 2:
                    raise ValidationError(f"{path.name} line {number}: expected mobile,text", field="batch")
                messages.append((number, _batch_row(path, number, row)))
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path.name} is not UTF-8 text ({exc.reason})", field="batch") from exc
    except csv.Error as exc:
        raise ValidationError(f"{path.name} is not a valid CSV file ({exc})", field="batch") from exc
    if not messages:
        raise ValidationError(f"{path.name} holds no messages", field="batch")
    return messages


def _batch_row(path: Path, number: int, row: list[str]) -> Sms:
    """One CSV row as a message; a row that is none (a bad number, no text) names its line."""
    try:
        # Text may contain commas: everything after the first column is the text.
        return Sms(to=row[0].strip(), text=",".join(row[1:]))
    except ValidationError as exc:
        raise ValidationError(f"{path.name} line {number}: {exc.message}", field=exc.field) from None


def _unsent_rows(rows: Sequence[tuple[int, Sms]], pending: Sequence[Any] | None) -> list[tuple[int, Sms]]:
    """The rows behind ``pending`` messages (None: every row), in file order."""
    if pending is None:
        return list(rows)
    wanted = [m for m in pending if isinstance(m, Sms)]
    by_identity = {id(m) for m in wanted}
    found = [row for row in rows if id(row[1]) in by_identity]
    if len(found) == len(wanted):
        return found
    # A provider rebuilt the messages it did not send: match them by content, in order.
    left = list(wanted)
    found = []
    for row in rows:
        if row[1] in left:
            left.remove(row[1])
            found.append(row)
    return found


def write_batch(path: Path, messages: Sequence[Sms]) -> None:
    """Write messages as a ``mobile,text`` CSV that ``smsgate batch`` reads back."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mobile", "text"])
        for sms in messages:
            for number in sms.to:
                writer.writerow([number, sms.text or ""])


def _record_unsent(
    settings: Settings, rows: Sequence[tuple[int, Sms]], exc: SmsGateError, target: Path | None
) -> None:
    """Remember (for the error output) and optionally write the rows that were not sent."""
    pending = exc.pending if isinstance(exc, PartialSendError) else None
    unsent = _unsent_rows(rows, pending)
    settings.unsent = [(line, sms.to[0]) for line, sms in unsent]
    if target is None:
        return
    try:
        write_batch(target, [sms for _, sms in unsent])
    except OSError as error:  # a full disk …: the partial send is still what must be shown
        settings.unsent_write_error = f"could not write them to {target} ({error.strerror or error})"
        return
    settings.unsent_file = target


def _writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``--unsent``: its directory must exist and be writable, found out before any send."""
    import os  # noqa: PLC0415

    if value is not None:
        folder = value.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise click.BadParameter(f"cannot write a file in {str(folder)!r}", ctx, param)
    return value


@cli.command("batch")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--chunk", default=100, show_default=True, type=click.IntRange(min=1), help="Messages per gateway call."
)
@click.option(
    "--unsent",
    "unsent_file",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_writable_file,
    help="If some rows are not sent, write them to this CSV (same format) to send them again.",
)
@click.pass_context
def batch_command(ctx: click.Context, csv_file: Path, chunk: int, unsent_file: Path | None) -> None:
    """Send personalised messages from a CSV file of mobile,text rows.

    If it fails part-way, the error lists the rows (line and number) not sent, and
    ``--unsent FILE`` writes them as a CSV to resend. After an uncertain outcome the rows of
    the failed request may have been delivered: check their reports before resending.
    """
    settings = _settings(ctx)
    rows = read_batch_rows(csv_file)
    messages = [sms for _, sms in rows]
    progress = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err(),
        disable=settings.json,
    )
    with settings.gateway() as gateway, progress:
        task = progress.add_task("batch", total=len(messages))

        def send_chunk(part: Sequence[Sms]) -> list[Receipt]:
            sent = gateway.send_batch(part)
            progress.advance(task, len(part))
            return sent

        # Once a chunk went out, a later failure is a PartialSendError listing it, never
        # "nothing sent": the one rule for a send made of several requests.
        chunks = (messages[start : start + chunk] for start in range(0, len(messages), chunk))
        try:
            sent = call_in_parts(chunks, send_chunk, pending=lambda rest: [m for part in rest for m in part])
        except SmsGateError as exc:
            _record_unsent(settings, rows, exc, unsent_file)
            raise
    receipts = [r for chunk_receipts in sent for r in chunk_receipts]
    _show_receipts(settings, receipts, f"batch of {len(messages)} message(s)", many=True)


@cli.command("mms")
@click.argument("to", nargs=-1, required=True)
@click.option("--subject", "-s", required=True)
@click.option(
    "--part",
    "parts",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file to include (repeat; order kept; the name's extension tells the type).",
)
@_at_option
@click.pass_context
def mms_command(
    ctx: click.Context, to: tuple[str, ...], subject: str, parts: tuple[Path, ...], send_at: str | None
) -> None:
    """Send a multimedia message made of files."""
    settings = _settings(ctx)
    mms = Mms(
        to=to,
        subject=subject,
        parts=[MmsPart(name=p.name, data=p.read_bytes()) for p in parts],
        send_at=_when(send_at),
    )
    with settings.gateway() as gateway:
        receipt = gateway.send_mms(mms)
    _show_receipts(settings, [receipt], "MMS sent")


def _balance_of(provider: smsgate.Provider, kind: str, options: dict[str, Any]) -> Balance | SmsGateError:
    """One provider's balance, or the error that stopped it."""
    capabilities = provider.capabilities
    if not (capabilities.supports(Operation.BALANCE) and kind in capabilities.balance_kinds):
        # Said of this provider: the one-provider gateway would say "no configured provider".
        return UnsupportedOperationError(
            f"this provider reports no {kind} balance", provider=provider.name, operation="balance"
        )
    try:
        with smsgate.Gateway(provider, **options) as gateway:
            return gateway.balance(kind=kind)
    except SmsGateError as exc:
        return exc


def _one_provider(routing: dict[str, Any], name: str) -> dict[str, Any]:
    """The file's routing for a gateway of provider ``name`` alone: its retries, breaker, rate
    limit (its own table when there is one per provider) and shared state; no strategy."""
    options = {key: routing.get(key) for key in ("retry", "breaker", "shared_state")}
    limit = routing.get("rate_limit")
    options["rate_limit"] = limit.get(name) if isinstance(limit, Mapping) else limit
    return options


def _balance_dict(name: str, result: Balance | SmsGateError) -> dict[str, Any]:
    if isinstance(result, SmsGateError):
        return {"provider": name, "error": type(result).__name__, "message": str(result)}
    return {
        "provider": result.provider,
        "kind": result.kind,
        "remaining": result.remaining,
        "total": result.total,
        "pay_mode": result.pay_mode,
    }


@cli.command("balance")
@click.option(
    "--kind", type=click.Choice(["sms", "mms"]), default="sms", show_default=True, help="Which balance."
)
@click.pass_context
def balance_command(ctx: click.Context, kind: str) -> None:
    """Show the balance of every configured provider (one row each).

    A provider that cannot report this balance gets a row with its error; the exit code is
    then the first such error's, after the whole table is printed. When none can, the error
    alone is printed, as for any command.
    """
    settings = _settings(ctx)
    with settings.routing() as routing:
        results = [
            (p.name, _balance_of(p, kind, _one_provider(routing, p.name))) for p in settings.providers()
        ]
    errors = [result for _, result in results if isinstance(result, SmsGateError)]
    if len(errors) == len(results):  # nothing to show: the error alone, as every command does
        if len(errors) == 1:
            raise errors[0]
        raise AllProvidersFailedError(f"no provider reported its {kind} balance", errors, operation="balance")
    if settings.json:
        _emit_json([_balance_dict(name, result) for name, result in results])
    else:
        rows = []
        for name, result in results:
            if isinstance(result, SmsGateError):
                rows.append([escape(name), "", "", "", escape(f"{type(result).__name__}: {result}")])
                continue
            total = "" if result.total is None else str(result.total)
            rows.append([escape(name), str(result.remaining), total, escape(result.pay_mode or ""), ""])
        _print_table(f"{kind} balance", ("provider", "remaining", "total", "pay mode", "error"), rows)
    if errors:
        raise click.exceptions.Exit(exit_code(errors[0]))


@contextmanager
def _pull_journal(path: Path | None) -> Iterator[SQLiteJournal | None]:
    """The ``--journal`` of a pull, opened **before** the pull: a journal that cannot be opened
    (no such directory, not a database …) stops the command while the provider still holds
    the events."""
    if path is None:
        yield None
        return
    from smsgate.receiver import SQLiteJournal  # noqa: PLC0415

    with SQLiteJournal(path) as journal:
        yield journal


def _journal_new(
    journal: SQLiteJournal | None, events: Sequence[DeliveryReport | InboundMessage]
) -> set[int]:
    """Store pulled events in the journal (pulls are destructive at the vendor); ids of new ones."""
    if journal is None:
        return {id(e) for e in events}
    return {id(e) for e in journal.record(events)}


def _show_events(
    settings: Settings, events: Sequence[DeliveryReport | InboundMessage], title: str, new: set[int]
) -> None:
    rows = _event_rows(events)
    for row, event in zip(rows, events, strict=True):
        row["new"] = id(event) in new
    if settings.json:
        _emit_json(rows)
        return
    # The headers follow what was asked for, not the first row: an empty inbound table
    # still has the inbound columns.
    reports = title.startswith("delivery")
    columns = ["provider", "mobile", "task id", "received"]
    columns += ["status", "code"] if reports else ["ext", "text"]
    cells_of_rows = []
    for row in rows:
        when = row["received_at"].isoformat(sep=" ") if row["received_at"] else ""
        cells = [row["provider"], row["mobile"], row["task_id"] or "", when]
        cells += (
            [row["status"], row["vendor_code"] or ""]
            if row["kind"] == "report"
            else [row["ext"] or "", row["text"]]
        )
        cells_of_rows.append([escape(c) for c in cells])
    _print_table(f"{title} ({len(rows)})", columns, cells_of_rows)


def _show_pulled(
    settings: Settings,
    events: Sequence[DeliveryReport | InboundMessage],
    title: str,
    journal: SQLiteJournal | None,
) -> None:
    """Journal (optionally) and print what a destructive pull returned. With a journal, the
    pull was made with ``observe=False``: the events are stored first and only then given to
    the ``report_received`` / ``inbound_received`` observers. If the journal fails, the
    observers still get them and they are printed before the error, since the provider no
    longer holds them."""
    try:
        new = _journal_new(journal, events)
    except SmsGateError:
        for event in events:
            _plugins.notify_event(event)
        _show_events(settings, events, title, {id(e) for e in events})
        raise
    if journal is not None:
        for event in events:
            _plugins.notify_event(event)
    _show_events(settings, events, title, new)


_journal_option = click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also store what was pulled in this SQLite journal (pulls are destructive at the provider).",
)


@cli.command("reports")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many reports.")
@click.option("--task-id", help="Only the reports of this task.")
@_journal_option
@click.pass_context
def reports_command(ctx: click.Context, limit: int | None, task_id: str | None, journal: Path | None) -> None:
    """Pull queued delivery reports (each is returned once by the provider)."""
    settings = _settings(ctx)
    with _pull_journal(journal) as store:
        with settings.gateway() as gateway:
            reports = gateway.fetch_reports(limit=limit, task_id=task_id, observe=store is None)
        _show_pulled(settings, reports, "delivery reports", store)


@cli.command("inbound")
@_journal_option
@click.pass_context
def inbound_command(ctx: click.Context, journal: Path | None) -> None:
    """Pull queued inbound messages (each is returned once by the provider)."""
    settings = _settings(ctx)
    with _pull_journal(journal) as store:
        with settings.gateway() as gateway:
            messages = gateway.fetch_inbound(observe=store is None)
        _show_pulled(settings, messages, "inbound messages", store)


def _new_password(from_stdin: bool) -> str:
    """The new password: ``$SMSGATE_NEW_PASSWORD``, else one line of stdin (``--password-stdin``),
    else a hidden prompt asked twice. Never a command-line argument (shells keep history)."""
    import os  # noqa: PLC0415

    from_env = os.environ.get(NEW_PASSWORD_ENV_VAR)
    if from_env:
        return from_env
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValidationError("--password-stdin read no password", field="new_password")
        return line
    value: str = click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@cli.command("change-password")
@click.option("--provider", "provider_name", help="Configured provider name (default: the first).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help=f"Read the new password from the first line of stdin (else ${NEW_PASSWORD_ENV_VAR}, else a prompt).",
)
@click.pass_context
def change_password_command(ctx: click.Context, provider_name: str | None, password_stdin: bool) -> None:
    """Change a provider account's password (never echoed, never on the command line).

    The new password comes from SMSGATE_NEW_PASSWORD, or stdin with --password-stdin, or a
    prompt asked twice. The provider is checked before anything is asked.
    """
    settings = _settings(ctx)
    item = settings.config().provider(provider_name)
    provider = _config.build_provider(item)
    new_password = _new_password(password_stdin)
    with (
        settings.routing() as routing,
        smsgate.Gateway(provider, **_one_provider(routing, provider.name)) as gateway,
    ):
        gateway.change_password(new_password, provider=provider.name)
    variable = _config.password_env_var(item.name)
    if settings.json:
        _emit_json({"provider": provider.name, "changed": True, "env_var": variable})
    else:
        _out().print(f"password changed for {provider.name}; update {variable} before the next run")


class _Seconds(click.FloatRange):
    """A duration option: at least ``min`` seconds and finite (a range alone lets NaN and
    infinity through, which the receiver's limits then refuse, or a lease keeps forever)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or a usage error naming the option."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number of seconds.", param, ctx)
        return number


_SECONDS = _Seconds(0.1)


def _print_event(console: Console) -> Callable[[DeliveryReport | InboundMessage], None]:
    def handler(event: DeliveryReport | InboundMessage) -> None:
        if isinstance(event, DeliveryReport):
            console.print(
                f"report  {event.provider} {event.mobile} task {event.task_id} {event.status}", markup=False
            )
        else:
            console.print(f"inbound {event.provider} {event.mobile}: {event.text}", markup=False)

    return handler


def _receiver_journal_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--journal`` of the commands that work on a receiver's journal (``receive``,
    ``unreadable``): a SQLite file, or a PostgreSQL URL; the same default."""
    return click.option(
        "--journal",
        default=str(Path("smsgate-journal.sqlite3")),
        show_default=True,
        help=f"{help_text}: a SQLite file, or a postgresql:// URL of a journal several receivers share "
        "(needs smsgate[postgres]).",
    )


#: The PostgreSQL claim lease ``receive`` takes by default (seconds).
_LEASE = 30.0


@cli.command("receive")
@click.option(
    "--host", default="127.0.0.1", show_default=True, callback=_listen_host, help="Address to listen on."
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@_receiver_journal_option("Where every push is stored before it is acknowledged")
@click.option(
    "--claim-lease",
    default=_LEASE,
    show_default=True,
    type=_SECONDS,
    help="PostgreSQL journal: seconds before the events a dead receiver was dispatching go to the "
    "others; stored events are also re-dispatched this often.",
)
@click.option("--provider", "provider_name", help="Configured provider whose pushes arrive (default: first).")
@click.option(
    "--allow",
    multiple=True,
    envvar="SMSGATE_RECEIVE_ALLOW",
    help="Network pushes may come from (repeatable; default: any). Env: SMSGATE_RECEIVE_ALLOW.",
)
@click.option(
    "--trusted-proxy",
    multiple=True,
    envvar="SMSGATE_RECEIVE_TRUSTED_PROXY",
    help="Proxy whose X-Forwarded-For is believed (repeatable). Env: SMSGATE_RECEIVE_TRUSTED_PROXY.",
)
@click.option(
    "--basic-user",
    envvar="SMSGATE_RECEIVE_BASIC_USER",
    help="Require HTTP Basic with this user; the password comes from SMSGATE_RECEIVE_BASIC_PASSWORD.",
)
@click.option(
    "--max-connections", type=click.IntRange(1), help="Open connections at most (ServerLimits' default: 100)."
)
@click.option(
    "--body-timeout",
    type=_SECONDS,
    help="Seconds a client gets to send its request head, and then its body (ServerLimits' default: 10).",
)
@click.option(
    "--max-unreadable",
    type=click.IntRange(0),
    default=10_000,
    show_default=True,
    help="Unreadable pushes kept at most in the journal (see smsgate unreadable); 0 keeps none.",
)
@click.option(
    "--max-unreadable-bytes",
    type=click.IntRange(0),
    default=64 * 1024 * 1024,
    show_default=True,
    help="Bytes of unreadable push bodies kept at most in the journal.",
)
@click.pass_context
def receive_command(
    ctx: click.Context,
    *,
    host: str,
    port: int,
    journal: str,
    claim_lease: float,
    provider_name: str | None,
    allow: tuple[str, ...],
    trusted_proxy: tuple[str, ...],
    basic_user: str | None,
    max_connections: int | None,
    body_timeout: float | None,
    max_unreadable: int,
    max_unreadable_bytes: int,
) -> None:
    """Run a receiver for pushed reports and inbound messages (POST /) until interrupted.

    A secret token in the callback URL is required when SMSGATE_RECEIVE_TOKEN is set: give the
    provider http://HOST:PORT/<token>. Stored events not yet handled are re-dispatched in the
    background once the port listens.
    """
    try:
        import uvicorn  # noqa: F401, PLC0415 - fail early, with a hint, without the receiver extra

        from smsgate.receiver import Receiver, ServerLimits, ServerThread  # noqa: PLC0415
    except ImportError as exc:
        raise click.ClickException(
            f"smsgate receive needs the receiver extra ({exc.name} is missing): "
            "pip install 'smsgate[receiver]'"
        ) from exc

    settings = _settings(ctx)
    provider = settings.provider(provider_name)
    console = _out()
    guard = _receive_guard(allow, trusted_proxy, basic_user)
    limits = ServerLimits()  # the receiver's defaults, changed by what was given
    if max_connections is not None:
        limits = attrs.evolve(limits, max_connections=max_connections)
    if body_timeout is not None:
        limits = attrs.evolve(limits, head_timeout=body_timeout, body_timeout=body_timeout)
    stop_replay = threading.Event()
    with _receive_journal(journal, claim_lease) as (store, shown, every):
        receiver = Receiver(
            provider,
            _print_event(console),
            journal=store,
            guard=guard,
            max_unreadable=max_unreadable,
            max_unreadable_bytes=max_unreadable_bytes,
        )
        replay = threading.Thread(
            target=_replay, args=(receiver, console, every, stop_replay), name="smsgate-replay"
        )
        replay.daemon = True
        try:
            server = ServerThread(receiver.asgi_app(limits=limits), host=host, port=port, limits=limits)
            try:
                server.start()
            except RuntimeError as exc:  # the port is in use, or binding it is not allowed
                _cannot_listen(settings, exc)
            try:
                console.print(
                    f"receiving pushes for {provider.name} on {server.url} (journal {shown}). Ctrl+C stops.",
                    markup=False,
                )
                replay.start()
                _serve_until_signalled(server)
            finally:
                server.stop()
        finally:
            stop_replay.set()
            _close_receiver(receiver)  # a replay still running stops between events
            if replay.is_alive():
                replay.join(5)
        console.print("receiver stopped")


def _close_receiver(receiver: Receiver) -> None:
    """Close the receive command's receiver; a journal that cannot record the dispatch outcomes
    still queued (locked by another process, a full disk …) ends the command with a plain
    message: those events are handled again at the next start."""
    from smsgate.receiver import JournalError  # noqa: PLC0415

    try:
        receiver.close()
    except JournalError as exc:
        raise click.ClickException(
            f"the receiver stopped without recording every handled event ({exc}); those events "
            "will be handled again at its next start"
        ) from None


def _receive_guard(
    allow: tuple[str, ...], trusted_proxy: tuple[str, ...], basic_user: str | None
) -> PushGuard:
    """The receive command's PushGuard: its options, and its secrets from the environment."""
    import os  # noqa: PLC0415

    from smsgate.receiver import PushGuard  # noqa: PLC0415

    def networks(values: tuple[str, ...]) -> list[str]:
        return [net for value in values for net in value.replace(",", " ").split()]

    basic = None
    if basic_user:
        password = os.environ.get("SMSGATE_RECEIVE_BASIC_PASSWORD")
        if not password:
            raise click.UsageError("--basic-user needs SMSGATE_RECEIVE_BASIC_PASSWORD in the environment")
        basic = (basic_user, password)
    try:
        return PushGuard(
            token=os.environ.get("SMSGATE_RECEIVE_TOKEN") or None,
            allow=networks(allow),
            trusted_proxies=networks(trusted_proxy),
            basic=basic,
        )
    except ConfigurationError as exc:  # names the option's entry, never the token or password
        raise click.UsageError(str(exc)) from exc


@contextmanager
def _receive_journal(journal: str, lease: float) -> Iterator[tuple[Journal | Path, str, float | None]]:
    """The receive command's journal: a SQLite path, or a shared PostgreSQL journal opened
    (and closed) here; how to show it (no password); how often to re-dispatch (None: once)."""
    from smsgate.receiver import PostgresJournal  # noqa: PLC0415
    from smsgate.receiver._postgres import is_postgres_url, safe_url  # noqa: PLC0415

    if not is_postgres_url(journal):
        yield Path(journal), journal, None
        return
    # A JournalError (it cannot connect …) is printed like every smsgate error, JSON with
    # --json; its message shows the URL without its password.
    with PostgresJournal(journal, lease=lease) as shared:
        # Other receivers share it: the events of one that dies come back after the lease.
        yield shared, safe_url(journal), lease


@contextmanager
def _kept_journal(journal: str) -> Iterator[tuple[Journal, str]]:
    """The journal ``unreadable`` works on, opened (and closed) here, and how to show it: an
    existing SQLite file (a missing one is a usage error: never created), or a PostgreSQL URL
    opened as ``receive`` opens it."""
    from smsgate.receiver import SQLiteJournal  # noqa: PLC0415

    with _receive_journal(journal, _LEASE) as (store, shown, _):
        if not isinstance(store, Path):
            yield store, shown
            return
        if not store.is_file():
            raise click.BadParameter(f"no journal file {journal!r}", param_hint="'--journal'")
        with SQLiteJournal(store) as opened:
            yield opened, shown


def _unreadable_rows(pushes: Sequence[UnreadablePush]) -> list[dict[str, Any]]:
    """The kept pushes as rows: never a body, and of the error only its class (its message
    can quote a field of the body)."""
    return [
        {
            "key": push.key,
            "provider": push.provider,
            "content_type": push.content_type,
            "size": len(push.body),
            "deliveries": push.deliveries,
            "first_seen": push.first_seen,
            "last_seen": push.last_seen,
            "error": push.error_class,
        }
        for push in pushes
    ]


def _show_unreadable(settings: Settings, pushes: Sequence[UnreadablePush]) -> None:
    rows = _unreadable_rows(pushes)
    if settings.json:
        _emit_json(rows)
        return
    columns = ("key", "provider", "size", "deliveries", "first seen", "last seen", "error")
    cells = [
        [
            row["key"],
            escape(row["provider"]),
            str(row["size"]),
            str(row["deliveries"]),
            row["first_seen"].isoformat(sep=" ", timespec="seconds"),
            row["last_seen"].isoformat(sep=" ", timespec="seconds"),
            escape(row["error"]),
        ]
        for row in rows
    ]
    _print_table(f"unreadable pushes ({len(rows)}, {sum(r['size'] for r in rows)} bytes)", columns, cells)


def _discard(store: UnreadableStore, key: str) -> str:
    """Discard the kept push ``key`` (or the only one whose key starts with it, 12 characters
    or more: log lines show that much); the key discarded.

    :raises ValidationError: no kept push has that key (or several start with it).
    """
    if store.discard_unreadable(key):
        return key
    matches = [push.key for push in store.unreadable() if len(key) >= 12 and push.key.startswith(key)]
    if len(matches) == 1 and store.discard_unreadable(matches[0]):
        return matches[0]
    reason = "several kept pushes' keys start with" if matches else "no kept push has the key"
    raise ValidationError(f"{reason} {key!r}: see smsgate unreadable", field="key")


@cli.command("unreadable")
@_receiver_journal_option("The receiver's journal")
@click.option(
    "--provider",
    "provider_name",
    help="With --reparse: the configured provider to read them with (default: first).",
)
@click.option(
    "--reparse",
    is_flag=True,
    help="Read the provider's kept pushes again (after a parser fix or an upgrade): the events of each "
    "push read now are stored in the journal and the push is discarded. They are not handled here: "
    "they stay pending until the receiver re-dispatches them (smsgate receive at its next start, or "
    "every --claim-lease seconds with PostgreSQL; Receiver.redispatch() in an application).",
)
@click.option(
    "--discard", "discard_key", metavar="KEY", help="Forget the kept push KEY (or its first 12+ characters)."
)
@click.pass_context
def unreadable_command(
    ctx: click.Context, journal: str, provider_name: str | None, reparse: bool, discard_key: str | None
) -> None:
    """List the pushes the receiver could not read (kept in its journal), read them again, or
    discard one. Never shows a body: key, provider, size, deliveries, first and last seen, and
    the parser's error class."""
    if reparse and discard_key is not None:
        raise click.UsageError("--reparse and --discard do not go together: give one")
    if provider_name is not None and not reparse:
        raise click.UsageError("--provider goes with --reparse")
    settings = _settings(ctx)
    provider = settings.provider(provider_name) if reparse else None  # before the journal
    with _kept_journal(journal) as (store, shown):
        kept = cast("UnreadableStore", store)
        if provider is not None:
            _reparse(settings, provider, store, shown)
        elif discard_key is not None:
            key = _discard(kept, discard_key)
            if settings.json:
                _emit_json({"discarded": key})
            else:
                click.echo(f"discarded unreadable push {key}")  # a key is never wrapped
        else:
            _show_unreadable(settings, kept.unreadable())


def _reparse(settings: Settings, provider: smsgate.Provider, journal: Journal, shown: str) -> None:
    """``unreadable --reparse``: the provider's kept pushes read again by a receiver without a
    handler; their events stored, left pending (no hook, no handler) for the receiver's
    redispatch."""
    from smsgate.receiver import Receiver  # noqa: PLC0415

    with Receiver(provider, None, journal=journal) as receiver:
        read = receiver.reparse_unreadable(dispatch=False)
        left = [push for push in receiver.unreadable() if push.provider == provider.name]
    if settings.json:
        _emit_json({"provider": provider.name, "read": read, "still_unreadable": _unreadable_rows(left)})
        return
    click.echo(
        f"{read} kept push(es) of {provider.name} read again: their events are stored in {shown}, "
        f"pending until the receiver re-dispatches them; {len(left)} still unreadable"
    )
    if left:
        _show_unreadable(settings, left)


def _replay(receiver: Receiver, console: Console, every: float | None, stop: threading.Event) -> None:
    """Re-dispatch the journal's pending events while the server already answers pushes:
    once, or every ``every`` seconds until ``stop`` is set (a journal other receivers share)."""
    first = True
    while first or (every is not None and not stop.wait(every)):
        first_run, first = first, False
        try:
            redone = receiver.redispatch()
        except Exception as exc:  # the journal closed under it at shutdown, or a disk error
            if every is None or stop.is_set():
                console.print(f"replay of stored events stopped: {type(exc).__name__}", markup=False)
                return
            console.print(
                f"replay of stored events failed ({type(exc).__name__}); trying again", markup=False
            )
            continue
        if first_run or redone:
            console.print(f"{redone} stored event(s) re-dispatched")


def _serve_until_signalled(server: ServerThread) -> None:
    """Wait while ``server`` runs; Ctrl+C and SIGTERM end the wait (a clean exit, status 0).

    :raises click.ClickException: the server stopped on its own.
    """
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.2):
            if not server.alive:
                raise click.ClickException("the receiver's server stopped unexpectedly")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``smsgate`` script."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="smsgate")
