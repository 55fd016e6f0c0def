"""The engine: jobs run as soon as possible or when due, on time, cancellable, durable, never doubled.

One stream runs every job; the due set holds what waits for a time (a reminder, a retry); any
instance in a timer role moves due jobs into the stream, and any worker runs them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from bot.store import keys
from bot.store.connection import MAX_CONNECTIONS
from bot.work.engine import Engine, Timing
from standins.clock import FakeClock
from workflows.jobs import CrmDeliveryJob, Retry, retry_policy
from workflows.ports import Deadline, RetryLater

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


@pytest.fixture
async def connect(redis: Redis, redis_url: str) -> AsyncIterator[Callable[[], Redis]]:
    """A new Redis client per instance, as separate processes would have (a blocking pool, as the app's)."""
    opened: list[Redis] = []

    def new() -> Redis:
        opened.append(Redis.from_pool(BlockingConnectionPool.from_url(redis_url, max_connections=MAX_CONNECTIONS)))
        return opened[-1]

    yield new
    for client in opened:
        await client.aclose()


@pytest.fixture
async def engines() -> AsyncIterator[list[Engine]]:
    """Engines a test starts; stopped at the end so no background work outlives the test."""
    started: list[Engine] = []
    yield started
    for engine in started:
        await engine.stop()


def running(engines: list[Engine], redis: Redis, clock: FakeClock, handler: Any, *, job_type: type[Any] = Tick,
            **kw: Any) -> Engine:
    engine = Engine(redis, clock, **{"timing": FAST, **kw})
    engine.register(job_type, handler)
    engine.start()
    engines.append(engine)
    return engine


async def test_a_job_runs_at_its_due_time_not_before(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    engine = Engine(redis, clock)
    engine.register(Tick, fired)
    await engine.deadlines.schedule("conv1:0", clock.now() + timedelta(minutes=5), Tick(v=1))
    clock.advance(minutes=4, seconds=59)
    assert await engine.move_due() == 0
    clock.advance(seconds=1)
    assert await engine.move_due() == 1
    engine.start()
    engines.append(engine)
    await fired.wait_for(1)
    await engine.wait_idle()
    assert fired.args == {"conv1:0": Tick(v=1)}
    assert await engine.move_due(clock.now().timestamp() + 3600) == 0
    assert await redis.keys("tb:job:*") == [] and await redis.xlen(keys.JOBS) == 0


async def test_schedule_again_moves_the_job_and_replaces_its_args(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    engine = running(engines, redis, clock, fired)
    await engine.deadlines.schedule("j", clock.now() + timedelta(minutes=5), Tick(v=1))
    await engine.deadlines.schedule("j", clock.now() + timedelta(minutes=10), Tick(v=2))
    assert await engine.deadlines.due_at("j") == clock.now() + timedelta(minutes=10)
    assert await engine.move_due(clock.now().timestamp() + 360) == 0
    clock.advance(minutes=10)
    await fired.wait_for(1)
    assert fired.args == {"j": Tick(v=2)}


async def test_cancel_and_cancel_group(redis: Redis, clock: FakeClock, engines: list[Engine]) -> None:
    fired = Fired()
    engine = running(engines, redis, clock, fired)
    due = clock.now() + timedelta(minutes=1)
    for step in range(3):
        await engine.deadlines.schedule(f"c1:{step}", due, Tick(), group="conv:c1")
    await engine.deadlines.schedule("c2:0", due, Tick(), group="conv:c2")
    assert await engine.deadlines.cancel("c1:0") is True
    assert await engine.deadlines.cancel("c1:0") is False
    assert await engine.deadlines.cancel_group("conv:c1") == 2
    assert await engine.deadlines.cancel_group("conv:c1") == 0
    clock.advance(minutes=1)
    await fired.wait_for(1)
    await engine.wait_idle()
    assert set(fired.runs) == {"c2:0"}
    assert await redis_empty(engine) and await redis.keys("tb:jobgroup:*") == []


async def test_due_jobs_survive_a_restart(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    first = running(engines, connect(), clock, Fired())
    await first.deadlines.schedule("j", clock.now() + timedelta(minutes=5), Tick(n=1))
    await first.stop()
    fired = Fired()
    running(engines, connect(), clock, fired)
    clock.advance(minutes=6)
    await fired.wait_for(1)
    assert fired.args == {"j": Tick(n=1)}


async def test_a_web_instance_moves_nothing_but_schedules_and_runs(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    web = running(engines, connect(), clock, fired, role="web")
    await web.deadlines.schedule("j", clock.now(), Tick())
    await web.wait_idle()
    assert fired.runs == {} and await web.deadlines.due_at("j") is not None
    # An instance that moves due jobs puts it in the stream; any worker may then run it.
    mover = Engine(connect(), clock, role="scheduler")
    assert await mover.move_due() == 1
    await fired.wait_for(1)


async def test_three_instances_run_each_of_2000_jobs_exactly_once(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    """No leader: all three move due jobs at once, and each job still runs once."""
    fired = Fired()
    instances = [running(engines, connect(), clock, fired) for _ in range(3)]
    writer = instances[0].deadlines
    for batch in range(0, 2000, 100):
        await asyncio.gather(
            *(writer.schedule(f"job{n}", clock.now() + timedelta(seconds=n % 100), Tick(n=n))
              for n in range(batch, batch + 100))
        )  # fmt: skip
    clock.advance(seconds=100)
    await asyncio.gather(*(engine.move_due() for engine in instances))
    await fired.wait_for(2000, timeout=30)
    for engine in instances:
        await engine.wait_idle()
    assert len(fired.runs) == 2000 and set(fired.runs.values()) == {1}
    assert await redis_empty(instances[1])


async def redis_empty(engine: Engine) -> bool:
    r = engine._r
    return await r.zcard(keys.DUE) == 0 and await r.keys("tb:job:*") == [] and await r.xlen(keys.JOBS) == 0


@pytest.mark.parametrize("effect_done", [True, False], ids=["crash-after-effect", "crash-before-effect"])
async def test_a_job_whose_worker_died_is_taken_over_and_the_effect_happens_once(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine], effect_done: bool
) -> None:
    effects: Counter[str] = Counter()
    entered, rerun = asyncio.Event(), asyncio.Event()
    a_redis = connect()
    a = running(engines, a_redis, clock, None, retry_idle_ms=100)

    async def effect(job_id: str) -> None:
        if await a.deadlines.claim_fired(job_id):
            effects[job_id] += 1

    async def dies_mid_job(job_id: str, job: Tick) -> None:
        if effect_done:
            await effect(job_id)
        entered.set()
        await asyncio.Event().wait()  # the process is gone: the job is never settled

    async def survivor(job_id: str, job: Tick) -> None:
        await effect(job_id)
        rerun.set()

    a.register(Tick, dies_mid_job)
    await a.deadlines.schedule("j", clock.now(), Tick())
    await a.move_due()
    await asyncio.wait_for(entered.wait(), 5)
    # A dies: its run stops unsettled (nothing acknowledged), and it reads and reclaims no more.
    for task in list(a._in_flight):
        task.cancel()
    await a.stop()
    b = running(engines, connect(), clock, survivor, retry_idle_ms=100)
    await asyncio.wait_for(rerun.wait(), 5)
    await b.wait_idle()
    assert effects == {"j": 1}
    assert await redis_empty(b)


async def test_a_failed_job_waits_for_its_back_off_in_the_due_set(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    calls: list[str] = []

    async def flaky(job_id: str, job: Tick) -> None:
        calls.append(job_id)
        if len(calls) == 1:
            raise RetryLater("slack 503")
        if len(calls) == 2:
            raise RuntimeError("bug")

    engine = running(engines, redis, clock, flaky, retry_idle_ms=10_000)
    await engine.deadlines.schedule("j", clock.now(), Tick())
    for attempt, first_delay in ((1, 10), (2, 20)):
        async with asyncio.timeout(5):
            while len(calls) < attempt or await engine.deadlines.due_at("j") is None:
                await engine.wait_idle()
        due = await engine.deadlines.due_at("j")
        assert due is not None
        # Doubling from the first interval, with 20 % jitter either way.
        assert first_delay * 0.8 <= (due - clock.now()).total_seconds() <= first_delay * 1.2
        assert await redis.hget(keys.due_job("j"), "attempts") == str(attempt).encode()
        clock.set(due + MICROSECOND)  # the score's float may be a hair after the datetime
    async with asyncio.timeout(5):
        while len(calls) < 3:
            await engine.wait_idle()
    await engine.wait_idle()
    assert calls == ["j", "j", "j"] and await engine.deadlines.due_at("j") is None
    assert await redis_empty(engine)


async def test_a_webhook_job_retried_keeps_its_id_its_number_and_its_age(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    """The retry of a job recorded at the door runs under its first id, so its step log holds."""
    seen: list[tuple[str, int]] = []

    @dataclass(frozen=True)
    class Numbered:
        KIND: ClassVar[str] = "numbered"
        seq: int = 0

    async def handler(job_id: str, job: Numbered) -> None:
        seen.append((job_id, job.seq))
        if len(seen) == 1:
            raise RetryLater("twilio 429")

    engine = running(engines, redis, clock, handler, job_type=Numbered, retry_idle_ms=100)
    assert await engine.enqueue(Numbered(), claim="tb:seen:test:1", sequence="tb:seq:test")
    async with asyncio.timeout(5):
        while not seen or await engine.deadlines.due_at(seen[0][0]) is None:
            await engine.wait_idle()
    clock.advance(seconds=1)
    async with asyncio.timeout(5):
        while len(seen) < 2:
            await engine.wait_idle()
    await engine.wait_idle()
    (first_id, first_seq), (second_id, second_seq) = seen
    assert first_id == second_id and first_seq == second_seq == 1
    assert await redis_empty(engine)


async def test_a_job_still_failing_is_given_up_by_its_kinds_policy(
    redis: Redis, clock: FakeClock, engines: list[Engine], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def broken(job_id: str, job: Tick) -> None:
        calls.append(job_id)
        raise RetryLater("still down")

    engine = running(engines, redis, clock, broken, retry_idle_ms=60_000)
    await engine.deadlines.schedule("j", clock.now(), Tick())
    with caplog.at_level(logging.ERROR, logger="bot.work.engine"):
        async with asyncio.timeout(10):
            while await engine.deadlines.due_at("j") is not None or not calls:
                await engine.wait_idle()
                due = await engine.deadlines.due_at("j")
                if due is not None:
                    clock.set(due + MICROSECOND)
    assert any("given up" in r.getMessage() for r in caplog.records)
    # Retries double from a minute: 1, 2, 4, 5, 5 ... minutes, until 15 minutes have passed.
    assert 5 <= len(calls) <= 7
    assert await redis_empty(engine)


def test_crm_deliveries_are_never_given_up_and_wait_longer() -> None:
    assert retry_policy(CrmDeliveryJob) == Retry(give_up_after_s=None, cap_s=600.0)
    assert retry_policy(Tick) == Retry() and retry_policy(None) == Retry()


async def test_an_unknown_kind_is_retried_and_an_unreadable_job_dropped(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    engine = running(engines, redis, clock, Fired())
    await engine.deadlines.schedule("unknown", clock.now(), NobodyKnows())  # mid-deploy: another instance knows it
    await redis.hset(keys.due_job("bad"), mapping={"kind": "remind", "args": '{"v": "x"}', "gen": "g"})
    await redis.zadd(keys.DUE, {"bad": clock.now().timestamp()})
    async with asyncio.timeout(5):
        while await engine.deadlines.due_at("unknown") is None or await redis.exists(keys.due_job("bad")):
            await engine.wait_idle()
    assert await redis.xlen(keys.JOBS) == 0


async def test_a_job_scheduled_anew_or_cancelled_while_it_runs_keeps_its_new_state(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    release, entered = asyncio.Event(), asyncio.Event()

    async def slow_then_fails(job_id: str, job: Tick) -> None:
        entered.set()
        await release.wait()
        raise RetryLater("would retry")

    engine = running(engines, redis, clock, slow_then_fails)
    await engine.deadlines.schedule("j", clock.now(), Tick(v=1))
    await engine.deadlines.schedule("k", clock.now(), Tick(v=1))
    await asyncio.wait_for(entered.wait(), 5)
    later = clock.now() + timedelta(minutes=15)
    await engine.deadlines.schedule("j", later, Tick(v=2))  # a new caller text restarts the ladder
    await engine.deadlines.cancel("k")  # the conversation was closed
    release.set()
    await engine.wait_idle()
    assert await engine.deadlines.due_at("j") == later  # not the failed run's retry
    assert await engine.deadlines.due_at("k") is None and not await redis.exists(keys.due_job("k"))


async def test_a_sleeping_timer_wakes_for_a_job_scheduled_on_another_instance(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    # Production timing: the timer looks at most once a minute.
    sleeper = running(engines, connect(), clock, fired, timing=Timing())
    web = Engine(connect(), clock, role="web")
    await web.deadlines.schedule("far", clock.now() + timedelta(hours=1), Tick())
    await asyncio.wait_for(sleeper.wakeup.subscribed(), 5)
    # Another process schedules a job due now: only its message can wake the timer.
    await web.deadlines.schedule("now", clock.now(), Tick())
    await fired.wait_for(1)
    assert set(fired.runs) == {"now"}


async def test_a_job_scheduled_here_earlier_than_the_next_look_runs_at_once(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    engine = running(engines, redis, clock, fired, timing=Timing())
    await engine.deadlines.schedule("later", clock.now() + timedelta(minutes=30), Tick())
    await engine.deadlines.replace_group("conv:c1", [Deadline("soon", clock.now(), Tick())])
    await fired.wait_for(1)
    assert set(fired.runs) == {"soon"}


async def test_jobs_an_older_version_had_taken_are_due_again(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    engine = Engine(redis, clock)
    await engine.deadlines.schedule("taken", clock.now() + timedelta(hours=1), Tick())
    # An older version's leader had moved it from the due set to its in-flight set, then stopped.
    await redis.zrem(keys.DUE, "taken")
    await redis.zadd(keys.OLD_IN_FLIGHT, {"taken": clock.now().timestamp() + 30})
    assert await engine.adopt_older() == 1
    assert await engine.deadlines.due_at("taken") == clock.now()
    assert not await redis.exists(keys.OLD_IN_FLIGHT)
