"""``IpyyProvider.cannot_render_batch`` answers a whole batch with a few passes over its
messages, and its answer is exactly the base class's loop of ``cannot_render`` (the same
index and reason) over any batch: numbers of other forms, ext, templates, long texts, texts
without or with a broken 【signature】, the gbk transport, runs longer than one quick test."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsgate import Provider, Sms
from smsgate.exceptions import ValidationError
from smsgate_ipyy import _provider
from smsgate_ipyy._provider import IpyyProvider

from .conftest import NOW, PASSWORD
from .test_cannot_take import ipyy  # the same account and templates

PROVIDERS = {
    "default": ipyy(max_text_length=30),
    "gbk": ipyy(transport="gbk", max_text_length=30),
    "pattern": ipyy(mobile_pattern="13[0-9]{9}", max_text_length=30),
    "loose pattern": ipyy(mobile_pattern="1[0-9]{9,10}"),
    "append": ipyy(signature="append", default_signature="【腾飞】", max_text_length=30),
}

NUMBERS = st.sampled_from(
    [
        *("13800138000", "15800158000", "+8613800138000", "008613800138000", "8613800138000"),
        *("+85291234567", "1380013800", "23800138000", "138001380001"),
    ]
)
TEXT_PARTS = st.sampled_from(
    ["验证码", "1439", "【腾飞】", "【", "】", "【】", "\n", "\0", "😀", "x" * 25, "a"]
)
TEXTS = st.lists(TEXT_PARTS, min_size=1, max_size=5).map("".join).filter(str.strip)
SIGNED = st.sampled_from(
    ["验证码 1439【腾飞】", "code 1【腾飞】", "其他【签名】", "x" * 27 + "【腾飞】", "x" * 26 + "【腾飞】"]
)


@st.composite
def messages(draw: st.DrawFn) -> Sms:
    to = draw(st.lists(NUMBERS, min_size=1, max_size=2, unique=True) | NUMBERS.map(lambda n: [n]))
    kind = draw(st.sampled_from(["signed", "signed", "text", "template", "both"]))
    ext = draw(st.none() | st.none() | st.sampled_from(["1", "12345", "123456"]))
    if kind in {"template", "both"}:
        template = draw(st.sampled_from(["verify", "unsigned", "missing"]))
        params = draw(st.sampled_from([{"code": "1439"}, {}]))
        text = draw(SIGNED | TEXTS) if kind == "both" else None
        return Sms(to=to, text=text, template=template, params=params, ext=ext)
    text = draw(SIGNED if kind == "signed" else TEXTS)
    return Sms(to=to, text=text, ext=ext)


PLAIN = Sms(to="13800138000", text="验证码 1439【腾飞】")
BATCHES = st.lists(messages(), max_size=12) | st.lists(messages(), max_size=3).map(
    lambda tail: [PLAIN] * 30 + tail
)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=BATCHES)
def test_the_same_answer_as_the_per_message_loop(name: str, batch: list[Sms]) -> None:
    provider = PROVIDERS[name]
    assert provider.cannot_render_batch(batch) == Provider.cannot_render_batch(provider, batch)


def test_a_message_after_the_first_quick_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run the quick test vouches for, then one it cannot: the index counts from the batch."""
    monkeypatch.setattr(_provider, "_QUICK_RUN", 4)
    provider = PROVIDERS["default"]
    bad = Sms(to="13800138000", text="验证码 1439")
    batch = [PLAIN] * 9 + [bad, PLAIN]
    assert provider.cannot_render_batch(batch) == (9, provider.cannot_render(bad))
    assert provider.cannot_render_batch([PLAIN] * 9) is None
    assert provider.cannot_render_batch([]) is None


def test_a_batch_of_plain_messages_is_not_asked_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ipyy()
    monkeypatch.setattr(provider, "cannot_render", lambda message: pytest.fail("asked one by one"))
    # The instance attribute is no subclass override: the quick test still answers.
    assert provider.cannot_render_batch([PLAIN, Sms(to="15800158000", text="code【腾飞】")] * 300) is None


def test_signatures_other_than_the_first_ones_are_asked_one_by_one() -> None:
    provider = ipyy()
    batch = [PLAIN, Sms(to="13800138000", text="其他【签名】"), Sms(to="13800138000", text="其他【签名")]
    assert provider.cannot_render_batch(batch) == (2, provider.cannot_render(batch[2]))


def test_a_signature_inside_a_text_vouches_for_no_other_text() -> None:
    provider = ipyy()
    batch = [Sms(to="13800138000", text="a【腾飞】\0b【腾飞】"), Sms(to="13800138000", text="unsigned")]
    assert provider.cannot_render_batch(batch) == (1, provider.cannot_render(batch[1]))


def test_an_item_that_is_no_sms_is_refused_as_cannot_render_refuses_it() -> None:
    provider = ipyy()
    with pytest.raises(ValidationError, match=r"cannot_render\(\) takes an Sms, not str"):
        provider.cannot_render_batch([PLAIN, "13800138000"])  # type: ignore[list-item]


def test_a_subclass_with_its_own_rules_is_asked_one_by_one() -> None:
    class Picky(IpyyProvider):
        def cannot_render(self, message: Sms) -> str | None:
            return "picky" if message.text == "no【腾飞】" else super().cannot_render(message)

    provider = Picky(account="acct", password=PASSWORD, base_url="http://127.0.0.1:9/", clock=lambda: NOW)
    batch = [PLAIN, Sms(to="13800138000", text="no【腾飞】")]
    assert provider.cannot_render_batch(batch) == (1, "picky")
