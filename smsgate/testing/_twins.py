"""Write a test scenario once and run it over both ``Gateway`` and ``AsyncGateway``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any, Literal

from smsgate._gateway import AsyncGateway, Gateway
from smsgate._provider import Provider

__all__ = ["GatewayFactory", "GatewayView"]

Flavour = Literal["sync", "async"]


class GatewayView:
    """A :class:`~smsgate.Gateway` or :class:`~smsgate.AsyncGateway` whose coroutine methods
    are run to completion on the factory's event loop, so a scenario reads the same for both.

    Attributes that are not coroutine methods (``providers``, ``health()`` …) pass through.
    ``view.gateway`` is the real gateway.
    """

    def __init__(self, gateway: Gateway | AsyncGateway, runner: asyncio.Runner | None) -> None:
        self.gateway = gateway
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.gateway, name)
        if self._runner is None or not inspect.iscoroutinefunction(attr):
            return attr
        runner = self._runner
        return lambda *args, **kwargs: runner.run(attr(*args, **kwargs))


class GatewayFactory:
    """Builds gateways of one flavour and closes them (and its event loop) in :meth:`close`.

    Parametrize a fixture over ``["sync", "async"]`` and every test taking it runs twice::

        @pytest.fixture(params=["sync", "async"])
        def make_gateway(request):
            factory = GatewayFactory(request.param, sleep=lambda seconds: None)
            yield factory
            factory.close()

        def test_failover(make_gateway):
            gateway = make_gateway([primary, backup])
            assert gateway.send(sms).provider == "backup"

    :param flavour: ``"sync"`` builds :class:`~smsgate.Gateway`, ``"async"``
        :class:`~smsgate.AsyncGateway` (run on a private :class:`asyncio.Runner`).
    :param defaults: keyword arguments every gateway gets unless the call overrides them
        (``sleep=``, ``clock=`` …).
    """

    def __init__(self, flavour: Flavour, **defaults: Any) -> None:
        if flavour not in ("sync", "async"):
            raise ValueError(f"flavour must be 'sync' or 'async', not {flavour!r}")
        self.flavour: Flavour = flavour
        self.defaults = defaults
        self.runner = asyncio.Runner() if flavour == "async" else None
        self._opened: list[Any] = []

    @property
    def cls(self) -> type[Gateway] | type[AsyncGateway]:
        """The gateway class of this flavour."""
        return AsyncGateway if self.runner is not None else Gateway

    def track(self, resource: Any) -> Any:
        """Close ``resource`` (``close()`` or ``aclose()``) in :meth:`close`; return it."""
        self._opened.append(resource)
        return resource

    def __call__(self, providers: Provider | Sequence[Provider], **kwargs: Any) -> GatewayView:
        """A gateway of this flavour over ``providers`` (keyword arguments as the gateways take)."""
        options = {**self.defaults, **kwargs}
        cls = self.cls
        if self.runner is not None:
            # An AsyncClient belongs to the loop it is used on: build the gateway there.
            async def build() -> Any:
                return cls(providers, **options)

            gateway = self.runner.run(build())
        else:
            gateway = cls(providers, **options)
        return GatewayView(self.track(gateway), self.runner)

    def close(self) -> None:
        """Close everything this factory built or tracked, newest first, then its loop."""
        for thing in reversed(self._opened):
            closer = getattr(thing, "aclose", None) or thing.close
            result = closer()
            if inspect.isawaitable(result):
                if self.runner is None:
                    raise TypeError(f"{thing!r} closes asynchronously; track it in an async factory")
                self.runner.run(result)  # type: ignore[arg-type]
        self._opened.clear()
        if self.runner is not None:
            self.runner.close()
