"""Several instances on one Redis: each reminder is posted exactly once, and killing the
instance that fires them loses none (§2.4, §4 scale out).

Three copies of the production app share one Redis and one pair of stand-ins. Each runs
its own firing loop and competes for the leader lease in real time (shortened); the
reminders' due times follow the shared fake clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from aiohttp import web

from bot.app import create_app
from bot.clock import FakeClock
from bot.services import SERVICES, Services
from bot.settings import parse_config
from bot.work.firer import Timing
from standins.rig import Rig, rig_settings
from tests.conftest import CHANNEL, CONFIG_YAML, LINE

FAST = Timing(lease_ms=1200, renew_s=0.2, tick_s=0.2, job_lease_s=4.0, job_timeout_s=3.0)
CALLERS = [f"+1512555{n:04d}" for n in range(1300, 1320)]


def reminders(rig: Rig, words: str) -> Counter[str]:
    """How many posts containing `words` each thread got."""
    found: Counter[str] = Counter()
    for m in rig.slack.messages:
        if m["channel"] == CHANNEL and m.get("thread_ts") and words in str(m.get("blocks")):
            found[m["thread_ts"]] += 1
    return found


async def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def test_three_instances_post_each_reminder_once_and_survive_the_leader_dying(
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
        try:
            start = clock.now()
            for caller in CALLERS:
                await rig.missed_call(caller, LINE)
            await rig.settle()
            threads = {m["ts"] for m in rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")}
            assert len(threads) == len(CALLERS)

            await wait_for(lambda: sum(s.scheduler.is_leader for s in instances) == 1)
            clock.set(start + timedelta(minutes=5))
            await wait_for(lambda: len(reminders(rig, "No reply yet")) == len(CALLERS))

            # The leader dies without a word: its lease must run out before another fires.
            [leader] = [s for s in instances if s.scheduler.is_leader]
            clock.set(start + timedelta(minutes=15))
            await leader.scheduler.stop(release=False)
            await wait_for(lambda: len(reminders(rig, "Still no reply")) == len(CALLERS))
            await wait_for(lambda: sum(s.scheduler.is_leader for s in instances if s is not leader) == 1)

            await asyncio.sleep(1.0)  # time for any double to show up
            assert set(reminders(rig, "No reply yet").values()) == {1}
            assert set(reminders(rig, "Still no reply").values()) == {1}
            assert set(reminders(rig, "No reply yet")) == threads
        finally:
            for runner in runners:
                await runner.cleanup()
