"""What the engine and timer tests share: a job kind of their own, a recorder of runs, engines
that are stopped at the end, and a look at whether Redis holds anything of a job."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from redis.asyncio import Redis

from bot.store import keys
from bot.work.engine import Engine
from bot.work.timer import Timing
from standins.clock import FakeClock

MICROSECOND = timedelta(microseconds=1)
# The timer looks often while a test moves the fake clock; production sleeps until the next due time.
FAST = Timing(tick_s=0.05, reclaim_every_s=0.05)


@dataclass(frozen=True)
class Tick:
    """A job of the tests' own kind: the engine runs any registered dataclass."""

    KIND: ClassVar[str] = "remind"
    v: int = 0
    n: int = 0


@dataclass(frozen=True)
class NobodyKnows:
    KIND: ClassVar[str] = "nobody-knows"


class Fired:
    """Records handler runs; `wait_for(n)` returns once n runs happened, or fails at a deadline."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.args: dict[str, Tick] = {}
        self._changed = asyncio.Event()

    async def __call__(self, job_id: str, job: Tick) -> None:
        self.runs[job_id] += 1
        self.args[job_id] = job
        self._changed.set()

    async def wait_for(self, total: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.runs.total() < total:
                self._changed.clear()
                await self._changed.wait()


def running(engines: list[Engine], redis: Redis, clock: FakeClock, handler: Any, *, job_type: type[Any] = Tick,
            **kw: Any) -> Engine:
    engine = Engine(redis, clock, **{"timing": FAST, **kw})
    engine.register(job_type, handler)
    engine.start()
    engines.append(engine)
    return engine


async def redis_empty(engine: Engine) -> bool:
    r = engine._r
    return await r.zcard(keys.DUE) == 0 and await r.keys("tb:job:*") == [] and await r.xlen(keys.JOBS) == 0
