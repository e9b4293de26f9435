"""Client-side hardening (issue 9): absurd numbers in replies, the reply size cap, redirects,
the loopback rule and secrets kept out of frame locals. Real parts: the ipyy sandbox and
loopback servers started here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smsgate import Balance, Receipt
from smsgate.cli import EXIT_UNCERTAIN, cli
from smsgate.exceptions import ValidationError

sandbox_module = pytest.importorskip("smsgate_ipyy.sandbox")

TEXT = "hi【腾飞】"
ENV = {"SMSGATE_DEMO_PASSWORD": "demo-password"}
# The numbers a hostile or broken gateway wrote in the balance of a success reply.
ABSURD = ["sNaN", "NaN", "Infinity", "-Infinity", "1e5000", "1E+1000000"]


def repr_id(value: object) -> str:
    return type(value).__name__ if isinstance(value, int) else str(value)


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    with sandbox_module.Sandbox() as running:
        yield running


def _config(box: Any, tmp_path: Path, transport: str) -> Path:
    path = tmp_path / "smsgate.toml"
    path.write_text(
        f'[providers.demo]\ntype = "ipyy"\naccount = "demo"\nuserid = "1001"\n'
        f'base_url = "{box.base_url}"\ntransport = "{transport}"\n'
    )
    return path


def _invoke(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "--json", *args], env=ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return 99, result.stdout, repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _xml(fields: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8" ?><returnsms>{fields}</returnsms>'


def _send_reply(balance: str, task: str = "1504080852350206") -> str:
    return _xml(
        f"<returnstatus>Success</returnstatus><message>ok</message><remainpoint>{balance}</remainpoint>"
        f"<taskID>{task}</taskID><successCounts>1</successCounts>"
    )


@pytest.mark.e2e
@pytest.mark.parametrize("balance", ABSURD)
def test_cli_send_batch_and_mms_print_the_task_id_whatever_the_balance_says(
    box: Any, tmp_path: Path, balance: str
) -> None:
    """The message was accepted: the CLI prints its task id (balance null) and exits 0,
    however absurd the balance in the success reply (the sandbox sends it by fault injection)."""
    path = _config(box, tmp_path, "form")
    csv_file = tmp_path / "batch.csv"
    csv_file.write_text(f"13800138000,{TEXT}\n")
    part = tmp_path / "a.txt"
    part.write_bytes(b"hello")
    commands = {
        "/sms.aspx": ["send", "13800138000", "--text", TEXT],
        "/BatchSms.ashx": ["batch", str(csv_file)],
        "/mms.aspx": ["mms", "13800138000", "--subject", "s", "--part", str(part)],
    }
    for endpoint, args in commands.items():
        box.clear_faults()
        box.set_fault(kind="garbage", path=endpoint, body=_send_reply(balance, task="77"), times=1)
        code, out, err = _invoke(path, *args)
        assert code == 0, (endpoint, err)
        printed = json.loads(out)
        receipt = printed[0] if isinstance(printed, list) else printed
        assert (receipt["task_id"], receipt["balance"]) == ("77", None)
    box.clear_faults()


@pytest.mark.e2e
@pytest.mark.parametrize("overage", ABSURD)
def test_cli_balance_with_an_absurd_overage_is_a_typed_error_not_a_traceback(
    box: Any, tmp_path: Path, overage: str
) -> None:
    """A balance reply whose overage is no number: an uncertain-outcome exit, with a JSON error."""
    box.clear_faults()
    reply = _xml(f"<returnstatus>Sucess</returnstatus><message>ok</message><overage>{overage}</overage>")
    box.set_fault(kind="garbage", path="/sms.aspx", body=reply)  # every retry of the read too
    code, out, err = _invoke(_config(box, tmp_path, "form"), "balance")
    box.clear_faults()
    assert code == EXIT_UNCERTAIN, err
    assert out == ""
    assert "MalformedReplyError" in err


NOT_AMOUNTS = [*ABSURD, Decimal("sNaN"), Decimal("Infinity"), 10**5000, float("nan")]


@pytest.mark.parametrize("value", NOT_AMOUNTS, ids=repr_id)
def test_models_refuse_non_finite_and_absurd_amounts(value: object) -> None:
    """A model never holds an amount it could not hash or compare, or print as a number."""
    with pytest.raises(ValidationError):
        Receipt(provider="p", task_id="t", accepted=1, balance=value)
    with pytest.raises(ValidationError):
        Balance(provider="p", remaining=value)
    with pytest.raises(ValidationError):
        Balance(provider="p", remaining=1, total=value)


@pytest.mark.parametrize("accepted", [-1, True, 1.5])
def test_receipt_refuses_a_count_that_is_not_a_count(accepted: Any) -> None:
    with pytest.raises(ValidationError):
        Receipt(provider="p", task_id="t", accepted=accepted)


def test_models_with_sane_amounts_stay_hashable_and_comparable() -> None:
    a = Receipt(provider="p", task_id="t", accepted=1, balance="-12.5")
    b = Receipt(provider="p", task_id="t", accepted=1, balance=Decimal("-12.50"))
    assert a == b
    assert hash(a) == hash(b)
    big = Balance(provider="p", remaining="99999999999999999")  # just below the limit
    assert big in {Balance(provider="p", remaining=Decimal("99999999999999999"))}
