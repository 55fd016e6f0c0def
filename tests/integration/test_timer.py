"""The timer and the due set: jobs run at their time, cancellable, durable, moved by any number
of instances without a leader, woken early by a sooner job (bot/work/timer.py, deadlines.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from redis.asyncio import Redis

from bot.store import keys
from bot.work.engine import Engine
from bot.work.timer import Timing
from standins.clock import FakeClock
from tests.integration.engine_kit import (
    Fired,
    Tick,
    redis_empty,
    running,
)
from workflows.ports import Deadline


async def test_a_job_runs_at_its_due_time_not_before(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    engine = Engine(redis, clock)
    engine.register(Tick, fired)
    await engine.deadlines.schedule("conv1:0", clock.now() + timedelta(minutes=5), Tick(v=1))
    clock.advance(minutes=4, seconds=59)
    assert await engine.timer.move_due() == 0
    clock.advance(seconds=1)
    assert await engine.timer.move_due() == 1
    engine.start()
    engines.append(engine)
    await fired.wait_for(1)
    await engine.wait_idle()
    assert fired.args == {"conv1:0": Tick(v=1)}
    assert await engine.timer.move_due(clock.now().timestamp() + 3600) == 0
    assert await redis.keys("tb:job:*") == [] and await redis.xlen(keys.JOBS) == 0


async def test_schedule_again_moves_the_job_and_replaces_its_args(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    engine = running(engines, redis, clock, fired)
    await engine.deadlines.schedule("j", clock.now() + timedelta(minutes=5), Tick(v=1))
    await engine.deadlines.schedule("j", clock.now() + timedelta(minutes=10), Tick(v=2))
    assert await engine.deadlines.due_at("j") == clock.now() + timedelta(minutes=10)
    assert await engine.timer.move_due(clock.now().timestamp() + 360) == 0
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
    assert await mover.timer.move_due() == 1
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
    await asyncio.gather(*(engine.timer.move_due() for engine in instances))
    await fired.wait_for(2000, timeout=30)
    for engine in instances:
        await engine.wait_idle()
    assert len(fired.runs) == 2000 and set(fired.runs.values()) == {1}
    assert await redis_empty(instances[1])


async def test_a_sleeping_timer_wakes_for_a_job_scheduled_on_another_instance(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    fired = Fired()
    # Production timing: the timer looks at most once a minute.
    sleeper = running(engines, connect(), clock, fired, timing=Timing())
    web = Engine(connect(), clock, role="web")
    await web.deadlines.schedule("far", clock.now() + timedelta(hours=1), Tick())
    await asyncio.wait_for(sleeper.timer.wakeup.subscribed(), 5)
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
    assert await engine.timer.adopt_older() == 1
    assert await engine.deadlines.due_at("taken") == clock.now()
    assert not await redis.exists(keys.OLD_IN_FLIGHT)
