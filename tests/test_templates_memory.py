"""The in-memory provider's templates, references and query_status; and proof that the
conformance suite's new checks catch providers that break them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import Sms
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.testing import InMemoryProvider
from tests.conformance_support import PYTESTER_OPTIONS, assert_caught, failures_by_test, share_tls_clients

TO = "13800138000"

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    "text",
    ["code {}", "code {0}", "code {user.name}", "code {codes[0]}", "code {code:{width}}", "code {", ""],
)
def test_templates_with_positional_attribute_or_index_fields_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="verify"):
        InMemoryProvider(templates={"verify": text})


def test_a_template_name_no_message_can_carry_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="name"):
        InMemoryProvider(templates={"verify-code": "code {code}"})


def test_templates_are_declared_only_when_configured() -> None:
    assert not InMemoryProvider().capabilities.templates
    assert InMemoryProvider(templates={"verify": "code {code}"}).capabilities.templates


def _send(provider: InMemoryProvider, sms: Sms) -> smsgate.Receipt:
    with httpx.Client() as client:
        return smsgate.run_flow(provider.send(sms), client, provider=provider.name, operation="send")


def test_a_template_is_rendered_with_its_parameters_and_a_format_spec() -> None:
    provider = InMemoryProvider(templates={"verify": "code {code:>6}, again {code}【shop】"})
    receipt = _send(provider, Sms(to=TO, template="verify", params={"code": "1439", "extra": "x"}))
    assert provider.outbox[0].texts == ("code   1439, again 1439【shop】",)
    assert provider.outbox[0].receipt == receipt


def test_cannot_render_gives_reasons_and_a_send_refuses_before_anything() -> None:
    provider = InMemoryProvider(templates={"verify": "code {code}"})
    unknown = Sms(to=TO, template="welcome")
    short = Sms(to=TO, template="verify")
    assert provider.cannot_render(unknown) == "no template named 'welcome'"
    assert provider.cannot_render(short) == "template 'verify' needs parameter 'code'"
    assert provider.cannot_render(Sms(to=TO, template="welcome", text="hi")) is None  # the text is used
    with pytest.raises(ValidationError, match="no template named 'welcome'"):
        _send(provider, unknown)
    assert provider.outbox == []
    assert provider.calls["send"] == 1


def test_the_rendered_text_obeys_max_text_length() -> None:
    capabilities = smsgate.Capabilities(send=True, templates=True, max_text_length=8)
    provider = InMemoryProvider(capabilities=capabilities, templates={"verify": "code {code}"})
    _send(provider, Sms(to=TO, template="verify", params={"code": "123"}))
    with pytest.raises(ValidationError, match="9 characters"):
        _send(provider, Sms(to=TO, template="verify", params={"code": "1234"}))


def test_query_status_of_a_receipt_it_never_issued_is_empty() -> None:
    provider = InMemoryProvider()
    stranger = smsgate.Receipt(provider="memory", task_id="memory-99", accepted=1)
    with httpx.Client() as client:
        assert smsgate.run_flow(provider.query_status(stranger), client) == []


def test_the_push_format_carries_a_reference() -> None:
    body = {"reports": [{"mobile": TO, "task_id": "memory-1", "reference": "order-42"}]}
    [report] = InMemoryProvider().parse_callback(json.dumps(body).encode())
    assert isinstance(report, smsgate.DeliveryReport)
    assert report.reference == "order-42"


BROKEN = '''
import pytest
import attrs
import smsgate
from smsgate.testing import InMemoryProvider, ALL_CAPABILITIES
from smsgate.testing.conformance import ProviderConformance

TEMPLATES = {"verify": "code {code}【smsgate】"}


class RendersAnything(InMemoryProvider):
    """Claims it can render a template it does not know."""
    def cannot_render(self, message):
        return None


class DropsReference(InMemoryProvider):
    """Declares references but leaves them off its receipts."""
    def _accept(self, *args):
        return attrs.evolve(super()._accept(*args), reference=None)


class Drains(InMemoryProvider):
    """A lookup that drains: the second one finds nothing."""
    def query_status(self, receipt):
        reports = yield from super().query_status(receipt)
        self.outbox.clear()
        return reports


class Memory(ProviderConformance):
    template_example = ("verify", {"code": "1439"})

    @pytest.fixture
    def performs_io(self):
        return False


class TestRendersAnything(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: RendersAnything("anything", templates=TEMPLATES)


class TestDropsReference(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: DropsReference("drops", templates=TEMPLATES)


class TestDrains(Memory):
    @pytest.fixture
    def make_provider(self):
        return lambda: Drains("drains", templates=TEMPLATES)


class TestNoExample(ProviderConformance):
    @pytest.fixture
    def performs_io(self):
        return False

    @pytest.fixture
    def make_provider(self):
        return lambda: InMemoryProvider("no-example", templates=TEMPLATES)


class TestTemplateOnly(Memory):
    """Like a registered-template vendor: every send of the suite uses template_example."""
    @pytest.fixture
    def make_provider(self):
        capabilities = attrs.evolve(ALL_CAPABILITIES, free_text=False)
        return lambda: InMemoryProvider("template-only", capabilities=capabilities, templates=TEMPLATES)
'''


def test_the_suite_catches_providers_breaking_the_template_contract(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    share_tls_clients(monkeypatch)
    pytester.makepyfile(test_broken=BROKEN)
    recorder = pytester.inline_run("-p", "no:cacheprovider", *PYTESTER_OPTIONS)
    failures = failures_by_test(recorder)
    caught = {
        "TestRendersAnything::test_unknown_template_or_missing_parameter_cannot_be_rendered": (
            "an unknown template: expected cannot_render() to give a reason, got None"
        ),
        "TestDropsReference::test_references_are_carried_as_declared": (
            "expected receipt.reference == 'conformance-ref-1', got None"
        ),
        "TestDrains::test_query_status_looks_up_a_sent_message": "expected its reports, got none",
        "TestNoExample::test_templates_are_rendered_as_declared": "template_example is not set",
    }
    assert_caught(failures, caught)
    # A template-only provider passes the whole suite (its sends use template_example).
    assert not [node for node in failures if node.startswith("TestTemplateOnly::")], [
        (node, r.longreprtext[-400:]) for node, r in failures.items() if node.startswith("TestTemplateOnly::")
    ]
    passed: Any = [r.nodeid for r in recorder.getreports("pytest_runtest_logreport") if r.passed]
    assert any("TestTemplateOnly::test_free_text_is_accepted_as_declared" in node for node in passed)
