"""The request builders against a reference made the plain way: ``urllib.parse.urlencode`` of
every field in order and ``httpx.Request(content=...)``.

The builders encode the login's fields once per login and escape only the per-message fields,
and build the request from a parsed URL with its headers prepared; the requests must stay the
same bytes (method, URL, headers with their order, body) for every transport, and a value an
encoding cannot carry must be refused naming the same field.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable, Sequence

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsgate.exceptions import ValidationError
from smsgate_ipyy import _build
from smsgate_ipyy._build import Login
from smsgate_ipyy._crypto import des_encrypt

_FORM = "application/x-www-form-urlencoded"
_BASES = ("http://127.0.0.1:8080/", "https://sms.example.test:8443/api", "http://127.0.0.1")

# The characters the form encoding treats specially, GBK-encodable and -unencodable text,
# control characters and astral characters.
_SPECIAL = "&=+ %\n\r,;/?#:@~*'()!$\t."
_text = st.text(
    st.one_of(
        st.sampled_from(_SPECIAL),
        st.sampled_from("验证码您好【签名】中文é€ßÀ😀ｱ"),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
_gbk_text = st.text(
    st.one_of(
        st.sampled_from(_SPECIAL), st.sampled_from("验证码您好【签名】中文"), st.characters(codec="gbk")
    ),
    max_size=40,
)
_any_text = st.one_of(_text, _gbk_text)
_login = st.builds(
    Login,
    st.sampled_from(_BASES),
    st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(["1", "12", "a&b=c"]),
    _any_text,
    _any_text,
)
_mobiles = st.lists(st.text("0123456789+ ", min_size=1, max_size=14), min_size=1, max_size=3)
_examples = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reference(
    login: Login, endpoint: str, fields: Sequence[tuple[str, str]], encoding: str = "utf-8"
) -> httpx.Request:
    """The request as built before: urlencode of all fields, then ``httpx.Request``."""
    try:
        body = urllib.parse.urlencode(list(fields), encoding=encoding).encode("ascii")
    except UnicodeEncodeError:
        name = next(key for key, value in fields if _unencodable(value, encoding))
        raise ValidationError("unencodable", field=name) from None
    content_type = _FORM if encoding == "utf-8" else f"{_FORM}; charset={encoding}"
    url = httpx.URL(login.base_url if login.base_url.endswith("/") else login.base_url + "/").join(endpoint)
    return httpx.Request("POST", url, content=body, headers={"Content-Type": content_type})


def _unencodable(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


def _wire(request: httpx.Request) -> tuple[object, ...]:
    """Everything of a request that goes on the wire."""
    return (
        request.method,
        str(request.url),
        request.url.scheme,
        request.url.netloc,
        request.url.raw_path,
        request.headers.raw,
        request.content,
        b"".join(request.stream),  # type: ignore[arg-type]
    )


def _same(built: Callable[[], httpx.Request], reference: Callable[[], httpx.Request]) -> None:
    """Both give the same request, or both refuse naming the same field."""
    try:
        expected: httpx.Request | str = reference()
    except ValidationError as exc:
        expected = exc.field or ""
    if isinstance(expected, str):
        with pytest.raises(ValidationError) as caught:
            built()
        assert caught.value.field == expected
    else:
        assert _wire(built()) == _wire(expected)


@_examples
@given(
    login=_login,
    mobiles=_mobiles,
    content=_any_text,
    send_time=st.sampled_from(["", "2026-01-02 03:04:05"]) | _text,
    ext=_any_text,
    endpoint_encoding=st.sampled_from(
        [(_build.SEND_FORM, "utf-8"), (_build.SEND_GBK, "gbk"), (_build.SEND_JSON, "utf-8")]
    ),
)
def test_a_send_request_is_the_urlencoded_request(
    *,
    login: Login,
    mobiles: list[str],
    content: str,
    send_time: str,
    ext: str,
    endpoint_encoding: tuple[str, str],
) -> None:
    endpoint, encoding = endpoint_encoding
    fields = [
        ("action", "send"),
        ("userid", login.userid),
        ("account", login.account),
        ("password", login.password_md5),
        ("mobile", ",".join(mobiles)),
        ("content", content),
        ("sendTime", send_time),
        ("extno", ext),
    ]
    # Twice: the second request reuses the login's encoded fields.
    for _ in range(2):
        _same(
            lambda: _build.build_send_request(
                login,
                endpoint=endpoint,
                mobiles=mobiles,
                content=content,
                send_time=send_time,
                ext=ext,
                encoding=encoding,
            ),
            lambda: _reference(login, endpoint, fields, encoding),
        )


@_examples
@given(login=_login, mobiles=_mobiles, content=_text, ext=_text)
def test_an_encrypted_send_request_is_the_urlencoded_request(
    login: Login, mobiles: list[str], content: str, ext: str
) -> None:
    stamp = "0102030405"

    def reference() -> httpx.Request:
        payload = _build.encrypted_payload(
            login, stamp_value=stamp, mobiles=mobiles, content=content, ext=ext
        )
        fields = [("UserId", login.userid), ("Text64", des_encrypt(payload, login.password))]
        return _reference(login, _build.SEND_ENCRYPTED, fields)

    _same(
        lambda: _build.build_encrypted_send_request(
            login, stamp_value=stamp, mobiles=mobiles, content=content, ext=ext
        ),
        reference,
    )


@_examples
@given(
    login=_login,
    lines=st.lists(st.tuples(st.text("0123456789", min_size=1, max_size=11), _text), max_size=5),
    send_time=_text,
    ext=_text,
)
def test_a_batch_request_is_the_urlencoded_request(
    login: Login, lines: list[tuple[str, str]], send_time: str, ext: str
) -> None:
    def reference() -> httpx.Request:
        content = _build.batch_content(lines, "gzip")
        fields = [*login.fields, ("content", content), ("sendTime", send_time), ("extno", ext)]
        return _reference(login, _build.BATCH, fields)

    _same(lambda: _build.build_batch_request(login, lines=lines, send_time=send_time, ext=ext), reference)


@_examples
@given(
    login=_login,
    new_password=_text,
    subject=_text,
    limit=st.none() | st.integers(0, 5000),
    task_id=st.none() | _text,
    balance=st.sampled_from([(_build.SEND_FORM, "utf-8"), (_build.SEND_GBK, "gbk"), (_build.MMS, "utf-8")]),
)
def test_the_other_requests_are_the_urlencoded_requests(
    *,
    login: Login,
    new_password: str,
    subject: str,
    limit: int | None,
    task_id: str | None,
    balance: tuple[str, str],
) -> None:
    endpoint, encoding = balance
    _same(
        lambda: _build.build_balance_request(login, endpoint=endpoint, encoding=encoding),
        lambda: _reference(login, endpoint, [("action", "overage"), *login.fields], encoding),
    )
    query = [("action", "query"), *login.fields]
    if limit is not None:
        query.append(("statusNum", str(limit)))
    if task_id:
        query.append(("taskid", task_id))
    _same(
        lambda: _build.build_reports_request(login, limit=limit, task_id=task_id),
        lambda: _reference(login, _build.STATUS_XML, query),
    )
    _same(
        lambda: _build.build_inbound_request(login, endpoint=_build.CALL_JSON),
        lambda: _reference(login, _build.CALL_JSON, [("action", "query"), *login.fields]),
    )
    _same(
        lambda: _build.build_password_request(login, new_password=new_password),
        lambda: _reference(login, _build.PASSWORD, [*login.fields, ("newpassword", new_password)]),
    )
    tms = subject.encode("utf-8", "surrogatepass")
    mms = [
        ("action", "send"),
        *login.fields,
        ("mobile", "13800000000"),
        ("subject", subject),
        ("content", base64.b64encode(tms).decode("ascii")),
        ("sendTime", ""),
        ("extno", ""),
    ]
    _same(
        lambda: _build.build_mms_request(login, mobiles=["13800000000"], subject=subject, tms=tms),
        lambda: _reference(login, _build.MMS, mms),
    )


def test_the_login_s_encoded_fields_stay_out_of_its_repr() -> None:
    login = Login("http://127.0.0.1/", "1", "acct", "pa ss&word")
    _build.build_send_request(login, mobiles=["13800000000"], content="hi")
    _build.build_send_request(login, mobiles=["13800000000"], content="hi", encoding="gbk")
    encoded = login.encoded_fields()
    assert login.password_md5.encode() in encoded
    assert login.password_md5 not in repr(login)
    assert "pa ss" not in repr(login)
    assert login == Login("http://127.0.0.1/", "1", "acct", "pa ss&word")
