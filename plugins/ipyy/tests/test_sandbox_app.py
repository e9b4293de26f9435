"""The sandbox's gateway endpoints, driven in-process through httpx's ASGI transport:
reply bytes (the vendor's quirks), tolerance of the request shapes real clients send, and
each refusal with its chapter 9 code."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from smsgate_ipyy._crypto import CHINA, des_encrypt, md5_upper, secret
from smsgate_ipyy._tms import pack
from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState, create_app

DEMO_PASSWORD = "demo-pass-123"
SIGNED = "您的验证码：1439【腾飞】"
# spec 1.5's worked example, verbatim
EXAMPLE_TEXT64 = (
    "0DqKGm9MWnsFM2wlYEW65VXylBxJGBiuZzP5dTp1ALdK7QaTgx0cR5GftknjiNJBOd46tdJp+6J3OYAoukEBOKlfsExTaFYC7X514PyLC"
    "+NrwhDLKYOvFAb7gBo+dqkslvVJklz4qm7/gUHrHAT2d7hEcQxhDMD+Ij8NIy1kvHqU3noZTqjlC1PaaFYy6zifBr5ND+V4UK0xM7scF/avf"
    "VKW/0k16qqVzDDJocRkTz0jqvtJYfo1liuI2+h2fRkK"
)


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def make_config(**settings: Any) -> SandboxConfig:
    return SandboxConfig(
        accounts=[
            Account(account="demo", password=DEMO_PASSWORD, userid="1001", sms_balance=100, mms_balance=10),
            Account(account="test", password="test", userid="2002", sms_balance=50, mms_balance=0),
            Account(account="poor", password="poor-pass", userid="1003", sms_balance=1, mms_balance=0),
            Account(
                account="later",
                password="later-pass",
                userid="1004",
                sms_balance=0,
                mms_balance=0,
                pay_mode="后付",
                require_signature=False,
            ),
        ],
        **settings,
    )


@pytest.fixture
def clock() -> FakeClock:
    # 2026-04-14 09:47:15 UTC is 04-14 17:47:15 China time: the Stamp of spec 1.5
    return FakeClock(dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC))


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    return SandboxState(make_config(), clock=clock)


@pytest.fixture
async def client(state: SandboxState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        yield http


def send_form(**overrides: str) -> dict[str, str]:
    fields = {
        "action": "send",
        "userid": "",
        "account": "demo",
        "password": md5_upper(DEMO_PASSWORD),
        "mobile": "13800138000",
        "content": SIGNED,
        "sendTime": "",
        "extno": "",
    }
    fields.update(overrides)
    return fields


def message_of(reply: httpx.Response) -> str:
    match = re.search(r"<message>(.*)</message>", reply.text)
    assert match is not None, reply.text
    return match.group(1)


def last(state: SandboxState) -> dict[str, Any]:
    return state.requests()[-1]


# -- sms.aspx / smsJson.aspx / smsGBK.aspx: reply shapes ---------------------------------------


async def test_sms_aspx_success_reply_is_the_gateways_xml_byte_for_byte(client: httpx.AsyncClient) -> None:
    reply = await client.post("/sms.aspx", data=send_form(mobile="13800138000,13900139000"))
    assert reply.status_code == 200
    assert (
        reply.content
        == (
            '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<returnstatus>Success</returnstatus>\n'
            "\t<message>操作成功</message>\n\t<remainpoint>98</remainpoint>\n\t<taskID>2604141747150001</taskID>\n"
            "\t<successCounts>2</successCounts>\n</returnsms>\n"
        ).encode()
    )


async def test_sms_aspx_failure_spells_faild_with_empty_task_id_and_zero_counts(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post("/sms.aspx", data=send_form(content="没有签名的内容"))
    assert (
        reply.content
        == (
            '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<returnstatus>Faild</returnstatus>\n'
            "\t<message>需要签名</message>\n\t<remainpoint>0</remainpoint>\n\t<taskID></taskID>\n"
            "\t<successCounts>0</successCounts>\n</returnsms>\n"
        ).encode()
    )


async def test_sms_json_quotes_every_value(client: httpx.AsyncClient) -> None:
    reply = await client.post("/smsJson.aspx", data=send_form())
    assert (
        reply.content
        == (
            '{"returnstatus":"Success","message":"操作成功","remainpoint":"99",'
            '"taskID":"2604141747150001","successCounts":"1"}'
        ).encode()
    )
    failed = await client.post("/smsJson.aspx", data=send_form(mobile=""))
    assert failed.json() == {
        "returnstatus": "Faild",
        "message": "手机号码为空",
        "remainpoint": "0",
        "taskID": "",
        "successCounts": "0",
    }


async def test_sms_gbk_decodes_a_gbk_form_and_answers_in_gb2312(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    body = urllib.parse.urlencode(send_form(content="验证码：8888【华信】"), encoding="gbk")
    reply = await client.post(
        "/smsGBK.aspx", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert reply.content.startswith(b'<?xml version="1.0" encoding="gb2312" ?>\n<returnsms>')
    assert "<message>操作成功</message>" in reply.content.decode("gbk")
    assert last(state)["fields"]["content"] == "验证码：8888【华信】"
    failed = await client.post(
        "/smsGBK.aspx",
        content=urllib.parse.urlencode(send_form(content="无签名"), encoding="gbk"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "<message>需要签名</message>" in failed.content.decode("gbk")


async def test_overage_xml_spells_sucess_and_reports_pay_mode_and_totals(client: httpx.AsyncClient) -> None:
    await client.post("/sms.aspx", data=send_form(mobile="13800138000,13900139000"))
    reply = await client.post(
        "/sms.aspx", data={"action": "overage", "account": "demo", "password": DEMO_PASSWORD}
    )
    assert (
        reply.content
        == (
            '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<returnstatus>Sucess</returnstatus>\n'
            "\t<message>操作成功</message>\n\t<payinfo>预付</payinfo>\n\t<overage>98</overage>\n"
            "\t<sendTotal>100</sendTotal>\n</returnsms>\n"
        ).encode()
    )


async def test_overage_json_quotes_numbers_and_postpaid_total_is_what_was_sent(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        "/sms.aspx", data=send_form(account="later", password="later-pass", content="无签名也行")
    )
    reply = await client.post(
        "/smsJson.aspx", data={"action": "overage", "account": "later", "password": "later-pass"}
    )
    assert reply.json() == {
        "returnstatus": "Success",
        "message": "操作成功",
        "payinfo": "后付",
        "overage": "-1",
        "sendTotal": "1",
    }


async def test_overage_refusals_use_the_text_messages_of_spec_3_4(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/sms.aspx", data={"action": "overage", "account": "demo", "password": "nope"})
    empty = await client.post("/sms.aspx", data={"action": "overage", "account": "demo", "password": ""})
    assert "<returnstatus>Faild</returnstatus>" in wrong.text
    assert message_of(wrong) == "用户名或密码错误"
    assert message_of(empty) == "用户名或密码不能为空"


async def test_mms_overage_reports_the_mms_balance_separately(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/mms.aspx", data={"action": "overage", "account": "demo", "password": DEMO_PASSWORD}
    )
    assert "<overage>10</overage>" in reply.text
    assert "<returnstatus>Sucess</returnstatus>" in reply.text


# -- tolerance (wire notes §7) -------------------------------------------------------------------


async def test_get_with_query_string_sends(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await client.get("/sms.aspx", params=send_form())
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["encoding"] == "query"
    assert last(state)["method"] == "GET"


async def test_multipart_body_sends(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await client.post("/sms.aspx", data=send_form(), files={"unused": ("x.txt", b"ignored")})
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["encoding"] == "multipart"
    assert last(state)["fields"]["content"] == SIGNED


async def test_query_wins_over_the_form_when_both_carry_a_name(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    form = send_form(action="")
    reply = await client.post("/smsJson.aspx?action=send&mobile=13900139000", data=form)
    assert reply.json()["returnstatus"] == "Success"
    assert last(state)["fields"]["mobiles"] == ["13900139000"]
    assert last(state)["encoding"] == "urlencoded+query"


async def test_parameter_names_are_case_insensitive(client: httpx.AsyncClient, state: SandboxState) -> None:
    form = {key.upper(): value for key, value in send_form().items()}
    form["SENDTIME"] = "2026-04-15 08:00:00"
    reply = await client.post("/sms.aspx", data=form)
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["fields"]["send_time"] == "2026-04-15 08:00:00"


async def test_raw_unencoded_utf8_in_an_urlencoded_body_is_understood(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    body = f"action=send&account=demo&password={DEMO_PASSWORD}&mobile=13800138000&content={SIGNED}&type=pt"
    reply = await client.post(
        "/sms.aspx",
        content=body.encode("utf-8"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["fields"]["content"] == SIGNED


@pytest.mark.parametrize(("password", "style"), [(DEMO_PASSWORD, "plain"), (md5_upper(DEMO_PASSWORD), "md5")])
async def test_password_plain_or_upper_md5_is_accepted_and_the_style_logged(
    client: httpx.AsyncClient, state: SandboxState, password: str, style: str
) -> None:
    reply = await client.post("/sms.aspx", data=send_form(password=password))
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["password_style"] == style


async def test_lower_case_md5_password_is_refused(client: httpx.AsyncClient) -> None:
    reply = await client.post("/sms.aspx", data=send_form(password=md5_upper(DEMO_PASSWORD).lower()))
    assert message_of(reply) == "密码错误"


@pytest.mark.parametrize("userid", ["", "jadl", "1001"])
async def test_userid_is_not_checked_on_plain_endpoints(client: httpx.AsyncClient, userid: str) -> None:
    reply = await client.post("/sms.aspx", data=send_form(userid=userid))
    assert "<returnstatus>Success</returnstatus>" in reply.text


async def test_paths_are_case_insensitive_and_unknown_paths_are_404(client: httpx.AsyncClient) -> None:
    assert "<returnstatus>Success</returnstatus>" in (await client.post("/SMS.ASPX", data=send_form())).text
    assert (await client.post("/nope.aspx", data=send_form())).status_code == 404


# -- strictness: each refusal with its chapter 9 code -------------------------------------------

REFUSALS = [
    ({"account": ""}, "UserNameEmpty", 1002, "用户名为空"),
    ({"password": ""}, "PasswordEmpty", 1003, "密码为空"),
    ({"account": "nobody"}, "UserNameError", 1004, "用户名错误"),
    ({"password": "wrong"}, "PasswordError", 1005, "密码错误"),
    ({"mobile": ""}, "MsisdnEmpty", 1103, "手机号码为空"),
    ({"mobile": "1380013800"}, "MsisdnError", 1108, "错误的手机号码"),
    ({"mobile": "23800138000"}, "MsisdnError", 1108, "错误的手机号码"),
    ({"mobile": "13800138000,1380013800a"}, "MsisdnError", 1108, "错误的手机号码"),
    ({"mobile": "１３８００１３８０００"}, "MsisdnError", 1108, "错误的手机号码"),
    ({"extno": "123456"}, "ExtNumberError", 1104, "扩展错误"),
    ({"extno": "12a"}, "ExtNumberError", 1104, "扩展错误"),
    ({"content": ""}, "ContentEmpty", 2001, "内容为空"),
    ({"content": "长" * 1000 + "【腾飞】"}, "ContentLong", 2105, "内容太长"),
    ({"content": "您的验证码：1439"}, "RequiredSuffix", 2113, "需要签名"),
    ({"sendTime": "2026/04/15 08:00"}, "ParamError", 1001, "参数错误"),
    ({"sendTime": "2026-04-15T08:00:00"}, "ParamError", 1001, "参数错误"),
    ({"action": "nothing"}, "ParamError", 1001, "参数错误"),
    (
        {"account": "poor", "password": "poor-pass", "mobile": "13800138000,13900139000"},
        "AmountNotEnough",
        1111,
        "额度不足",
    ),
]


@pytest.mark.parametrize(("overrides", "name", "number", "message"), REFUSALS)
async def test_each_refusal_carries_its_chapter_9_code_and_message(
    *,
    client: httpx.AsyncClient,
    state: SandboxState,
    overrides: dict[str, str],
    name: str,
    number: int,
    message: str,
) -> None:
    before = state.get_account("demo")
    reply = await client.post("/sms.aspx", data=send_form(**overrides))
    assert "<returnstatus>Faild</returnstatus>" in reply.text
    assert message_of(reply) == message
    assert last(state)["outcome"] == {"code": name, "number": number, "message": message, "task_id": ""}
    assert state.get_account("demo") == before  # a refused send costs nothing
    assert state.pending_count() == 0


async def test_signature_may_lead_the_text_and_accounts_may_waive_it(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    leading = await client.post("/sms.aspx", data=send_form(content="【腾飞】您的验证码：1439"))
    assert "<returnstatus>Success</returnstatus>" in leading.text
    state.update_account("demo", require_signature=False)
    bare = await client.post("/sms.aspx", data=send_form(content="您的验证码：1439"))
    assert "<returnstatus>Success</returnstatus>" in bare.text


async def test_extno_is_refused_for_an_account_without_extension_numbers(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    assert "Success" in (await client.post("/sms.aspx", data=send_form(extno="12345"))).text
    state.update_account("demo", extno_allowed=False)
    assert message_of(await client.post("/sms.aspx", data=send_form(extno="12345"))) == "扩展错误"


async def test_content_limit_is_a_setting(clock: FakeClock) -> None:
    state = SandboxState(make_config(max_content_length=10), clock=clock)
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        reply = await http.post("/sms.aspx", data=send_form(content="12345678【腾飞】"))
    assert message_of(reply) == "内容太长"


async def test_sandbox_messages_are_understood_by_the_client_as_the_same_code() -> None:
    """Cross-check of the two independent tables: every refusal the sandbox sends as a bare
    message maps, through the client's message table, back to the same ResultCode."""
    from smsgate_ipyy import _codes as client_codes
    from smsgate_ipyy.sandbox._codes import CODES

    client_numbers = {c.name: c.number for c in client_codes.CODES}
    for item in CODES.values():
        if item.name == "OK":
            continue
        assert item.name in client_numbers, item.name
        assert client_numbers[item.name] == item.number, item.name
    message_only = [
        "ParamError", "UserNameEmpty", "PasswordEmpty", "UserNameError", "PasswordError", "MsisdnEmpty",
        "MsisdnError", "MsisdnRepeat", "ExtNumberError", "ContentEmpty", "ContentLong", "RequiredSuffix",
        "AmountNotEnough", "SubjectEmpty", "MsisdnsMany", "ElementError", "ElementNameRepeat", "SmilEmpty",
        "SmilExcessive", "SizeLong",
    ]  # fmt: skip
    for name in message_only:
        error = client_codes.error_for_message(CODES[name].message)
        expected = next(c.error for c in client_codes.CODES if c.name == name)
        assert type(error) is expected, (name, CODES[name].message, type(error))


# -- balance and task ids ----------------------------------------------------------------------


async def test_balance_goes_down_per_recipient_and_postpaid_may_go_negative(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post("/sms.aspx", data=send_form(mobile="13800138000,13800138001,13800138002"))
    account = state.get_account("demo")
    assert account is not None
    assert account.sms_balance == 97
    for _ in range(2):
        await client.post("/sms.aspx", data=send_form(account="later", password="later-pass", content="x"))
    later = state.get_account("later")
    assert later is not None
    assert later.sms_balance == -2


async def test_task_ids_are_16_digits_from_china_time_and_unique(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    ids = []
    for _ in range(3):
        reply = await client.post("/smsJson.aspx", data=send_form())
        ids.append(reply.json()["taskID"])
    clock.advance(61)
    ids.append((await client.post("/smsJson.aspx", data=send_form())).json()["taskID"])
    assert all(len(task) == 16 and task.isdigit() for task in ids)
    assert [task[:12] for task in ids] == ["260414174715"] * 3 + ["260414174816"]
    assert len(set(ids)) == 4


# -- ensms.ashx ----------------------------------------------------------------------------------


def text64(password: str, payload: dict[str, Any] | str) -> str:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )
    return des_encrypt(data.encode("utf-8"), password)


def ensms_payload(password: str = "test", stamp: str = "0414174715", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "UserName": "test",
        "Secret": secret(password, stamp),
        "Stamp": stamp,
        "Moblie": "15510331875",
        "Text": "我的验证码是：7890。【奥创时代】",
        "Ext": "",
        "SendTime": "",
    }
    payload.update(overrides)
    return payload


async def test_ensms_accepts_the_spec_worked_example_and_answers_unquoted_numbers(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": EXAMPLE_TEXT64})
    assert (
        reply.content
        == (
            '{"StatusCode":1,"Description":"操作成功","MsgId":"2604141747150001","Amount":49,'
            '"SuccessCounts":1,"Errors":[]}'
        ).encode()
    )
    entry = last(state)
    assert entry["account"] == "test"
    assert entry["fields"]["mobiles"] == ["15510331875"]
    assert entry["fields"]["text64_json"]["text"] == "我的验证码是：7890。【奥创时代】"
    assert "secret" not in entry["fields"]["text64_json"]
    assert entry["fields"]["secret_valid"] is True


async def test_ensms_accepts_a_get_with_the_text64_url_encoded(client: httpx.AsyncClient) -> None:
    reply = await client.get(f"/ensms.ashx?UserId=2002&Text64={urllib.parse.quote(EXAMPLE_TEXT64, safe='')}")
    assert reply.json()["StatusCode"] == 1


async def test_ensms_text64_sent_without_url_encoding_fails_like_the_gateway(
    client: httpx.AsyncClient,
) -> None:
    """spec 1.5: '+' must be URL-encoded; unencoded it arrives as a space and decryption fails."""
    body = f"UserId=2002&Text64={EXAMPLE_TEXT64}"
    reply = await client.post(
        "/ensms.ashx", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert reply.json()["StatusCode"] == 1009


@pytest.mark.parametrize(
    "payload",
    [
        # PHP json_encode: \uXXXX escapes and \/
        json.dumps(ensms_payload(Text="验证码/7890【奥创时代】"), ensure_ascii=True).replace("/", "\\/"),
        # fastjson: alphabetical keys, null fields omitted
        json.dumps({k: v for k, v in sorted(ensms_payload().items()) if k not in ("Ext", "SendTime")}),
        # explicit nulls, net.sf.json insertion order
        json.dumps({"UserName": "test", "Stamp": "0414174715", "Secret": secret("test", "0414174715"),
                    "Moblie": "15510331875", "Text": "x【奥创时代】", "Ext": None, "SendTime": None}),
        # key case is not significant to the .NET binder
        json.dumps({k.lower(): v for k, v in ensms_payload().items()}),
    ],
)  # fmt: skip
async def test_ensms_tolerates_the_json_variations_of_real_clients(
    client: httpx.AsyncClient, payload: str
) -> None:
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": text64("test", payload)})
    assert reply.json()["StatusCode"] == 1, reply.text


ENSMS_REFUSALS = [
    ({"UserId": "abc"}, None, 1008),
    ({"UserId": ""}, None, 1008),
    ({"UserId": "9999"}, None, 1008),
    ({"Text64": ""}, None, 1009),
    ({"Text64": "not base64!"}, None, 1009),
    ({"Text64": text64("wrongpwd", ensms_payload())}, None, 1009),
    ({"Text64": text64("test", "not json")}, None, 1009),
    ({"Text64": text64("test", "[" * 100_000)}, None, 1009),  # nested past the JSON parser's limit
    (None, {"UserName": "someone"}, 1004),
    (None, {"UserName": ""}, 1002),
    (None, {"Secret": secret("other", "0414174715")}, 1005),
    (None, {"Stamp": "0414180300", "Secret": secret("test", "0414180300")}, 1010),
    (None, {"Stamp": "1314174715", "Secret": secret("test", "1314174715")}, 1010),
    (None, {"Stamp": "041417471", "Secret": secret("test", "041417471")}, 1010),
    (None, {"Moblie": ""}, 1103),
    (None, {"Moblie": "12345"}, 1108),
    (None, {"Text": ""}, 2001),
    (None, {"Text": "没有签名"}, 2113),
    (None, {"Ext": "123456"}, 1104),
    (None, {"SendTime": "tomorrow"}, 1001),
]


@pytest.mark.parametrize(("form", "payload", "status"), ENSMS_REFUSALS)
async def test_ensms_refusals_carry_numeric_status_codes(
    client: httpx.AsyncClient, form: dict[str, str] | None, payload: dict[str, Any] | None, status: int
) -> None:
    fields = {"UserId": "2002", "Text64": text64("test", ensms_payload(**(payload or {})))}
    fields.update(form or {})
    reply = await client.post("/ensms.ashx", data=fields)
    assert reply.json() == {
        "StatusCode": status,
        "Description": reply.json()["Description"],
        "MsgId": "",
        "Amount": 0,
        "SuccessCounts": 0,
        "Errors": [],
    }


@pytest.mark.parametrize(("offset", "accepted"), [(-299, True), (299, True), (-301, False), (301, False)])
async def test_ensms_stamp_tolerance_is_five_minutes_either_way(
    client: httpx.AsyncClient, clock: FakeClock, offset: int, accepted: bool
) -> None:
    clock.advance(offset)
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": EXAMPLE_TEXT64})
    assert (reply.json()["StatusCode"] == 1) is accepted


async def test_ensms_stamp_tolerance_spans_the_new_year(client: httpx.AsyncClient, clock: FakeClock) -> None:
    clock.now = dt.datetime(2027, 1, 1, 0, 1, 0, tzinfo=CHINA)
    payload = ensms_payload(Stamp="1231235900", Secret=secret("test", "1231235900"))
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": text64("test", payload)})
    assert reply.json()["StatusCode"] == 1


async def test_ensms_picks_the_right_account_when_several_share_a_userid(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    state.add_account(
        Account(account="sibling", password="sibling-pw", userid="2002", sms_balance=5, mms_balance=0)
    )
    payload = ensms_payload(password="sibling-pw", UserName="sibling")
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": text64("sibling-pw", payload)})
    assert reply.json()["StatusCode"] == 1
    assert reply.json()["Amount"] == 4


# -- BatchSms.ashx --------------------------------------------------------------------------------

BATCH_TEXT = "13800138000,验证码：1234【华信】\r\n13900139000,验证码：4567【华信】\r\n"


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sms.txt", data)
    return buffer.getvalue()


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("compress", "method"),
    [(gzip.compress, "gzip"), (_zip, "zip"), (zlib.compress, "zlib"), (_deflate, "deflate")],
)
async def test_batch_accepts_every_compression_it_sniffs(
    client: httpx.AsyncClient, state: SandboxState, compress: Any, method: str
) -> None:
    content = base64.b64encode(compress(BATCH_TEXT.encode("utf-8"))).decode()
    reply = await client.post("/BatchSms.ashx", data=send_form(content=content, action=""))
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert "<successCounts>2</successCounts>" in reply.text
    entry = last(state)
    assert entry["fields"]["compression"] == method
    assert entry["fields"]["lines"] == [
        {"mobile": "13800138000", "content": "验证码：1234【华信】"},
        {"mobile": "13900139000", "content": "验证码：4567【华信】"},
    ]
    account = state.get_account("demo")
    assert account is not None
    assert account.sms_balance == 98


def batch_content(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode()


def batch_content_with_plus() -> str:
    """A valid batch whose base64 contains '+', found deterministically."""
    for number in range(1000):
        content = batch_content(f"13800138000,验证码{number}【华信】")
        if "+" in content:
            return content
    raise AssertionError("no candidate with '+'")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (batch_content("13800138000,a【华信】\r\n13800138000,b【华信】"), "MsisdnRepeat", "手机号码重复"),
        (batch_content("1380013800,a【华信】"), "MsisdnError", "错误的手机号码"),
        (batch_content("13800138000,没有签名"), "RequiredSuffix", "需要签名"),
        (batch_content("13800138000,"), "ContentEmpty", "内容为空"),
        (batch_content("13800138000 no comma"), "ParamError", "参数错误"),
        (base64.b64encode(b"plain text, not compressed").decode(), "ParamError", "参数错误"),
        ("***not base64***", "ParamError", "参数错误"),
        (batch_content_with_plus().replace("+", " "), "ParamError", "参数错误"),
        ("", "ContentEmpty", "内容为空"),
    ],
)
async def test_batch_refusals(
    client: httpx.AsyncClient, state: SandboxState, content: str, name: str, message: str
) -> None:
    reply = await client.post("/BatchSms.ashx", data=send_form(content=content))
    assert message_of(reply) == message
    assert last(state)["outcome"]["code"] == name


async def test_batch_is_post_only(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await client.get("/BatchSms.ashx", params=send_form(content=batch_content(BATCH_TEXT)))
    assert message_of(reply) == "参数错误"
    assert state.pending_count() == 0


# -- mms.aspx ---------------------------------------------------------------------------------------


def mms_form(parts: list[tuple[str, bytes]] | None = None, **overrides: str) -> dict[str, str]:
    parts = (
        parts
        if parts is not None
        else [("1.txt", "你好".encode("gb2312")), ("2.jpg", b"\xff\xd8" + b"x" * 100)]
    )
    fields = {
        "action": "send",
        "account": "demo",
        "password": DEMO_PASSWORD,
        "mobile": "13800138000,13900139000",
        "subject": "彩信主题",
        "content": base64.b64encode(pack(parts)).decode(),
        "sendTime": "",
    }
    fields.update(overrides)
    return fields


async def test_mms_send_charges_the_mms_balance_and_logs_the_parts(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    reply = await client.post("/mms.aspx", data=mms_form())
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert "<remainpoint>8</remainpoint>" in reply.text
    assert last(state)["fields"]["parts"] == [{"name": "1.txt", "size": 4}, {"name": "2.jpg", "size": 102}]
    account = state.get_account("demo")
    assert account is not None
    assert (account.sms_balance, account.mms_balance) == (100, 8)


@pytest.mark.parametrize(
    ("overrides", "parts", "name", "message"),
    [
        ({"subject": ""}, None, "SubjectEmpty", "主题为空"),
        ({"content": ""}, None, "ContentEmpty", "内容为空"),
        (
            {"content": base64.b64encode(b"1.txt\0\x10\0\0\0abc").decode()},
            None,
            "ElementError",
            "彩信元素错误",
        ),
        ({"content": "%%%"}, None, "ElementError", "彩信元素错误"),
        ({}, [("a.txt", b"1"), ("a.txt", b"2")], "ElementNameRepeat", "彩信元素名称重复"),
        ({"mobile": "123"}, None, "MsisdnError", "错误的手机号码"),
        ({"password": "bad"}, None, "PasswordError", "密码错误"),
    ],
)
async def test_mms_refusals(
    *,
    client: httpx.AsyncClient,
    state: SandboxState,
    overrides: dict[str, str],
    parts: list[tuple[str, bytes]] | None,
    name: str,
    message: str,
) -> None:
    reply = await client.post("/mms.aspx", data=mms_form(parts, **overrides))
    assert message_of(reply) == message
    assert last(state)["outcome"]["code"] == name


async def test_mms_balance_refusal_and_smil_rule(clock: FakeClock) -> None:
    state = SandboxState(make_config(mms_require_smil=True), clock=clock)
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        no_smil = await http.post("/mms.aspx", data=mms_form())
        with_smil = await http.post("/mms.aspx", data=mms_form([("1.txt", b"a"), ("mms.smil", b"<smil/>")]))
        poor = await http.post(
            "/mms.aspx", data=mms_form([("mms.smil", b"<smil/>")], account="poor", password="poor-pass")
        )
    assert message_of(no_smil) == "彩信SMIL为空"
    assert "<returnstatus>Success</returnstatus>" in with_smil.text
    assert message_of(poor) == "额度不足"


# -- pwd.aspx -----------------------------------------------------------------------------------------


async def test_pwd_changes_the_stored_password(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/pwd.aspx", data={"account": "demo", "password": md5_upper(DEMO_PASSWORD), "newpassword": "fresh-1"}
    )
    assert (
        reply.content
        == (
            '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<returnstatus>Sucess</returnstatus>\n'
            "\t<message>操作成功</message>\n</returnsms>\n"
        ).encode()
    )
    assert message_of(await client.post("/sms.aspx", data=send_form())) == "密码错误"
    assert "Success" in (await client.post("/sms.aspx", data=send_form(password="fresh-1"))).text
    assert "Success" in (await client.post("/sms.aspx", data=send_form(password=md5_upper("fresh-1")))).text


@pytest.mark.parametrize(
    ("password", "new", "message"),
    [
        ("wrong", "fresh", "用户名或密码错误"),
        ("", "fresh", "用户名或密码不能为空"),
        (DEMO_PASSWORD, "x" * 21, "参数错误"),
        (DEMO_PASSWORD, "", "参数错误"),
    ],
)
async def test_pwd_refusals_keep_the_old_password(
    client: httpx.AsyncClient, password: str, new: str, message: str
) -> None:
    reply = await client.post("/pwd.aspx", data={"account": "demo", "password": password, "newpassword": new})
    assert "<returnstatus>Faild</returnstatus>" in reply.text
    assert message_of(reply) == message
    assert "Success" in (await client.post("/sms.aspx", data=send_form())).text


async def test_pwd_accepts_a_new_password_of_exactly_20_characters(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/pwd.aspx", data={"account": "demo", "password": DEMO_PASSWORD, "newpassword": "y" * 20}
    )
    assert "<returnstatus>Sucess</returnstatus>" in reply.text


# -- secrets never leak into inspection --------------------------------------------------------------


async def test_inspection_log_never_holds_a_password_its_md5_or_the_des_key(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/sms.aspx", data=send_form())
    await client.post("/sms.aspx", data=send_form(password=DEMO_PASSWORD))
    await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": EXAMPLE_TEXT64})
    await client.post(
        "/pwd.aspx", data={"account": "test", "password": "test", "newpassword": "brand-new-pw"}
    )
    await client.post("/sms.aspx", data=send_form(password="wrong-guess"))
    dumped = (await client.get("/_sandbox/requests")).text + (await client.get("/_sandbox/accounts")).text
    for secret_text in (
        DEMO_PASSWORD,
        md5_upper(DEMO_PASSWORD),
        "brand-new-pw",
        "wrong-guess",
        "2A8D628159B0D4D3",
    ):
        assert secret_text not in dumped
    assert hashlib.md5(b"test0414174715").hexdigest().upper() not in dumped
