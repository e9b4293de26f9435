"""One row of the sandbox's inspection log: what it understood from one gateway request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Outcome", "RequestEntry"]


@attrs.frozen
class Outcome:
    """How the sandbox answered: the result code's ``name``, its chapter 9 ``number`` (``None``
    for the WSDL-only names), its ``message``, and the ``task_id`` of an accepted send."""

    code: str
    number: int | None
    message: str
    task_id: str = ""


@attrs.frozen
class RequestEntry:
    """What the sandbox understood from one gateway request; passwords never appear.

    ``encoding`` says how the parameters came (``query``, ``urlencoded``, ``multipart``,
    ``urlencoded+query``, ``soap1.1`` …), ``password_style`` whether the password was sent
    ``plain`` or as its ``md5``, and ``fields`` what the endpoint read (mobiles, content,
    batch lines …, depending on the endpoint). ``seq`` numbers the entries of one sandbox
    from 1; it is 0 until the state logs the entry.
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
            "seq": self.seq,
        }
