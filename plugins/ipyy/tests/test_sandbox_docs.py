"""docs/sandbox.md says what the sandbox does: its documented examples are run against a real
sandbox over a loopback socket, and its tables are checked against the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx
from lxml import etree

from smsgate_ipyy.sandbox import Sandbox
from smsgate_ipyy.sandbox._app import _ENDPOINTS

DOC = Path(__file__).resolve().parents[3] / "docs" / "sandbox.md"
DOCUMENTED_BASE = "http://127.0.0.1:8080/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
YYSMS = "http://www.yysms.com/"


def section(heading: str) -> str:
    """The text under ``heading`` (a whole line of the doc) up to the next heading of any level."""
    text = DOC.read_text(encoding="utf-8")
    lines = text.splitlines()
    if heading not in lines:
        raise LookupError(f"docs/sandbox.md has no heading {heading!r}")
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#{2,4} ", body, maxsplit=1)[0]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


SOAP = "### SOAP: `WebService.asmx`"


def test_every_gateway_path_is_documented_and_every_documented_path_is_served() -> None:
    table = section("## The gateway endpoints")
    documented = {path.lower() for path in re.findall(r"`(/[A-Za-z]+\.(?:aspx|ashx|asmx))`", table)}
    assert documented == set(_ENDPOINTS)


def test_the_documented_wsdl_url_answers_with_the_wsdl_pointing_at_the_sandbox() -> None:
    soap = section(SOAP)
    urls = set(re.findall(r"http://127\.0\.0\.1:8080/\S*\?wsdl", soap))
    assert urls == {f"{DOCUMENTED_BASE}WebService.asmx?wsdl"}
    with Sandbox() as sandbox, httpx.Client(timeout=5.0) as http:
        reply = http.get(urls.pop().replace(DOCUMENTED_BASE, sandbox.base_url))
        service = f"{sandbox.base_url}WebService.asmx"
    assert reply.status_code == 200
    root = etree.fromstring(reply.content)
    assert root.tag == f"{{{WSDL}}}definitions"
    assert root.get("targetNamespace") == YYSMS
    assert root.find(f".//{{{WSDL}}}operation[@name='SendSms']") is not None
    addresses = root.iter(f"{{{WSDL}soap/}}address", f"{{{WSDL}soap12/}}address")
    locations = {element.get("location") for element in addresses}
    assert locations == {service}


def test_the_documented_soap_11_send_is_accepted() -> None:
    """The curl command and send.xml of the SOAP section, as written, send with the default account."""
    soap = section(SOAP)
    [command] = code_blocks(soap, "sh")
    [envelope] = code_blocks(soap, "xml")
    words = shlex.split(command.replace("\\\n", " "))
    url = next(word for word in words if word.startswith("http"))
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    with Sandbox() as sandbox, httpx.Client(timeout=5.0) as http:
        reply = http.post(
            url.replace(DOCUMENTED_BASE, sandbox.base_url), content=envelope.encode("utf-8"), headers=headers
        )
        [entry] = sandbox.requests()
    assert reply.status_code == 200, reply.text
    result = etree.fromstring(reply.content).find(f".//{{{YYSMS}}}SendSmsResult")
    assert result is not None, reply.text
    assert result.findtext(f"{{{YYSMS}}}StatusCode") == "OK"
    assert entry["encoding"] == "soap1.1"
    assert entry["fields"]["mobiles"] == ["13800138000"]
    assert entry["outcome"]["task_id"]
