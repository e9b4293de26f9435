"""``AliyunSettings``: every setting of the Aliyun SMS provider, checked once, before anything runs.

A frozen attrs class: each field has its type, its default, and a validator that raises
:class:`~smsgate.exceptions.ConfigurationError` naming the setting. The AccessKey secret is
never quoted in an error or a repr, nor left in a frame of a refused construction's traceback
(``settings.secret_fields``); the provider hands it to the signing module's
:class:`~smsgate_aliyun._signing.AccessKey`, the only object that uses it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from smsgate import settings
from smsgate.exceptions import ConfigurationError
from smsgate_aliyun._build import MAX_BATCH, MAX_PHONE_NUMBERS
from smsgate_aliyun._signing import AccessKey, fresh_nonce

__all__ = ["DEFAULT_BASE_URL", "AliyunSettings", "Template"]

#: Dysmsapi's public endpoint (the service is global; region endpoints answer the same API).
DEFAULT_BASE_URL = "https://dysmsapi.aliyuncs.com/"

_TEMPLATE_CODE = re.compile(r"\A[A-Za-z0-9_]{1,64}\Z")
# What smsgate.Sms accepts as a template name and as a parameter name: a logical name it
# cannot carry is never used, and a template needing a parameter it cannot carry never sent.
_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_CAN_CARRY = "a letter or '_', then letters, digits or '_', 64 at most"


def _default_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.frozen(kw_only=True)
class Template:
    """One logical template as Aliyun renders it.

    :ivar code: the template code registered in the console (``SMS_123456789``).
    :ivar sign_name: the sign name to send it with (default: the provider's ``sign_name``).
    :ivar params: the variables the template needs, if known: a message missing one is not
        rendered by this provider (routing moves on before any I/O). ``None``: not checked.
        Each must be a parameter name a message can carry (as ``smsgate.Sms`` takes them: a
        letter or ``_``, then letters, digits or ``_``, 64 at most).
    """

    code: str
    sign_name: str | None = None
    params: tuple[str, ...] | None = None


# --- converters (tolerant: a wrong type is left for the validator to name) -----------------


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _template(value: Any) -> Any:
    if isinstance(value, Template):
        return value
    if isinstance(value, str):
        return Template(code=value.strip())
    if isinstance(value, Mapping) and set(value) <= {"code", "sign_name", "params"}:
        params = value.get("params")
        return Template(
            code=value.get("code", ""),
            sign_name=value.get("sign_name"),
            params=tuple(params) if isinstance(params, list | tuple) else params,
        )
    return value


def _templates(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {name: _template(item) for name, item in value.items()}


# --- validators ------------------------------------------------------------------------------

_check_base_url = settings.check_base_url("the recipients, the template variables and a replayable signature")


def _positive_int(limit: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise settings.error(
                instance, f"{attribute.name} must be an integer from 1 to {limit}, not {value!r}"
            )

    return check


def _check_key_id(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise settings.error(instance, "access_key_id is required (the AccessKey id, LTAI…)")


def _check_secret(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise settings.error(
            instance,
            "access_key_secret is required (from the command line: the environment variable "
            "SMSGATE_<NAME>_PASSWORD)",
        )
    # The signing module's own check; its message never quotes the value.
    AccessKey(instance.access_key_id, value)


def _check_sign_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value or len(value) > 128 or not value.isprintable():
        raise settings.error(
            instance, f"{attribute.name} must be a printable sign name (签名), like '阿里云'"
        )


def _check_one_template(instance: Any, name: Any, template: Any) -> None:
    if not isinstance(name, str) or not name:
        raise settings.error(instance, "templates: every logical name must be a non-empty string")
    if not _NAME.match(name):
        raise settings.error(
            instance, f"templates: {name!r} is not a name a message can carry ({_CAN_CARRY})"
        )
    if not isinstance(template, Template):
        raise settings.error(
            instance,
            f"templates[{name!r}] must be a template code ('SMS_123456789') or a table with "
            "code, and optionally sign_name and params",
        )
    if not isinstance(template.code, str) or not _TEMPLATE_CODE.match(template.code):
        raise settings.error(instance, f"templates[{name!r}]: the code must be like 'SMS_123456789'")
    if template.sign_name is not None:
        _check_sign_name(instance, attrs.fields(Template).sign_name, template.sign_name)
    if template.params is not None:
        _check_params(instance, name, template.params)


def _check_params(instance: Any, name: str, params: Any) -> None:
    if not (isinstance(params, tuple) and all(isinstance(p, str) for p in params)):
        raise settings.error(instance, f"templates[{name!r}]: params must be a list of variable names")
    for param in params:
        if not _NAME.match(param):
            shown = param if len(param) <= 64 else f"{param[:20]}…"
            raise settings.error(
                instance,
                f"templates[{name!r}]: the parameter {shown!r} is not a name a message can carry "
                f"({_CAN_CARRY}), so the template could never be sent",
            )


def _check_templates(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Mapping):
        raise settings.error(instance, "templates must map logical names to template codes")
    for name, template in value.items():
        _check_one_template(instance, name, template)


def _check_bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Not converted with bool(): the string "false" (an environment variable, a quoted config
    # value) would turn plain http to any host on.
    if not isinstance(value, bool):
        raise settings.error(instance, f"{attribute.name} must be True or False, not {value!r}")


def _check_callable(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise settings.error(instance, f"{attribute.name} must be a callable")


@settings.secret_fields("access_key_secret")
@attrs.frozen(kw_only=True)
class AliyunSettings:
    """The settings of one Aliyun SMS account, as ``smsgate.get_provider("aliyun", **settings)``
    takes them. Every field is checked when the object is built; a wrong value is a
    :class:`~smsgate.exceptions.ConfigurationError` naming the setting (never the secret).

    :param access_key_id: the AccessKey id (``LTAI…``); it travels in the ``Authorization`` header.
    :param access_key_secret: the AccessKey secret. Used only as the HMAC key of the V3
        signature; never in a repr, a log line, an error or a URL. The command line reads it
        from ``SMSGATE_<NAME>_PASSWORD`` (passed as ``password``, accepted as an alias).
    :param sign_name: the sign name (签名) messages are sent with, as registered in the console.
    :param templates: logical template name → template code (``{"verify": "SMS_123456789"}``),
        or → a table ``{"code": …, "sign_name": …, "params": [...]}`` to give a template its own
        sign name and the variables it needs.
    :param base_url: the endpoint (default Dysmsapi's public one); ``http://`` is refused for
        anything but loopback unless ``allow_insecure_http=True``.
    :param timeout: seconds per HTTP request (None: no timeout).
    :param name: the name used in receipts and errors (give two accounts different names).
    :param max_recipients: numbers per ``SendSms`` request (the service takes up to 1000).
    :param max_batch: recipients per ``SendBatchSms`` request (the service takes up to 100).
    :param allow_insecure_http: allow ``http://`` to a non-loopback host.
    :param clock: returns the current aware datetime (the signing time and the send date a
        receipt keeps for ``query_status``); defaults to the system clock.
    :param nonce: returns a fresh ``x-acs-signature-nonce`` for each request.
    """

    # ``name`` first: the other validators name the provider in their errors.
    name: str = attrs.field(default="aliyun", validator=settings.check_name)
    access_key_id: str = attrs.field(default="", converter=_stripped, validator=_check_key_id)
    access_key_secret: str = attrs.field(default="", repr=False, validator=_check_secret)
    sign_name: str = attrs.field(default="", converter=_stripped, validator=_check_sign_name)
    templates: Mapping[str, Template] = attrs.field(
        factory=dict, converter=_templates, validator=_check_templates, hash=False
    )
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL, converter=settings.to_base_url, validator=_check_base_url
    )
    timeout: float | None = attrs.field(
        default=10.0, converter=settings.to_seconds, validator=settings.check_timeout
    )
    max_recipients: int = attrs.field(default=MAX_PHONE_NUMBERS, validator=_positive_int(MAX_PHONE_NUMBERS))
    max_batch: int = attrs.field(default=MAX_BATCH, validator=_positive_int(MAX_BATCH))
    allow_insecure_http: bool = attrs.field(default=False, validator=_check_bool)
    clock: Callable[[], dt.datetime] = attrs.field(
        default=_default_clock, validator=_check_callable, eq=False
    )
    nonce: Callable[[], str] = attrs.field(default=fresh_nonce, validator=_check_callable, eq=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AliyunSettings:
        """Settings from the keyword arguments of ``get_provider("aliyun", …)``.

        ``password`` is taken as ``access_key_secret``: it is the name under which the
        command line passes the secret it reads from ``SMSGATE_<NAME>_PASSWORD``.

        :raises ConfigurationError: an unknown key (named; its value may be a secret and is
            never shown) or a wrong value.
        """
        values = dict(config)
        try:
            if "password" in values:
                if "access_key_secret" in values:
                    raise ConfigurationError(
                        "give access_key_secret or password (its alias), not both",
                        provider=_named(values, "aliyun"),
                    )
                values["access_key_secret"] = values.pop("password")
            unknown = set(values) - set(attrs.fields_dict(cls))
            if unknown:
                raise ConfigurationError(
                    f"unknown aliyun setting(s): {', '.join(sorted(unknown))}",
                    provider=_named(values, "aliyun"),
                )
            return cls(**values)
        except ConfigurationError as error:
            del config, values  # the secret: not in the frame that raises the refusal again
            settings.cut_traceback(error)
            raise error

    def key(self) -> AccessKey:
        """The AccessKey pair that signs this account's requests."""
        return AccessKey(self.access_key_id, self.access_key_secret)


def _named(config: dict[str, Any], default: str) -> str:
    """The provider name a refusal gives: the configured ``name`` when it is a usable one."""
    name = config.get("name")
    return name if isinstance(name, str) and name else default
