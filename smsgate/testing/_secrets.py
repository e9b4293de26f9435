"""Where an error reporter would find a secret: the locals of every frame of a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from smsgate.exceptions import ValidationError

__all__ = ["frames_with_secrets"]


def _shows(value: object, secrets: tuple[str, ...], depth: int = 0) -> bool:
    """True when ``value`` shows a secret the way an error reporter would capture it: its
    repr, or (for strings, bytes and containers) what it holds."""
    if isinstance(value, bytes | bytearray):
        return any(secret.encode() in value for secret in secrets)
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    try:
        text = repr(value)
    except Exception:
        text = ""
    if any(secret in text for secret in secrets):
        return True
    if depth < 4 and isinstance(value, list | tuple | set | frozenset | dict):
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)
        return any(_shows(item, secrets, depth + 1) for item in items)
    return False


def frames_with_secrets(error: BaseException, secrets: Iterable[str]) -> list[str]:
    """Every frame of ``error``'s traceback (and of its causes and contexts, and of the
    members of an exception group such as :class:`~smsgate.AllProvidersFailedError`) whose
    locals show one of ``secrets``, as ``function: variable`` names; empty when none does.

    Sentry-style reporters capture the locals of each frame, so a provider's test raises an
    error on each path (bad input, refused connection, refusal, unreadable reply) and
    asserts ``frames_with_secrets(error, [password, password_hash]) == []``.

    :raises ValidationError: ``secrets`` is one string (a list of them is meant: each of its
        characters would be looked for) or holds an empty or non-string one (found in every
        string, or in none).
    """
    if isinstance(secrets, str | bytes):
        raise ValidationError("secrets must be a list of strings, not one string", field="secrets")
    wanted = tuple(secrets)
    if not all(isinstance(secret, str) and secret for secret in wanted):
        raise ValidationError("each secret must be a non-empty string", field="secrets")
    found: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            found += [
                f"{frame.f_code.co_name}: {name}"
                for name, value in frame.f_locals.items()
                if _shows(value, wanted)
            ]
            tb = tb.tb_next
    return found
