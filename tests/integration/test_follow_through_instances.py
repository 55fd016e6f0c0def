"""Several instances on one Redis: each reminder is posted exactly once, and killing an
instance in the middle of its work loses none (§2.4, §4 scale out).

Three copies of the production app share one Redis and one pair of stand-ins. Each runs its
own timer and workers (shortened real-time looks); the reminders' due times follow the shared
fake clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from aiohttp import web

from bot.app import create_app
from bot.services import SERVICES, Services
from bot.settings import parse_config
from bot.work.timer import Timing
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CHANNEL, CONFIG_YAML, LINE

FAST = Timing(tick_s=0.2, reclaim_every_s=0.2)
CALLERS = [f"+1512555{n:04d}" for n in range(1300, 1320)]


def reminders(rig: Rig, words: str) -> Counter[str]:
    """How many posts containing `words` each thread got."""
    found: Counter[str] = Counter()
    for m in rig.slack.messages:
        if m["channel"] == CHANNEL and m.get("thread_ts") and words in str(m.get("blocks")):
            found[m["thread_ts"]] += 1
    return found


async def settled(instances: list[Services]) -> None:
    """Every instance's engine idle: nothing queued, running, or left pending by a dead worker."""
    for _ in range(2):
        for s in instances:
            await s.jobs.wait_idle(20)


async def test_three_instances_post_each_reminder_once_and_survive_one_dying(
    redis_url: str, redis, clock: FakeClock, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    config = parse_config(CONFIG_YAML, "test.yml")
    runners: list[web.AppRunner] = []
    async with Rig(rig_settings(config, redis_url=redis_url, data_dir=tmp_path), clock=clock, timing=FAST) as rig:
        for _ in range(2):
            runner = web.AppRunner(create_app(rig.settings, clock=clock, timing=FAST))
            await runner.setup()
            runners.append(runner)
        instances: list[Services] = [rig.services, *(r.app[SERVICES] for r in runners)]
        for s in instances:
            s.jobs.retry_idle_ms = 100  # a dead worker's jobs are taken over quickly
        try:
            start = clock.now()
            for caller in CALLERS:
                await rig.missed_call(caller, LINE)
            await rig.settle()
            threads = {m["ts"] for m in rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")}
            assert len(threads) == len(CALLERS)

            # Every instance moves the due reminders at once; each runs exactly once anyway.
            clock.set(start + timedelta(minutes=5))
            await asyncio.gather(*(s.jobs.timer.move_due() for s in instances))
            await settled(instances)
            assert len(reminders(rig, "No reply yet")) == len(CALLERS)

            # One instance dies mid-work, without a word: what it held is taken over by the others.
            clock.set(start + timedelta(minutes=15))
            dying = instances[2]
            await dying.jobs.timer.move_due()
            for task in list(dying.jobs._in_flight):
                task.cancel()
            await dying.jobs.stop()
            await settled(instances[:2])
            assert len(reminders(rig, "Still no reply")) == len(CALLERS)
            assert set(reminders(rig, "No reply yet").values()) == {1}
            assert set(reminders(rig, "Still no reply").values()) == {1}
            assert set(reminders(rig, "No reply yet")) == threads
        finally:
            for runner in runners:
                await runner.cleanup()
