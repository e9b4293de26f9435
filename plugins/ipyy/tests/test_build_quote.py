"""The send builder's own quoting (issue 11) is ``urllib.parse.quote_plus`` with an empty safe
set, character for character, and refuses what it refuses."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smsgate_ipyy import _build

_TEXT = st.text(
    st.one_of(
        st.sampled_from("&=+ %\n\r,;/?#:@~*'()!$\t._-"),
        st.sampled_from("您的验证码：1439，十分钟内有效。【腾飞】é€ß😀"),
        st.characters(),
    ),
    max_size=40,
)


def _reference(value: str, encoding: str) -> str | type[Exception]:
    try:
        return urllib.parse.quote_plus(value, "", encoding)
    except UnicodeEncodeError as exc:
        return type(exc)


@given(_TEXT, st.sampled_from(["utf-8", "gbk", "gb18030"]))
@example("您的验证码：1439，十分钟内有效。【腾飞】", "utf-8")
@example("", "utf-8")
@example("a b", "gbk")
@example("\ud800", "utf-8")
@example("丄", "gbk")  # a GBK character whose second byte is an ASCII letter (b"\x81A")
def test_quote_plus_is_urllib_s(value: str, encoding: str) -> None:
    try:
        ours: str | type[Exception] = _build._quote_plus(value, encoding)
    except UnicodeEncodeError as exc:
        ours = type(exc)
    assert ours == _reference(value, encoding)


def test_an_unencodable_value_is_refused_naming_its_field() -> None:
    with pytest.raises(Exception, match="content"):
        _build._escaped((("mobile", "1"), ("content", "😀")), "gbk")


def test_a_send_request_holds_its_body_as_a_read_request_does() -> None:
    """The builder sets the body in hand itself (issue 11: without ``Request.read()``): the
    request is in the state ``read()`` leaves, for every client and transport that reads it."""
    login = _build.Login("http://127.0.0.1:8080/", "1001", "demo", "pw")
    request = _build.build_send_request(login, mobiles=["13800138000"], content="您好【签名】")
    body = request.content
    assert body.startswith(b"action=send&")
    assert body.endswith(b"&sendTime=&extno=")
    assert request.read() == body
    assert list(request.stream) == [body]  # type: ignore[arg-type]
    assert request.headers["Content-Length"] == str(len(body))
    reference = httpx.Request("POST", request.url, headers=request.headers, content=body)
    assert reference.content == body
    assert list(reference.stream) == list(request.stream)  # type: ignore[arg-type]
