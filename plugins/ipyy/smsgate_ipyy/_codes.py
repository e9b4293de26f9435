"""The ipyy result codes (spec chapter 9, wire notes §1) and the smsgate error each becomes.

The gateway reports a refusal in four ways, and each has its function here:

* a numeric ResultCode (``"StatusCode":1005`` from ensms.ashx, ``"error":"1005"`` from the
  JSON pulls) or a ResultCode *name* (``PasswordError`` from the SOAP ``SendResult``):
  :func:`error_for_code`;
* only a Chinese message (``<returnstatus>Faild</returnstatus><message>需要签名</message>``):
  :func:`error_for_message`;
* the XML pull error ``<errorstatus><error>1..4</error>`` of spec 4.4 / 5.4, whose numbers
  mean something else than the ResultCodes: :func:`error_for_pull_error`;
* an HTTP status other than 2xx: :func:`error_for_http_status` (the core's
  :func:`smsgate.exceptions.error_for_http_status`).

A delivery report's own codes (its ``status``, or only its ``errorcode``) say whether a
message was delivered, not that a request was refused: :func:`report_status`.

Choices worth knowing (the provider page repeats them):

* ``Text64Error`` (1009) → :class:`AuthenticationError`: the gateway decrypts ``Text64`` with
  the account's stored password, so a wrong password shows up as a failed decryption.
* ``StampError`` (1010) → :class:`ProviderUnavailableError`: the clock of *this host* is off
  by more than five minutes. Another provider would take the message (fail over), but
  retrying the same one will not help until the clock is fixed.
* ``MsisdnNoChannel`` (1110) and ``ExtNumberError`` (1104) → :class:`NoChannelError`: the
  number (or the extension) is valid, this account just has no channel for it, so another
  provider may well deliver it.
* ``ParamError`` (1001) → :class:`MessageRejectedError`: inputs are validated before I/O, so
  what is left is a request this gateway cannot take as built.
"""

from __future__ import annotations

import re

import attrs

from smsgate import DeliveryStatus
from smsgate import exceptions as errors

# What an HTTP status other than 2xx means, shared by every provider (kept here under the
# names this module always had).
from smsgate.exceptions import error_for_http_status, parse_retry_after

__all__ = [
    "CODES",
    "ResultCode",
    "error_for_code",
    "error_for_http_status",
    "error_for_message",
    "error_for_pull_error",
    "is_success_code",
    "parse_retry_after",
    "report_status",
]


@attrs.frozen
class ResultCode:
    """One ResultCode: its enum name, its number when the spec gives one, the smsgate error
    class it becomes and an English explanation."""

    name: str
    number: int | None
    error: type[errors.ProviderError]
    meaning: str


_A = errors.AuthenticationError
_C = errors.ContentError
_R = errors.InvalidRecipientError

#: Every ResultCode: the spec's chapter 9 table (numbered) and the other names of the .NET
#: enum the WSDL shows (wire notes §1; their numbers are unknown, so they match by name).
CODES: tuple[ResultCode, ...] = (
    ResultCode("Unknown", None, errors.ProviderError, "unknown error"),
    ResultCode("AppInactive", None, _A, "the application or account is not active"),
    ResultCode("ParamError", 1001, errors.MessageRejectedError, "a parameter was refused"),
    ResultCode("UserNameEmpty", 1002, _A, "the account name is empty"),
    ResultCode("PasswordEmpty", 1003, _A, "the password is empty"),
    ResultCode("UserNameError", 1004, _A, "the account name is wrong"),
    ResultCode("PasswordError", 1005, _A, "the password is wrong"),
    ResultCode("BindIpError", 1006, _A, "this host's IP address is not bound to the account"),
    ResultCode("UserStop", 1007, _A, "the account is stopped"),
    ResultCode("UserIdError", 1008, _A, "userid must be the numeric id the vendor gave"),
    ResultCode("Text64Error", 1009, _A, "Text64 could not be decrypted (wrong password?)"),
    ResultCode(
        "StampError",
        1010,
        errors.ProviderUnavailableError,
        "the Stamp is off by more than 5 minutes: check the clock",
    ),
    ResultCode("SendTimeError", None, errors.MessageRejectedError, "the scheduled send time was refused"),
    ResultCode("JsonError", None, errors.ProviderError, "the encrypted JSON was refused"),
    ResultCode("ContentEmpty", 2001, _C, "the content is empty"),
    ResultCode("MsisdnEmpty", 1103, _R, "no recipient number"),
    ResultCode("MsisdnRepeat", None, _R, "a recipient number is repeated"),
    ResultCode("ExtNumberError", 1104, errors.NoChannelError, "the extension number is not accepted"),
    ResultCode("ContentLong", 2105, _C, "the content is too long"),
    ResultCode("NoChannel", 1106, errors.NoChannelError, "the account has no sending channel"),
    ResultCode("SensitiveWords", 2107, _C, "the content contains blocked words"),
    ResultCode("MsisdnError", 1108, _R, "a recipient number is invalid"),
    ResultCode("MsisdnBlack", 1109, _R, "a recipient number is black-listed"),
    ResultCode("MsisdnNoChannel", 1110, errors.NoChannelError, "the account has no channel for a recipient"),
    ResultCode("AmountNotEnough", 1111, errors.InsufficientBalanceError, "the balance is too low"),
    ResultCode("NoProduct", 1112, errors.NoChannelError, "no product is configured for the account"),
    ResultCode("BalanceNotEnough", None, errors.InsufficientBalanceError, "the balance is too low"),
    ResultCode("ChannelTypeError", None, errors.NoChannelError, "the channel type does not fit"),
    ResultCode("TemplateError", None, _C, "the content does not match a template"),
    ResultCode("FrequentOperation", None, errors.RateLimitedError, "too many requests"),
    ResultCode("NoEnabled", None, errors.PermissionDeniedError, "the operation is not enabled"),
    ResultCode("TemplateIdError", None, _C, "the template id is wrong"),
    ResultCode("MsisdnsMany", None, _R, "too many recipients in one request"),
    ResultCode("ContentError", None, _C, "the content was refused"),
    ResultCode("MsisdnLess", None, _R, "too few recipients"),
    ResultCode("RequiredSuffix", 2113, errors.SignatureError, "a 【signature】 is required"),
    ResultCode("SuffixError", 2114, errors.SignatureError, "the 【signature】 is not allowed"),
    ResultCode("SubjectEmpty", 3001, _C, "the MMS subject is empty"),
    ResultCode("SubjectLong", None, _C, "the MMS subject is too long"),
    ResultCode("FramesEmpty", None, _C, "the MMS has no frames"),
    ResultCode("ElementError", None, _C, "an MMS part was refused"),
    ResultCode("FrameError", None, _C, "an MMS frame was refused"),
    ResultCode("FrameSizeLong", None, _C, "an MMS frame is too large"),
    ResultCode("SmilEmpty", None, _C, "the MMS needs a .smil part"),
    ResultCode("SmilExcessive", None, _C, "the MMS has more than one .smil part"),
    ResultCode("ElementNameRepeat", None, _C, "two MMS parts have the same name"),
    ResultCode("SizeLong", None, _C, "the MMS is too large"),
    ResultCode("MmsIdEmpty", None, _C, "the MMS id is empty"),
    ResultCode("NoMmsTemplate", None, _C, "no such MMS template"),
    ResultCode("TaskIdEmpty", None, errors.ProviderError, "the task id is empty"),
    ResultCode("NoRealName", None, errors.PermissionDeniedError, "the account lacks real-name verification"),
    ResultCode("FaileList", None, errors.ProviderError, "the request failed"),
    ResultCode("InternalError", 9999, errors.ProviderOutageError, "internal error at the gateway"),
)

_BY_NUMBER = {c.number: c for c in CODES if c.number is not None}
_BY_NAME = {c.name.lower(): c for c in CODES}
_SUCCESS_NAMES = {"ok", "1", "success", "sucess"}

# Text-only refusals (`Faild` + message): the most specific phrases first, since several
# contain others (没有通道的手机号码 contains 手机号码).
_MESSAGES: tuple[tuple[str, str], ...] = (
    # wire notes §4: the blocked word is appended, 敏感词(…), and may be any text at all
    # (停用, 参数 …): this phrase must win over every other.
    ("敏感词", "SensitiveWords"),
    ("用户名或密码不能为空", "UserNameEmpty"),
    ("用户名或密码错误", "PasswordError"),
    ("用户名为空", "UserNameEmpty"),
    ("密码为空", "PasswordEmpty"),
    ("用户名错误", "UserNameError"),
    ("密码错", "PasswordError"),
    ("IP绑定", "BindIpError"),
    ("停用", "UserStop"),
    ("不允许", "NoEnabled"),
    ("时间戳", "StampError"),
    # spec 9: 1008 is "UserId参数错误…" and 1009 "Text64参数错误…"; both also contain 参数.
    ("UserId", "UserIdError"),
    ("Text64", "Text64Error"),
    ("没有通道的手机号码", "MsisdnNoChannel"),
    ("黑名单", "MsisdnBlack"),
    ("错误的手机号码", "MsisdnError"),
    ("手机号码错误", "MsisdnError"),
    ("手机号码为空", "MsisdnEmpty"),
    ("号码重复", "MsisdnRepeat"),
    ("号码过多", "MsisdnsMany"),
    # MMS refusals: the gateway's wording is not captured anywhere (wire notes §3), so these
    # match on the distinctive word of each ResultCode name.
    ("名称重复", "ElementNameRepeat"),
    ("SMIL为空", "SmilEmpty"),
    ("SMIL过多", "SmilExcessive"),
    ("元素", "ElementError"),
    ("太大", "SizeLong"),
    ("没有发送通道", "NoChannel"),
    ("没有配置产品", "NoProduct"),
    ("内容为空", "ContentEmpty"),
    ("内容太长", "ContentLong"),
    ("需要签名", "RequiredSuffix"),
    ("签名", "SuffixError"),
    ("余额不足", "AmountNotEnough"),
    ("额度不足", "AmountNotEnough"),
    ("主题为空", "SubjectEmpty"),
    ("扩展", "ExtNumberError"),
    ("频繁", "FrequentOperation"),
    ("参数", "ParamError"),
    ("系统内部错误", "InternalError"),
)

# spec 4.4 / 5.4: the XML pull errors have their own numbers.
_PULL_ERRORS: dict[str, ResultCode] = {
    "1": ResultCode("UserNameEmpty", None, _A, "the account name or password is empty"),
    "2": ResultCode("PasswordError", None, _A, "the account name or password is wrong"),
    "3": ResultCode("NoEnabled", None, errors.PermissionDeniedError, "the account may not pull reports"),
    "4": ResultCode("ParamError", None, errors.ProviderError, "a pull parameter is wrong"),
}


# spec 4.3: a report's status 10 means delivered, 20 failed; the JSON pull has no status.
_REPORT_STATUSES = {"10": DeliveryStatus.DELIVERED, "20": DeliveryStatus.FAILED}
# spec 4.5: DELIVRD is the carriers' success word in a report's errorcode.
_DELIVERED_CODE = "DELIVRD"


def report_status(status: str, code: str) -> DeliveryStatus:
    """A delivery report's status from its stripped ``status`` and ``errorcode`` fields
    (pulled or pushed, XML or JSON): the status when there is one (10 delivered, 20 failed,
    any other unknown), else the code (``DELIVRD`` in any case delivered, any other failed).

    Neither a status nor a code is unknown: nothing says the message failed (calling it
    failed could make an application send a delivered message again).
    """
    if status:
        return _REPORT_STATUSES.get(status, DeliveryStatus.UNKNOWN)
    if code:
        return DeliveryStatus.DELIVERED if code.upper() == _DELIVERED_CODE else DeliveryStatus.FAILED
    return DeliveryStatus.UNKNOWN


def is_success_code(code: object) -> bool:
    """True for the ResultCode meaning success: ``1``/``"1"`` (numeric) or ``"OK"``."""
    return str(code).strip().lower() in _SUCCESS_NAMES


def _lookup(code: object) -> ResultCode | None:
    text = str(code).strip()
    # At most 9 digits: no ResultCode is longer, and int() refuses over 4,300 digits.
    if re.fullmatch(r"-?[0-9]+", text):
        return _BY_NUMBER.get(int(text)) if len(text) <= 9 else None
    return _BY_NAME.get(text.lower())


def _build(
    info: ResultCode, *, code: str | None, vendor_message: str | None, raw: object, label: str | None = None
) -> errors.ProviderError:
    """The error ``info`` means; the message names the code as the gateway sent it, or
    ``info``'s name alone when ``label`` is given (a code read from the vendor's message)."""
    if label is None:
        label = info.name if code is None or code == info.name else f"{info.name} {code}"
    text = f"the gateway refused the request: {info.meaning} [{label}]"
    if vendor_message:
        text += f": {vendor_message}"
    return info.error(text, code=code, vendor_message=vendor_message, raw=raw)


def _vendor_code(info: ResultCode) -> str:
    """The code the vendor gives for ``info`` where it sends one: its chapter 9 number, or
    its name (as the SOAP ``StatusCode`` spells it) when the spec gives no number."""
    return info.name if info.number is None else str(info.number)


def error_for_message(
    message: str | None, *, code: str | None = None, raw: object = None
) -> errors.ProviderError:
    """The error for a refusal that carries only the gateway's Chinese message.

    Known phrases (用户名或密码错误, 需要签名, 敏感词(…), 余额不足 …) pick the ResultCode: its
    class, and its code in ``code`` as the numeric transports give it (the chapter 9 number,
    ``"1108"``, or the name for a code without one, ``"FrequentOperation"``) unless ``code``
    is given. Anything else becomes a plain :class:`ProviderError` (not failover-safe) with
    the message kept and no code.
    """
    text = (message or "").strip()
    for phrase, name in _MESSAGES:
        if phrase in text:
            info = _BY_NAME[name.lower()]
            if code is None:  # the code the message stands for (the gateway sent no code)
                return _build(info, code=_vendor_code(info), vendor_message=text, raw=raw, label=info.name)
            return _build(info, code=code, vendor_message=text, raw=raw)
    return errors.ProviderError(
        f"the gateway refused the request: {text or 'no reason given'}",
        code=code,
        vendor_message=text or None,
        raw=raw,
    )


def _known(info: ResultCode | None, code: object, message: str | None, raw: object) -> errors.ProviderError:
    """The error for ``code`` when ``info`` describes it, else by its message."""
    text = str(code).strip()
    if info is None:
        return error_for_message(message, code=text, raw=raw)
    return _build(info, code=text, vendor_message=(message or "").strip() or None, raw=raw)


def error_for_code(code: object, message: str | None = None, *, raw: object = None) -> errors.ProviderError:
    """The error for a ResultCode given as a number (``1005``, ``"1005"``) or a name
    (``"PasswordError"``, case-insensitive), with the gateway's message kept.

    An unknown code is classified by its message when that is a known phrase, and is a plain
    :class:`ProviderError` otherwise; the code is always kept in ``code``.
    """
    return _known(_lookup(code), code, message, raw)


def error_for_pull_error(
    code: object, remark: str | None = None, *, raw: object = None
) -> errors.ProviderError:
    """The error for the XML pull refusal ``<errorstatus><error>N</error><remark>…``.

    spec 4.4 / 5.4: 1 = name or password empty, 2 = wrong, 3 = not allowed to pull,
    4 = bad parameter. Other numbers are treated as ResultCodes.
    """
    info = _PULL_ERRORS.get(str(code).strip())
    return _known(info or _lookup(code), code, remark, raw)
