"""Shared timing and reporting for the client-side benchmarks (not a benchmark itself).

Every benchmark compares a *baseline* (the raw library doing the same work: httpx, lxml,
gzip, pycryptodome, struct) with the *smsgate* code path, both measured in the same run and
interleaved sample by sample, so a slow moment of the shared machine hits both alike.

One sample = ``number`` calls of a function, timed with ``time.perf_counter_ns``; ``number``
is calibrated per function so one sample lasts about ``sample_seconds``. After ``warmup``
untimed calls, ``repeats`` samples are taken per side and the **median** ops/s is reported,
with the spread (half the min–max range, relative to the median).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure; ``--quick`` shrinks everything for a smoke run."""

    repeats: int = 7
    sample_seconds: float = 0.12
    warmup: int = 20

    @classmethod
    def from_quick(cls, quick: bool) -> Settings:
        """The default settings, or the smoke-run ones."""
        return cls(repeats=3, sample_seconds=0.02, warmup=3) if quick else cls()


@dataclass(frozen=True)
class Rate:
    """The median rate of one side and its spread."""

    ops_per_second: float
    spread: float  # half the min–max range of the samples, relative to the median

    @property
    def micros_per_op(self) -> float:
        """Microseconds per operation at the median rate."""
        return 1e6 / self.ops_per_second


def _calibrate(fn: Callable[[], object], sample_seconds: float) -> int:
    """How many calls of ``fn`` take about ``sample_seconds`` (at least 1)."""
    number = 1
    while True:
        started = time.perf_counter_ns()
        for _ in range(number):
            fn()
        elapsed = (time.perf_counter_ns() - started) / 1e9
        if elapsed >= sample_seconds / 4 or number >= 1 << 24:
            return max(1, round(number * sample_seconds / max(elapsed, 1e-9)))
        number *= 4


def compare(
    baseline: Callable[[], object],
    subject: Callable[[], object],
    settings: Settings,
    *,
    ops_per_call: int = 1,
    number: int | None = None,
) -> tuple[Rate, Rate]:
    """Measure ``baseline`` and ``subject`` interleaved; return their median rates.

    :param ops_per_call: operations one call performs (e.g. 200 sends per call).
    :param number: calls per sample; calibrated from ``settings.sample_seconds`` when None.
    """
    for _ in range(settings.warmup):
        baseline()
        subject()
    numbers = (
        (number, number)
        if number is not None
        else (_calibrate(baseline, settings.sample_seconds), _calibrate(subject, settings.sample_seconds))
    )
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(settings.repeats):
        for side, fn in enumerate((baseline, subject)):
            count = numbers[side]
            started = time.perf_counter_ns()
            for _ in range(count):
                fn()
            elapsed = (time.perf_counter_ns() - started) / 1e9
            samples[side].append(count * ops_per_call / elapsed)
    return _rate(samples[0]), _rate(samples[1])


def _rate(values: list[float]) -> Rate:
    median = statistics.median(values)
    return Rate(median, (max(values) - min(values)) / 2 / median)


def verdict(ratio: float) -> str:
    """A one-line reading of ``smsgate / baseline`` (1.0 = as fast as the raw library)."""
    if ratio >= 0.8:
        return "on par with the raw baseline"
    if ratio >= 0.5:
        return f"modest overhead: smsgate takes {1 / ratio:.1f}x the baseline's time"
    if ratio >= 0.2:
        return f"noticeable overhead: smsgate takes {1 / ratio:.1f}x the baseline's time"
    return f"far slower than the baseline ({1 / ratio:.0f}x its time): a hot spot"


def report(
    title: str, baseline_label: str, subject_label: str, rates: tuple[Rate, Rate], note: str = ""
) -> float:
    """Print one benchmark's block (baseline, smsgate, ratio, verdict); return the ratio."""
    base, subject = rates
    ratio = subject.ops_per_second / base.ops_per_second
    width = max(len(baseline_label), len(subject_label))
    print(f"-- {title}")
    for who, label, rate in (("baseline", baseline_label, base), ("smsgate ", subject_label, subject)):
        print(
            f"   {who} {label:<{width}} : {rate.ops_per_second:>12,.0f} ops/s"
            f"  {rate.micros_per_op:>10,.1f} µs/op  (±{rate.spread:.0%})"
        )
    print(f"   ratio smsgate / baseline : {ratio:.3f}")
    print(f"   verdict: {verdict(ratio)}{f' — {note}' if note else ''}")
    return ratio
