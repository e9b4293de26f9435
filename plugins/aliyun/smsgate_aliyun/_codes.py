"""Aliyun SMS error codes and the smsgate error each becomes.

Source: Alibaba Cloud, "API错误码" / "国内消息API错误码" for Short Message Service
(https://help.aliyun.com/document_detail/101346.html, also
https://help.aliyun.com/zh/sms/developer-reference/api-error-codes), which lists the codes
``SendSms``, ``SendBatchSms`` and ``QuerySendDetails`` return, and the OpenAPI gateway's common
codes (``SignatureDoesNotMatch``, ``InvalidAccessKeyId.*``, ``Throttling.*``,
``InvalidTimeStamp.*``, ``SignatureNonceUsed``, ``Missing*``). Codes that only the sign,
template and short-URL management APIs return are not listed: smsgate does not call those APIs.

The vendor's code and message are always kept on the error (``code``, ``vendor_message``).

Choices worth knowing (``docs/providers/aliyun.md`` repeats them):

* ``isv.BUSINESS_LIMIT_CONTROL`` → :class:`MessageRejectedError` (not retried, never failed
  over). It is the service's per-number frequency control (for a verification template: about
  1 a minute, 5 an hour, 10 a day to one number with one sign). It protects the *recipient*
  from being flooded. Failing over to another vendor would deliver the message anyway and get
  round that anti-abuse rule, and retrying at once would only hit it again; so the refusal is
  treated as being about this message to this number, and the application decides (usually:
  "try again later" to its user).
* ``isv.DAY_LIMIT_CONTROL`` / ``isv.MONTH_LIMIT_CONTROL`` → :class:`ProviderUnavailableError`:
  the account owner's own volume cap for this account; another provider may send.
* ``SignatureNonceUsed`` → plain :class:`ProviderError` (neither retry- nor failover-safe). Each
  request is signed with a fresh nonce, so a reused one means this very request already reached
  the service once: the message may have been accepted then.
* ``isp.SYSTEM_ERROR`` → :class:`ProviderOutageError` (retry later; the vendor's advice).
* An unknown code → plain :class:`ProviderError`: refused, and nothing is assumed beyond that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from smsgate import exceptions as errors

__all__ = ["CODES", "PREFIXES", "SUCCESS", "classify", "error_for_code"]

#: The ``Code`` of a successful reply.
SUCCESS: Final = "OK"

#: Every documented code smsgate's operations can meet → (error class, what it means).
CODES: Final[Mapping[str, tuple[type[errors.ProviderError], str]]] = {
    # --- the message is refused: any provider given the same message would refuse it ----------
    "isv.MOBILE_NUMBER_ILLEGAL": (errors.InvalidRecipientError, "the number is not a valid mobile number"),
    "isv.MOBILE_COUNT_OVER_LIMIT": (errors.MessageRejectedError, "too many numbers in one request"),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": (
        errors.InvalidRecipientError,
        "an international template cannot be sent to a mainland number",
    ),
    "isv.SMS_TEST_NUMBER_LIMIT": (
        errors.InvalidRecipientError,
        "the test sign and template reach only numbers that have authorised them",
    ),
    "isv.CUSTOMER_REFUSED": (errors.InvalidRecipientError, "the recipient unsubscribed from promotions"),
    "isv.SMS_TEMPLATE_ILLEGAL": (errors.ContentError, "the template does not exist or is not approved"),
    "isv.TEMPLATE_MISSING_PARAMETERS": (errors.ContentError, "a template variable has no value"),
    "isv.TEMPLATE_PARAMS_ILLEGAL": (errors.ContentError, "a template variable holds forbidden content"),
    "isv.INVALID_JSON_PARAM": (
        errors.ContentError,
        "the template parameters are not a JSON object of strings",
    ),
    "isv.PARAM_LENGTH_LIMIT": (errors.ContentError, "a template variable is too long"),
    "isv.PARAM_NOT_SUPPORT_URL": (errors.ContentError, "a template variable may not carry a URL"),
    "isv.BLACK_KEY_CONTROL_LIMIT": (errors.ContentError, "a template variable holds a blocked keyword"),
    "isv.SMS_CONTENT_ILLEGAL": (errors.ContentError, "the message holds forbidden content"),
    "isv.SMS_TEST_TEMPLATE_PARAMS_ILLEGAL": (
        errors.ContentError,
        "the test template takes only a 4 to 6 digit code",
    ),
    "isv.SMS_TEST_SIGN_TEMPLATE_LIMIT": (
        errors.ContentError,
        "the test sign goes only with the test template",
    ),
    "isv.INVALID_PARAMETERS": (errors.MessageRejectedError, "a parameter is invalid"),
    "isv.EXTEND_CODE_ERROR": (errors.MessageRejectedError, "the extension code is used by another sign"),
    "isv.SMS_SIGNATURE_ILLEGAL": (errors.SignatureError, "the sign name is not registered to this account"),
    "isv.SMS_SIGN_ILLEGAL": (errors.SignatureError, "the sign name may not be used"),
    "isv.SIGN_STATE_ILLEGAL": (errors.SignatureError, "the sign name is not usable in its present state"),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (errors.SignatureError, "the sign's scene does not fit the template"),
    "isv.BUSINESS_LIMIT_CONTROL": (
        errors.MessageRejectedError,
        "the vendor's per-number frequency control refused this number for now",
    ),
    # --- this provider (account) is refused: another provider may succeed ---------------------
    "isv.AMOUNT_NOT_ENOUGH": (errors.InsufficientBalanceError, "the account balance is too low"),
    "isv.OUT_OF_SERVICE": (errors.InsufficientBalanceError, "the account is stopped for lack of balance"),
    "isv.ACCOUNT_NOT_EXISTS": (errors.AuthenticationError, "the account does not exist"),
    "isv.ACCOUNT_ABNORMAL": (errors.AuthenticationError, "the account is in an abnormal state"),
    "isv.SECURITY_FROZEN_ACCOUNT": (errors.AuthenticationError, "the account is frozen after long disuse"),
    "isv.DENY_IP_RANGE": (errors.AuthenticationError, "requests from this IP region are refused"),
    "SignatureDoesNotMatch": (errors.AuthenticationError, "the request signature does not match"),
    "IncompleteSignature": (errors.AuthenticationError, "the request signature is incomplete"),
    "InvalidTimeStamp.Expired": (
        errors.AuthenticationError,
        "the request time is more than 15 minutes off the service's clock",
    ),
    "InvalidTimeStamp.Format": (errors.AuthenticationError, "the request time is malformed"),
    "isv.PRODUCT_UN_SUBSCRIPT": (errors.NoChannelError, "the account has not activated the SMS service"),
    "isv.PRODUCT_UNSUBSCRIBE": (errors.NoChannelError, "the account has not activated this product"),
    "isp.RAM_PERMISSION_DENY": (errors.PermissionDeniedError, "the RAM user may not call this API"),
    "Forbidden.RAM": (errors.PermissionDeniedError, "the RAM user may not call this API"),
    "isv.DAY_LIMIT_CONTROL": (errors.ProviderUnavailableError, "the account's daily volume cap is reached"),
    "isv.MONTH_LIMIT_CONTROL": (
        errors.ProviderUnavailableError,
        "the account's monthly volume cap is reached",
    ),
    "InvalidVersion": (errors.ProviderUnavailableError, "the service does not serve this API version"),
    "InvalidAction.NotFound": (errors.ProviderUnavailableError, "the service does not know this action"),
    "isp.SYSTEM_ERROR": (errors.ProviderOutageError, "internal error at the service"),
    "InternalError": (errors.ProviderOutageError, "internal error at the service"),
    "ServiceUnavailable": (errors.ProviderOutageError, "the service is unavailable"),
    # --- this very request already reached the service once ----------------------------------
    "SignatureNonceUsed": (errors.ProviderError, "the signature nonce was used before"),
}

#: Code families matched by prefix when the exact code is not in :data:`CODES`
#: (``Throttling.User``, ``InvalidAccessKeyId.NotFound``, ``MissingPhoneNumbers`` …).
PREFIXES: Final[tuple[tuple[str, type[errors.ProviderError], str], ...]] = (
    ("Throttling", errors.RateLimitedError, "the service asks to slow down"),
    ("InvalidAccessKeyId", errors.AuthenticationError, "the AccessKey id is unknown or disabled"),
    ("Missing", errors.MessageRejectedError, "a required parameter is missing"),
    ("InvalidTimeStamp", errors.AuthenticationError, "the request time was refused"),
)


def classify(code: str) -> tuple[type[errors.ProviderError], str]:
    """The error class and a short English meaning for ``code`` (exact match, then prefix)."""
    known = CODES.get(code)
    if known is not None:
        return known
    for prefix, cls, meaning in PREFIXES:
        if code.startswith(prefix):
            return cls, meaning
    return errors.ProviderError, "refused with a code smsgate does not know"


def error_for_code(code: str, vendor_message: str | None, *, raw: Any = None) -> errors.ProviderError:
    """The smsgate error for a refusal with ``code``, keeping the vendor's code and message.

    The message says what the code means; ``raw`` (the parsed reply) is kept for diagnosis.
    Provider and operation are left unset: the driver adds them.
    """
    cls, meaning = classify(code)
    return cls(f"Aliyun refused the request: {meaning}", code=code, vendor_message=vendor_message, raw=raw)
