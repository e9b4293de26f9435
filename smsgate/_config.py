"""Configuration for the ``smsgate`` command line: a TOML file plus environment variables.

The file names providers and the gateway's routing; secrets never live in it::

    [gateway]
    strategy = "failover"            # failover | round_robin | weighted
    # weights = { primary = 3, backup = 1 }   # with strategy = "weighted"
    # failover_on_uncertain = false
    # Breakers and rate limits shared by every process using this Redis (smsgate.scale, the
    # redis extra); its password, if any, comes from $SMSGATE_SHARED_STATE_PASSWORD:
    # shared_state = "redis://127.0.0.1:6379/0"

    [gateway.retry]                  # smsgate.RetryPolicy
    attempts = 3
    base = 0.2
    cap = 5.0
    total = 30.0

    [gateway.breaker]                # smsgate.BreakerPolicy; enabled = false switches it off
    failures = 5
    cool_down = 30.0

    [gateway.rate_limit]             # smsgate.RateLimit for every provider ...
    rate = 10.0
    burst = 20
    # [gateway.rate_limit.primary]   # ... or one table per provider name

    [providers.primary]
    type = "ipyy"                    # the registered provider name
    account = "acme"
    base_url = "https://gateway.example/"
    transport = "form"

    [providers.backup]
    type = "memory"

Every key of a provider table except ``type`` is passed to :func:`smsgate.get_provider`,
together with ``name`` (the table's name). The password of provider ``primary`` comes from
the environment variable ``SMSGATE_PRIMARY_PASSWORD`` (:func:`password_env_var`); a password
(or any secret-looking key) in the file is refused, because config files end up in
repositories and backups.

Where the file is found (:func:`find_config`): ``--config PATH``; else ``./smsgate.toml`` if it
exists; else the path in ``$SMSGATE_CONFIG``.

Applications build a gateway from the same file the CLI reads, routing included:
``smsgate.Gateway.from_config(path)`` / ``smsgate.AsyncGateway.from_config(path)``, or
``smsgate.load_config(path)`` for the :class:`Config` (``config.routing`` is a
:class:`smsgate.routing.RoutingConfig`). A configuration already read into a mapping (from
another file format, a settings framework) is given as ``data=`` instead of a path, shaped
like the file (``{"gateway": {...}, "providers": {"primary": {"type": "ipyy", ...}}}``), and
goes through the same checks: secrets are refused in it too, and passwords still come from
the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from smsgate._plugins import get_provider
from smsgate._provider import Provider
from smsgate.exceptions import (
    ConfigurationError,
    DuplicateProviderError,
    SmsGateError,
    UnknownProviderError,
    UnsupportedOperationError,
    ValidationError,
)
from smsgate.routing import BreakerPolicy, RateLimit, RetryPolicy, RoutingConfig, Strategy

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG",
    "SHARED_STATE_PASSWORD_ENV_VAR",
    "Config",
    "ProviderConfig",
    "build_provider",
    "build_providers",
    "find_config",
    "gateway_from_config",
    "load_config",
    "parse_config",
    "password_env_var",
]

#: The file looked for in the working directory.
DEFAULT_CONFIG = Path("smsgate.toml")
#: Environment variable naming a config file, used when ``./smsgate.toml`` does not exist.
CONFIG_ENV_VAR = "SMSGATE_CONFIG"
#: Environment variable holding the password of the ``[gateway] shared_state`` Redis.
SHARED_STATE_PASSWORD_ENV_VAR = "SMSGATE_SHARED_STATE_PASSWORD"  # noqa: S105 - a variable's name

#: A key holding one of these, or ending in ``key`` or ``pwd``, is taken for a secret (an
#: ``access_key_id`` names a key, and is no secret).
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _is_secret(key: str) -> bool:
    low = key.lower()
    return low.endswith(("key", "pwd")) or any(word in low for word in _SECRET_WORDS)


def password_env_var(name: str) -> str:
    """The environment variable holding the password of provider ``name``.

    ``SMSGATE_<NAME>_PASSWORD`` with the name upper-cased and ``-`` turned into ``_``:
    provider ``ipyy-backup`` reads ``SMSGATE_IPYY_BACKUP_PASSWORD``.
    """
    return f"SMSGATE_{name.upper().replace('-', '_')}_PASSWORD"


@attrs.frozen(kw_only=True)
class ProviderConfig:
    """One ``[providers.<name>]`` table.

    :ivar name: the table's name; becomes the provider's ``name``.
    :ivar type: the registered provider name (``"ipyy"``, ``"memory"`` …).
    :ivar options: the other keys, passed to :func:`smsgate.get_provider` as keywords.
    """

    name: str
    type: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration.

    :ivar strategy: the gateway's routing strategy (also ``routing.strategy``).
    :ivar weights: per-provider weights for the ``weighted`` strategy (also ``routing.weights``).
    :ivar providers: the provider tables, in file order (the failover order).
    :ivar source: the file it was read from, if any.
    :ivar routing: every routing setting of the ``[gateway]`` table: strategy, weights, retry,
        breaker, rate limit, failover on uncertainty.
    :ivar shared_state: the ``[gateway] shared_state`` URL (a Redis holding the breakers and
        rate limits of every process using it), without password; ``None``: this process's
        memory. Connected to only when a gateway is built (:meth:`gateway_options`).
    """

    strategy: Strategy = Strategy.FAILOVER
    weights: Mapping[str, float] | None = None
    providers: tuple[ProviderConfig, ...] = ()
    source: Path | None = None
    routing: RoutingConfig = attrs.field(factory=RoutingConfig)
    shared_state: str | None = None

    def gateway_options(self, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The keyword arguments of :class:`smsgate.Gateway` this configuration sets.

        With ``shared_state`` set, ``shared_state`` is a new :class:`smsgate.scale.RedisState`
        (password from ``env``, default ``os.environ``: ``SMSGATE_SHARED_STATE_PASSWORD``).
        """
        routing = self.routing
        options: dict[str, Any] = {
            "strategy": routing.strategy,
            "weights": routing.weights,
            "retry": routing.retry,
            "breaker": routing.breaker,
            "rate_limit": routing.rate_limit,
            "failover_on_uncertain": routing.failover_on_uncertain,
        }
        if self.shared_state is not None:
            options["shared_state"] = _shared_state(self.shared_state, os.environ if env is None else env)
        elif routing.shared_state is not None:
            options["shared_state"] = routing.shared_state
        return options

    def provider(self, name: str | None = None) -> ProviderConfig:
        """The provider table called ``name``, or the first one."""
        if not self.providers:
            raise ConfigurationError(_no_providers(self.source))
        if name is None:
            return self.providers[0]
        for item in self.providers:
            if item.name == name:
                return item
        known = ", ".join(p.name for p in self.providers)
        raise ConfigurationError(f"no provider {name!r} in the configuration (configured: {known})")


def _shared_state(url: str, env: Mapping[str, str]) -> Any:
    """The :class:`smsgate.scale.RedisState` of a ``shared_state`` URL (imported only here:
    the redis extra is needed only by configurations that use it)."""
    try:
        from smsgate.scale import RedisState  # noqa: PLC0415 - optional extra, loaded when configured
    except ImportError as exc:
        raise ConfigurationError(
            f"[gateway] shared_state needs the redis extra ({exc.name} is not installed): "
            "pip install 'smsgate[redis]'"
        ) from None
    return RedisState(url, password=env.get(SHARED_STATE_PASSWORD_ENV_VAR) or None)


def _no_providers(source: Path | None) -> str:
    where = f"in {source}" if source else f"(no config file: ./{DEFAULT_CONFIG} or ${CONFIG_ENV_VAR})"
    return f"no provider is configured {where}; add a [providers.<name>] table with a 'type'"


def find_config(
    explicit: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The config file to read: ``explicit``, else ``./smsgate.toml``, else ``$SMSGATE_CONFIG``.

    Returns None when none applies. An explicit or ``$SMSGATE_CONFIG`` path that does not exist
    is an error (a typo should not silently mean "no configuration").
    """
    env = os.environ if env is None else env
    if explicit is not None:
        path = _as_path(explicit)
    else:
        local = (cwd or Path.cwd()) / DEFAULT_CONFIG
        if local.is_file():
            return local
        from_env = env.get(CONFIG_ENV_VAR)
        if not from_env:
            return None
        path = Path(from_env)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigurationError(f"config file {str(path)!r} {what}")
    return path


def _as_path(value: object) -> Path:
    """``value`` as the path of a config file: a ``str`` or an ``os.PathLike`` of one (bytes,
    a number or a mapping are a ConfigurationError, never pathlib's TypeError)."""
    if isinstance(value, str | os.PathLike):
        try:
            return Path(value)
        except TypeError:  # an os.PathLike of bytes
            pass
    raise ConfigurationError(
        f"the config file's path must be a str or an os.PathLike, not {type(value).__name__}"
    )


def parse_config(data: Mapping[str, Any], *, source: Path | None = None) -> Config:
    """Validate the TOML document ``data`` and build a :class:`Config`."""
    where = str(source) if source else "the configuration"
    _string_keys(data, where)
    unknown = set(data) - {"gateway", "providers"}
    if unknown:
        hint = " (routing settings, shared_state included, go in [gateway])" if "routing" in unknown else ""
        raise ConfigurationError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}{hint}")
    routing = _gateway_table(data.get("gateway", {}), where)
    shared_state = _shared_state_url(data.get("gateway", {}), where)
    tables = data.get("providers", {})
    if not isinstance(tables, Mapping):
        raise ConfigurationError(f"{where}: [providers] must hold [providers.<name>] tables")
    weights = routing.weights
    providers = tuple(_provider_table(name, table, where) for name, table in tables.items())
    if providers:  # without any, building a gateway says so
        _names_known(routing, [item.name for item in providers], where)
    return Config(
        strategy=routing.strategy,
        weights=dict(weights) if isinstance(weights, Mapping) else None,
        providers=providers,
        source=source,
        routing=routing,
        shared_state=shared_state,
    )


def _string_keys(table: Mapping[Any, Any], where: str, label: str = "") -> None:
    """Every key of ``table`` and of the tables in it is a string, as in a TOML document (a
    mapping given as ``data=`` may hold others: they are refused here, not met later as a
    TypeError). ``label`` is the table's name, ``"[providers.primary]"`` ("" at the top)."""
    for key, value in table.items():
        if not isinstance(key, str):
            place = f"in {label}" if label else "at the top level"
            raise ConfigurationError(
                f"{where}: a key {place} is no string ({type(key).__name__}); keys are names, as in the file"
            )
        if isinstance(value, Mapping):
            _string_keys(value, where, f"{label[:-1]}.{key}]" if label else f"[{key}]")


def _names_known(routing: RoutingConfig, names: list[str], where: str) -> None:
    """Each provider name a ``weights`` or ``[gateway.rate_limit.<name>]`` table gives is one
    of the ``[providers.<name>]`` tables (said here, with the file, not when a gateway is
    built from it)."""
    for key, table in (("weights", routing.weights), ("rate_limit", routing.rate_limit)):
        if not isinstance(table, Mapping):
            continue
        unknown = sorted(set(table) - set(names))
        if unknown:
            label = "[gateway] weights" if key == "weights" else "[gateway.rate_limit]"
            raise ConfigurationError(
                f"{where}: {label} names no configured provider: {', '.join(unknown)} "
                f"(the [providers.<name>] tables are: {', '.join(names) or 'none'})"
            )


_GATEWAY_KEYS = {
    "strategy",
    "weights",
    "retry",
    "breaker",
    "rate_limit",
    "failover_on_uncertain",
    "shared_state",
}


def _shared_state_url(gateway: object, where: str) -> str | None:
    """``[gateway] shared_state``: a ``redis://``, ``rediss://`` or ``unix://`` URL, without
    a password (that comes from the environment, like the providers' passwords)."""
    if not isinstance(gateway, Mapping) or "shared_state" not in gateway:
        return None
    url = gateway["shared_state"]
    label = f"{where}: [gateway] shared_state"
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f'{label} must be a Redis URL such as "redis://127.0.0.1:6379/0" (rediss:// for TLS, '
            "unix:///path for a socket)"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        # redis-py reads a password query parameter (?password=…) as it reads the user part's.
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        has_password = parts.password is not None or any(key.strip().lower() == "password" for key in query)
    except ValueError:
        raise ConfigurationError(f"{label} is not a valid URL") from None
    if has_password:
        # The URL itself stays out of the message: it holds the password.
        raise ConfigurationError(
            f"{label} contains a password; secrets may not be in the config file. Remove it "
            f"and set the environment variable {SHARED_STATE_PASSWORD_ENV_VAR} instead."
        )
    return url


def _gateway_table(gateway: object, where: str) -> RoutingConfig:
    """The routing settings of the ``[gateway]`` table."""
    if not isinstance(gateway, Mapping):
        raise ConfigurationError(f"{where}: [gateway] must be a table")
    extra = set(gateway) - _GATEWAY_KEYS
    if extra:
        raise ConfigurationError(f"{where}: unknown [gateway] key(s) {', '.join(sorted(extra))}")
    strategy = gateway.get("strategy", Strategy.FAILOVER)
    if strategy not in list(Strategy):
        names = ", ".join(s.value for s in Strategy)
        raise ConfigurationError(f"{where}: [gateway] strategy must be one of {names}, not {strategy!r}")
    weights = gateway.get("weights")
    if weights is not None and not (
        isinstance(weights, Mapping)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in weights.values())
    ):
        raise ConfigurationError(f"{where}: [gateway] weights must map provider names to numbers")
    uncertain = gateway.get("failover_on_uncertain", False)
    if not isinstance(uncertain, bool):
        raise ConfigurationError(f"{where}: [gateway] failover_on_uncertain must be true or false")
    options: dict[str, Any] = {
        "strategy": Strategy(strategy),
        "weights": dict(weights) if weights is not None else None,
        "failover_on_uncertain": uncertain,
    }
    if "retry" in gateway:
        options["retry"] = _policy(RetryPolicy, gateway["retry"], f"{where}: [gateway.retry]")
    if "breaker" in gateway:
        options["breaker"] = _breaker(gateway["breaker"], where)
    if "rate_limit" in gateway:
        options["rate_limit"] = _rate_limit(gateway["rate_limit"], where)
    try:
        return RoutingConfig(**options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: [gateway] {exc}") from None


def _policy(kind: Any, table: object, where: str) -> Any:
    """``kind(**table)``, with every mistake a ConfigurationError saying where."""
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    known = {field.name for field in attrs.fields(kind)}
    extra = set(table) - known
    if extra:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(sorted(extra))} (known: {', '.join(sorted(known))})"
        )
    for key, value in table.items():
        if isinstance(value, bool) != (key == "enabled") or not isinstance(value, int | float):
            raise ConfigurationError(f"{where}: {key} has the wrong type ({value!r})")
    try:
        return kind(**table)
    except (ConfigurationError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _breaker(value: object, where: str) -> BreakerPolicy:
    """``[gateway.breaker]``: a table, or ``breaker = "off"`` / ``false``."""
    if value is False or value == "off":
        return BreakerPolicy.off()
    policy: BreakerPolicy = _policy(BreakerPolicy, value, f"{where}: [gateway.breaker]")
    return policy


def _rate_limit(value: object, where: str) -> RateLimit | dict[str, RateLimit]:
    """``[gateway.rate_limit]``: one limit (``rate``, ``burst``) or one table per provider."""
    label = f"{where}: [gateway.rate_limit]"
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{label} must be a table")
    # Per provider, every value is a table: any other value makes it the one limit's table
    # (``burst = 20`` without ``rate`` is then said to lack the rate, not to be no table).
    if not value or not all(isinstance(table, Mapping) for table in value.values()):
        limit: RateLimit = _policy(RateLimit, value, label)
        return limit
    return {name: _policy(RateLimit, table, f"{label}.{name}") for name, table in value.items()}


def _provider_table(name: str, table: object, where: str) -> ProviderConfig:
    """One ``[providers.<name>]`` table, checked: a valid name, a type, no secret."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"{where}: provider name {name!r} must be letters, digits, '-' or '_'")
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where}: [providers.{name}] must be a table")
    for key in table:
        if _is_secret(key):
            raise ConfigurationError(
                f"{where}: [providers.{name}] contains {key!r}; secrets may not be in the config "
                f"file. Remove it and set the environment variable {password_env_var(name)} instead."
            )
    kind = table.get("type")
    if not isinstance(kind, str) or not kind:
        raise ConfigurationError(f'{where}: [providers.{name}] needs type = "<provider>"')
    if "name" in table:
        raise ConfigurationError(f"{where}: [providers.{name}]: the table name is the provider's name")
    options = {k: v for k, v in table.items() if k != "type"}
    return ProviderConfig(name=name, type=kind, options=options)


def load_config(path: str | Path | None = None, *, data: Mapping[str, Any] | None = None) -> Config:
    """Read and validate the TOML file at ``path`` (None: an empty configuration).

    :param data: instead of a file, the configuration as a mapping shaped like the TOML
        document (``{"gateway": {...}, "providers": {"<name>": {"type": ...}}}``, tables as
        mappings, values as TOML has them), checked the same way with the same errors: a
        secret-looking key is refused here too (passwords come from the environment).
    :raises ConfigurationError: an unreadable or invalid file or mapping, or both given.
    """
    if data is not None:
        return _from_data(path, data)
    if path is None:
        return Config()
    source = _as_path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {str(source)!r}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"config file {str(source)!r} is not valid TOML: {exc}") from exc
    return parse_config(data, source=source)


def _from_data(path: object, data: object) -> Config:
    """The :class:`Config` of a mapping given as ``data=`` (no file is read)."""
    if path is not None:
        raise ConfigurationError("give the configuration as a file's path or as data=, not both")
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"data= takes a mapping shaped like the config file ({{'providers': {{...}}}}), "
            f"not {type(data).__name__}"
        )
    return parse_config(data)


def build_provider(item: ProviderConfig, *, env: Mapping[str, str] | None = None) -> Provider:
    """Build one configured provider, with its password from the environment if set there."""
    env = os.environ if env is None else env
    options: dict[str, Any] = dict(item.options)
    variable = password_env_var(item.name)
    secret = env.get(variable)
    if secret:
        options["password"] = secret
    try:
        return get_provider(item.type, name=item.name, **options)
    except (ConfigurationError, ValidationError) as exc:
        if secret or "password" not in exc.message.lower():
            raise _in_table(exc, item.name) from exc
        # The provider cannot know where a config file's password comes from: say it.
        raise ConfigurationError(
            f"{exc.message}: set the environment variable {variable} "
            f"(the password of [providers.{item.name}]; passwords are never read from the file)",
            provider=exc.provider or item.name,
        ) from exc


def _in_table(exc: ConfigurationError | ValidationError, name: str) -> SmsGateError:
    """``exc`` again, its message saying which table the setting came from, its provider the
    table's (a plugin names its own type there), its class kept where it is one of the core's."""
    message = f"{exc.message} (in [providers.{name}])"
    if isinstance(exc, ValidationError):
        return ValidationError(message, field=exc.field, provider=name)
    kind = type(exc) if type(exc) in _CONFIG_ERRORS else ConfigurationError
    return kind(message, provider=name)


_CONFIG_ERRORS = (ConfigurationError, UnknownProviderError, DuplicateProviderError, UnsupportedOperationError)


def build_providers(config: Config, *, env: Mapping[str, str] | None = None) -> list[Provider]:
    """Build every configured provider, in file order."""
    if not config.providers:
        raise ConfigurationError(_no_providers(config.source))
    return [build_provider(item, env=env) for item in config.providers]


def gateway_from_config(
    cls: Any,
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Any:
    """Build ``cls`` (a gateway class) from a config file: its providers and its routing.

    ``path`` None looks for the file as the CLI does (:func:`find_config`); ``data`` is the
    configuration as a mapping instead of a file (:func:`load_config`); ``overrides`` are
    keyword arguments of the gateway that win over the file (``client=``, ``clock=`` …).
    """
    if data is not None:
        config = load_config(path, data=data)
        if not config.providers:
            raise ConfigurationError(
                "no provider is configured in data=; add a 'providers' table: {'providers': "
                "{'<name>': {'type': '<provider>', ...}}}"
            )
    else:
        found = find_config(path, env=env)
        if found is None:
            raise ConfigurationError(_no_providers(None))
        config = load_config(found)
    options = config.gateway_options(env=env)
    options.update(overrides)
    gateway = cls(build_providers(config, env=env), **options)
    if config.shared_state is not None and "shared_state" not in overrides:
        gateway._owned_state = options["shared_state"]  # built here: closed with the gateway
    return gateway
