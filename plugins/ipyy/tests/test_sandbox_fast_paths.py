"""The sandbox's plain-send hot path (issue 11) gives what the general code gave: the form
decoder matches ``urllib.parse.parse_qsl``, task ids and log times are spelled as
``strftime`` spells them, the login's account is a copy, and the gateway route answers the
paths (any case, any method) as the catch-all route did."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator

import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Sandbox
from smsgate_ipyy.sandbox._codes import code
from smsgate_ipyy.sandbox._config import SandboxConfig
from smsgate_ipyy.sandbox._state import (
    CHINA,
    TIME_FORMAT,
    SandboxState,
    SendLogin,
    SendSettings,
    _task_id,
    stamp,
)
from smsgate_ipyy.sandbox.endpoints import _common
from smsgate_ipyy.sandbox.endpoints._common import (
    _PAIR_BYTES,
    _PAIRS,
    _PAIRS_LIMIT,
    _form_pairs,
    _merge_pairs,
    _xml_reply,
    send_reply,
)

# Bodies as clients write them, and as they garble them: escapes (upper, lower, mixed case,
# cut short), plus signs, raw non-ASCII text, backslashes, empty pairs and names.
_PIECES = st.sampled_from(
    ["%", "%E6%82%A8", "%e6%82%a8", "%aB", "%4", "%zz", "+", "=", "&", "\\", "\\x41", "a", "Z9"]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(["utf-8", "gbk"]))
def test_form_pairs_decode_as_parse_qsl_does(text: str, encoding: str) -> None:
    expected = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding=encoding, errors="replace")
    assert _form_pairs(text, encoding) == expected


def test_form_pairs_decode_a_real_send_body() -> None:
    fields = {"action": "send", "content": "您的验证码：1439【腾飞】 a+b=c\\d", "mobile": "13800138000"}
    for encoding in ("utf-8", "gbk"):
        body = urllib.parse.urlencode(fields, encoding=encoding)
        assert dict(_form_pairs(body, encoding)) == fields


def _merged(text: str | bytes, encoding: str) -> dict[str, str]:
    form: dict[str, str] = {}
    _merge_pairs(form, text.encode(encoding) if isinstance(text, str) else text, encoding)
    return form


def _as_parse_qsl(text: str, encoding: str) -> dict[str, str]:
    """The form as parse_qsl reads it, by lower-cased name, the first value kept."""
    form: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(
        text, keep_blank_values=True, encoding=encoding, errors="replace"
    ):
        form.setdefault(name.lower(), value)
    return form


# Raw bodies: the pieces above, and bytes that break a UTF-8 or GBK character (lead bytes
# without their trail, stray trail bytes) right before an "&" or an "=".
_RAW = st.lists(
    st.one_of(
        _PIECES.map(str.encode),
        st.binary(max_size=3),
        st.sampled_from([b"\x81", b"\xe6", b"\xe6\x82", b"\xff", b"\x80", b"\xb2\xe2"]),
    ),
    max_size=15,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_RAW, st.sampled_from(["utf-8", "gbk"]))
def test_merged_pairs_read_as_parse_qsl_reads_the_decoded_body_first_time_and_again(
    raw: bytes, encoding: str
) -> None:
    # split before decoding, then the second reading takes the remembered pairs
    expected = _as_parse_qsl(raw.decode(encoding, "replace"), encoding)
    assert _merged(raw, encoding) == expected
    assert _merged(raw, encoding) == expected


def test_a_remembered_pair_is_read_in_its_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same bytes are other text in GBK: a pair remembered from a UTF-8 form is not
    # taken for a GBK one.
    monkeypatch.setattr(_common, "_PAIRS", {})
    text = "Content=" + urllib.parse.quote("验证码", encoding="utf-8")
    assert _merged(text, "utf-8") == {"content": "验证码"}
    assert _merged(text, "gbk") == _as_parse_qsl(text, "gbk") != {"content": "验证码"}
    assert _merged(text, "utf-8") == {"content": "验证码"}


def test_remembered_pairs_stay_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every pair met is remembered, up to a bound and a length: a client making up pairs
    # cannot grow the memory, and pairs past the bound are still read right.
    monkeypatch.setitem(_PAIRS, "utf-8", {})
    for start in range(0, 2 * _PAIRS_LIMIT, 50):
        names = [f"Made{index}Up" for index in range(start, start + 50)]
        text = "&".join(f"{name}=v%2B{index}" for index, name in enumerate(names))
        assert _merged(text, "utf-8") == {name.lower(): f"v+{index}" for index, name in enumerate(names)}
    assert len(_PAIRS["utf-8"]) == _PAIRS_LIMIT
    monkeypatch.setitem(_PAIRS, "utf-8", {})
    long_pair = "content=" + "x" * _PAIR_BYTES
    assert _merged(long_pair + "&a=1", "utf-8") == {"content": "x" * _PAIR_BYTES, "a": "1"}
    assert list(_PAIRS["utf-8"]) == [b"a=1"]


def test_a_remembered_pair_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_PAIRS, "utf-8", {})
    _merged("Account=demo&content=%E6%82%A8", "utf-8")
    read: list[str] = []
    original = _common._read_pair

    def counting(part: str, encoding: str) -> tuple[str, str]:
        read.append(part)
        return original(part, encoding)

    monkeypatch.setattr(_common, "_read_pair", counting)
    assert _merged("Account=demo&content=%E6%82%A8&mobile=1", "utf-8") == {
        "account": "demo",
        "content": "您",
        "mobile": "1",
    }
    assert read == ["mobile=1"]


@pytest.mark.parametrize("fmt", ["xml", "gbk"])
@pytest.mark.parametrize("name", ["OK", "AmountNotEnough", "MsisdnError"])
def test_send_replies_spell_the_numbers_as_the_text_reply_did(fmt: str, name: str) -> None:
    result = code(name)
    status = "Success" if name == "OK" else "Faild"
    head = f"\t<returnstatus>{status}</returnstatus>\n\t<message>{result.message}</message>\n"
    for remaining, task_id, count in [
        (0, "", 0),
        (-5, "2611251200000001", 3),
        (10**20, "x%dy", 1),
        (1.5, "", True),
    ]:
        rows = (
            f"{head}\t<remainpoint>{remaining}</remainpoint>\n\t<taskID>{task_id}</taskID>\n"
            f"\t<successCounts>{count}</successCounts>\n"
        )
        expected = _xml_reply(fmt, rows)  # type: ignore[arg-type]
        reply = send_reply(fmt, result, remaining, task_id, count)  # type: ignore[arg-type]
        assert reply.body == expected.body
        assert reply.raw_headers == expected.raw_headers


@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_stamp_and_task_id_spell_times_as_strftime(moment: dt.datetime) -> None:
    aware = moment.replace(tzinfo=CHINA)
    assert stamp(aware) == aware.strftime(TIME_FORMAT)
    assert _task_id(aware, 42) == int(f"{aware:%y%m%d%H%M%S}0042")


def test_stamp_of_a_year_before_1000_is_strftime_s() -> None:
    early = dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=CHINA)
    assert stamp(early) == early.strftime(TIME_FORMAT)


def test_a_login_gives_a_copy_of_the_account() -> None:
    state = SandboxState(SandboxConfig.default())
    account = state.config.accounts[0]
    login = state.check_login(account.account, account.password)
    assert login.account is not None
    assert attrs.asdict(login.account) == attrs.asdict(state.get_account(account.account))  # type: ignore[arg-type]
    login.account.sms_balance = -1  # changing the copy changes nothing in the sandbox
    assert state.balance(account.account, "sms")[1] != -1


def test_a_send_login_gives_the_account_s_settings_shared_until_they_change() -> None:
    state = SandboxState(SandboxConfig.default())
    account = state.config.accounts[0]
    name, password = account.account, account.password
    login = state.check_sender(name, password)
    assert login == SendLogin(SendSettings(name, account.require_signature, account.extno_allowed), "plain")
    assert state.check_sender(name, md5_upper(password)) == login._replace(password_style="md5")
    assert state.check_sender(name, password).settings is login.settings  # nothing made per login
    state.update_account(name, require_signature=False, extno_allowed=False, sms_balance=5)
    assert state.check_sender(name, password).settings == SendSettings(name, False, False)
    # refused as check_login refuses
    for tried, given_password in [("", password), (name, ""), ("nobody", password), (name, "x" * 32)]:
        refused = state.check_login(tried, given_password)
        assert tuple(state.check_sender(tried, given_password)) == tuple(refused)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.mark.parametrize("path", ["/sms.aspx", "/SMS.ASPX", "//sms.aspx", "/smsJson.aspx"])
def test_gateway_paths_are_answered_in_any_case(sandbox: Sandbox, path: str) -> None:
    creds = sandbox.credentials
    form = {"action": "overage", "userid": creds.userid, "account": creds.account, "password": creds.password}
    reply = httpx.post(sandbox.base_url.rstrip("/") + path, data=form)
    assert reply.status_code == 200
    assert "overage" in reply.text
    assert "Faild" not in reply.text


def test_other_methods_and_paths_are_answered_as_before(sandbox: Sandbox) -> None:
    base = sandbox.base_url.rstrip("/")
    assert httpx.put(base + "/sms.aspx").status_code == 405
    assert httpx.head(base + "/sms.aspx").status_code == 200
    assert httpx.post(base + "/nothing.aspx").status_code == 404
    assert httpx.get(base + "/_sandbox/accounts").status_code == 200


def test_a_request_logged_on_the_system_clock_is_stamped_in_china_time() -> None:
    # The log keeps the system clock's reading as seconds; it is spelled when read.
    state = SandboxState(SandboxConfig.default())
    before = dt.datetime.now(CHINA)
    _common.Call(state, "sms.aspx", "POST", "query").log(code("OK"), "1")
    after = dt.datetime.now(CHINA)
    (entry,) = state.entries()
    assert stamp(before) <= entry.time <= stamp(after)
    assert entry.outcome.task_id == "1"


def test_a_request_logged_on_a_given_clock_is_stamped_with_its_reading() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    state = SandboxState(SandboxConfig.default(), clock=lambda: moment)
    _common.Call(state, "sms.aspx", "POST", "query").log(code("OK"), "1")
    assert state.entries()[0].time == "2026-01-02 11:04:05"
