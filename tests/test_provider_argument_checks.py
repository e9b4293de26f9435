"""The argument checks ``smsgate.Provider`` offers its subclasses: one message and field for a
wrong argument in every provider, the provider named only when the caller passes it."""

from __future__ import annotations

import pytest

import smsgate
from smsgate.exceptions import ValidationError

Provider = smsgate.Provider


def test_expect_type_accepts_an_instance_and_names_the_type_of_anything_else() -> None:
    sms = smsgate.Sms(to="13800138000", text="hi")
    assert Provider.expect_type(sms, smsgate.Sms, "send", "sms") is None
    with pytest.raises(ValidationError) as caught:
        Provider.expect_type("13800138000", smsgate.Sms, "send", "sms")
    assert caught.value.message == "send() takes an Sms, not str"
    assert caught.value.field == "sms"
    assert caught.value.provider is None


def test_expect_batch_returns_a_sequence_and_refuses_a_string_or_a_non_sequence() -> None:
    batch = [smsgate.Sms(to="13800138000", text="hi")]
    assert Provider.expect_batch(batch) is batch
    assert Provider.expect_batch(()) == ()
    for wrong, name in (("hi", "str"), (b"hi", "bytes"), ({"a": 1}, "dict"), (None, "NoneType")):
        with pytest.raises(ValidationError) as caught:
            Provider.expect_batch(wrong, provider="acme")
        assert caught.value.message == f"send_batch() takes a sequence of Sms, not {name}"
        assert (caught.value.field, caught.value.provider) == ("messages", "acme")


def test_push_body_reads_bytes_like_objects_and_refuses_the_rest() -> None:
    body = b'{"reports": []}'
    assert Provider.push_body(body) is body
    assert Provider.push_body(bytearray(body)) == body
    assert type(Provider.push_body(memoryview(body))) is bytes
    for wrong, name in ((body.decode(), "str"), (None, "NoneType")):
        with pytest.raises(ValidationError) as caught:
            Provider.push_body(wrong)
        assert caught.value.message == f"a push body is the request's raw bytes, not {name}"
        assert (caught.value.field, caught.value.provider) == ("body", None)


def test_a_subclass_reaches_them_through_self() -> None:
    provider = smsgate.get_provider("memory")
    with pytest.raises(ValidationError) as caught:
        provider.send(5)  # type: ignore[arg-type]
    assert (caught.value.message, caught.value.provider) == ("send() takes an Sms, not int", "memory")
