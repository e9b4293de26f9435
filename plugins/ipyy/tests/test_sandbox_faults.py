"""Fault injection seen from a real client over a real loopback socket.

Most tests put the fault middleware in front of a tiny stand-in gateway app (so they can count
what reached the gateway); the last ones run the real sandbox to check the vendor's own failure
replies and the config-file rules.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.receiver import ServerThread
from smsgate_ipyy.sandbox import Sandbox, SandboxConfig
from smsgate_ipyy.sandbox._faults import FaultMiddleware, FaultRule, FaultSet, vendor_reply

REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>99</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()


class StandIn:
    """A stand-in gateway that answers REPLY and remembers each request body it processed."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def endpoint(self, request: Request) -> Response:
        self.seen.append(await request.body())
        return Response(REPLY, media_type="text/xml")

    def app(self) -> Starlette:
        paths = ["/sms.aspx", "/smsJson.aspx"]
        return Starlette(routes=[Route(p, self.endpoint, methods=["GET", "POST"]) for p in paths])


@pytest.fixture(scope="module")
def stand_in() -> StandIn:
    return StandIn()


@pytest.fixture(scope="module")
def faults() -> FaultSet:
    return FaultSet(seed=7)


@pytest.fixture(scope="module")
def server(stand_in: StandIn, faults: FaultSet) -> Iterator[ServerThread]:
    with ServerThread(FaultMiddleware(stand_in.app(), faults)) as running:
        yield running


@pytest.fixture
def client(server: ServerThread, stand_in: StandIn, faults: FaultSet) -> Iterator[httpx.Client]:
    faults.clear()
    stand_in.seen.clear()
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        yield http


def send(client: httpx.Client, path: str = "/sms.aspx", **kwargs: object) -> httpx.Response:
    return client.post(path, data={"action": "send", "mobile": "13800138000"}, **kwargs)  # type: ignore[arg-type]


def test_no_rule_serves_the_real_reply(client: httpx.Client, stand_in: StandIn) -> None:
    reply = send(client)
    assert reply.status_code == 200
    assert reply.content == REPLY
    assert len(stand_in.seen) == 1


def test_latency_delays_the_real_reply(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "latency", "seconds": 0.3})
    started = time.monotonic()
    reply = send(client)
    elapsed = time.monotonic() - started
    assert reply.content == REPLY
    assert 0.3 <= elapsed < 2.0


def test_status_fault_answers_5xx_without_reaching_the_gateway(
    client: httpx.Client, faults: FaultSet, stand_in: StandIn
) -> None:
    faults.add({"kind": "status", "status": 503})
    reply = send(client)
    assert reply.status_code == 503
    assert 0 < len(reply.content) < 100
    assert stand_in.seen == []


def test_outage_fault_answers_503_service_unavailable_without_reaching_the_gateway(
    client: httpx.Client, faults: FaultSet, stand_in: StandIn
) -> None:
    """The fault that shows a failover: 503, the one 5xx the client reads as "nothing was sent"."""
    faults.add({"kind": "outage", "times": 1})
    reply = send(client)
    assert reply.status_code == 503
    assert b"Service Unavailable" in reply.content
    assert stand_in.seen == []
    assert send(client).status_code == 200
    faults.add({"kind": "outage", "body": "down for maintenance"})
    assert send(client).text == "down for maintenance"
    assert faults.rules() == [
        {"kind": "outage", "path": "*", "probability": 1.0, "body": "down for maintenance"}
    ]


def test_hang_makes_the_client_time_out_and_the_server_stays_usable(
    client: httpx.Client, faults: FaultSet
) -> None:
    faults.add({"kind": "hang", "times": 1})
    with pytest.raises(httpx.ReadTimeout):
        send(client, timeout=0.3)
    assert send(client).content == REPLY


def test_hang_is_bounded_by_its_seconds(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "hang", "seconds": 0.2, "times": 1})
    reply = send(client, timeout=3.0)
    assert reply.status_code == 504


def test_drop_reads_the_request_then_closes_the_connection(
    client: httpx.Client, faults: FaultSet, stand_in: StandIn
) -> None:
    faults.add({"kind": "drop", "times": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        send(client)
    # The gateway acted on the request before the connection died: the outcome is uncertain.
    assert len(stand_in.seen) == 1
    assert b"mobile=13800138000" in stand_in.seen[0]
    assert send(client).content == REPLY


def test_garbage_is_a_200_that_is_neither_xml_nor_json(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "garbage"})
    reply = send(client)
    assert reply.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(reply.content)
    with pytest.raises(ValueError):
        json.loads(reply.content)


def test_truncate_sends_the_first_half_of_the_real_reply(
    client: httpx.Client, faults: FaultSet, stand_in: StandIn
) -> None:
    faults.add({"kind": "truncate"})
    reply = send(client)
    assert reply.status_code == 200
    assert reply.content == REPLY[: len(REPLY) // 2]
    assert len(stand_in.seen) == 1


def test_vendor_fault_answers_the_gateway_failure_without_processing(
    client: httpx.Client, faults: FaultSet, stand_in: StandIn
) -> None:
    faults.add({"kind": "vendor", "code": 1111})
    root = etree.fromstring(send(client).content)
    assert root.findtext("returnstatus") == "Faild"
    assert root.findtext("message") == "额度不足"
    assert root.findtext("taskID") == ""
    assert stand_in.seen == []


def test_rule_path_is_case_insensitive_and_limited_to_its_endpoint(
    client: httpx.Client, faults: FaultSet
) -> None:
    faults.add({"kind": "status", "path": "SMS.ASPX", "status": 502})
    assert send(client, "/sms.aspx").status_code == 502
    assert send(client, "/SMS.aspx").status_code == 502
    assert send(client, "/smsJson.aspx").status_code == 200


def test_times_rule_expires_after_n_applications(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "status", "status": 500, "times": 2})
    assert faults.rules()[0]["remaining"] == 2
    codes = [send(client).status_code for _ in range(4)]
    assert codes == [500, 500, 200, 200]
    assert faults.rules() == []


def test_first_matching_rule_wins(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "status", "status": 501, "path": "/sms.aspx", "times": 1})
    faults.add({"kind": "status", "status": 502})
    assert [send(client).status_code for _ in range(2)] == [501, 502]


def test_seeded_probability_gives_the_same_sequence_twice(client: httpx.Client, faults: FaultSet) -> None:
    def run() -> list[int]:
        faults.clear()  # restarts the random sequence from the seed
        faults.add({"kind": "status", "status": 503, "probability": 0.5})
        return [send(client).status_code for _ in range(16)]

    first = run()
    assert first == run()
    assert set(first) == {200, 503}
    # The draws are exactly random.Random(seed) below the probability.
    expected_rng = random.Random(7)
    assert first == [503 if expected_rng.random() < 0.5 else 200 for _ in range(16)]


def test_admin_endpoint_adds_lists_and_clears_rules(client: httpx.Client) -> None:
    added = client.post("/_sandbox/faults", json={"kind": "status", "status": 503, "path": "/sms.aspx"})
    assert added.status_code == 200
    assert added.json()["faults"] == [
        {"kind": "status", "path": "/sms.aspx", "probability": 1.0, "status": 503}
    ]
    assert send(client).status_code == 503
    listed = client.get("/_SANDBOX/faults").json()["faults"]
    assert [rule["kind"] for rule in listed] == ["status"]
    assert client.delete("/_sandbox/faults").json() == {"faults": []}
    assert send(client).status_code == 200


def test_admin_endpoint_accepts_a_list_and_rejects_a_bad_rule_whole(
    client: httpx.Client, faults: FaultSet
) -> None:
    both = client.post("/_sandbox/faults", json=[{"kind": "garbage", "times": 1}, {"kind": "latency"}])
    assert len(both.json()["faults"]) == 2
    faults.clear()
    bad = client.post("/_sandbox/faults", json=[{"kind": "garbage"}, {"kind": "explode"}])
    assert bad.status_code == 400
    assert "explode" in bad.json()["error"]
    assert faults.rules() == []


def test_admin_paths_are_never_faulted(client: httpx.Client, faults: FaultSet) -> None:
    faults.add({"kind": "status", "status": 500})
    assert client.get("/_sandbox/faults").status_code == 200


def test_listed_rules_show_only_the_fields_of_their_kind() -> None:
    faults = FaultSet()
    faults.add({"kind": "vendor", "code": "AmountNotEnough", "path": "/mms.aspx"})
    faults.add({"kind": "latency", "seconds": 0.5, "probability": 0.25})
    faults.add({"kind": "drop", "times": 3})
    assert faults.rules() == [
        {"kind": "vendor", "path": "/mms.aspx", "probability": 1.0, "code": "AmountNotEnough"},
        {"kind": "latency", "path": "*", "probability": 0.25, "seconds": 0.5},
        {"kind": "drop", "path": "*", "probability": 1.0, "times": 3, "remaining": 3},
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "status", "probability": 1.5}, "probability"),
        ({"kind": "status", "status": 200}, "status"),
        ({"kind": "status", "times": 0}, "times"),
        ({"kind": "vendor", "code": 4242}, "result code"),
        ({"kind": "status", "colour": "red"}, "unknown fault rule keys"),
        ({"path": "/sms.aspx"}, "needs a 'kind'"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultRule.from_dict(fields)


# --- the vendor failure replies, one per endpoint format -----------------------------------------


def _scope(query: bytes = b"", content_type: bytes = b"") -> dict[str, object]:
    return {"query_string": query, "headers": [(b"content-type", content_type)]}


def test_vendor_reply_on_json_send_quotes_every_value() -> None:
    body, ctype = vendor_reply("/smsjson.aspx", _scope(), b"action=send", 9999)
    assert json.loads(body) == {
        "returnstatus": "Faild",
        "message": "系统内部错误",
        "remainpoint": "0",
        "taskID": "",
        "successCounts": "0",
    }
    assert ctype.startswith(b"application/json")


def test_vendor_reply_on_overage_has_the_balance_shape() -> None:
    body, _ = vendor_reply("/sms.aspx", _scope(b"action=overage"), b"", 9999)
    root = etree.fromstring(body)
    assert [child.tag for child in root] == ["returnstatus", "message", "payinfo", "overage", "sendTotal"]


def test_vendor_reply_on_gbk_endpoint_is_gb2312() -> None:
    body, ctype = vendor_reply("/smsgbk.aspx", _scope(), b"", "AmountNotEnough")
    assert body.startswith(b'<?xml version="1.0" encoding="gb2312" ?>')
    assert "额度不足".encode("gbk") in body
    assert b"gb2312" in ctype


def test_vendor_reply_on_ensms_uses_unquoted_numbers() -> None:
    body, _ = vendor_reply("/ensms.ashx", _scope(), b"", 1111)
    assert json.loads(body)["StatusCode"] == 1111
    assert body.startswith(b'{"StatusCode":1111,')


def test_vendor_reply_on_pulls_uses_the_pull_error_shapes() -> None:
    xml_body, _ = vendor_reply("/statusapi.aspx", _scope(), b"", 9999)
    assert etree.fromstring(xml_body).findtext("errorstatus/error") == "9999"
    json_body, _ = vendor_reply("/calljsonapi.aspx", _scope(), b"", 9999)
    assert json.loads(json_body) == {"error": "9999", "remark": "系统内部错误", "callbox": []}


def test_vendor_reply_on_pulls_uses_the_pull_numbers_for_the_refusals_they_document() -> None:
    xml_body, _ = vendor_reply("/statusapi.aspx", _scope(), b"", "PasswordError")
    status = etree.fromstring(xml_body).find("errorstatus")
    assert (status.findtext("error"), status.findtext("remark")) == ("2", "用户名或密码错误")
    empty, _ = vendor_reply("/callapi.aspx", _scope(), b"", 1002)
    assert etree.fromstring(empty).findtext("errorstatus/error") == "1"
    json_body, _ = vendor_reply("/statusjsonapi.aspx", _scope(), b"", 1005)
    assert json.loads(json_body) == {"error": "1005", "remark": "密码错了", "statusbox": []}


def test_vendor_reply_on_soap_answers_in_the_callers_soap_version() -> None:
    body12, ctype12 = vendor_reply(
        "/webservice.asmx", _scope(content_type=b"application/soap+xml"), b"", 9999
    )
    body11, ctype11 = vendor_reply("/webservice.asmx", _scope(content_type=b"text/xml"), b"", 9999)
    ns = {"t": "http://www.yysms.com/"}
    for body in (body11, body12):
        assert etree.fromstring(body).findtext(".//t:SendSmsResult/t:StatusCode", namespaces=ns) == (
            "InternalError"
        )
    assert etree.fromstring(body12).nsmap["soap"] == "http://www.w3.org/2003/05/soap-envelope"
    assert etree.fromstring(body11).nsmap["soap"] == "http://schemas.xmlsoap.org/soap/envelope/"
    assert ctype12.startswith(b"application/soap+xml")
    assert ctype11.startswith(b"text/xml")


# --- the real sandbox --------------------------------------------------------------------------


def test_config_file_faults_apply_in_the_real_sandbox() -> None:
    config = SandboxConfig.default()
    config.faults = [{"kind": "vendor", "path": "/smsJson.aspx", "code": 9999, "times": 1}]
    with Sandbox(config) as sandbox, httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        creds = sandbox.credentials
        form = {
            "action": "send",
            "account": creds.account,
            "password": creds.password,
            "userid": creds.userid,
            "mobile": "13800138000",
            "content": "验证码 1234【腾飞】",
        }
        first = http.post("/smsJson.aspx", data=form).json()
        second = http.post("/smsJson.aspx", data=form).json()
        assert first["returnstatus"] == "Faild"
        assert first["message"] == "系统内部错误"
        assert second["returnstatus"] == "Success"
        # Only the second request reached the gateway logic; the log shows the fault's answer too.
        faulted, sent = sandbox.requests()
        assert faulted["injected"]["kind"] == "vendor"
        assert faulted["injected"]["acted"] is False
        assert faulted["outcome"]["code"] == "InternalError"
        assert (sent["injected"], sent["outcome"]["code"]) == (None, "OK")


def test_truncate_in_the_real_sandbox_cuts_a_reply_the_gateway_did_act_on() -> None:
    with Sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        creds = sandbox.credentials
        form = {
            "action": "send",
            "account": creds.account,
            "password": creds.password,
            "mobile": "13800138000",
            "content": "验证码 1234【腾飞】",
        }
        whole = http.post("/sms.aspx", data=form).content
        sandbox.set_fault(kind="truncate", path="/sms.aspx", times=1)
        cut = http.post("/sms.aspx", data=form).content
        assert len(cut) == len(whole) // 2
        assert whole.startswith(cut[:40])
        assert len(sandbox.requests()) == 2


def test_admin_reset_puts_the_config_file_rules_back() -> None:
    config = SandboxConfig.default()
    config.faults = [{"kind": "status", "path": "/pwd.aspx", "status": 503, "times": 2}]
    with Sandbox(config) as sandbox, httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        assert http.get("/pwd.aspx").status_code == 503
        http.post("/_sandbox/faults", json={"kind": "garbage", "path": "/sms.aspx"})
        assert [rule["remaining"] for rule in sandbox.faults.rules() if "remaining" in rule] == [1]
        assert http.post("/_sandbox/reset").status_code == 200
        rules = http.get("/_sandbox/faults").json()["faults"]
        assert rules == [
            {
                "kind": "status",
                "path": "/pwd.aspx",
                "probability": 1.0,
                "times": 2,
                "status": 503,
                "remaining": 2,
            }
        ]


@pytest.mark.parametrize("rule", [{"kind": "status", "path": 5}, {"kind": "garbage", "body": ["x"]}])
def test_admin_endpoint_refuses_rules_with_fields_of_the_wrong_type(
    client: httpx.Client, faults: FaultSet, rule: dict[str, object]
) -> None:
    """A path or body that is not a string is a 400 at submission, not a 500 (or a broken
    reply) on every later request."""
    refused = client.post("/_sandbox/faults", json=[rule])
    assert refused.status_code == 400
    assert "must be a string" in refused.json()["error"]
    assert faults.rules() == []
    assert send(client).status_code == 200
