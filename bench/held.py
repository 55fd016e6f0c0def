"""When a sustained call rate counts as held, and why one does not.

A rate is held when the server keeps up with it (no webhook errors, no text-back lost, the
calls leave on pace, latency not growing through the run) and also keeps its latency level:
a server answering every call but 600 ms late has not held the rate. The level is judged on
the text-back p99 against the p99 at an easy rate (BASE_RATE, or the first rate tried when
that one was not) and against an absolute bound.

Pure functions on the rows `bench.report.step` writes (and `bench/results/*.json` keeps), so
an old results file can be judged again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The easy rate whose text-back p99 the others are compared with (calls/s).
BASE_RATE = 10.0
# A rate's text-back p99 may be at most this many times the p99 at BASE_RATE...
MAX_P99_VS_BASE = 2.0
# ...and under this many milliseconds (§4's text-back bar).
MAX_P99_MS = 100.0
# The calls must start at least this share of the asked rate (the bench's own pace).
MIN_PACE = 0.95


@dataclass(frozen=True)
class Verdict:
    held: bool
    reasons: tuple[str, ...]  # each criterion that failed, empty when held


def legend() -> str:
    """The rule in words, with its thresholds, for the table's heading."""
    return (f"held = no errors, none lost, on pace (>= {MIN_PACE:.0%} of the rate), latency not growing, "
            f"text-back p99 <= {MAX_P99_VS_BASE:g}x the p99 at {BASE_RATE:g} calls/s "
            f"and < {MAX_P99_MS:g} ms")


def base_p99(rows: list[dict[str, Any]]) -> float | None:
    """The text-back p99 at BASE_RATE, else at the first rate tried; None without any."""
    if not rows:
        return None
    at_base = [r for r in rows if float(r["rate"]) == BASE_RATE]
    p99 = (at_base or rows)[0]["textback"]["p99"]
    return None if p99 is None or math.isnan(p99) else float(p99)


def judge(row: dict[str, Any], base: float | None) -> Verdict:
    """One step against every criterion; `base` is the p99 it is compared with."""
    reasons = []
    if row["errors"]:
        reasons.append(f"{row['errors']} errors")
    if row["lost"]:
        reasons.append(f"{row['lost']} lost")
    if row["achieved_rate"] < MIN_PACE * row["rate"]:
        reasons.append(f"off pace ({row['achieved_rate']:g} of {row['rate']:g}/s)")
    if row["growing"]:
        reasons.append("latency growing")
    p99 = row["textback"]["p99"]
    if p99 is None or math.isnan(p99):
        reasons.append("no text-back measured")
    else:
        if base is not None and p99 > MAX_P99_VS_BASE * base:
            reasons.append(f"p99 {p99:.0f} ms > {MAX_P99_VS_BASE:g}x {base:.1f} ms")
        if p99 >= MAX_P99_MS:
            reasons.append(f"p99 {p99:.0f} ms >= {MAX_P99_MS:g} ms")
    return Verdict(not reasons, tuple(reasons))


def judge_all(rows: list[dict[str, Any]]) -> list[Verdict]:
    """Every step of one target's sustained run, against that run's own base p99."""
    base = base_p99(rows)
    return [judge(row, base) for row in rows]


def held_rate(rows: list[dict[str, Any]]) -> float | None:
    """The highest rate held with every lower rate tried held too; None when the first was not."""
    best = None
    for row, verdict in sorted(zip(rows, judge_all(rows), strict=True), key=lambda rv: float(rv[0]["rate"])):
        if not verdict.held:
            break
        best = row["rate"]
    return best
