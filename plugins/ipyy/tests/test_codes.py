"""The result-code → exception table (spec chapter 9, wire notes §1) and its fallbacks."""

from __future__ import annotations

import pytest

from smsgate.exceptions import (
    AuthenticationError,
    ContentError,
    InsufficientBalanceError,
    InvalidRecipientError,
    MessageRejectedError,
    NoChannelError,
    PermissionDeniedError,
    ProviderError,
    ProviderOutageError,
    ProviderUnavailableError,
    RateLimitedError,
    SignatureError,
    UncertainOutcomeError,
)
from smsgate_ipyy import _codes

# spec chapter 9, every numbered row.
CHAPTER_9 = [
    (1001, "ParamError", MessageRejectedError),
    (1002, "UserNameEmpty", AuthenticationError),
    (1003, "PasswordEmpty", AuthenticationError),
    (1004, "UserNameError", AuthenticationError),
    (1005, "PasswordError", AuthenticationError),
    (1006, "BindIpError", AuthenticationError),
    (1007, "UserStop", AuthenticationError),
    (1008, "UserIdError", AuthenticationError),
    (1009, "Text64Error", AuthenticationError),
    (1010, "StampError", ProviderUnavailableError),
    (2001, "ContentEmpty", ContentError),
    (1103, "MsisdnEmpty", InvalidRecipientError),
    (1104, "ExtNumberError", NoChannelError),
    (2105, "ContentLong", ContentError),
    (1106, "NoChannel", NoChannelError),
    (2107, "SensitiveWords", ContentError),
    (1108, "MsisdnError", InvalidRecipientError),
    (1109, "MsisdnBlack", InvalidRecipientError),
    (1110, "MsisdnNoChannel", NoChannelError),
    (1111, "AmountNotEnough", InsufficientBalanceError),
    (1112, "NoProduct", NoChannelError),
    (2113, "RequiredSuffix", SignatureError),
    (2114, "SuffixError", SignatureError),
    (3001, "SubjectEmpty", ContentError),
    (9999, "InternalError", ProviderOutageError),
]


@pytest.mark.parametrize(("number", "name", "cls"), CHAPTER_9)
def test_every_chapter_9_number_maps_to_its_class_with_code_and_message_kept(
    number: int, name: str, cls: type[ProviderError]
) -> None:
    for code in (number, str(number), f" {number} "):
        err = _codes.error_for_code(code, "原文")
        assert type(err) is cls
        assert err.code == str(number)
        assert err.vendor_message == "原文"
        assert name in str(err)


@pytest.mark.parametrize(("number", "name", "cls"), CHAPTER_9)
def test_every_chapter_9_name_maps_to_the_same_class_case_insensitively(
    number: int, name: str, cls: type[ProviderError]
) -> None:
    assert type(_codes.error_for_code(name)) is cls
    assert type(_codes.error_for_code(name.upper())) is cls
    assert _codes.error_for_code(name).code == name


def test_the_table_holds_all_54_enum_names_of_the_wsdl() -> None:
    names = [c.name for c in _codes.CODES]
    # wire notes §1 lists 54 values including OK, which is success and not an error.
    assert len(names) == 53
    assert len(set(names)) == 53
    assert "OK" not in names


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("FrequentOperation", RateLimitedError),
        ("BalanceNotEnough", InsufficientBalanceError),
        ("MsisdnRepeat", InvalidRecipientError),
        ("AppInactive", AuthenticationError),
        ("NoEnabled", PermissionDeniedError),
        ("NoRealName", PermissionDeniedError),
        ("SmilEmpty", ContentError),
        ("ElementNameRepeat", ContentError),
        ("ChannelTypeError", NoChannelError),
        ("Unknown", ProviderError),
    ],
)
def test_extra_wsdl_names_without_numbers_map_by_name(name: str, cls: type[ProviderError]) -> None:
    assert type(_codes.error_for_code(name, "x")) is cls


def test_routing_flags_follow_the_tree() -> None:
    assert _codes.error_for_code(1005).failover_safe
    assert not _codes.error_for_code(1005).retry_safe
    assert _codes.error_for_code(9999).retry_safe
    assert _codes.error_for_code("FrequentOperation").retry_safe
    assert not _codes.error_for_code(2107).failover_safe
    # A clock problem: another provider can take the message, retrying here cannot help.
    stamp = _codes.error_for_code(1010)
    assert stamp.failover_safe
    assert not stamp.retry_safe


def test_unknown_number_is_a_plain_provider_error_with_code_kept() -> None:
    err = _codes.error_for_code("4242", "奇怪")
    assert type(err) is ProviderError
    assert not err.failover_safe
    assert err.code == "4242"
    assert err.vendor_message == "奇怪"


def test_unknown_name_is_a_plain_provider_error_with_code_kept() -> None:
    err = _codes.error_for_code("BrandNewCode")
    assert type(err) is ProviderError
    assert err.code == "BrandNewCode"


def test_unknown_code_with_a_known_message_is_classified_by_the_message() -> None:
    assert type(_codes.error_for_code("77", "余额不足")) is InsufficientBalanceError


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("用户名或密码错误", AuthenticationError),
        ("用户名或密码不能为空", AuthenticationError),
        ("密码错了", AuthenticationError),
        ("需要签名", SignatureError),
        ("签名错误", SignatureError),
        ("手机号码为空", InvalidRecipientError),
        ("错误的手机号码", InvalidRecipientError),
        ("黑名单的手机号码", InvalidRecipientError),
        ("没有通道的手机号码", NoChannelError),
        ("敏感词(测试)", ContentError),
        ("内容太长", ContentError),
        ("余额不足", InsufficientBalanceError),
        ("额度不足", InsufficientBalanceError),
        ("主题为空", ContentError),
        ("帐户已停用", AuthenticationError),
        ("IP绑定错误", AuthenticationError),
        ("该用户不允许查看状态报告", PermissionDeniedError),
        ("系统内部错误", ProviderOutageError),
        ("参数不正确", MessageRejectedError),
    ],
)
def test_text_only_failures_are_classified_by_message(message: str, cls: type[ProviderError]) -> None:
    err = _codes.error_for_message(message)
    assert type(err) is cls
    assert err.vendor_message == message
    assert message in str(err)


def test_unrecognised_text_falls_back_to_provider_error() -> None:
    err = _codes.error_for_message("未知的错误")
    assert type(err) is ProviderError
    assert err.code is None
    assert err.vendor_message == "未知的错误"


def test_empty_message_still_gives_a_readable_error() -> None:
    err = _codes.error_for_message("")
    assert type(err) is ProviderError
    assert "no reason given" in str(err)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("1", AuthenticationError),
        ("2", AuthenticationError),
        ("3", PermissionDeniedError),
        ("4", ProviderError),
    ],
)
def test_xml_pull_errors_1_to_4_have_their_own_meaning(code: str, cls: type[ProviderError]) -> None:
    err = _codes.error_for_pull_error(code, "说明")
    assert type(err) is cls
    assert err.code == code
    assert err.vendor_message == "说明"


def test_other_pull_error_numbers_are_result_codes() -> None:
    assert type(_codes.error_for_pull_error("1005", "密码错了")) is AuthenticationError


@pytest.mark.parametrize("code", [1, "1", "OK", "ok", "Success", "Sucess"])
def test_success_codes_are_recognised(code: object) -> None:
    assert _codes.is_success_code(code)


@pytest.mark.parametrize("code", [0, "1005", "Faild", ""])
def test_failure_codes_are_not_success(code: object) -> None:
    assert not _codes.is_success_code(code)


def test_http_2xx_is_not_an_error() -> None:
    assert _codes.error_for_http_status(200) is None
    assert _codes.error_for_http_status(204) is None


def test_http_429_is_rate_limited_with_retry_after() -> None:
    err = _codes.error_for_http_status(429, retry_after="7")
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == 7.0
    assert err.retry_safe


def test_http_503_is_an_outage_refused_before_processing() -> None:
    err = _codes.error_for_http_status(503)
    assert isinstance(err, ProviderOutageError)
    assert err.retry_safe
    assert err.failover_safe


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_5xx_is_an_uncertain_outcome(status: int) -> None:
    err = _codes.error_for_http_status(status)
    assert isinstance(err, UncertainOutcomeError)
    assert not err.retry_safe
    assert not err.failover_safe


@pytest.mark.parametrize("status", [400, 404, 405, 302])
def test_4xx_is_a_refusal_not_failover_safe(status: int) -> None:
    err = _codes.error_for_http_status(status)
    assert type(err) is ProviderError
    assert err.code == f"HTTP {status}"
    assert not err.failover_safe


# spec chapter 9: the Chinese description of each numbered code, as the gateway would put it in
# a `Faild` reply's <message>.
CHAPTER_9_TEXTS = [
    ("参数错误", "ParamError"),
    ("用户名为空", "UserNameEmpty"),
    ("密码为空", "PasswordEmpty"),
    ("用户名错误", "UserNameError"),
    ("密码错误", "PasswordError"),
    ("IP绑定错误", "BindIpError"),
    ("帐户已停用", "UserStop"),
    ("UserId参数错误，该值必需要是数字，由供应商提供。", "UserIdError"),
    ("Text64参数错误，错误的可能有：不是有效的base64编码，Des解密失败，解析json时出错。", "Text64Error"),
    ("时间戳错误，可能是格式不对，或是时间偏差太大（应该在5分钟以内）。", "StampError"),
    ("内容为空", "ContentEmpty"),
    ("手机号码为空", "MsisdnEmpty"),
    ("扩展错误", "ExtNumberError"),
    ("内容太长", "ContentLong"),
    ("没有发送通道", "NoChannel"),
    ("敏感词汇", "SensitiveWords"),
    ("错误的手机号码", "MsisdnError"),
    ("黑名单的手机号码", "MsisdnBlack"),
    ("没有通道的手机号码", "MsisdnNoChannel"),
    ("额度不足", "AmountNotEnough"),
    ("没有配置产品", "NoProduct"),
    ("需要签名", "RequiredSuffix"),
    ("签名错误", "SuffixError"),
    ("主题为空", "SubjectEmpty"),
    ("系统内部错误", "InternalError"),
]


@pytest.mark.parametrize(("message", "name"), CHAPTER_9_TEXTS)
def test_each_chapter_9_description_maps_to_its_own_code(message: str, name: str) -> None:
    """A text-only refusal carrying a chapter-9 description gets that code's class and name
    (1008/1009 contain 参数 but are not ParamError)."""
    err = _codes.error_for_message(message)
    expected = _codes.error_for_code(name)
    assert type(err) is type(expected)
    assert f"[{name}]" in str(err)


@pytest.mark.parametrize("word", ["停用", "参数", "扩展", "签名", "密码错", "频繁", "太大", "黑名单"])
def test_a_blocked_word_that_looks_like_another_phrase_is_still_sensitive_words(word: str) -> None:
    """wire notes §4: the blocked word is appended as 敏感词(…); its text never reclassifies the
    refusal (an AuthenticationError here would fail the message over to another provider)."""
    err = _codes.error_for_message(f"敏感词({word})")
    assert type(err) is ContentError
    assert "[SensitiveWords]" in str(err)
    assert not err.failover_safe
