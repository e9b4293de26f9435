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

from smsgate_ipyy.sandbox import Sandbox
from smsgate_ipyy.sandbox._config import SandboxConfig
from smsgate_ipyy.sandbox._state import CHINA, TIME_FORMAT, SandboxState, _task_id, stamp
from smsgate_ipyy.sandbox.endpoints._common import _LOWERED, _LOWERED_LIMIT, _form_pairs, _merge_pairs

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


def test_remembered_lower_cased_names_stay_bounded_and_right() -> None:
    # Every name met is remembered lower-cased, up to a bound: a client making up names
    # cannot grow the memory, and names past the bound are still lower-cased.
    for start in range(0, 2 * _LOWERED_LIMIT, 50):
        names = [f"Made{index}Up" for index in range(start, start + 50)]
        form: dict[str, str] = {}
        _merge_pairs(form, "&".join(f"{name}=v{index}" for index, name in enumerate(names)), "utf-8")
        assert form == {name.lower(): f"v{index}" for index, name in enumerate(names)}
    assert len(_LOWERED) == _LOWERED_LIMIT


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
