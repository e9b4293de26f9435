"""Every documented error code lands in smsgate's tree, with the vendor's code and message kept."""

from __future__ import annotations

import pytest

from smsgate.exceptions import (
    AuthenticationError,
    ContentError,
    InsufficientBalanceError,
    InvalidRecipientError,
    MessageRejectedError,
    ProviderError,
    ProviderOutageError,
    ProviderUnavailableError,
    RateLimitedError,
    SignatureError,
)
from smsgate_aliyun import _codes


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", InvalidRecipientError),
        ("isv.SMS_TEMPLATE_ILLEGAL", ContentError),
        ("isv.SMS_SIGNATURE_ILLEGAL", SignatureError),
        ("isv.TEMPLATE_MISSING_PARAMETERS", ContentError),
        ("MissingPhoneNumbers", MessageRejectedError),
        ("MissingSignName", MessageRejectedError),
        ("isv.AMOUNT_NOT_ENOUGH", InsufficientBalanceError),
        ("InvalidAccessKeyId.NotFound", AuthenticationError),
        ("InvalidAccessKeyId.Inactive", AuthenticationError),
        ("SignatureDoesNotMatch", AuthenticationError),
        ("Throttling.User", RateLimitedError),
        ("Throttling.Api", RateLimitedError),
        ("Throttling", RateLimitedError),
        ("isp.SYSTEM_ERROR", ProviderOutageError),
        ("isv.DAY_LIMIT_CONTROL", ProviderUnavailableError),
    ],
)
def test_the_issue_s_codes_get_their_class(code: str, cls: type[ProviderError]) -> None:
    error = _codes.error_for_code(code, "vendor words")
    assert type(error) is cls
    assert error.code == code
    assert error.vendor_message == "vendor words"


@pytest.mark.parametrize(
    "code",
    ["isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "MissingSignName"],
)
def test_message_refusals_are_neither_retried_nor_failed_over(code: str) -> None:
    error = _codes.error_for_code(code, None)
    assert isinstance(error, MessageRejectedError)
    assert not error.retry_safe
    assert not error.failover_safe


@pytest.mark.parametrize(
    "code", ["isv.AMOUNT_NOT_ENOUGH", "InvalidAccessKeyId.NotFound", "SignatureDoesNotMatch"]
)
def test_provider_refusals_allow_failover(code: str) -> None:
    error = _codes.error_for_code(code, None)
    assert isinstance(error, ProviderUnavailableError)
    assert error.failover_safe


def test_throttling_is_a_retryable_rate_limit() -> None:
    error = _codes.error_for_code("Throttling.User", "Request was denied due to user flow control.")
    assert isinstance(error, RateLimitedError)
    assert error.retry_safe
    assert error.failover_safe


def test_the_per_number_frequency_control_never_fails_over_nor_retries() -> None:
    """isv.BUSINESS_LIMIT_CONTROL protects the recipient: another vendor must not get round it."""
    error = _codes.error_for_code("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    assert type(error) is MessageRejectedError
    assert not error.failover_safe
    assert not error.retry_safe
    assert error.vendor_message == "触发分钟级流控Permits:1"


def test_a_reused_nonce_is_treated_as_possibly_sent() -> None:
    error = _codes.error_for_code("SignatureNonceUsed", None)
    assert type(error) is ProviderError
    assert not error.failover_safe
    assert not error.retry_safe


def test_an_unknown_code_is_a_plain_refusal_with_the_code_kept() -> None:
    error = _codes.error_for_code("isv.SOMETHING_NEW", "新的错误")
    assert type(error) is ProviderError
    assert error.code == "isv.SOMETHING_NEW"
    assert "isv.SOMETHING_NEW" in str(error)


@pytest.mark.parametrize("code", sorted(_codes.CODES))
def test_every_listed_code_builds_an_error_of_its_class(code: str) -> None:
    cls, meaning = _codes.CODES[code]
    error = _codes.error_for_code(code, "m", raw={"Code": code})
    assert type(error) is cls
    assert meaning in error.message
    assert error.raw == {"Code": code}
    assert error.provider is None  # the driver adds it


def test_the_table_covers_the_documented_send_codes() -> None:
    """The SendSms codes of the Aliyun error code page (help.aliyun.com/document_detail/101346)."""
    documented = {
        "isv.SMS_SIGNATURE_SCENE_ILLEGAL", "isv.EXTEND_CODE_ERROR", "isv.SIGN_STATE_ILLEGAL",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED", "isv.DENY_IP_RANGE", "isv.DAY_LIMIT_CONTROL",
        "isv.MONTH_LIMIT_CONTROL", "isv.SMS_CONTENT_ILLEGAL", "isv.SMS_SIGN_ILLEGAL",
        "isp.RAM_PERMISSION_DENY", "isv.OUT_OF_SERVICE", "isv.PRODUCT_UN_SUBSCRIPT",
        "isv.PRODUCT_UNSUBSCRIBE", "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL",
        "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.INVALID_PARAMETERS",
        "isp.SYSTEM_ERROR", "isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.TEMPLATE_MISSING_PARAMETERS", "isv.BUSINESS_LIMIT_CONTROL", "isv.INVALID_JSON_PARAM",
        "isv.BLACK_KEY_CONTROL_LIMIT", "isv.PARAM_LENGTH_LIMIT", "isv.PARAM_NOT_SUPPORT_URL",
        "isv.AMOUNT_NOT_ENOUGH", "isv.TEMPLATE_PARAMS_ILLEGAL", "SignatureDoesNotMatch",
        "InvalidTimeStamp.Expired", "SignatureNonceUsed", "InvalidVersion", "InvalidAction.NotFound",
        "isv.SMS_TEST_SIGN_TEMPLATE_LIMIT", "isv.SMS_TEST_TEMPLATE_PARAMS_ILLEGAL",
        "isv.SMS_TEST_NUMBER_LIMIT", "isv.SECURITY_FROZEN_ACCOUNT", "isv.CUSTOMER_REFUSED",
    }  # fmt: skip
    assert documented <= set(_codes.CODES)
