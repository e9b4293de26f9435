"""docs/sandbox.md says what the sandbox does: its documented examples are run against a real
sandbox over a loopback socket, and its tables are checked against the code."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

import smsgate
from smsgate.exceptions import (
    AllProvidersFailedError,
    MalformedReplyError,
    ProviderError,
    ProviderOutageError,
    RateLimitedError,
    SmsGateError,
    UncertainOutcomeError,
)
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


# -- status faults and failover --------------------------------------------------------------

FAULTS = "## Fault injection"


def client_error(sandbox: Sandbox, **rule: object) -> Exception:
    """What a one-provider gateway (no retries) raises for a send meeting fault ``rule``; an
    AllProvidersFailedError is opened to the provider's own error."""
    creds = sandbox.credentials
    provider = smsgate.get_provider(
        "ipyy",
        account=creds.account,
        password=creds.password,
        userid=creds.userid,
        base_url=sandbox.base_url,
        transport=str(rule.pop("transport", "form")),
    )
    sandbox.clear_faults()
    sandbox.set_fault(**rule)
    gateway = smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1))
    with pytest.raises(SmsGateError) as caught:
        gateway.send(smsgate.Sms(to=["13800138000"], text="验证码：1439【腾飞】"))
    error = caught.value
    if isinstance(error, AllProvidersFailedError):
        return error.exceptions[-1]
    return error


# (the start of the row in the doc's table, the rule, the error the row must name and the client raise)
CLASSIFIED: list[tuple[str, dict[str, object], type[Exception]]] = [
    ("| `outage` |", {"kind": "outage"}, ProviderOutageError),
    ("| `status` with `status=503` |", {"kind": "status", "status": 503}, ProviderOutageError),
    ("| `status` with `status=429` |", {"kind": "status", "status": 429}, RateLimitedError),
    ("| `status` (default 500, or another 5xx) |", {"kind": "status"}, UncertainOutcomeError),
    ("| `status` (default 500, or another 5xx) |", {"kind": "status", "status": 502}, UncertainOutcomeError),
    ("| `status` with another 4xx |", {"kind": "status", "status": 404}, ProviderError),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.mark.parametrize(
    ("row", "rule", "expected"), CLASSIFIED, ids=[str(rule) for _, rule, _ in CLASSIFIED]
)
def test_the_documented_outcome_of_each_status_fault_is_what_the_client_raises(
    sandbox: Sandbox, row: str, rule: dict[str, object], expected: type[Exception]
) -> None:
    [line] = [line for line in section(FAULTS).splitlines() if line.startswith(row)]
    assert f"`{expected.__name__}`" in line, f"the doc's row does not name {expected.__name__}: {line}"
    error = client_error(sandbox, **rule)
    assert type(error) is expected, repr(error)


def test_a_plain_status_500_on_the_soap_endpoint_is_a_malformed_reply(sandbox: Sandbox) -> None:
    """The doc's note: WebService.asmx's 500 is read as a SOAP fault, and a plain body is none."""
    assert "a malformed reply (uncertain)" in section(FAULTS)
    error = client_error(sandbox, kind="status", path="/WebService.asmx", transport="soap")
    assert isinstance(error, MalformedReplyError), repr(error)


def test_the_documented_failover_example_sends_through_the_backup(capsys: pytest.CaptureFixture[str]) -> None:
    """The doc's failover example, run as written: the backup sandbox gets the message."""
    [example] = code_blocks(section("### Failing over to a backup"), "python")
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/sandbox.md", "exec"), namespace)
    receipt = namespace["receipt"]
    backup, primary = namespace["backup"], namespace["primary"]
    assert isinstance(receipt, smsgate.Receipt)
    assert isinstance(backup, Sandbox)
    assert isinstance(primary, Sandbox)
    assert receipt.provider == "backup"
    [sent] = [entry for entry in backup.requests() if entry["outcome"]["code"] == "OK"]
    assert sent["outcome"]["task_id"] == receipt.task_id
    assert sent["fields"]["mobiles"] == ["13800138000"]
    assert not [entry for entry in primary.requests() if entry["outcome"]["code"] == "OK"]
    # As its comment says: one try of the primary, then the backup at once (it said "the
    # primary was tried 3 times", which routing does only for the last provider left).
    assert len(primary.requests()) == 1
    assert receipt.attempts == 2
    assert capsys.readouterr().out.split() == ["backup", "2", "OK"]
