"""Chaos run: sends through a two-sandbox failover gateway with faults injected into the first
sandbox, then a comparison of what the sandboxes accepted with what the caller was told.

Run by hand or from ``tests/test_chaos.py``::

    .venv/bin/python benchmarks/chaos.py --messages 3000 --json

Two ipyy sandboxes (``smsgate_ipyy.sandbox.Sandbox``, loopback only) stand behind one gateway
with the ``failover`` strategy, the first preferred. Fault rules on the first sandbox (``5xx``,
``hang``, ``drop``, ``garbage``, ``truncate``; see ``docs/sandbox.md``) hit about one request
in eight. Half the messages go through :class:`smsgate.Gateway` from threads, half through
:class:`smsgate.AsyncGateway` from tasks; every message has its own text.

Afterwards each sandbox's inspection log says which texts it accepted (a send answered ``OK``,
or acted on before a ``drop`` / ``truncate`` fault cut the reply). Per message:

- *accepted*: the caller got a receipt; the sandboxes must hold exactly one acceptance;
- *refused*: the caller got an error saying nothing was sent; the sandboxes must hold none;
- *uncertain*: the caller was told the outcome is unknown; the sandboxes may hold one or none.

``duplicates`` counts messages accepted more than once; ``unaccounted`` those whose sandbox
records contradict what the caller was told (a receipt without an acceptance, a refusal with
one, or an acceptance of a text never sent). The last line of the output is JSON with
``messages``, ``accepted``, ``refused``, ``uncertain``, ``duplicates``, ``unaccounted``,
``faults_injected`` (and more detail). Exit status 1 when duplicates or unaccounted are not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

import smsgate
from smsgate.exceptions import AllProvidersFailedError, SmsGateError, UncertainOutcomeError
from smsgate.routing import BreakerPolicy, RetryPolicy
from smsgate_ipyy.sandbox import Sandbox, SandboxConfig

#: Fault rules for the first sandbox, tried in order (at most one applies to a request).
FAULTS: list[dict[str, Any]] = [
    {"kind": "status", "status": 503, "probability": 0.03},
    {"kind": "hang", "seconds": 2.0, "probability": 0.01},
    {"kind": "drop", "probability": 0.03},
    {"kind": "garbage", "probability": 0.03},
    {"kind": "truncate", "probability": 0.03},
]
#: Seconds the client waits for a reply (a hung request costs this much).
CLIENT_TIMEOUT = 0.5
SIGNATURE = "【混沌】"


def _config(faults: list[dict[str, Any]], seed: int) -> SandboxConfig:
    return attrs.evolve(SandboxConfig.default(), faults=faults, seed=seed, log_limit=1_000_000)


def _provider(sandbox: Sandbox, name: str) -> smsgate.Provider:
    creds = sandbox.credentials
    return smsgate.get_provider(
        "ipyy",
        name=name,
        account=creds.account,
        password=creds.password,
        userid=creds.userid,
        base_url=sandbox.base_url,
        timeout=CLIENT_TIMEOUT,
    )


def _gateway_options(failover_on_uncertain: bool) -> dict[str, Any]:
    # Breakers off: every message meets the faulty sandbox first, so every fault kind is hit;
    # no retry on one provider: a refusal that is safe to move on fails over to the second.
    return {
        "breaker": BreakerPolicy.off(),
        "retry": RetryPolicy(attempts=1),
        "failover_on_uncertain": failover_on_uncertain,
    }


def _verdict(exc: BaseException) -> str:
    """How the caller reads an error: ``uncertain`` when any attempt's outcome is unknown."""
    errors: Iterable[BaseException] = exc.exceptions if isinstance(exc, AllProvidersFailedError) else (exc,)
    if any(isinstance(e, UncertainOutcomeError) for e in errors):
        return "uncertain"
    return "refused"


def _text(mode: str, number: int) -> str:
    return f"chaos {mode} {number}{SIGNATURE}"


def _send_sync(gateway: smsgate.Gateway, text: str, mobile: str) -> tuple[str, str]:
    try:
        gateway.send(smsgate.Sms(to=[mobile], text=text))
    except SmsGateError as exc:
        return text, _verdict(exc)
    return text, "accepted"


async def _send_async(
    gateway: smsgate.AsyncGateway, text: str, mobile: str, gate: asyncio.Semaphore
) -> tuple[str, str]:
    async with gate:
        try:
            await gateway.send(smsgate.Sms(to=[mobile], text=text))
        except SmsGateError as exc:
            return text, _verdict(exc)
        return text, "accepted"


def _run_sync(providers: list[smsgate.Provider], count: int, workers: int, unsafe: bool) -> dict[str, str]:
    with (
        smsgate.Gateway(providers, **_gateway_options(unsafe)) as gateway,
        ThreadPoolExecutor(workers) as pool,
    ):
        jobs = [pool.submit(_send_sync, gateway, _text("sync", n), f"138{n:08d}") for n in range(count)]
        return dict(job.result() for job in jobs)


async def _run_async(
    providers: list[smsgate.Provider], count: int, workers: int, unsafe: bool
) -> dict[str, str]:
    gate = asyncio.Semaphore(workers)
    async with smsgate.AsyncGateway(providers, **_gateway_options(unsafe)) as gateway:
        results = await asyncio.gather(
            *(_send_async(gateway, _text("async", n), f"139{n:08d}", gate) for n in range(count))
        )
    return dict(results)


def _accepted_texts(sandbox: Sandbox) -> collections.Counter[str]:
    """Texts the sandbox accepted: sends answered OK, or acted on before a fault cut the reply."""
    counts: collections.Counter[str] = collections.Counter()
    for entry in sandbox.requests():
        if entry["action"] != "send" or entry["outcome"]["code"] != "OK":
            continue
        injected = entry.get("injected")
        if injected is not None and not injected["acted"]:
            continue
        counts[str(entry["fields"].get("content", ""))] += 1
    return counts


def _faults_injected(sandbox: Sandbox) -> dict[str, int]:
    kinds = collections.Counter(e["injected"]["kind"] for e in sandbox.requests() if e.get("injected"))
    return dict(sorted(kinds.items()))


def compare(told: dict[str, str], recorded: collections.Counter[str]) -> dict[str, Any]:
    """Match what each caller was told with what the sandboxes recorded as accepted."""
    outcomes = collections.Counter(told.values())
    duplicates = [text for text, times in recorded.items() if times > 1]
    unaccounted: list[str] = [text for text in recorded if text not in told]  # never sent
    for text, verdict in told.items():
        times = recorded.get(text, 0)
        if (verdict == "accepted" and times == 0) or (verdict == "refused" and times > 0):
            unaccounted.append(text)
    uncertain_delivered = sum(1 for t, v in told.items() if v == "uncertain" and recorded.get(t, 0))
    return {
        "messages": len(told),
        "accepted": outcomes["accepted"],
        "refused": outcomes["refused"],
        "uncertain": outcomes["uncertain"],
        "uncertain_delivered": uncertain_delivered,
        "duplicates": len(duplicates),
        "unaccounted": len(unaccounted),
        "examples": sorted(duplicates + unaccounted)[:5],
    }


def run(
    messages: int, *, workers: int = 16, seed: int = 9, failover_on_uncertain: bool = False
) -> dict[str, Any]:
    """The whole chaos run; returns the JSON summary. ``failover_on_uncertain`` sends an
    uncertain message to the second sandbox too: the duplicates it makes show the check works."""
    unsafe = failover_on_uncertain
    started = time.monotonic()
    with Sandbox(_config(FAULTS, seed)) as faulty, Sandbox(_config([], seed)) as healthy:
        providers = [_provider(faulty, "primary"), _provider(healthy, "secondary")]
        sync_count = messages // 2
        told = _run_sync(providers, sync_count, workers, unsafe)
        told.update(asyncio.run(_run_async(providers, messages - sync_count, workers, unsafe)))
        recorded = _accepted_texts(faulty) + _accepted_texts(healthy)
        faults = _faults_injected(faulty)
        by_sandbox = {
            "primary": sum(_accepted_texts(faulty).values()),
            "secondary": sum(_accepted_texts(healthy).values()),
        }
    summary = compare(told, recorded)
    summary["faults_injected"] = sum(faults.values())
    summary["faults_by_kind"] = faults
    summary["accepted_by_sandbox"] = by_sandbox
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run, print a summary, end with the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000, help="messages to send (half sync, half async)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent senders per mode")
    parser.add_argument("--seed", type=int, default=9, help="the fault draws' seed (a run repeats)")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument(
        "--failover-on-uncertain",
        action="store_true",
        help="the unsafe mode: fail over after an uncertain outcome (expect duplicates)",
    )
    args = parser.parse_args(argv)
    summary = run(
        args.messages, workers=args.workers, seed=args.seed, failover_on_uncertain=args.failover_on_uncertain
    )
    if not args.json:
        for key, value in summary.items():
            print(f"{key:>22}: {value}")
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["duplicates"] == 0 and summary["unaccounted"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
