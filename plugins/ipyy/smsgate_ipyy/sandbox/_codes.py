"""The sandbox's own table of the gateway's result codes (spec chapter 9) and messages.

Written independently of the client's tables on purpose: tests that run the client against
the sandbox then cross-check both. Numbers and Chinese messages are the spec's; names without
a number in chapter 9 come from the WSDL ``ResultCode`` enumeration (wire notes §1), and their
messages are the sandbox's choice (the real texts were never captured).
"""

from __future__ import annotations

import attrs

__all__ = [
    "CODES",
    "MSG_AUTH_EMPTY",
    "MSG_AUTH_WRONG",
    "PULL_ERRORS",
    "PULL_JSON_ERRORS",
    "PULL_XML_ERRORS",
    "ResultCode",
    "code",
]


@attrs.frozen
class ResultCode:
    """One gateway result: its enum ``name``, its chapter 9 ``number`` (``None`` when the
    spec gives none) and the Chinese ``message`` the gateway puts in replies."""

    name: str
    number: int | None
    message: str

    @property
    def wire_number(self) -> int:
        """The number to put where the wire needs an integer (ensms.ashx ``StatusCode``).

        Codes without a chapter 9 number are reported as ``1001`` ParamError, the
        closest numbered code: the real numbers are unknown (wire notes §8.4)."""
        return self.number if self.number is not None else 1001


_TABLE = [
    # spec chapter 9, in its order
    ResultCode("OK", 1, "操作成功"),
    ResultCode("ParamError", 1001, "参数错误"),
    ResultCode("UserNameEmpty", 1002, "用户名为空"),
    ResultCode("PasswordEmpty", 1003, "密码为空"),
    ResultCode("UserNameError", 1004, "用户名错误"),
    ResultCode("PasswordError", 1005, "密码错误"),
    ResultCode("BindIpError", 1006, "IP绑定错误"),
    ResultCode("UserStop", 1007, "帐户已停用"),
    ResultCode("UserIdError", 1008, "UserId参数错误"),
    ResultCode("Text64Error", 1009, "Text64参数错误"),
    ResultCode("StampError", 1010, "时间戳错误"),
    ResultCode("ContentEmpty", 2001, "内容为空"),
    ResultCode("MsisdnEmpty", 1103, "手机号码为空"),
    ResultCode("ExtNumberError", 1104, "扩展错误"),
    ResultCode("ContentLong", 2105, "内容太长"),
    ResultCode("NoChannel", 1106, "没有发送通道"),
    ResultCode("SensitiveWords", 2107, "敏感词汇"),
    ResultCode("MsisdnError", 1108, "错误的手机号码"),
    ResultCode("MsisdnBlack", 1109, "黑名单的手机号码"),
    ResultCode("MsisdnNoChannel", 1110, "没有通道的手机号码"),
    ResultCode("AmountNotEnough", 1111, "额度不足"),
    ResultCode("NoProduct", 1112, "没有配置产品"),
    ResultCode("RequiredSuffix", 2113, "需要签名"),
    ResultCode("SuffixError", 2114, "签名错误"),
    ResultCode("SubjectEmpty", 3001, "主题为空"),
    ResultCode("InternalError", 9999, "系统内部错误"),
    # WSDL-only names (wire notes §1): no number in the spec; messages chosen here.
    ResultCode("MsisdnRepeat", None, "手机号码重复"),
    ResultCode("MsisdnsMany", None, "手机号码过多"),
    ResultCode("ElementError", None, "彩信元素错误"),
    ResultCode("ElementNameRepeat", None, "彩信元素名称重复"),
    ResultCode("SmilEmpty", None, "彩信SMIL为空"),
    ResultCode("SmilExcessive", None, "彩信SMIL过多"),
    ResultCode("SizeLong", None, "彩信太大"),
]

#: Every code the sandbox can answer, by enum name.
CODES: dict[str, ResultCode] = {item.name: item for item in _TABLE}


def code(name: str) -> ResultCode:
    """The :class:`ResultCode` called ``name``; a ``KeyError`` names a sandbox bug."""
    return CODES[name]


# spec 3.4: the balance query answers authentication failures in these words, not codes.
MSG_AUTH_EMPTY = "用户名或密码不能为空"
MSG_AUTH_WRONG = "用户名或密码错误"

#: spec 4.4 / 5.4: the ``<errorstatus><error>`` numbers of the XML pulls and their remarks.
PULL_ERRORS: dict[int, str] = {
    1: MSG_AUTH_EMPTY,
    2: MSG_AUTH_WRONG,
    3: "该用户不允许查看状态报告",
    4: "参数不正确",
}

#: spec 4.4 / 5.4: the XML pull ``<error>`` number of each refusal (by result-code name;
#: ``NotAllowed`` is error 3, which has no chapter 9 equivalent).
PULL_XML_ERRORS: dict[str, int] = {
    "UserNameEmpty": 1,
    "PasswordEmpty": 1,
    "UserNameError": 2,
    "PasswordError": 2,
    "NotAllowed": 3,
    "ParamError": 4,
}

#: spec 4.5 / 5.5: JSON pulls answer with chapter 9 numbers and their own remarks
#: (``"1005"``, ``"密码错了"``); error 3 keeps its XML number.
PULL_JSON_ERRORS: dict[str, tuple[str, str]] = {
    "UserNameEmpty": ("1002", "用户名为空"),
    "PasswordEmpty": ("1003", "密码为空"),
    "UserNameError": ("1004", "用户名错误"),
    "PasswordError": ("1005", "密码错了"),
    "NotAllowed": ("3", PULL_ERRORS[3]),
    "ParamError": ("1001", "参数错误"),
}
