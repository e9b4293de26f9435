"""What one worker process keeps for the whole of its life: the settings :func:`install`
recorded for each Celery app, and one :class:`smsgate.Gateway` per app, built on first use.

A Celery worker runs tasks in processes that live for many tasks (``prefork`` children, or
the worker itself with ``-P solo``/``threads``). Building a gateway means reading the TOML
file, loading the plugins and opening an HTTP connection pool, so it is done once per process
and reused by every task: :func:`worker_gateway`. A process forked from one that already had
a gateway (prefork) builds its own instead of sharing the parent's sockets, and every gateway
is closed when its process shuts down (Celery's ``worker_process_shutdown`` and
``worker_shutdown`` signals).

The send task (:mod:`smsgate.celery._task`) and the scheduled pulls
(:mod:`smsgate.celery._pulls`) both take their gateway from here.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from celery import signals

from smsgate._args import flag, is_seconds, is_whole, must, to_float, to_int
from smsgate.exceptions import ConfigurationError

if TYPE_CHECKING:
    from smsgate._gateway import Gateway
    from smsgate.celery._idempotency import IdempotencyStore

__all__ = [
    "Settings",
    "close_worker_gateways",
    "idempotency_store",
    "register_settings",
    "settings_of",
    "worker_gateway",
]

log = logging.getLogger("smsgate.celery")

#: Celery configuration key: the TOML file the gateway is built from (as ``smsgate --config``).
CONFIG_KEY = "smsgate_config"
#: Celery configuration key: the Redis URL of the idempotency store.
REDIS_URL_KEY = "smsgate_redis_url"


_SECONDS = must(lambda value: is_seconds(value, zero=True), "must be a finite number of seconds, at least 0")


def _is_path(value: object) -> bool:
    """A config file's path: a non-empty ``str``, or an ``os.PathLike`` of one."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return isinstance(value, str) and bool(value)


def _store(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """The validator of ``idempotency``: a non-empty string (a Redis URL, read in each worker
    process), an :class:`IdempotencyStore` or ``None``. The value stays out of the message:
    a URL may hold a password."""
    from smsgate.celery._idempotency import IdempotencyStore  # noqa: PLC0415

    if value is None or isinstance(value, IdempotencyStore) or (isinstance(value, str) and value):
        return
    given = "an empty string" if isinstance(value, str) else type(value).__name__
    raise ConfigurationError(
        f"{attribute.name} must be the idempotency store's Redis URL (redis://host:port/db) or an "
        f"IdempotencyStore, not {given}"
    )


def _shown_store(value: object) -> str:
    """The repr of ``idempotency``: a URL with its password masked."""
    if not isinstance(value, str):
        return repr(value)
    from smsgate.scale._redis import masked_url  # noqa: PLC0415 - the redis extra, loaded when shown

    return repr(masked_url(value))


@attrs.frozen(kw_only=True)
class Settings:
    """What :func:`smsgate.celery.install` recorded for one Celery app.

    :ivar config: the TOML file; ``None`` reads the Celery setting ``smsgate_config``, then
        looks for the file as the CLI does (``./smsgate.toml``, else ``$SMSGATE_CONFIG``).
    :ivar gateway: a factory used instead of the file (tests, or an application that builds
        its gateway in code); called once per worker process.
    :ivar idempotency: the idempotency store's Redis URL, or a store object; ``None`` reads
        the Celery setting ``smsgate_redis_url``.
    :ivar key_ttl: seconds a claimed idempotency key (and its recorded outcome) is kept.
    :ivar max_retries: how many times a send that surely did not go out is tried again.
    :ivar retry_backoff: the first retry's delay bound in seconds, doubled at each retry.
    :ivar retry_backoff_max: the largest delay bound between two retries, in seconds.
    :ivar retry_jitter: draw each delay uniformly below its bound (full jitter).
    """

    config: str | Path | None = attrs.field(
        default=None,
        validator=must(_is_path, "must be the path of a TOML file (a str or an os.PathLike)", none=True),
    )
    gateway: Callable[[], Gateway] | None = attrs.field(
        default=None,
        validator=must(callable, "must be a callable returning a smsgate.Gateway", none=True),
    )
    idempotency: str | IdempotencyStore | None = attrs.field(
        default=None, validator=_store, repr=_shown_store
    )
    key_ttl: int = attrs.field(
        default=7 * 24 * 3600,
        converter=to_int,
        validator=must(lambda value: is_whole(value, least=1), "must be a whole number, at least 1"),
    )
    max_retries: int = attrs.field(
        default=5,
        converter=to_int,
        validator=must(lambda value: is_whole(value, least=0), "must be a whole number, at least 0"),
    )
    retry_backoff: float = attrs.field(default=1.0, converter=to_float, validator=_SECONDS)
    retry_backoff_max: float = attrs.field(default=60.0, converter=to_float, validator=_SECONDS)
    retry_jitter: bool = attrs.field(default=True, validator=flag)


_settings: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()


def register_settings(app: Any, settings: Settings) -> None:
    """Record ``settings`` for ``app`` (done by :func:`smsgate.celery.install`)."""
    _settings[app] = settings


def settings_of(app: Any) -> Settings:
    """The settings :func:`smsgate.celery.install` recorded for ``app``.

    :raises ConfigurationError: ``install`` was never called for this app in this process
        (the module defining the app must call it at import, so workers run it too).
    """
    try:
        return _settings[app]
    except KeyError:
        raise ConfigurationError(
            f"smsgate.celery.install() was not called for the Celery app {getattr(app, 'main', app)!r} "
            "in this process: call it where the app is defined, so workers run it too"
        ) from None


class _PerProcess:
    """Objects built once per process and per app; rebuilt after a fork."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.gateways: dict[int, tuple[Any, Gateway]] = {}
        self.stores: dict[int, tuple[Any, IdempotencyStore]] = {}

    def forget_if_forked(self) -> None:
        # A forked child inherits the parent's objects and their sockets: never use them (and
        # never close them either: that would shut the parent's connections).
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.gateways = {}
            self.stores = {}


_process = _PerProcess()


def worker_gateway(app: Any) -> Gateway:
    """This process's gateway for ``app``: built on the first call from the app's settings
    (the TOML file, passwords from ``SMSGATE_<NAME>_PASSWORD``), then reused.

    Thread-safe; a forked child builds its own. Closed by :func:`close_worker_gateways`,
    which the worker's shutdown signals call.
    """
    with _process.lock:
        _process.forget_if_forked()
        entry = _process.gateways.get(id(app))
        if entry is not None and entry[0] is app and not entry[1].closed:
            return entry[1]
        gateway = _build_gateway(app, settings_of(app))
        _process.gateways[id(app)] = (app, gateway)
        log.info("smsgate gateway built in worker process %d: %r", os.getpid(), gateway)
        return gateway


def _build_gateway(app: Any, settings: Settings) -> Gateway:
    if settings.gateway is not None:
        return settings.gateway()
    from smsgate._gateway import Gateway  # noqa: PLC0415 - loaded by the worker, not at import

    path = settings.config if settings.config is not None else app.conf.get(CONFIG_KEY)
    return Gateway.from_config(path)


def idempotency_store(app: Any) -> IdempotencyStore:
    """This process's idempotency store for ``app`` (a Redis client per process)."""
    from smsgate.celery._idempotency import IdempotencyStore, RedisIdempotencyStore  # noqa: PLC0415

    with _process.lock:
        _process.forget_if_forked()
        entry = _process.stores.get(id(app))
        if entry is not None and entry[0] is app:
            return entry[1]
        settings = settings_of(app)
        given = settings.idempotency if settings.idempotency is not None else app.conf.get(REDIS_URL_KEY)
        if isinstance(given, IdempotencyStore):
            store = given
        elif isinstance(given, str) and given:
            store = RedisIdempotencyStore(given, ttl=settings.key_ttl)
        else:
            raise ConfigurationError(
                "smsgate.celery needs an idempotency store: install(app, idempotency='redis://…') "
                f"or the Celery setting {REDIS_URL_KEY}"
            )
        _process.stores[id(app)] = (app, store)
        return store


def close_worker_gateways() -> None:
    """Close every gateway and store this process built (safe to call twice)."""
    with _process.lock:
        if _process.pid != os.getpid():
            _process.forget_if_forked()
            return
        gateways, _process.gateways = _process.gateways, {}
        stores, _process.stores = _process.stores, {}
    for _app, gateway in gateways.values():
        try:
            gateway.close()
        except Exception:  # shutting down: log and go on closing the rest
            log.exception("closing the smsgate gateway failed")
    for _app, store in stores.values():
        try:
            store.close()
        except Exception:
            log.exception("closing the idempotency store failed")


def _on_shutdown(**_: Any) -> None:
    close_worker_gateways()


# weak=False: the handler is a module function, kept alive by this module anyway.
signals.worker_process_shutdown.connect(_on_shutdown, weak=False)
signals.worker_shutdown.connect(_on_shutdown, weak=False)
