"""Golden tests of the request builders: exact bodies, headers and signatures, and refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

import httpx
import pytest

from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate_aliyun._build import (
    BatchEntry,
    RequestContext,
    build_query_send_details,
    build_send_batch_sms,
    build_send_sms,
)
from smsgate_aliyun._signing import AccessKey

KEY_ID = "LTAI5tTestKeyId"
SK = "TestSecret0123456789"  # an AccessKey secret
NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)
NONCE = "0123456789abcdef0123456789abcdef"


def ctx(base_url: str = "https://dysmsapi.aliyuncs.com") -> RequestContext:
    return RequestContext(base_url=base_url, key=AccessKey(KEY_ID, SK), now=NOW, nonce=NONCE)


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode("ascii"), keep_blank_values=True))


def test_send_sms_golden_body_headers_and_signature() -> None:
    request = build_send_sms(
        ctx(),
        phone_numbers=["13800138000", "13900139000"],
        sign_name="阿里云",
        template_code="SMS_154950909",
        params={"code": "1439"},
        out_id="order-42",
    )
    body = (
        b"OutId=order-42&PhoneNumbers=13800138000%2C13900139000&SignName=%E9%98%BF%E9%87%8C%E4%BA%91"
        b"&TemplateCode=SMS_154950909&TemplateParam=%7B%22code%22%3A%221439%22%7D"
    )
    assert request.method == "POST"
    assert str(request.url) == "https://dysmsapi.aliyuncs.com/"
    assert request.content == body
    body_hash = hashlib.sha256(body).hexdigest()
    assert request.headers["x-acs-content-sha256"] == body_hash
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    assert request.headers["x-acs-date"] == "2026-04-14T09:47:15Z"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    # The canonical request, written out by hand from the V3 rules.
    canonical = (
        "POST\n/\n\n"
        "content-type:application/x-www-form-urlencoded\n"
        "host:dysmsapi.aliyuncs.com\n"
        "x-acs-action:SendSms\n"
        f"x-acs-content-sha256:{body_hash}\n"
        "x-acs-date:2026-04-14T09:47:15Z\n"
        f"x-acs-signature-nonce:{NONCE}\n"
        "x-acs-version:2017-05-25\n\n"
        "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
        f"{body_hash}"
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(SK.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    assert request.headers["authorization"] == (
        f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders=content-type;host;x-acs-action;"
        f"x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={signature}"
    )


def test_no_secret_credential_or_number_is_in_the_url_and_no_secret_anywhere() -> None:
    request = build_send_sms(ctx(), phone_numbers=["13800138000"], sign_name="s", template_code="SMS_1")
    assert request.url.query == b""
    assert "13800138000" not in str(request.url)
    assert KEY_ID not in str(request.url)
    everything = str(request.url) + repr(request) + str(dict(request.headers)) + request.content.decode()
    assert SK not in everything


def test_the_host_header_carries_a_non_default_port() -> None:
    request = build_send_sms(
        ctx("http://127.0.0.1:8123"), phone_numbers=["13800138000"], sign_name="s", template_code="SMS_1"
    )
    assert request.headers["host"] == "127.0.0.1:8123"
    assert str(request.url) == "http://127.0.0.1:8123/"


def test_send_sms_optional_fields_are_absent_unless_given() -> None:
    fields = form(build_send_sms(ctx(), phone_numbers=["13800138000"], sign_name="s", template_code="SMS_1"))
    assert fields == {"PhoneNumbers": "13800138000", "SignName": "s", "TemplateCode": "SMS_1"}
    fields = form(
        build_send_sms(ctx(), phone_numbers=["13800138000"], sign_name="s", template_code="SMS_1", ext="12")
    )
    assert fields["SmsUpExtendCode"] == "12"


def test_template_parameters_are_compact_unescaped_json() -> None:
    fields = form(
        build_send_sms(
            ctx(),
            phone_numbers=["13800138000"],
            sign_name="s",
            template_code="SMS_1",
            params={"name": "张三", "code": "1"},
        )
    )
    assert fields["TemplateParam"] == '{"name":"张三","code":"1"}'


def test_send_batch_sms_golden_parallel_arrays() -> None:
    request = build_send_batch_sms(
        ctx(),
        template_code="SMS_154950909",
        entries=[
            BatchEntry("13800138000", "阿里云", {"name": "张三"}),
            BatchEntry("13900139000", "腾飞", {"name": "李四"}, ext="7"),
        ],
    )
    assert request.headers["x-acs-action"] == "SendBatchSms"
    fields = form(request)
    assert fields == {
        "PhoneNumberJson": '["13800138000","13900139000"]',
        "SignNameJson": '["阿里云","腾飞"]',
        "TemplateCode": "SMS_154950909",
        "TemplateParamJson": '[{"name":"张三"},{"name":"李四"}]',
        "SmsUpExtendCodeJson": '["","7"]',
    }
    assert request.content.startswith(b"PhoneNumberJson=%5B%2213800138000%22%2C%2213900139000%22%5D&")


def test_query_send_details_golden_fields() -> None:
    request = build_query_send_details(
        ctx(),
        phone_number="15298356881",
        send_date=dt.date(2019, 1, 8),
        biz_id="134523^4351232",
        page_size=10,
        page=2,
    )
    assert request.headers["x-acs-action"] == "QuerySendDetails"
    assert (
        request.content
        == b"BizId=134523%5E4351232&CurrentPage=2&PageSize=10&PhoneNumber=15298356881&SendDate=20190108"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"phone_numbers": []}, "PhoneNumbers"),
        ({"phone_numbers": "13800138000"}, "PhoneNumbers"),
        ({"phone_numbers": ["1380013800a"]}, "PhoneNumbers"),
        ({"phone_numbers": ["138,139"]}, "PhoneNumbers"),
        ({"phone_numbers": ["13800138000"] * 1001}, "PhoneNumbers"),
        ({"sign_name": ""}, "SignName"),
        ({"sign_name": "a\nb"}, "SignName"),
        ({"sign_name": "\ud800"}, "SignName"),
        ({"template_code": "SMS 1"}, "TemplateCode"),
        ({"params": {"code": 1439}}, "TemplateParam"),
        ({"params": {"code": "\udc00"}}, "TemplateParam"),
        ({"out_id": "x" * 257}, "OutId"),
        ({"ext": "12a"}, "SmsUpExtendCode"),
    ],
)
def test_send_sms_refuses_bad_input_before_any_request(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"phone_numbers": ["13800138000"], "sign_name": "s", "template_code": "SMS_1"}
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        build_send_sms(ctx(), **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_send_batch_sms_refuses_empty_oversized_and_bad_entries() -> None:
    with pytest.raises(ValidationError):
        build_send_batch_sms(ctx(), template_code="SMS_1", entries=[])
    with pytest.raises(ValidationError):
        build_send_batch_sms(ctx(), template_code="SMS_1", entries=[BatchEntry("13800138000", "s")] * 101)
    with pytest.raises(ValidationError) as info:
        build_send_batch_sms(ctx(), template_code="SMS_1", entries=[BatchEntry("13800138000", "")])
    assert info.value.field == "SignNameJson"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"send_date": dt.datetime(2019, 1, 8, tzinfo=dt.UTC)},
        {"page_size": 51},
        {"page_size": 0},
        {"page": 0},
        {"page": True},
    ],
)
def test_query_refuses_bad_paging_and_dates(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"phone_number": "13800138000", "send_date": dt.date(2019, 1, 8)}
    args.update(kwargs)
    with pytest.raises(ValidationError):
        build_query_send_details(ctx(), **args)  # type: ignore[arg-type]


def test_a_base_url_that_is_not_http_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        build_send_sms(
            ctx("ftp://example.invalid"), phone_numbers=["13800138000"], sign_name="s", template_code="SMS_1"
        )


@pytest.mark.parametrize("base_url", ["http://[::1", 42])
def test_an_invalid_base_url_is_a_configuration_error(base_url: object) -> None:
    with pytest.raises(ConfigurationError):
        RequestContext(base_url=base_url, key=AccessKey(KEY_ID, SK), now=NOW, nonce=NONCE)


def test_batch_params_round_trip_through_json() -> None:
    entries = [BatchEntry(f"1380013800{i}", "s", {"i": str(i), "q": '"quoted" & <b>'}) for i in range(5)]
    fields = form(build_send_batch_sms(ctx(), template_code="SMS_1", entries=entries))
    assert json.loads(fields["TemplateParamJson"]) == [dict(e.params) for e in entries]
