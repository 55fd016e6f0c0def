"""Percentiles and ratios for the latency samples (milliseconds)."""

from __future__ import annotations

import math
from typing import Any


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile: p99 of 100 samples is the 99th, never an interpolated value."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: list[float]) -> dict[str, Any]:
    """p50, p99 and max in ms, the count, and the samples themselves (rounded to 0.01 ms)."""
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 2),
        "p99": round(percentile(samples, 99), 2),
        "max": round(max(samples), 2) if samples else math.nan,
        "samples": [round(s, 2) for s in samples],
    }


def ratio(measured: dict[str, Any], floor: dict[str, Any] | None) -> dict[str, float]:
    """The measured p50/p99 over the floor's p50/p99 (NaN without a floor)."""
    if floor is None:
        return {"p50": math.nan, "p99": math.nan}
    return {key: _divide(measured[key], floor[key]) for key in ("p50", "p99")}


def _divide(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return math.nan
    return round(a / b, 2)


def growing(samples: list[float]) -> bool:
    """True when the last third of a steady run is clearly slower than the first third.

    Judged on p50 (p99 of a few hundred samples is one or two outliers); a few ms of slack
    keeps sub-millisecond jitter from counting as growth.
    """
    if len(samples) < 9:
        return False
    third = len(samples) // 3
    first, last = percentile(samples[:third], 50), percentile(samples[-third:], 50)
    return last > 1.5 * first + 5.0


# Linux's first SYN retransmission timeout. A connection whose SYN was dropped (its listener's
# accept queue full) is retried this much later, so its request is about this much slower.
SYN_RETRY_MS = 1000.0


def syn_retry_artefact(summary: dict[str, Any]) -> bool:
    """p99 at or past a SYN retry while p50 is most of a retry below it: the slow tail is likely
    connections retried after 1 s, not work, and a ratio taken from it means little."""
    p50, p99 = summary.get("p50"), summary.get("p99")
    if p50 is None or p99 is None or math.isnan(p50) or math.isnan(p99):
        return False
    return p99 >= SYN_RETRY_MS and p99 - p50 >= 0.9 * SYN_RETRY_MS
