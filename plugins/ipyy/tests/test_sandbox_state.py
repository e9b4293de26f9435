"""The sandbox's state over time: delivery reports after a delay with configured outcomes,
scheduled sends, pull draining (statusNum, taskid), inbound injection and pulls, the push
outbox, the admin API and the configuration loaders."""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState, _state, create_app

PASSWORD = "pull-pass"


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC))  # 17:47:15 China time


def make_state(clock: FakeClock, **settings: Any) -> SandboxState:
    settings.setdefault("report_delay", 5.0)
    accounts = [
        Account(account="demo", password=PASSWORD, userid="1", sms_balance=100, mms_balance=10),
        Account(
            account="muted",
            password=PASSWORD,
            userid="2",
            sms_balance=5,
            mms_balance=0,
            reports_allowed=False,
        ),
    ]
    return SandboxState(SandboxConfig(accounts=accounts, **settings), clock=clock)


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    return make_state(clock, report_outcomes={"4": "MY:0001", "44": "UNDELIV"})


@pytest.fixture
async def client(state: SandboxState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        yield http


async def send(client: httpx.AsyncClient, mobiles: str, send_time: str = "", ext: str = "") -> str:
    form = {
        "action": "send",
        "account": "demo",
        "password": md5_upper(PASSWORD),
        "mobile": mobiles,
        "content": "报告测试【腾飞】",
        "sendTime": send_time,
        "extno": ext,
    }
    reply = await client.post("/smsJson.aspx", data=form)
    assert reply.json()["returnstatus"] == "Success", reply.text
    task: str = reply.json()["taskID"]
    return task


def auth(**extra: str) -> dict[str, str]:
    return {"action": "query", "account": "demo", "password": PASSWORD, **extra}


def statusboxes(xml: bytes) -> list[dict[str, str]]:
    root = etree.fromstring(xml)
    return [{child.tag: child.text or "" for child in box} for box in root.findall("statusbox")]


# -- delivery reports ----------------------------------------------------------------------------


async def test_reports_appear_only_after_the_report_delay(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    task = await send(client, "13800138000", ext="01")
    early = await client.post("/statusApi.aspx", data=auth())
    assert early.content == b'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms></returnsms>'
    clock.advance(5)
    reply = await client.post("/statusApi.aspx", data=auth())
    expected = (
        '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<statusbox>\n'
        f"\t\t<mobile>13800138000</mobile>\n\t\t<taskid>{task}</taskid>\n\t\t<status>10</status>\n"
        "\t\t<receivetime>2026-04-14 17:47:20</receivetime>\n"
        "\t\t<errorcode>DELIVRD</errorcode>\n\t\t<extno>01</extno>\n\t</statusbox>\n</returnsms>"
    )
    assert reply.content == expected.encode()


async def test_report_outcomes_follow_the_longest_matching_suffix(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await send(client, "13800138000,13800138004,13800138044")
    clock.advance(10)
    boxes = statusboxes((await client.post("/statusApi.aspx", data=auth())).content)
    outcomes = {box["mobile"]: (box["status"], box["errorcode"]) for box in boxes}
    assert outcomes == {
        "13800138000": ("10", "DELIVRD"),
        "13800138004": ("20", "MY:0001"),
        "13800138044": ("20", "UNDELIV"),
    }


async def test_json_report_items_have_no_status_and_no_extno(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    task = await send(client, "13800138004", ext="7")
    clock.advance(5)
    reply = await client.post("/statusJsonApi.aspx", data=auth())
    assert (
        reply.content
        == (
            '{"error":"1","remark":"成功","statusbox":[{"mobile":"13800138004","taskid":"'
            + task
            + '","receivetime":"2026-04-14 17:47:20","errorcode":"MY:0001"}]}'
        ).encode()
    )
    empty = await client.post("/statusJsonApi.aspx", data=auth())
    assert empty.content == '{"error":"1","remark":"成功","statusbox":[]}'.encode()


async def test_pulls_drain_the_queue_honouring_status_num(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await send(client, ",".join(f"1380013800{i}" for i in range(5)))
    clock.advance(5)
    first = statusboxes((await client.post("/statusApi.aspx", data=auth(statusNum="2"))).content)
    rest = statusboxes((await client.post("/statusApi.aspx", data=auth(statusNum=""))).content)
    again = statusboxes((await client.post("/statusApi.aspx", data=auth())).content)
    assert [box["mobile"] for box in first] == ["13800138000", "13800138001"]
    assert [box["mobile"] for box in rest] == ["13800138002", "13800138003", "13800138004"]
    assert again == []


async def test_default_status_num_caps_a_pull(clock: FakeClock) -> None:
    state = make_state(clock, default_status_num=2, report_delay=0.0)
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        await send(http, "13800138000,13800138001,13800138002")
        assert len(statusboxes((await http.post("/statusApi.aspx", data=auth())).content)) == 2


async def test_taskid_pull_takes_only_that_task_and_leaves_the_others_in_order(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    first = await send(client, "13800138000,13800138001")
    second = await send(client, "13900139000")
    third = await send(client, "13700137000")
    clock.advance(5)
    only = statusboxes((await client.post("/statusApi.aspx", data=auth(taskid=second))).content)
    assert [(box["taskid"], box["mobile"]) for box in only] == [(second, "13900139000")]
    rest = statusboxes((await client.post("/statusApi.aspx", data=auth())).content)
    assert [box["taskid"] for box in rest] == [first, first, third]


@pytest.mark.parametrize(
    ("form", "error", "remark", "json_error"),
    [
        ({"password": ""}, "1", "用户名或密码不能为空", "1003"),
        ({"account": ""}, "1", "用户名或密码不能为空", "1002"),
        ({"password": "bad"}, "2", "用户名或密码错误", "1005"),
        ({"account": "nobody"}, "2", "用户名或密码错误", "1004"),
        ({"account": "muted"}, "3", "该用户不允许查看状态报告", "3"),
        ({"statusNum": "many"}, "4", "参数不正确", "1001"),
        ({"action": "send"}, "4", "参数不正确", "1001"),
    ],
)
async def test_pull_errors_in_xml_errorstatus_and_json_error_forms(
    *, client: httpx.AsyncClient, form: dict[str, str], error: str, remark: str, json_error: str
) -> None:
    fields = auth(**form)
    xml = await client.post("/statusApi.aspx", data=fields)
    assert (
        xml.content
        == (
            '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<errorstatus>\n'
            f"\t\t<error>{error}</error>\n\t\t<remark>{remark}</remark>\n\t</errorstatus>\n</returnsms>\n"
        ).encode()
    )
    as_json = (await client.post("/statusJsonApi.aspx", data=fields)).json()
    assert as_json["error"] == json_error
    assert as_json["statusbox"] == []
    inbound = (await client.post("/callJsonApi.aspx", data=fields)).json()
    assert inbound["error"] == json_error
    assert inbound["callbox"] == []


async def test_json_wrong_password_is_the_spec_example(client: httpx.AsyncClient) -> None:
    reply = await client.post("/statusJsonApi.aspx", data=auth(password="bad"))
    assert reply.content == '{"error":"1005","remark":"密码错了","statusbox":[]}'.encode()


async def test_pull_accepts_an_md5_password_and_a_get(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await send(client, "13800138000")
    clock.advance(5)
    reply = await client.get("/statusApi.aspx", params=auth(password=md5_upper(PASSWORD)))
    assert len(statusboxes(reply.content)) == 1


# -- scheduled sends ----------------------------------------------------------------------------


async def test_scheduled_send_is_charged_now_but_reports_only_after_its_time(
    client: httpx.AsyncClient, state: SandboxState, clock: FakeClock
) -> None:
    await send(client, "13800138000", send_time="2026-04-14 18:00:00")
    account = state.get_account("demo")
    assert account is not None
    assert account.sms_balance == 99
    clock.advance(12 * 60)  # 17:59:15 China time: not yet sent
    assert statusboxes((await client.post("/statusApi.aspx", data=auth())).content) == []
    clock.advance(50)  # 18:00:05, report_delay 5 s after the scheduled time
    boxes = statusboxes((await client.post("/statusApi.aspx", data=auth())).content)
    assert [box["receivetime"] for box in boxes] == ["2026-04-14 18:00:05"]


async def test_a_send_time_in_the_past_sends_at_once(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await send(client, "13800138000", send_time="2020-01-01 00:00:00")
    clock.advance(5)
    assert len(statusboxes((await client.post("/statusApi.aspx", data=auth())).content)) == 1


async def test_flush_makes_pending_and_scheduled_reports_due_now(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await send(client, "13800138000", send_time="2026-05-01 08:00:00")
    await send(client, "13900139000")
    assert state.pending_count() == 2
    flushed = await client.post("/_sandbox/reports/flush")
    assert flushed.json() == {"flushed": 2}
    boxes = statusboxes((await client.post("/statusApi.aspx", data=auth())).content)
    assert sorted(box["mobile"] for box in boxes) == ["13800138000", "13900139000"]
    assert {box["receivetime"] for box in boxes} == {"2026-04-14 17:47:15"}


# -- inbound --------------------------------------------------------------------------------------


async def test_injected_inbound_is_pulled_once_from_call_api(client: httpx.AsyncClient) -> None:
    injected = await client.post(
        "/_sandbox/inbound",
        json={"account": "demo", "mobile": "13800138000", "text": "退订 & <T>", "ext": "01"},
    )
    assert injected.status_code == 200
    reply = await client.post("/callApi.aspx", data=auth())
    expected = (
        '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n\t<callbox>\n'
        "\t\t<mobile>13800138000</mobile>\n\t\t<taskid></taskid>\n"
        "\t\t<content>退订 &amp; &lt;T&gt;</content>\n\t\t<receivetime>2026-04-14 17:47:15</receivetime>\n"
        "\t\t<extno>01</extno>\n\t</callbox>\n</returnsms>"
    )
    assert reply.content == expected.encode()
    assert (await client.post("/callApi.aspx", data=auth())).content.endswith(b"<returnsms></returnsms>")


async def test_inbound_json_pull_has_the_spec_5_5_shape(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    state.inject_inbound("demo", "13800138000", "a", ext="123", task_id="2604141747150001")
    reply = await client.post("/callJsonApi.aspx", data=auth())
    assert reply.json() == {
        "error": "1",
        "remark": "成功",
        "callbox": [
            {
                "mobile": "13800138000",
                "taskid": "2604141747150001",
                "content": "a",
                "receivetime": "2026-04-14 17:47:15",
                "extno": "123",
            }
        ],
    }


async def test_inbound_injection_refuses_unknown_accounts_and_bad_bodies(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/_sandbox/inbound", json={"account": "ghost", "mobile": "1", "text": "x"})
    bad = await client.post("/_sandbox/inbound", json={"account": "demo"})
    assert (unknown.status_code, bad.status_code) == (404, 400)


# -- push outbox ----------------------------------------------------------------------------------


async def test_push_accounts_get_reports_and_inbound_in_the_outbox_not_the_pull_queue(
    client: httpx.AsyncClient, state: SandboxState, clock: FakeClock
) -> None:
    changed = await client.put("/_sandbox/accounts/demo", json={"callback_url": "http://127.0.0.1:9/hook"})
    assert changed.json()["callback_url"] == "http://127.0.0.1:9/hook"
    task = await send(client, "13800138000,13800138004")
    state.inject_inbound("demo", "13900139000", "好的")
    assert [push.kind for push in state.take_due_pushes()] == ["inbound"]
    clock.advance(5)
    pushes = state.take_due_pushes(state.now())
    assert [(push.account, push.url, push.kind) for push in pushes] == [
        ("demo", "http://127.0.0.1:9/hook", "report")
    ]
    boxes = statusboxes(pushes[0].body)
    assert [(box["mobile"], box["taskid"], box["status"]) for box in boxes] == [
        ("13800138000", task, "10"),
        ("13800138004", task, "20"),
    ]
    assert pushes[0].body.startswith(b'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>')
    assert state.take_due_pushes(state.now()) == []
    assert statusboxes((await client.post("/statusApi.aspx", data=auth())).content) == []
    state.record_push_result(pushes[0], attempts=2, ok=True)
    log = (await client.get("/_sandbox/pushes")).json()
    assert log[-1] | {"time": None} == {
        "time": None,
        "account": "demo",
        "url": "http://127.0.0.1:9/hook",
        "kind": "report",
        "boxes": 2,
        "attempts": 2,
        "ok": True,
    }


def test_task_ids_stay_unique_past_ten_thousand_sends_in_one_second(clock: FakeClock) -> None:
    state = make_state(clock)
    state.update_account("demo", sms_balance=20_000)
    ids = [state.submit("demo", "sms", ["13800138000"]).task_id for _ in range(10_001)]
    assert len(set(ids)) == len(ids)
    assert all(len(task_id) == 16 and task_id.isdigit() for task_id in ids)


def test_due_pushes_of_an_account_whose_callback_url_was_removed_are_pulled_not_lost(
    clock: FakeClock,
) -> None:
    state = make_state(clock, report_delay=0.0)
    state.update_account("demo", callback_url="http://127.0.0.1:9/hook")
    state.submit("demo", "sms", ["13800138000"])
    state.inject_inbound("demo", "13900139000", "好的")
    state.flush_reports()  # due now: in the push outbox, waiting for the worker
    state.update_account("demo", callback_url=None)
    assert state.take_due_pushes() == []
    assert [item.mobile for item in state.pull_reports("demo", 10)] == ["13800138000"]
    assert [item.text for item in state.pull_inbound("demo")] == ["好的"]


def test_due_items_become_reports_and_messages_only_when_pulled(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The push worker releases every send's report as it falls due: releasing must not pay
    # for the report itself; a pull makes it, with the due time as its receive time.
    made: list[str] = []  # the receive times spelled: one for each report or message made
    real_stamp = _state.stamp

    def stamp(moment: dt.datetime) -> str:
        made.append(real_stamp(moment))
        return made[-1]

    monkeypatch.setattr(_state, "stamp", stamp)
    state = make_state(clock, report_delay=1.0, report_outcomes={"4": "MY:0001"})
    task_id = state.submit("demo", "sms", ["13800138000", "13800138004"]).task_id
    state.inject_inbound("demo", "13900139000", "好的")
    clock.advance(2)
    assert state.take_due_pushes() == []  # released to the pull queues
    assert state.accounts()[0]["queued_reports"] == 2
    assert state.accounts()[0]["queued_inbound"] == 1
    assert made == []
    reports = state.pull_reports("demo", 10)
    assert [(r.mobile, r.task_id, r.status, r.code, r.received_at) for r in reports] == [
        ("13800138000", task_id, "10", "DELIVRD", "2026-04-14 17:47:16"),
        ("13800138004", task_id, "20", "MY:0001", "2026-04-14 17:47:16"),
    ]
    [inbound] = state.pull_inbound("demo")
    assert (inbound.mobile, inbound.text) == ("13900139000", "好的")
    assert inbound.received_at == "2026-04-14 17:47:15"
    assert made == ["2026-04-14 17:47:16", "2026-04-14 17:47:16", "2026-04-14 17:47:15"]


def test_pending_and_due_items_are_nothing_the_garbage_collector_follows(clock: FakeClock) -> None:
    # Every send leaves its report in the state until it is pulled: under load thousands,
    # which every collection would traverse again if they held anything it follows.
    state = make_state(clock, report_delay=1.0)
    state.submit("demo", "sms", ["13800138000"])
    gc.collect()  # (a collection untracks a tuple that holds nothing tracked)
    [entry] = state._pending
    assert not gc.is_tracked(entry)
    clock.advance(2)
    assert state.take_due_pushes() == []
    gc.collect()
    assert not any(gc.is_tracked(item) for item in state._accounts["demo"].reports)
    assert len(state.pull_reports("demo", 10)) == 1


async def test_push_bodies_hold_at_most_push_batch_size_boxes(clock: FakeClock) -> None:
    state = make_state(clock, push_batch_size=2, report_delay=0.0)
    state.update_account("demo", callback_url="http://127.0.0.1:9/hook")
    for index in range(5):
        state.inject_inbound("demo", f"1380013800{index}", f"m{index}")
    pushes = state.take_due_pushes()
    assert [push.body.count(b"<callbox>") for push in pushes] == [2, 2, 1]


# -- admin API -------------------------------------------------------------------------------------


async def test_accounts_endpoint_lists_balances_and_no_password(client: httpx.AsyncClient) -> None:
    await send(client, "13800138000")
    accounts = (await client.get("/_sandbox/accounts")).json()
    demo = next(item for item in accounts if item["account"] == "demo")
    assert demo["sms_balance"] == 99
    assert demo["sms_sent"] == 1
    assert "password" not in demo
    assert PASSWORD not in json.dumps(accounts)


async def test_put_account_sets_balance_and_signature_rule_and_can_create_one(
    client: httpx.AsyncClient,
) -> None:
    updated = await client.put("/_sandbox/accounts/demo", json={"sms_balance": 0, "require_signature": False})
    assert (updated.json()["sms_balance"], updated.json()["require_signature"]) == (0, False)
    reply = await client.post(
        "/sms.aspx",
        data={
            "action": "send",
            "account": "demo",
            "password": PASSWORD,
            "mobile": "13800138000",
            "content": "x",
        },
    )
    assert "<message>额度不足</message>" in reply.text
    created = await client.put(
        "/_sandbox/accounts/fresh", json={"password": "fresh-pw", "userid": "77", "sms_balance": 3}
    )
    assert created.status_code == 200
    assert "password" not in created.json()
    overage = await client.get(
        "/sms.aspx", params={"action": "overage", "account": "fresh", "password": "fresh-pw"}
    )
    assert "<overage>3</overage>" in overage.text


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("ghost", {"sms_balance": 1}, 404),
        ("demo", {"sms_balance": "lots"}, 400),
        ("demo", {"require_signature": 1}, 400),
        ("demo", {"colour": "red"}, 400),
    ],
)
async def test_put_account_refuses_unknown_accounts_and_bad_values(
    client: httpx.AsyncClient, name: str, body: dict[str, Any], status: int
) -> None:
    assert (await client.put(f"/_sandbox/accounts/{name}", json=body)).status_code == status


async def test_requests_log_filters_clears_and_reset_restores_everything(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await send(client, "13800138000")
    await client.post("/statusApi.aspx", data=auth())
    only = (await client.get("/_sandbox/requests", params={"endpoint": "statusapi.aspx"})).json()
    assert [entry["endpoint"] for entry in only] == ["statusApi.aspx"]
    assert (await client.delete("/_sandbox/requests")).json() == {"cleared": True}
    assert (await client.get("/_sandbox/requests")).json() == []
    await client.post("/pwd.aspx", data={"account": "demo", "password": PASSWORD, "newpassword": "changed"})
    assert (await client.post("/_sandbox/reset")).json() == {"reset": True}
    account = state.get_account("demo")
    assert account is not None
    assert (account.sms_balance, account.password) == (100, PASSWORD)
    assert state.pending_count() == 0
    assert state.requests() == []


async def test_inspection_log_is_bounded(clock: FakeClock) -> None:
    state = make_state(clock, log_limit=3)
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        for _ in range(5):
            await send(http, "13800138000")
    assert [entry["seq"] for entry in state.requests()] == [3, 4, 5]


async def test_log_numbers_run_on_over_reads_clears_and_the_bound_and_restart_at_reset(
    clock: FakeClock,
) -> None:
    state = make_state(clock, log_limit=3)
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        await send(http, "13800138000")
        assert [entry["seq"] for entry in state.requests()] == [1]  # read: now a typed entry
        await send(http, "13800138000")
        await http.get("/nowhere")  # a 404 is logged too
        assert [entry["seq"] for entry in state.requests()] == [1, 2, 3]
        for _ in range(2):
            await send(http, "13800138000")
        assert [(entry["seq"], entry["endpoint"]) for entry in state.requests()] == [
            (3, "nowhere"),
            (4, "smsJson.aspx"),
            (5, "smsJson.aspx"),
        ]
        state.clear_requests()
        await send(http, "13800138000")
        await send(http, "13800138000")
        assert [entry["seq"] for entry in state.requests()] == [6, 7]
        state.reset()
        await send(http, "13800138000")
        assert [entry["seq"] for entry in state.requests()] == [1]


# -- configuration -----------------------------------------------------------------------------------


def test_default_config_has_the_demo_poor_and_push_accounts() -> None:
    config = SandboxConfig.default()
    by_name = {account.account: account for account in config.accounts}
    assert (by_name["demo"].password, by_name["demo"].userid) == ("demo-password", "1001")
    assert by_name["demo"].sms_balance > 0
    assert (by_name["poor"].sms_balance, by_name["poor"].mms_balance) == (0, 0)
    assert by_name["push"].callback_url is None
    assert "demo-password" not in repr(by_name["demo"])


def test_config_from_toml_reads_accounts_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(
        'report_delay = 1.5\nseed = 7\n[report_outcomes]\n"0" = "MY:0001"\n'
        '[[accounts]]\naccount = "a"\npassword = "pw"\nuserid = "9"\nsms_balance = 4\nmms_balance = 0\n'
        'callback_url = "http://127.0.0.1:1/x"\n'
        '[[faults]]\nkind = "latency"\nseconds = 0.1\n',
        encoding="utf-8",
    )
    config = SandboxConfig.from_toml(path)
    assert config.report_delay == 1.5
    assert config.seed == 7
    assert config.report_outcomes == {"0": "MY:0001"}
    assert [(a.account, a.sms_balance, a.callback_url) for a in config.accounts] == [
        ("a", 4, "http://127.0.0.1:1/x")
    ]
    assert config.faults == [{"kind": "latency", "seconds": 0.1}]


def test_config_from_dict_without_accounts_uses_the_default_ones() -> None:
    config = SandboxConfig.from_dict({"report_delay": 0.2})
    assert [a.account for a in config.accounts] == ["demo", "poor", "push"]


@pytest.mark.parametrize(
    "data",
    [
        {"repot_delay": 1},
        {
            "accounts": [
                {"account": "a", "password": "p", "userid": "1", "sms_balance": 1, "mms_balance": 1, "x": 1}
            ]
        },
        {"report_outcomes": {"abc": "MY:0001"}},
        {
            "accounts": [{"account": "a", "password": "p", "userid": "1", "sms_balance": 1, "mms_balance": 1}]
            * 2
        },
    ],
)
def test_config_refuses_typos_bad_suffixes_and_duplicate_accounts(data: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        SandboxConfig.from_dict(data)


# -- thread safety ---------------------------------------------------------------------------------


def test_concurrent_submissions_from_threads_keep_balance_and_task_ids_consistent() -> None:
    """The app runs on uvicorn's loop thread while tests and the push worker use others."""
    import threading

    accounts = [Account(account="demo", password=PASSWORD, userid="1", sms_balance=4000, mms_balance=0)]
    state = SandboxState(SandboxConfig(accounts=accounts))
    task_ids: list[str] = []

    def submit_many() -> None:
        for _ in range(500):
            task_ids.append(state.submit("demo", "sms", ["13800138000", "13900139000"]).task_id)

    threads = [threading.Thread(target=submit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    account = state.get_account("demo")
    assert account is not None
    assert account.sms_balance == 0
    assert len(set(task_ids)) == 2000
    assert len(state.pull_reports("demo", 10_000)) == 4000  # report_delay 0: all due
    assert state.pending_count() == 0
    refused = state.submit("demo", "sms", ["13800138000"])
    assert refused.refusal == "AmountNotEnough"


def test_the_default_clock_is_china_time() -> None:
    assert SandboxState().now().utcoffset() == dt.timedelta(hours=8)
