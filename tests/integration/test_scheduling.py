"""Deadlines in Redis and the single firer: on time, cancellable, durable, never doubled."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis

from bot.clock import FakeClock
from bot.work.firer import Scheduler, Timing
from workflows.ports import Deadline, RetryLater

# Real-time parts shortened so takeover happens within a test's patience.
FAST = Timing(lease_ms=300, renew_s=0.05, tick_s=0.05)


@dataclass(frozen=True)
class Tick:
    """A timed job of the tests' own kind: the engine runs any registered dataclass."""

    KIND: ClassVar[str] = "remind"
    v: int = 0
    n: int = 0
    step: int = 0


@dataclass(frozen=True)
class Slow:
    KIND: ClassVar[str] = "slow"


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


@pytest.fixture
async def connect(redis: Redis, redis_url: str) -> AsyncIterator[Callable[[], Redis]]:
    """A new Redis connection per scheduler instance, as separate processes would have."""
    opened: list[Redis] = []

    def new() -> Redis:
        opened.append(Redis.from_url(redis_url))
        return opened[-1]

    yield new
    for client in opened:
        await client.aclose()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 3.0) -> float:
    """Poll `check` until it holds; the seconds it took. Fails at the deadline."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)
    return time.monotonic() - started


async def leader(redis: Redis, clock: FakeClock, fired: Fired, **kw: Any) -> Scheduler:
    scheduler = Scheduler(redis, clock, **kw)
    scheduler.register(Tick, fired)
    assert await scheduler.campaign()
    return scheduler


async def test_fires_at_the_due_time_not_before(redis: Redis, clock: FakeClock) -> None:
    fired = Fired()
    s = await leader(redis, clock, fired)
    await s.deadlines.schedule("conv1:0", clock.now() + timedelta(minutes=5), Tick(step=0))
    clock.advance(minutes=4, seconds=59)
    assert await s.tick() == 0
    clock.advance(seconds=1)
    assert await s.tick() == 1
    await fired.wait_for(1)
    assert fired.args == {"conv1:0": Tick(step=0)}
    await s.drain()
    assert await s.tick(clock.now() + timedelta(hours=1)) == 0
    assert await redis.keys("tb:job*") == [] and await redis.zcard("tb:inflight") == 0


async def test_schedule_again_moves_the_job_and_replaces_its_args(redis: Redis, clock: FakeClock) -> None:
    fired = Fired()
    s = await leader(redis, clock, fired)
    await s.deadlines.schedule("j", clock.now() + timedelta(minutes=5), Tick(v=1))
    await s.deadlines.schedule("j", clock.now() + timedelta(minutes=10), Tick(v=2))
    assert await s.deadlines.due_at("j") == clock.now() + timedelta(minutes=10)
    assert await s.tick(clock.now() + timedelta(minutes=6)) == 0
    assert await s.tick(clock.now() + timedelta(minutes=10)) == 1
    await fired.wait_for(1)
    assert fired.args["j"] == Tick(v=2)


async def test_cancel_and_cancel_group(redis: Redis, clock: FakeClock) -> None:
    fired = Fired()
    s = await leader(redis, clock, fired)
    due = clock.now() + timedelta(minutes=1)
    for step in range(3):
        await s.deadlines.schedule(f"c1:{step}", due, Tick(), group="conv:c1")
    await s.deadlines.schedule("c2:0", due, Tick(), group="conv:c2")
    assert await s.deadlines.cancel("c1:0") is True
    assert await s.deadlines.cancel("c1:0") is False
    assert await s.deadlines.cancel_group("conv:c1") == 2
    assert await s.deadlines.cancel_group("conv:c1") == 0
    assert await s.tick(due) == 1
    await fired.wait_for(1)
    await s.drain()
    assert set(fired.runs) == {"c2:0"}
    assert await redis.keys("tb:job*") == []


async def test_pending_jobs_survive_a_restart(connect: Callable[[], Redis], clock: FakeClock) -> None:
    first = Scheduler(connect(), clock)
    await first.deadlines.schedule("j", clock.now() + timedelta(minutes=5), Tick(n=1))
    await first.stop()
    fired = Fired()
    second = await leader(connect(), clock, fired)
    clock.advance(minutes=6)
    assert await second.tick() == 1
    await fired.wait_for(1)
    assert fired.args == {"j": Tick(n=1)}


async def test_web_role_never_fires_but_may_schedule(redis: Redis, clock: FakeClock) -> None:
    web = Scheduler(redis, clock, role="web")
    assert await web.campaign() is False
    await web.deadlines.schedule("j", clock.now(), Tick())
    assert await web.tick() == 0
    web.start()  # a no-op: no firing loop, no lease
    assert await redis.get("tb:scheduler:leader") is None
    await web.stop()
    assert await redis.zcard("tb:due") == 1


async def test_only_one_of_three_candidates_leads(connect: Callable[[], Redis], clock: FakeClock) -> None:
    candidates = [Scheduler(connect(), clock, role="scheduler", timing=FAST) for _ in range(3)]
    results = await asyncio.gather(*(c.campaign() for c in candidates))
    assert sorted(results) == [False, False, True]
    assert await asyncio.gather(*(c.campaign() for c in candidates)) == results  # renewals keep it


async def _fire_all(
    schedulers: list[Scheduler], clock: FakeClock, fired: Fired, total: int, *, check_leader: bool
) -> None:
    async def round_() -> None:
        if check_leader:
            await asyncio.gather(*(s.campaign() for s in schedulers))
            await asyncio.gather(*(s.tick() for s in schedulers))
        else:
            await asyncio.gather(*(s.fire_due(clock.now()) for s in schedulers))

    async with asyncio.timeout(30):
        while fired.runs.total() < total:
            await round_()
            await asyncio.sleep(0)


@pytest.mark.parametrize("check_leader", [True, False], ids=["elected", "overlapping-leases"])
async def test_three_instances_run_each_of_2000_jobs_exactly_once(
    connect: Callable[[], Redis], clock: FakeClock, check_leader: bool
) -> None:
    fired = Fired()
    schedulers = [Scheduler(connect(), clock, timing=Timing(max_running=50)) for _ in range(3)]
    for s in schedulers:
        s.register(Tick, fired)
    writer = schedulers[0].deadlines
    for batch in range(0, 2000, 100):
        await asyncio.gather(
            *(writer.schedule(f"job{n}", clock.now() + timedelta(seconds=n % 100), Tick(n=n))
              for n in range(batch, batch + 100))
        )  # fmt: skip
    clock.advance(seconds=100)
    # Without the leader check every instance takes jobs at once, as when leases overlap.
    await _fire_all(schedulers, clock, fired, 2000, check_leader=check_leader)
    await asyncio.gather(*(s.drain() for s in schedulers))
    assert len(fired.runs) == 2000 and set(fired.runs.values()) == {1}
    assert await schedulers[1].deadlines.next_due() is None


@pytest.mark.parametrize("effect_done", [True, False], ids=["crash-after-effect", "crash-before-effect"])
async def test_killed_leader_mid_job_is_taken_over_and_the_effect_happens_once(
    connect: Callable[[], Redis], clock: FakeClock, effect_done: bool
) -> None:
    effects: Counter[str] = Counter()
    hang, entered, rerun = asyncio.Event(), asyncio.Event(), asyncio.Event()
    a = Scheduler(connect(), clock, timing=FAST)
    b_redis = connect()
    b = Scheduler(b_redis, clock, timing=FAST)

    async def effect(s: Scheduler, job_id: str) -> None:
        if await s.deadlines.claim_fired(job_id):
            effects[job_id] += 1

    async def dies_mid_job(job_id: str, args: dict[str, Any]) -> None:
        if effect_done:
            await effect(a, job_id)
        entered.set()
        await hang.wait()  # the process is gone: the job is never settled

    async def survivor(job_id: str, args: dict[str, Any]) -> None:
        await effect(b, job_id)
        rerun.set()

    a.register(Tick, dies_mid_job)
    b.register(Tick, survivor)
    assert await a.campaign() and not await b.campaign()
    await a.deadlines.schedule("j", clock.now(), Tick())
    assert await a.tick() == 1
    await asyncio.wait_for(entered.wait(), 5)
    # A stops renewing and never releases. B leads once the 300 ms lease runs out.
    took = await until(b.campaign)
    assert took < FAST.lease_ms / 1000 + 0.5
    assert await b.tick() == 0  # the job is in flight under A's lease
    clock.advance(seconds=FAST.job_lease_s + 1)
    assert await b.tick() == 1
    await asyncio.wait_for(rerun.wait(), 5)
    await b.drain()
    await a.drain(timeout=0)
    assert effects == {"j": 1}
    assert await b.deadlines.next_due() is None and await b_redis.zcard("tb:inflight") == 0


async def test_failed_handler_is_retried_with_backoff(redis: Redis, clock: FakeClock) -> None:
    calls: list[str] = []

    async def flaky(job_id: str, args: dict[str, Any]) -> None:
        calls.append(job_id)
        if len(calls) == 1:
            raise RetryLater("slack 503")
        if len(calls) == 2:
            raise RuntimeError("bug")

    s = Scheduler(redis, clock)
    s.register(Tick, flaky)
    assert await s.campaign()
    await s.deadlines.schedule("j", clock.now(), Tick())
    for expected_delay in (5, 10):
        assert await s.tick() == 1
        await s.drain()
        due = await s.deadlines.due_at("j")
        assert due == clock.now() + timedelta(seconds=expected_delay)
        clock.set(due)
    assert await s.tick() == 1
    await s.drain()
    assert calls == ["j", "j", "j"] and await s.deadlines.due_at("j") is None


async def test_handler_timeout_and_unknown_kind_are_retried(redis: Redis, clock: FakeClock) -> None:
    async def slow(job_id: str, args: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    s = Scheduler(redis, clock, timing=Timing(job_timeout_s=0.05))
    s.register(Slow, slow)
    assert await s.campaign()
    await s.deadlines.schedule("a", clock.now(), Slow())
    await s.deadlines.schedule("b", clock.now(), NobodyKnows())
    assert await s.tick() == 2
    await s.drain()
    assert await s.deadlines.due_at("a") is not None and await s.deadlines.due_at("b") is not None


async def test_job_rescheduled_while_running_keeps_its_new_time(redis: Redis, clock: FakeClock) -> None:
    release, entered = asyncio.Event(), asyncio.Event()

    async def slow(job_id: str, args: dict[str, Any]) -> None:
        entered.set()
        await release.wait()

    s = Scheduler(redis, clock)
    s.register(Tick, slow)
    assert await s.campaign()
    await s.deadlines.schedule("j", clock.now(), Tick(v=1))
    assert await s.tick() == 1
    await asyncio.wait_for(entered.wait(), 5)
    later = clock.now() + timedelta(minutes=15)
    await s.deadlines.schedule("j", later, Tick(v=2))  # a new caller text restarts the ladder
    release.set()
    await s.drain()
    assert await s.deadlines.due_at("j") == later
    assert await redis.zcard("tb:inflight") == 0


async def test_the_firing_loop_fires_and_a_stopped_leader_hands_over(
    connect: Callable[[], Redis], clock: FakeClock
) -> None:
    fired = Fired()
    instances = [Scheduler(connect(), clock, timing=FAST) for _ in range(2)]
    for s in instances:
        s.register(Tick, fired)
        s.start()
    try:
        await until(lambda: _any_leads(instances))
        first = next(s for s in instances if s.is_leader)
        await first.deadlines.schedule("one", clock.now() + timedelta(minutes=5), Tick())
        clock.advance(minutes=5)
        await fired.wait_for(1)
        await first.stop(release=False)  # as if killed: the lease runs out on its own
        other = next(s for s in instances if s is not first)
        took = await until(lambda: _leads(other))
        assert took < FAST.lease_ms / 1000 + 0.5
        await other.deadlines.schedule("two", clock.now() + timedelta(minutes=5), Tick())
        clock.advance(minutes=5)
        await fired.wait_for(2)
        assert fired.runs == {"one": 1, "two": 1}
    finally:
        for s in instances:
            await s.stop()


async def _any_leads(instances: list[Scheduler]) -> bool:
    return any(s.is_leader for s in instances)


async def _leads(s: Scheduler) -> bool:
    return s.is_leader


async def test_a_sleeping_leader_wakes_for_a_job_scheduled_on_another_instance(
    connect: Callable[[], Redis], clock: FakeClock
) -> None:
    fired = Fired()
    leader = Scheduler(connect(), clock)  # production timing: it looks at most once a minute
    leader.register(Tick, fired)
    leader.start()
    web = Scheduler(connect(), clock, role="web")
    try:
        await until(lambda: _leads(leader))
        await web.deadlines.schedule("far", clock.now() + timedelta(hours=1), Tick())
        await asyncio.wait_for(leader.wakeup.subscribed(), 5)
        # Another process schedules a job due now: only its message can wake the leader.
        await web.deadlines.schedule("now", clock.now(), Tick())
        await fired.wait_for(1)
        assert set(fired.runs) == {"now"}
    finally:
        await leader.stop()


async def test_a_job_scheduled_here_earlier_than_the_next_look_fires_at_once(
    redis: Redis, clock: FakeClock
) -> None:
    fired = Fired()
    s = Scheduler(redis, clock)
    s.register(Tick, fired)
    s.start()
    try:
        await until(lambda: _leads(s))
        await s.deadlines.schedule("later", clock.now() + timedelta(minutes=30), Tick())
        await s.deadlines.replace_group("conv:c1", [Deadline("soon", clock.now(), Tick())])
        await fired.wait_for(1)
        assert set(fired.runs) == {"soon"}
    finally:
        await s.stop()


async def test_a_released_lease_is_taken_over_at_once(connect: Callable[[], Redis], clock: FakeClock) -> None:
    # Production timing: without the release message the other would wait for the lease to run out.
    instances = [Scheduler(connect(), clock, role="scheduler") for _ in range(2)]
    for s in instances:
        s.start()
    try:
        await until(lambda: _any_leads(instances))
        first = next(s for s in instances if s.is_leader)
        other = next(s for s in instances if s is not first)
        for s in instances:
            await asyncio.wait_for(s.wakeup.subscribed(), 5)
        await first.stop()
        await until(lambda: _leads(other))
    finally:
        for s in instances:
            await s.stop()
