"""``IpyySettings``: every setting of the ipyy provider, checked once, before anything runs.

A frozen attrs class: each field has its type (``Literal`` for the closed choices), its
default, and a validator that raises :class:`~smsgate.exceptions.ConfigurationError`
naming the setting. A secret is never quoted in an error or a repr, and a refused
construction leaves the password in no frame of its traceback (``settings.secret_fields``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal, get_args

import attrs

from smsgate import settings
from smsgate.exceptions import ConfigurationError
from smsgate.templates import template_fields
from smsgate_ipyy._xml import is_xml_text

__all__ = ["BatchCompression", "BatchNewlines", "IpyySettings", "SignatureMode", "TransportName"]

#: The send endpoint family: ``form`` (sms.aspx), ``gbk`` (smsGBK.aspx), ``json``
#: (smsJson.aspx), ``encrypted`` (ensms.ashx) or ``soap`` (WebService.asmx).
TransportName = Literal["form", "gbk", "json", "encrypted", "soap"]
#: What to do with a text that has no 【signature】.
SignatureMode = Literal["require", "append", "gateway"]
#: How the batch content is compressed (wire notes §2: the real format is unknown).
BatchCompression = Literal["gzip", "zip", "zlib"]
#: What to do with a CR or LF in a batch text.
BatchNewlines = Literal["reject", "space"]

#: A 【signature】 at the start or the end of a text (surrounding whitespace aside): where the
#: gateway looks for it (2113 RequiredSuffix otherwise), and where the sandbox looks too.
SIGNATURE = re.compile(r"^\s*【[^【】]+】|【[^【】]+】\s*$")


def _default_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- converters (tolerant: a wrong type is left for the validator to name) -----------------


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _userid(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _clock(value: Any) -> Any:
    return _default_clock if value is None else value


def _templates(value: Any) -> Any:
    """A read-only copy of the mapping (a wrong type is left for the validator)."""
    return MappingProxyType(dict(value)) if isinstance(value, Mapping) else value


# --- validators ------------------------------------------------------------------------------

_check_base_url = settings.check_base_url("the account name and password hash")


def _one_of(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    choices = _LITERALS[attribute.name]
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise settings.error(instance, f"{attribute.name} must be one of {allowed}, not {value!r}")


def _check_bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Not converted with bool(): the string "false" (an environment variable, a quoted config
    # value) would turn plain http to any host on.
    if not isinstance(value, bool):
        raise settings.error(instance, f"{attribute.name} must be True or False, not {value!r}")


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise settings.error(instance, f"{attribute.name} must be a positive integer, not {value!r}")


def _check_account(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise settings.error(instance, "account is required (the ipyy account name)")
    # Checked here, not when a request is built: a request builder failing on it would have
    # the password's MD5 in the locals of its frame.
    encoding = "gbk" if instance.transport == "gbk" else "utf-8"
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        raise settings.error(
            instance, f"account contains a character that cannot be sent as {encoding}"
        ) from None
    if instance.transport == "soap" and not is_xml_text(value):
        raise settings.error(instance, "account contains a character XML cannot carry (transport 'soap')")


def _check_password(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise settings.error(instance, "password is required (the plain account password)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Without the codec's message: it would quote a character of the password.
        raise settings.error(instance, "password contains a character UTF-8 cannot carry") from None
    if instance.transport == "soap" and not is_xml_text(value):
        raise settings.error(instance, "password contains a character XML cannot carry (transport 'soap')")


def _check_userid(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if instance.transport == "encrypted" and not (value.isascii() and value.isdigit()):
        raise settings.error(
            instance, "transport 'encrypted' needs userid: the numeric enterprise id (spec 1.5)"
        )


def _check_default_signature(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, str) and SIGNATURE.fullmatch(value)):
        raise settings.error(instance, "default_signature must look like 【name】")
    if instance.signature == "append" and value is None:
        raise settings.error(instance, "signature='append' needs default_signature, e.g. '【腾飞】'")


def _check_pattern(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        re.compile(value)
    except (re.error, TypeError) as exc:
        raise settings.error(instance, f"mobile_pattern is not a valid regular expression: {exc}") from exc


def _check_templates(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Mapping):
        raise settings.error(instance, "templates must be a mapping of template names to texts")
    for name, text in value.items():
        try:
            template_fields(name, text)
        except ConfigurationError as exc:
            raise settings.error(instance, f"templates: {exc.message}") from None


def _check_clock(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise settings.error(instance, "clock must be a callable returning an aware datetime")


# ``from __future__ import annotations`` leaves attribute.type a string; the choices of each
# Literal-typed field are listed here once, from the aliases above.
_LITERALS: dict[str, tuple[object, ...]] = {
    "transport": get_args(TransportName),
    "signature": get_args(SignatureMode),
    "batch_compression": get_args(BatchCompression),
    "batch_newlines": get_args(BatchNewlines),
    "soap_version": (11, 12),
}


@settings.secret_fields("password")
@attrs.frozen(kw_only=True)
class IpyySettings:
    """The settings of one ipyy account, as ``smsgate.get_provider("ipyy", **settings)``
    takes them. Every field is checked when the object is built; a wrong value is a
    :class:`~smsgate.exceptions.ConfigurationError` naming the setting (never its secret).

    :param account: the account name.
    :param password: the account password (plain). It goes over the wire as its upper-case
        MD5 on the form endpoints, as plain text only where the vendor requires it (the
        encrypted endpoint's key material, SOAP, and the new password of ``change_password``).
        It never appears in a repr, a log line or an error.
    :param userid: the enterprise id (may be empty, except for ``transport="encrypted"``,
        which needs the numeric id the vendor gave).
    :param base_url: the gateway's address; ``http://`` is refused for anything but loopback
        unless ``allow_insecure_http=True``.
    :param transport: ``form`` (sms.aspx, XML reply), ``gbk`` (smsGBK.aspx, GBK-encoded form),
        ``json`` (smsJson.aspx), ``encrypted`` (ensms.ashx, DES ``Text64``) or ``soap``
        (WebService.asmx). It picks the send endpoint, the balance endpoint's family and
        whether pulls use the XML or the JSON endpoints.
    :param timeout: seconds per HTTP request (None: no timeout).
    :param max_reply_bytes: the largest reply body read; a larger reply is a
        MalformedReplyError (uncertain outcome). None: smsgate's default, 16 MiB.
    :param name: the name used in receipts and errors (give two accounts different names).
    :param signature: ``require`` (the text must contain a 【signature】, else ValidationError),
        ``append`` (add ``default_signature`` when the text has none) or ``gateway`` (send
        as is and let the gateway refuse with 2113/2114).
    :param default_signature: the 【…】 to append in ``append`` mode.
    :param mobile_pattern: the regular expression a recipient must match in full, after a
        leading ``+86``/``0086``/``86`` is removed.
    :param max_recipients: recipients per send request; more are sent in several requests.
    :param max_text_length: characters one text may have, signature included; a longer one
        is a ValidationError before any request. The spec gives no number; 1000 is what the
        sandbox enforces (it answers 2105 ContentLong above it).
    :param max_mms_size: bytes an MMS may have (its parts' data summed, before packing);
        a larger one is a ValidationError before any request. The spec gives no number, so
        there is none by default: set your contract's (carriers commonly allow 100 to 300 KB).
    :param batch_max_messages: lines per BatchSms.ashx request.
    :param batch_max_bytes: bytes of (uncompressed, UTF-8) content per batch request.
    :param batch_compression: how the batch content is compressed: ``gzip`` (default),
        ``zip`` (PK zip, one entry) or ``zlib``. The vendor says only "Zip"; which one the
        real gateway wants is not known (wire notes §2), so it is a setting.
    :param batch_newlines: ``reject`` (a CR or LF in a batch text is a ValidationError naming
        the message) or ``space`` (each run of CR/LF becomes one space). The batch format is
        line-based and the vendor's escape is undocumented, so the text is never sent mangled
        without the caller choosing so.
    :param allow_insecure_http: allow ``http://`` to a non-loopback host.
    :param clock: returns the current aware datetime (for the encrypted ``Stamp`` and the
        "``send_at`` is in the future" check); defaults to the system clock.
    :param soap_version: 11 or 12, for ``transport="soap"``.
    :param templates: logical templates this account renders: name → a ``str.format``-style
        text with named fields, signature included (``{"verify": "您的验证码：{code}【腾飞】"}``).
        A message naming one is sent with its parameters filled in, and the result is checked
        as any text is. Only named fields with string format specs are allowed (a positional,
        attribute or index field is a ConfigurationError). Read back as a read-only mapping.
    """

    # ``name`` first: the other validators name the provider in their errors.
    name: str = attrs.field(default="ipyy", validator=settings.check_name)
    account: str = attrs.field(default="", converter=_stripped, validator=_check_account)
    password: str = attrs.field(default="", repr=False, validator=_check_password)
    userid: str = attrs.field(default="", converter=_userid, validator=_check_userid)
    base_url: str = attrs.field(
        default="https://dx.ipyy.net/", converter=settings.to_base_url, validator=_check_base_url
    )
    transport: TransportName = attrs.field(default="form", validator=_one_of)
    timeout: float | None = attrs.field(
        default=10.0, converter=settings.to_seconds, validator=settings.check_timeout
    )
    max_reply_bytes: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive_int)
    )
    signature: SignatureMode = attrs.field(default="require", validator=_one_of)
    default_signature: str | None = attrs.field(
        default=None, converter=_stripped, validator=_check_default_signature
    )
    mobile_pattern: str = attrs.field(default=r"1[0-9]{10}", validator=_check_pattern)
    max_recipients: int = attrs.field(default=1000, validator=_positive_int)
    max_text_length: int = attrs.field(default=1000, validator=_positive_int)
    max_mms_size: int | None = attrs.field(default=None, validator=attrs.validators.optional(_positive_int))
    batch_max_messages: int = attrs.field(default=1000, validator=_positive_int)
    batch_max_bytes: int = attrs.field(default=1_000_000, validator=_positive_int)
    batch_compression: BatchCompression = attrs.field(default="gzip", validator=_one_of)
    batch_newlines: BatchNewlines = attrs.field(default="reject", validator=_one_of)
    allow_insecure_http: bool = attrs.field(default=False, validator=_check_bool)
    clock: Callable[[], dt.datetime] = attrs.field(
        default=_default_clock, converter=_clock, validator=_check_clock, eq=False
    )
    soap_version: Literal[11, 12] = attrs.field(default=11, validator=_one_of)
    templates: Mapping[str, str] = attrs.field(
        factory=dict, converter=_templates, validator=_check_templates, hash=False
    )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> IpyySettings:
        """Settings from the keyword arguments of ``get_provider("ipyy", …)``.

        :raises ConfigurationError: an unknown key (named; its value may be a secret and is
            never shown) or a wrong value.
        """
        unknown = set(config) - set(attrs.fields_dict(cls))
        try:
            if unknown:
                raise ConfigurationError(
                    f"unknown ipyy setting(s): {', '.join(sorted(unknown))}", provider=_named(config, "ipyy")
                )
            return cls(**config)
        except ConfigurationError as error:
            del config  # the password: not in the frame that raises the refusal again
            settings.cut_traceback(error)
            raise error


def _named(config: dict[str, Any], default: str) -> str:
    """The provider name a refusal gives: the configured ``name`` when it is a usable one."""
    name = config.get("name")
    return name if isinstance(name, str) and name else default
