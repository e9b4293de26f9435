"""The built-in ``console`` provider: prints what would be sent, sends nothing.

Like Django's console e-mail backend, it is for development: point an application at it
(``type = "console"`` in a config file, ``smsgate.get_provider("console")``) and every message
it would send is written to a stream instead, with its recipients, text and segment count.
Everything else behaves as the in-memory provider (:class:`smsgate.testing.InMemoryProvider`):
receipts, balances, capabilities, scripted failures.

Numbers are printed in full by default: the output goes to the developer's own terminal, and
the point is to see who would have received what. ``mask_numbers=True`` prints them as
``138****8000`` (:func:`smsgate.mask_mobile`), for output that is shared or kept.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from smsgate import exceptions as errors
from smsgate._models import Mms, Receipt, Sms, mask_mobile
from smsgate._segments import segments
from smsgate.default_plugins.memory import InMemoryProvider, OutboxEntry
from smsgate.hookspecs import ProviderFactory, hookimpl

__all__ = ["ConsoleProvider", "register_providers"]

_STREAMS: dict[str, Callable[[], IO[str]]] = {"stdout": lambda: sys.stdout, "stderr": lambda: sys.stderr}


class ConsoleProvider(InMemoryProvider):
    """A provider that prints every message it accepts, for development.

    :param name: the name used in receipts and errors (default ``"console"``).
    :param stream: where to print: ``"stdout"`` (the default), ``"stderr"``, or an open text
        stream (any object with ``write``). The names are looked up at each message, so a
        test capturing ``sys.stdout`` sees the output.
    :param mask_numbers: print numbers as ``138****8000`` instead of in full.

    Other keyword arguments are those of :class:`smsgate.testing.InMemoryProvider` (and
    configuration written for a real provider is accepted and ignored, as there).
    """

    def __init__(
        self,
        name: str = "console",
        *,
        stream: str | IO[str] = "stdout",
        mask_numbers: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(name, **options)
        if isinstance(stream, str):
            if stream not in _STREAMS:
                raise errors.ConfigurationError(
                    f"stream must be 'stdout', 'stderr' or a text stream, not {stream!r}", provider=name
                )
        elif not callable(getattr(stream, "write", None)):
            raise errors.ConfigurationError(
                "stream must be 'stdout', 'stderr' or a text stream", provider=name
            )
        if not isinstance(mask_numbers, bool):  # "false" from an environment would mask
            raise errors.ConfigurationError(
                f"mask_numbers must be true or false, not {mask_numbers!r}", provider=name
            )
        self._stream = stream
        self.mask_numbers = mask_numbers
        self._print_lock = threading.Lock()

    def _accepted(self, entry: OutboxEntry) -> None:
        self._print(entry.receipt, entry.message)

    def _number(self, number: str) -> str:
        return mask_mobile(number) if self.mask_numbers else number

    def _print(self, receipt: Receipt, message: Sms | Mms | tuple[Sms, ...]) -> None:
        lines = [f"----- smsgate console: {self.name}, task {receipt.task_id} -----"]
        for item in message if isinstance(message, tuple) else (message,):
            lines += self._describe(item)
        lines.append("-" * len(lines[0]))
        stream = _STREAMS[self._stream]() if isinstance(self._stream, str) else self._stream
        with self._print_lock:
            stream.write("\n".join(lines) + "\n")
            flush = getattr(stream, "flush", None)
            if callable(flush):
                flush()

    def _describe(self, message: Sms | Mms) -> list[str]:
        lines = [f"to: {', '.join(self._number(n) for n in message.to)}"]
        if message.send_at is not None:
            lines.append(f"send at: {message.send_at.isoformat()}")
        if message.ext:
            lines.append(f"ext: {message.ext}")
        if isinstance(message, Mms):
            lines.append(f"MMS subject: {message.subject}")
            lines += [f"  part {p.name}: {len(p.data)} bytes" for p in message.parts]
            return lines
        if message.template is not None:
            params = ", ".join(f"{k}={v}" for k, v in message.params.items())
            lines.append(f"template: {message.template}({params})")
        if message.text is not None:
            info = segments(message.text)
            lines.append(f"text ({info.characters} characters, {info.encoding}, {info.segments} segment(s)):")
            lines.append(message.text)
        return lines


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    """Register :class:`ConsoleProvider` as the provider ``"console"``."""
    register("console", ConsoleProvider)
