"""The batch's first pass checks runs of plain messages together (issue 11, speed): it must
give exactly what checking each message on its own gives — the same requests, byte for byte,
split at the same places, and the same error naming the same message."""

from __future__ import annotations

import datetime as dt
import random
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from smsgate import Sms
from smsgate.exceptions import ValidationError
from smsgate_ipyy import _build
from smsgate_ipyy._provider import IpyyProvider

SEND_OK = (
    b'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    b"<message>ok</message>\n<remainpoint>1</remainpoint>\n<taskID>1</taskID>\n"
    b"<successCounts>1</successCounts>\n</returnsms>"
)


class _OneByOne(IpyyProvider):
    """The provider with its run check switched off: every message is checked on its own."""

    def _plain_run(self, run: Any) -> None:
        return None


def _outcome(provider: IpyyProvider, messages: list[Sms]) -> Any:
    """The request bodies and receipts' recipients of a batch answered with successes, or
    the ValidationError it raised (before any request)."""
    flow = provider.send_batch(messages)
    bodies: list[bytes] = []
    try:
        request = next(flow)
        while True:
            bodies.append(request.content)
            request = flow.send(httpx.Response(200, content=SEND_OK, request=request))
    except ValidationError as exc:
        assert not bodies
        return ("refused", exc.message, exc.field)
    except StopIteration as done:
        return ("sent", bodies, [receipt.recipients for receipt in done.value])


def _same(h: Any, messages: list[Sms], **settings: Any) -> Any:
    fast = _outcome(h.provider(**settings), messages)
    slow = _outcome(_OneByOne(h.provider(**settings).settings), messages)
    assert fast == slow
    return fast


def _number(i: int) -> str:
    return f"13{i % 1000:09d}"


_SOMETIMES: list[Callable[[random.Random, int], dict[str, Any]]] = [
    lambda rng, i: {"text": f"【腾飞】第{i}条"},  # a leading signature
    lambda rng, i: {"text": f"第{i}条 【腾飞】 "},  # blanks around the signature
    lambda rng, i: {"text": f"第{i}条【】"},  # an empty 【】 is no signature
    lambda rng, i: {"text": f"第{i}条，无签名"},
    lambda rng, i: {"text": f"第{i}条\n换行【腾飞】"},
    lambda rng, i: {"text": f"第{i}条\r\n【腾飞】"},
    lambda rng, i: {"text": f"【腾飞】{i}\n再【腾飞】"},  # each line signed, but two lines
    lambda rng, i: {"text": f"【腾飞】{i}\r再【腾飞】"},
    lambda rng, i: {"text": f"第{i}条【腾【飞】"},
    lambda rng, i: {"text": f"第{i}条【腾飞】之后"},  # in the middle: no signature
    lambda rng, i: {"text": f"第{i}条【另一个】"},  # signed otherwise than the others
    lambda rng, i: {"text": f"第{i}条【腾飞】】"},
    lambda rng, i: {"text": "长" * 33 + "【腾飞】"},  # 37 characters, 111 bytes
    lambda rng, i: {"text": f"坏\ud800{i}【腾飞】"},  # UTF-8 cannot carry it
    lambda rng, i: {"text": "长" * 40 + "【腾飞】"},  # beyond max_text_length=40
    lambda rng, i: {"text": f"第{i}条😀【腾飞】"},  # four UTF-8 bytes
    lambda rng, i: {"to": f"+86{_number(i)}"},
    lambda rng, i: {"to": f"86{_number(i)}"},
    lambda rng, i: {"to": "12345"},
    lambda rng, i: {"to": "+12345678901"},
    lambda rng, i: {"to": "23800138000"},
    lambda rng, i: {"to": _number(i - 1)},  # the previous message's number
    lambda rng, i: {"to": [_number(i), _number(i + 500)]},
    lambda rng, i: {"ext": "12"},
    lambda rng, i: {"ext": "123456"},  # longer than ipyy takes
    lambda rng, i: {"send_at": dt.datetime(2026, 4, 15, tzinfo=dt.UTC)},
    lambda rng, i: {"send_at": dt.datetime(2026, 4, 13, tzinfo=dt.UTC)},  # in the past
    lambda rng, i: {"template": "verify", "text": None, "params": {"code": "1"}},
    lambda rng, i: {"template": "verify", "params": {"code": "1"}},  # with a text too
]


def _batch(rng: random.Random, size: int, odd: float) -> list[Sms]:
    messages = []
    for i in range(size):
        fields = _plain(i)
        if rng.random() < odd:
            fields.update(rng.choice(_SOMETIMES)(rng, i))
        messages.append(Sms(**fields))
    return messages


_SETTINGS: list[dict[str, Any]] = [
    {},
    {"batch_max_messages": 7},
    {"batch_max_bytes": 300},
    {"batch_max_messages": 3, "batch_max_bytes": 120},
    {"max_text_length": 40},
    {"batch_newlines": "space"},
    {"signature": "append", "default_signature": "【默认】"},
    {"signature": "gateway"},
    {"mobile_pattern": r"1[3-9][0-9]{9}"},  # matched number by number
    {"mobile_pattern": r"13[0-9]{9}"},  # fixed leading digits and length
    {"mobile_pattern": r"131[0-9]{8}"},
    {"mobile_pattern": r"1[0-9]{11}"},  # no number of ours has 12 digits
    {"batch_compression": "zlib"},
    {"batch_compression": "zip"},
    {"templates": {"verify": "验证码{code}【腾飞】"}},
]


@pytest.mark.parametrize("settings", _SETTINGS, ids=lambda s: ",".join(s) or "defaults")
@pytest.mark.parametrize("odd", [0.0, 0.003, 0.3])
def test_checking_runs_gives_what_checking_each_message_gives(h: Any, settings: Any, odd: float) -> None:
    rng = random.Random(f"{sorted(settings.items())}{odd}")
    for size in (1, 9, 1_234):
        messages = _batch(rng, size, odd)
        if _same(h, messages, **settings)[0] == "refused":
            # and without the messages refused on their own: the rest matches too
            alone = h.provider(**settings)
            kept = [m for i, m in enumerate(messages) if _valid(alone, i, m)]
            if kept:
                _same(h, kept, **settings)


def _valid(provider: IpyyProvider, index: int, message: Sms) -> bool:
    try:
        provider._message_fields(index, message)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("settings", _SETTINGS, ids=lambda s: ",".join(s) or "defaults")
@pytest.mark.parametrize("odd", range(len(_SOMETIMES)))
def test_one_odd_message_in_a_plain_batch(h: Any, settings: Any, odd: int) -> None:
    """Each kind of message the runs do not take, alone among plain ones: first, inside a
    run, last."""
    for at in (0, 17, 39):
        messages = _batch(random.Random(0), 40, 0.0)
        messages[at] = Sms(**{**_plain(at), **_SOMETIMES[odd](random.Random(0), at)})
        _same(h, messages, **settings)


def _plain(i: int) -> dict[str, Any]:
    return {"to": _number(i), "text": f"尊敬的客户{i}，已发货【腾飞】"}


def test_a_plain_batch_is_checked_by_runs_and_split_by_request(h: Any) -> None:
    messages = [Sms(to=f"138{i:08d}", text=f"客户{i}【腾飞】") for i in range(2_500)]
    outcome = _same(h, messages)
    assert [len(r) for r in outcome[2]] == [1000, 1000, 500]


def test_a_bad_message_deep_in_a_plain_run_is_named(h: Any) -> None:
    messages = [Sms(to=f"138{i:08d}", text=f"客户{i}【腾飞】") for i in range(1_500)]
    messages[1_234] = Sms(to="13800000001", text="无签名")
    assert _same(h, messages) == ("refused", "message 1235 of the batch: " + _signature_error(h), "text")


def test_an_odd_message_sends_only_a_few_around_it_through_the_one_by_one_checks(
    h: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [Sms(to=f"138{i:08d}", text=f"客户{i}【腾飞】") for i in range(3_000)]
    messages[1_234] = Sms(to="+8613912345678", text="前缀【腾飞】")
    provider = h.provider()
    checked: list[int] = []
    one_by_one = provider._plan_message

    def counted(splitter: Any, index: int, sms: Sms) -> None:
        checked.append(index)
        one_by_one(splitter, index, sms)

    monkeypatch.setattr(provider, "_plan_message", counted)
    assert _outcome(provider, messages) == _outcome(_OneByOne(provider.settings), messages)
    assert 1_234 in checked
    assert len(checked) <= 16


def test_a_repeated_number_across_runs_splits_where_it_repeats(h: Any) -> None:
    messages = [Sms(to=f"138{i:08d}", text=f"客户{i}【腾飞】") for i in range(1_500)]
    messages[1_100] = Sms(to="13800001050", text="again【腾飞】")  # number of message 1050
    messages[1_200] = Sms(to="13800001150", text="again【腾飞】")  # number of message 1150
    outcome = _same(h, messages)
    assert [len(r) for r in outcome[2]] == [1000, 100, 100, 300]


def _signature_error(h: Any) -> str:
    try:
        h.provider()._signed("无签名")
    except ValidationError as exc:
        return exc.message
    raise AssertionError("an unsigned text is refused")


@pytest.mark.parametrize(
    ("userid", "send_time", "ext"),
    [("", "", ""), ("1001", "2026-01-01 08:00:00", "12"), ("a&b=c+d/é", "x y", "9")],
)
def test_the_batch_body_is_the_urlencoded_form(userid: str, send_time: str, ext: str) -> None:
    """The base64 content is escaped without urlencode: the body stays byte-equal to it."""
    login = _build.Login("http://127.0.0.1:9/", userid, "账户 a+b", "pw")
    lines = [(f"138{i:08d}", f"第{i}条 +/=?&【签名】") for i in range(300)]
    request = _build.build_batch_request(login, lines=lines, send_time=send_time, ext=ext)
    expected = urllib.parse.urlencode(
        [
            *login.fields,
            ("content", _build.batch_content(lines)),
            ("sendTime", send_time),
            ("extno", ext),
        ]
    ).encode("ascii")
    assert request.content == expected
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("method", ["gzip", "zlib", "zip"])
def test_columns_make_the_lines_pairs_make(method: Any) -> None:
    lines = [(f"138{i:08d}", f"第{i}条，逗号,也在【签名】") for i in range(300)]
    columns = _build.Columns([m for m, _ in lines], [t for _, t in lines])
    assert _build.batch_lines(columns) == _build.batch_lines(lines)
    assert _build.batch_content(columns, method) == _build.batch_content(lines, method)


@pytest.mark.parametrize("text", ["a\r\nb【x】", "a\rb【x】", "a\nb【x】", "【x】\r\n"])
def test_columns_refuse_a_line_break_in_a_text(text: str) -> None:
    texts = ["ok【x】"] * 200
    texts[150] = text
    with pytest.raises(ValidationError, match="CR or LF"):
        _build.batch_content(_build.Columns([f"138{i:08d}" for i in range(200)], texts))
    with pytest.raises(ValidationError, match="CR or LF"):
        _build.batch_lines(list(zip([f"138{i:08d}" for i in range(200)], texts, strict=True)))
