"""Issue 10 in the ipyy plugin: the sandbox's printed config works as pasted, and the client's
signature rule is the gateway's (a 【signature】 at the start or the end)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import smsgate
from smsgate.exceptions import ValidationError

SMSGATE = [sys.executable, "-c", "from smsgate.cli import main; main()"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}


@pytest.mark.e2e
def test_the_printed_config_snippet_works_as_pasted(tmp_path: Path) -> None:
    """Issue 10: Rich markup ate ``[providers.ipyy]`` and the pasted snippet did not parse."""
    box = subprocess.Popen(
        [*SMSGATE, "sandbox", "--port", "0"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert box.stdout is not None
        printed: list[str] = []
        for line in box.stdout:
            printed.append(line.rstrip("\n"))
            if "Ctrl+C stops." in line:
                break
        text = "\n".join(printed)
        start = next(i for i, line in enumerate(printed) if "smsgate.toml" in line) + 1
        end = next(i for i, line in enumerate(printed) if line.startswith("and export "))
        snippet = "\n".join(printed[start:end])
        assert "[providers.ipyy]" in snippet, text
        variable, _, password = printed[end].removeprefix("and export ").partition("=")
        config = tmp_path / "smsgate.toml"
        config.write_text(snippet + "\n", encoding="utf-8")
        result = subprocess.run(
            [*SMSGATE, "--config", str(config), "--json", "send", "13800138000", "--text", "hi【腾飞】"],
            env={**_env(), variable: password},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        receipt = json.loads(result.stdout)
        assert (receipt["provider"], receipt["accepted"]) == ("ipyy", 1)
    finally:
        box.send_signal(signal.SIGINT)
        try:
            box.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            box.kill()
            box.communicate()


def _no_io(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be made, got {request.url}")


def _send(text: str, **settings: str) -> smsgate.Receipt:
    provider = smsgate.get_provider(
        "ipyy", account="a", password="p", base_url="http://127.0.0.1:9/", **settings
    )
    with httpx.Client(transport=httpx.MockTransport(_no_io)) as client:
        return smsgate.run_flow(provider.send(smsgate.Sms(to="13800138000", text=text)), client)


@pytest.mark.parametrize("text", ["您好【腾飞】您的验证码1439", "a【x】b", "【】hello"])
def test_a_signature_in_the_middle_is_refused_before_any_io(text: str) -> None:
    """Issue 10: the client accepted 【…】 anywhere; the gateway and the sandbox want it at
    the start or the end."""
    with pytest.raises(ValidationError, match="signature"):
        _send(text)


def test_append_mode_signs_a_text_whose_signature_is_in_the_middle() -> None:
    """``signature="append"``: the default signature goes at the end, where it counts."""
    sent: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        sent.append(form["content"])
        return httpx.Response(
            200,
            text=(
                '<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Success</returnstatus>'
                "<message>ok</message><remainpoint>9</remainpoint><taskID>7</taskID>"
                "<successCounts>1</successCounts></returnsms>"
            ),
        )

    provider = smsgate.get_provider(
        "ipyy",
        account="a",
        password="p",
        base_url="http://127.0.0.1:9/",
        signature="append",
        default_signature="【腾飞】",
    )
    with httpx.Client(transport=httpx.MockTransport(gateway)) as client:
        smsgate.run_flow(provider.send(smsgate.Sms(to="13800138000", text="a【x】b")), client)
    assert sent == ["a【x】b【腾飞】"]


@pytest.mark.parametrize(
    "text", ["【腾飞】您的验证码1439", "您的验证码1439【腾飞】", "您的验证码1439【腾飞】\n"]
)
def test_a_signature_at_the_start_or_end_passes_the_check(text: str) -> None:
    """The text reaches the transport (whose refusal, a raw exception, is an uncertain outcome)."""
    with pytest.raises(smsgate.UncertainOutcomeError) as caught:
        _send(text)
    assert isinstance(caught.value.__cause__, AssertionError)
    assert "no request may be made" in str(caught.value.__cause__)


def test_an_mms_over_max_mms_size_is_refused_before_any_io() -> None:
    provider = smsgate.get_provider(
        "ipyy", account="a", password="p", base_url="http://127.0.0.1:9/", max_mms_size=100
    )
    assert provider.capabilities.max_mms_size == 100
    mms = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.gif", data=b"x" * 101)])
    with (
        httpx.Client(transport=httpx.MockTransport(_no_io)) as client,
        pytest.raises(ValidationError, match="max_mms_size"),
    ):
        smsgate.run_flow(provider.send_mms(mms), client)
