"""A secret held where frame locals are captured: the value hidden from ``repr`` and ``str``."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """A string kept out of reprs, so out of the frame locals error reporters record.

    A function handed a secret wraps it at once, deletes its parameter, and reads
    :attr:`value` only inside the call expression that needs it: no frame of an error's
    traceback then holds the plain value.
    """

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value out.
        raise TypeError("a secret cannot be pickled")
