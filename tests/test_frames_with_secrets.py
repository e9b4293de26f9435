"""smsgate.testing.frames_with_secrets finds a secret wherever a reporter would read it."""

from __future__ import annotations

import pytest

from smsgate.exceptions import AllProvidersFailedError, NotSentError, ValidationError
from smsgate.testing import frames_with_secrets


def _raise_holding(value: object) -> BaseException:
    def inner(held: object) -> None:
        raise ValueError("boom")

    try:
        try:
            inner(value)
        except ValueError as exc:
            raise RuntimeError("outer") from exc
    except RuntimeError as error:
        return error


def test_a_secret_in_a_local_of_a_cause_is_found_by_frame_and_name() -> None:
    found = frames_with_secrets(_raise_holding({"fields": [b"pw=hunter2"]}), ["hunter2"])
    assert set(found) == {"_raise_holding: value", "inner: held"}


def test_clean_frames_give_an_empty_list() -> None:
    assert frames_with_secrets(_raise_holding(("nothing", 1)), ["hunter2"]) == []


def test_a_secret_in_a_member_of_an_exception_group_is_found() -> None:
    """AllProvidersFailedError is an ExceptionGroup: reporters show each attempt's frames, and
    the check walked only causes and contexts, so a secret in an attempt's frame was missed."""
    attempt = _raise_holding("pw=hunter2")
    group = AllProvidersFailedError("every provider failed", [NotSentError("down", provider="a")])
    group.exceptions[0].__cause__ = attempt
    assert set(frames_with_secrets(group, ["hunter2"])) == {"_raise_holding: value", "inner: held"}
    plain = ExceptionGroup("two", [_raise_holding("hunter2"), _raise_holding("clean")])
    assert set(frames_with_secrets(plain, ["hunter2"])) == {"_raise_holding: value", "inner: held"}


@pytest.mark.parametrize("secrets", ["hunter2", b"hunter2", ["hunter2", ""], ["hunter2", None]])
def test_secrets_that_would_match_every_frame_or_none_are_refused(secrets: object) -> None:
    """One string was read as its characters (every frame holding an 'h' was reported), and an
    empty secret is in every string."""
    with pytest.raises(ValidationError, match="secret") as info:
        frames_with_secrets(_raise_holding("clean"), secrets)  # type: ignore[arg-type]
    assert info.value.field == "secrets"
