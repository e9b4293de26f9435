"""One row of the sandbox's inspection log: what it understood from one gateway request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["INJECTED_KEY", "Injected", "Outcome", "RequestEntry"]

#: The ASGI scope key under which the fault middleware tells the app what it did to a request
#: the app still answers (latency, drop, truncate): an :class:`Injected`.
INJECTED_KEY = "smsgate_ipyy.sandbox.injected"


@attrs.frozen
class Outcome:
    """How the sandbox answered: the result code's ``name``, its chapter 9 ``number`` (``None``
    for the WSDL-only names), its ``message``, and the ``task_id`` of an accepted send.

    An answer that is no gateway reply has ``code`` ``HTTP <status>`` (``HTTP 404`` for an
    unknown path; ``HTTP 503``, ``HTTP 500`` … or ``HTTP 200`` for garbage, from a fault) or
    ``no reply`` (a ``hang`` fault), and ``number`` ``None``."""

    code: str
    number: int | None
    message: str
    task_id: str = ""


@attrs.frozen
class Injected:
    """What fault injection did to one request: the rule's ``kind``, a sentence saying what
    happened (``did``), whether the gateway acted on the request (``acted``: true for
    ``latency``, ``drop`` and ``truncate``; false when the fault answered instead of the
    gateway, which then never saw the request) and the ``rule`` as the admin API lists it."""

    kind: str
    did: str
    acted: bool
    rule: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"kind": self.kind, "did": self.did, "acted": self.acted, "rule": dict(self.rule)}


@attrs.frozen
class RequestEntry:
    """What the sandbox understood from one gateway request; passwords never appear.

    ``encoding`` says how the parameters came (``query``, ``urlencoded``, ``multipart``,
    ``urlencoded+query``, ``soap1.1`` …), ``password_style`` whether the password was sent
    ``plain`` or as its ``md5``, and ``fields`` what the endpoint read (mobiles, content,
    batch lines …, depending on the endpoint). ``injected`` says what a fault rule did to the
    request (``None``: no fault). ``seq`` numbers the entries of one sandbox from 1; it is 0
    until the state logs the entry.

    Every gateway request is logged: those answered with a 404 (``endpoint`` is then the path
    asked for, without its leading slash) and those a fault answered instead of the gateway.
    """

    time: str
    endpoint: str
    method: str
    encoding: str
    action: str
    account: str
    password_style: str | None
    fields: Mapping[str, Any]
    outcome: Outcome
    injected: Injected | None = None
    seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The entry as the admin API and :meth:`SandboxState.requests` give it: plain JSON
        data, keys in this order."""
        return {
            "time": self.time,
            "endpoint": self.endpoint,
            "method": self.method,
            "encoding": self.encoding,
            "action": self.action,
            "account": self.account,
            "password_style": self.password_style,
            "fields": dict(self.fields),
            "outcome": attrs.asdict(self.outcome),
            "injected": None if self.injected is None else self.injected.as_dict(),
            "seq": self.seq,
        }
