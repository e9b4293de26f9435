"""Placeholder until the gateway lands (being written now)."""

from __future__ import annotations


class Gateway:
    pass


class AsyncGateway:
    pass
