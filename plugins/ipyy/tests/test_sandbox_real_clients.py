"""Request shapes that real ipyy clients written by other people send, served as the real
gateway serves them: a ``Text64`` wrapped every 76 characters (Java's
``sun.misc.BASE64Encoder``), paths with repeated slashes (a white-label base URL ending in a
slash), and GBK in multipart forms on smsGBK.aspx."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from smsgate_ipyy._crypto import des_encrypt, md5_upper, secret
from smsgate_ipyy.sandbox import Account, Sandbox, SandboxConfig, SandboxState, create_app

BASE = "http://127.0.0.1:8080"
DEMO_PASSWORD = "demo-pass-123"
SIGNED = "您的验证码：1439【腾飞】"
# 2026-04-14 17:47:15 China time, and the spec 1.5 Stamp of that moment
NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)
STAMP = "0414174715"


@pytest.fixture
def state() -> SandboxState:
    config = SandboxConfig(
        accounts=[
            Account(account="demo", password=DEMO_PASSWORD, userid="1001", sms_balance=100, mms_balance=10),
            Account(account="test", password="test", userid="2002", sms_balance=50, mms_balance=0),
        ]
    )
    return SandboxState(config, clock=lambda: NOW)


@pytest.fixture
async def client(state: SandboxState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def send_form(**overrides: str) -> dict[str, str]:
    fields = {
        "action": "send",
        "account": "demo",
        "password": md5_upper(DEMO_PASSWORD),
        "mobile": "13800138000",
        "content": SIGNED,
    }
    fields.update(overrides)
    return fields


def last(state: SandboxState) -> dict[str, Any]:
    return state.requests()[-1]


# -- Text64 wrapped in lines -----------------------------------------------------------------


def wrapped_text64(line_break: str) -> str:
    """A Text64 as ``sun.misc.BASE64Encoder`` writes it: 76 characters a line."""
    payload = {
        "UserName": "test",
        "Secret": secret("test", STAMP),
        "Stamp": STAMP,
        "Moblie": "15510331875",
        "Text": "我的验证码是：7890，五分钟内有效，请勿告诉他人。【奥创时代】",
    }
    flat = des_encrypt(json.dumps(payload, ensure_ascii=False).encode("utf-8"), "test")
    lines = [flat[i : i + 76] for i in range(0, len(flat), 76)]
    assert len(lines) > 2, "the example must span several lines"
    return line_break.join(lines) + line_break


@pytest.mark.parametrize("line_break", ["\n", "\r\n"], ids=["LF", "CRLF"])
async def test_ensms_accepts_a_text64_wrapped_every_76_characters(
    client: httpx.AsyncClient, state: SandboxState, line_break: str
) -> None:
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": wrapped_text64(line_break)})
    assert reply.json()["StatusCode"] == 1, reply.text
    assert last(state)["outcome"]["code"] == "OK"
    assert last(state)["fields"]["mobiles"] == ["15510331875"]


async def test_ensms_still_refuses_a_text64_with_spaces(client: httpx.AsyncClient) -> None:
    """A space is a '+' an unencoded form turned into a space: still Text64Error (1009)."""
    broken = wrapped_text64("\n").replace("+", " ").replace("/", " ")
    reply = await client.post("/ensms.ashx", data={"UserId": "2002", "Text64": broken})
    assert reply.json()["StatusCode"] == 1009


# -- repeated slashes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["//smsGBK.aspx", "//sms.aspx", "///smsJson.aspx", "//ensms.ashx", "//BatchSms.ashx", "//mms.aspx"],
)
async def test_a_path_with_repeated_slashes_reaches_its_endpoint(
    client: httpx.AsyncClient, state: SandboxState, path: str
) -> None:
    """A white-label base URL ending in '/' plus '/smsGBK.aspx': IIS serves it, so does the sandbox."""
    reply = await client.post(f"{BASE}{path}", data=send_form())
    assert reply.status_code != 404, reply.text
    assert state.requests(), "the endpoint logged nothing"


async def test_repeated_slashes_send_as_the_single_slash_path(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    body = urllib.parse.urlencode(send_form(content="验证码：8888【华信】"), encoding="gbk")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    reply = await client.post(f"{BASE}//smsGBK.aspx", content=body, headers=headers)
    assert "<returnstatus>Success</returnstatus>" in reply.content.decode("gbk")
    assert last(state)["endpoint"] == "smsGBK.aspx"
    assert last(state)["fields"]["content"] == "验证码：8888【华信】"


async def test_the_wsdl_and_the_admin_api_answer_on_repeated_slashes(client: httpx.AsyncClient) -> None:
    wsdl = await client.get(f"{BASE}//WebService.asmx?wsdl")
    assert wsdl.status_code == 200
    assert b"definitions" in wsdl.content
    assert (await client.get(f"{BASE}//_sandbox//requests")).status_code == 200


async def test_an_unknown_path_stays_404_with_or_without_repeated_slashes(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{BASE}//nope.aspx", data=send_form())).status_code == 404
    assert (await client.post(f"{BASE}/sms.aspx/", data=send_form())).status_code == 404


def test_a_fault_rule_for_a_path_applies_to_its_repeated_slash_form() -> None:
    """Over a real socket, through the fault middleware: a rule for /smsGBK.aspx hits //smsGBK.aspx."""
    with Sandbox() as sandbox:
        sandbox.set_fault(kind="status", path="/smsGBK.aspx", status=503, times=1)
        with httpx.Client(timeout=5.0) as http:
            url = f"{sandbox.base_url.rstrip('/')}//smsGBK.aspx"
            assert http.post(url, data={"action": "overage"}).status_code == 503
            assert http.post(url, data={"action": "overage"}).status_code == 200


# -- GBK in multipart forms ------------------------------------------------------------------

BOUNDARY = "----sandbox-gbk-boundary"


def multipart(fields: dict[str, str], encoding: str) -> bytes:
    """A multipart/form-data body with every field's value in ``encoding``, as a client on a
    GBK system (PHP's curl with an array, an old C# WebClient) sends it."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode("ascii")
        + value.encode(encoding)
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode("ascii")


async def test_sms_gbk_decodes_a_multipart_form_as_gbk(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    text = "验证码：8888，请于五分钟内填写【华信】"
    reply = await client.post(
        "/smsGBK.aspx",
        content=multipart(send_form(content=text), "gbk"),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert "<returnstatus>Success</returnstatus>" in reply.content.decode("gbk")
    entry = last(state)
    assert entry["encoding"] == "multipart"
    assert entry["fields"]["content"] == text


async def test_a_multipart_charset_the_client_declares_is_honoured(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    text = "验证码：8888【华信】"
    reply = await client.post(
        "/smsGBK.aspx",
        content=multipart(send_form(content=text), "utf-8"),
        headers={"content-type": f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}"},
    )
    assert "<returnstatus>Success</returnstatus>" in reply.content.decode("gbk")
    assert last(state)["fields"]["content"] == text


async def test_sms_aspx_still_reads_a_multipart_form_as_utf8(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    text = "验证码：8888【华信】"
    reply = await client.post(
        "/sms.aspx",
        content=multipart(send_form(content=text), "utf-8"),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert "<returnstatus>Success</returnstatus>" in reply.text
    assert last(state)["fields"]["content"] == text
