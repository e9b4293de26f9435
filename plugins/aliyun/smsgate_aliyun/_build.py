"""Request builders for Dysmsapi 2017-05-25: ``SendSms``, ``SendBatchSms``, ``QuerySendDetails``.

Pure functions: arguments in, a signed :class:`httpx.Request` out, no I/O. Every input is
checked before anything is built, so a :class:`~smsgate.exceptions.ValidationError` means
nothing was sent. Vendor field names appear only as the constants below, spelt as the API
reference spells them.

Every request is ``POST /`` with the operation's parameters in an
``application/x-www-form-urlencoded`` body (V3 signs the body through
``x-acs-content-sha256`` and the ``content-type`` header). The parameters are not put in the
query string, so the URL that httpx and proxies log is the bare endpoint: no recipient number,
no template parameter (a verification code) and no credential appears in it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence

import attrs
import httpx

from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate_aliyun._signing import AccessKey, canonical_query, sign_headers

__all__ = [
    "API_VERSION",
    "MAX_BATCH",
    "MAX_PAGE_SIZE",
    "MAX_PHONE_NUMBERS",
    "BatchEntry",
    "RequestContext",
    "build_query_send_details",
    "build_send_batch_sms",
    "build_send_sms",
    "check_ext",
    "check_number",
    "check_out_id",
]

API_VERSION = "2017-05-25"
FORM = "application/x-www-form-urlencoded"

# Actions (x-acs-action).
SEND_SMS = "SendSms"
SEND_BATCH_SMS = "SendBatchSms"
QUERY_SEND_DETAILS = "QuerySendDetails"

# Parameters, as the API reference spells them.
PHONE_NUMBERS = "PhoneNumbers"
PHONE_NUMBER = "PhoneNumber"
SIGN_NAME = "SignName"
TEMPLATE_CODE = "TemplateCode"
TEMPLATE_PARAM = "TemplateParam"
SMS_UP_EXTEND_CODE = "SmsUpExtendCode"
OUT_ID = "OutId"
PHONE_NUMBER_JSON = "PhoneNumberJson"
SIGN_NAME_JSON = "SignNameJson"
TEMPLATE_PARAM_JSON = "TemplateParamJson"
SMS_UP_EXTEND_CODE_JSON = "SmsUpExtendCodeJson"
BIZ_ID = "BizId"
SEND_DATE = "SendDate"
PAGE_SIZE = "PageSize"
CURRENT_PAGE = "CurrentPage"

#: SendSms: at most 1000 numbers per request (API reference, ``PhoneNumbers``).
MAX_PHONE_NUMBERS = 1000
#: SendBatchSms: at most 100 numbers per request (API reference, ``PhoneNumberJson``).
MAX_BATCH = 100
#: QuerySendDetails: ``PageSize`` is 1 to 50.
MAX_PAGE_SIZE = 50

# A number as the service takes it: digits, optionally after "+" (mainland numbers bare or with
# 86/+86/0086, international ones with their country code).
_NUMBER = re.compile(r"\A\+?[0-9]{5,20}\Z")
_EXT = re.compile(r"\A[0-9]{1,12}\Z")
_CODE = re.compile(r"\A[A-Za-z0-9_]{1,64}\Z")
_MAX_OUT_ID = 256


def _url(value: object) -> httpx.URL:
    try:
        return httpx.URL(value)  # type: ignore[arg-type]
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError("base_url is not a valid URL", provider="aliyun") from exc


@attrs.frozen
class RequestContext:
    """Where and as whom a request is made, and the two values that make its signature unique.

    :param base_url: the endpoint, e.g. ``https://dysmsapi.aliyuncs.com`` (its path is used as
        the request path; ``/`` when it has none).
    :param key: the AccessKey pair that signs.
    :param now: the signing time (timezone-aware).
    :param nonce: a value never used before with this key.
    """

    base_url: httpx.URL = attrs.field(converter=_url)
    key: AccessKey
    now: dt.datetime
    nonce: str


@attrs.frozen
class BatchEntry:
    """One recipient of a ``SendBatchSms``: its number, sign name and template parameters."""

    phone_number: str
    sign_name: str
    params: Mapping[str, str] = attrs.field(factory=dict)
    ext: str | None = None


def _fail(message: str, field: str) -> ValidationError:
    return ValidationError(message, field=field, provider="aliyun")


def _number(value: object, field: str) -> str:
    if not isinstance(value, str) or not _NUMBER.match(value):
        raise _fail("a recipient must be 5 to 20 digits, optionally after '+'", field)
    return value


def _text(value: object, field: str, *, limit: int = 128) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _fail(f"{field} must be a non-blank string of at most {limit} characters", field)
    if any(ord(ch) < 0x20 for ch in value):
        raise _fail(f"{field} must not hold control characters", field)
    _no_surrogates(value, field)
    return value


def _template_code(value: object) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise _fail("a template code is letters, digits and '_' (like SMS_123456789)", TEMPLATE_CODE)
    return value


def _params(value: object, field: str) -> dict[str, str]:
    # The service takes string values only (isv.INVALID_JSON_PARAM otherwise).
    if not isinstance(value, Mapping):
        raise _fail("template parameters must be a mapping of names to strings", field)
    out: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not isinstance(text, str) or not name:
            raise _fail("template parameter names and values must be strings", field)
        _no_surrogates(name + text, field)
        out[name] = text
    return out


def _no_surrogates(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(f"{field} holds text UTF-8 cannot encode", field) from exc


def _ext(value: object, field: str) -> str:
    if not isinstance(value, str) or not _EXT.match(value):
        raise _fail("an extension code is 1 to 12 digits", field)
    return value


def check_number(value: object, field: str = PHONE_NUMBERS) -> str:
    """``value`` if the service can take it as a recipient (5 to 20 digits, optionally after
    ``+``), else :class:`ValidationError` naming ``field`` (the number is not quoted)."""
    return _number(value, field)


def check_out_id(value: object) -> str:
    """``value`` if it can be sent as ``OutId`` (the caller's reference), else ValidationError."""
    return _text(value, OUT_ID, limit=_MAX_OUT_ID)


def check_ext(value: object, field: str = SMS_UP_EXTEND_CODE) -> str:
    """``value`` if it can be sent as ``SmsUpExtendCode`` (1 to 12 digits), else ValidationError."""
    return _ext(value, field)


def _json(value: object) -> str:
    # Compact and unescaped: the service counts the characters of the variables it renders.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rpc_request(ctx: RequestContext, action: str, params: Mapping[str, str]) -> httpx.Request:
    url = ctx.base_url
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, not {str(url)!r}", provider="aliyun")
    url = url.copy_with(path=url.path or "/", query=None, fragment=None)
    body = canonical_query(params.items()).encode("ascii")
    headers = sign_headers(
        ctx.key,
        method="POST",
        host=url.netloc.decode("ascii"),
        path=url.path,
        query="",
        action=action,
        version=API_VERSION,
        body=body,
        now=ctx.now,
        nonce=ctx.nonce,
        content_type=FORM,
    )
    return httpx.Request("POST", url, headers=headers, content=body)


def build_send_sms(
    ctx: RequestContext,
    *,
    phone_numbers: Sequence[str],
    sign_name: str,
    template_code: str,
    params: Mapping[str, str] | None = None,
    out_id: str | None = None,
    ext: str | None = None,
) -> httpx.Request:
    """``SendSms``: one template, one sign name, the same parameters for every number.

    :param phone_numbers: 1 to 1000 numbers (sent comma-separated).
    :param params: the template variables (``TemplateParam``, a JSON object of strings).
    :param out_id: the caller's reference (``OutId``), echoed on reports.
    :param ext: the uplink extension code (``SmsUpExtendCode``).
    """
    if isinstance(phone_numbers, str) or not 1 <= len(phone_numbers) <= MAX_PHONE_NUMBERS:
        raise _fail(f"SendSms takes 1 to {MAX_PHONE_NUMBERS} numbers in a sequence", PHONE_NUMBERS)
    fields = {
        PHONE_NUMBERS: ",".join(_number(n, PHONE_NUMBERS) for n in phone_numbers),
        SIGN_NAME: _text(sign_name, SIGN_NAME),
        TEMPLATE_CODE: _template_code(template_code),
    }
    if params:
        fields[TEMPLATE_PARAM] = _json(_params(params, TEMPLATE_PARAM))
    if out_id is not None:
        fields[OUT_ID] = _text(out_id, OUT_ID, limit=_MAX_OUT_ID)
    if ext is not None:
        fields[SMS_UP_EXTEND_CODE] = _ext(ext, SMS_UP_EXTEND_CODE)
    return _rpc_request(ctx, SEND_SMS, fields)


def build_send_batch_sms(
    ctx: RequestContext, *, template_code: str, entries: Sequence[BatchEntry], out_id: str | None = None
) -> httpx.Request:
    """``SendBatchSms``: one template, a sign name and parameters per number (1 to 100 numbers).

    :param out_id: the caller's reference (``OutId``), one for the whole request.

    The three JSON arrays (``PhoneNumberJson``, ``SignNameJson``, ``TemplateParamJson``) are
    parallel: entry *i* of each belongs to the same recipient. ``SmsUpExtendCodeJson`` is sent
    only when an entry has an extension code, and then for every entry (``""`` where unset).
    """
    if not 1 <= len(entries) <= MAX_BATCH:
        raise _fail(f"SendBatchSms takes 1 to {MAX_BATCH} entries", PHONE_NUMBER_JSON)
    numbers = [_number(e.phone_number, PHONE_NUMBER_JSON) for e in entries]
    signs = [_text(e.sign_name, SIGN_NAME_JSON) for e in entries]
    params = [_params(e.params, TEMPLATE_PARAM_JSON) for e in entries]
    fields = {
        PHONE_NUMBER_JSON: _json(numbers),
        SIGN_NAME_JSON: _json(signs),
        TEMPLATE_CODE: _template_code(template_code),
        TEMPLATE_PARAM_JSON: _json(params),
    }
    if any(e.ext is not None for e in entries):
        exts = ["" if e.ext is None else _ext(e.ext, SMS_UP_EXTEND_CODE_JSON) for e in entries]
        fields[SMS_UP_EXTEND_CODE_JSON] = _json(exts)
    if out_id is not None:
        fields[OUT_ID] = check_out_id(out_id)
    return _rpc_request(ctx, SEND_BATCH_SMS, fields)


def build_query_send_details(
    ctx: RequestContext,
    *,
    phone_number: str,
    send_date: dt.date,
    biz_id: str | None = None,
    page_size: int = MAX_PAGE_SIZE,
    page: int = 1,
) -> httpx.Request:
    """``QuerySendDetails``: the messages sent to one number on one day (China date), optionally
    only those of one send (``BizId``), one page at a time.

    :param send_date: the day the message was sent, as the service dates it (UTC+8); the
        service keeps the last 30 days (API reference, "QuerySendDetails").
    """
    if not isinstance(send_date, dt.date) or isinstance(send_date, dt.datetime):
        raise _fail("send_date must be a date (the China date of the send)", SEND_DATE)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise _fail(f"page_size must be 1 to {MAX_PAGE_SIZE}", PAGE_SIZE)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise _fail("page must be a positive integer", CURRENT_PAGE)
    fields = {
        PHONE_NUMBER: _number(phone_number, PHONE_NUMBER),
        SEND_DATE: send_date.strftime("%Y%m%d"),
        PAGE_SIZE: str(page_size),
        CURRENT_PAGE: str(page),
    }
    if biz_id is not None:
        fields[BIZ_ID] = _text(biz_id, BIZ_ID, limit=64)
    return _rpc_request(ctx, QUERY_SEND_DETAILS, fields)
