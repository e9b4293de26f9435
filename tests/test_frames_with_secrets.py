"""smsgate.testing.frames_with_secrets finds a secret wherever a reporter would read it."""

from __future__ import annotations

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
