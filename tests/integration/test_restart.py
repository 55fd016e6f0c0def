"""A restarted instance takes back at once what its previous start left behind (locks, jobs it
was running, missed calls whose text-back had not gone); another instance, or a second process
under the same name, waits out the leases. The fake clock never moves here: nothing waits 30 s."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.settings import parse_config
from bot.store import keys
from bot.twilio import webhooks
from bot.work.engine import GROUP, RUN_LOCK_MS
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CONFIG_YAML, LINE
from tests.integration.saw import parents

# Callers whose calls were answered and decided, and whose text-backs had not gone.
UNSENT = ["+15125550131", "+15125550132", "+15125550133"]
# The caller whose text went, and whose job (the thread) was running when the process died.
RUNNING = "+15125550134"


class Crash(Exception):
    """The process died here."""


@asynccontextmanager
async def instance(name: str, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """A server started as instance `name` (a fresh start each time), with stand-ins of its own."""
    settings = replace(rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=redis_url, data_dir=tmp_path),
                       instance=name)
    async with Rig(settings, clock=clock) as rig:
        yield rig
        assert not rig.twilio.violations and not rig.slack.violations
        tasks = rig.services.tasks
    assert tasks.cancelled == [], f"background work left running: {tasks.cancelled}"


@dataclass
class Left:
    """What the dead start left in Redis."""

    run_lock: str
    holder: bytes
    conversation_lock: str
    token: str
    due: dict[str, float]


async def answer_and_die(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Left:
    """The instance answers four missed calls and dies: one call's text went and its job was
    running (its run lock and conversation lock held); the others' texts never left."""
    r, svc = rig.services.redis.client, rig.services
    await svc.jobs.ensure_group()
    await svc.jobs.stop()  # its workers take nothing more: what they held stays as the crash left it
    sid, _, _, _ = await rig.missed_call(RUNNING, LINE)
    await svc.tasks.drain()  # the text went; its job stays held in the due set (jobs are stopped)
    # As if a worker had taken it from there: into the stream, and read.
    await r.zadd(keys.DUE, {keys.missed_call_job(sid): svc.clock.now().timestamp()})
    await svc.jobs.timer.move_due()
    [(_, [(entry_id, _)])] = await r.xreadgroup(GROUP, svc.jobs.consumer, {keys.JOBS: ">"}, count=10)
    run_lock, conversation_lock, token = (keys.job_running(entry_id.decode()),
                                          keys.conversation_lock(LINE, RUNNING), svc.locks.new_token())
    await r.set(run_lock, svc.jobs.consumer, px=RUN_LOCK_MS)
    await r.set(conversation_lock, token, px=RUN_LOCK_MS)

    async def died(*args: object, **kwargs: object) -> None:
        raise Crash
    monkeypatch.setattr(webhooks, "send_from_webhook", died)
    for caller in UNSENT:
        _, _, status, _ = await rig.missed_call(caller, LINE)
        assert status == 200
    await svc.tasks.drain()
    monkeypatch.undo()
    due = {job.decode(): score for job, score in await r.zrange(keys.DUE, 0, -1, withscores=True)
           if job.startswith(keys.MISSED_CALL_JOB_PREFIX.encode())}
    assert len(due) == len(UNSENT) and rig.twilio.messages_to(UNSENT[0]) == []
    return Left(run_lock, svc.jobs.consumer.encode(), conversation_lock, token, due)


async def still_held(r: Redis, left: Left) -> None:
    assert await r.get(left.run_lock) == left.holder
    assert await r.get(left.conversation_lock) == left.token.encode()
    due = {job: await r.zscore(keys.DUE, job) for job in left.due}
    assert due == left.due, "the missed calls' jobs still wait for their recovery time"


def texted_once(rig: Rig, callers: list[str]) -> list[int]:
    return [len(rig.twilio.messages_to(c)) for c in callers]


async def test_a_restart_sends_the_text_backs_its_dead_start_left_at_once(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with instance("shop-1", redis_url, clock, tmp_path) as dead:
        left = await answer_and_die(dead, monkeypatch)
    async with instance("shop-1", redis_url, clock, tmp_path) as restarted:
        await restarted.fire_due()  # at the same moment on the fake clock: no lease ran out
        assert texted_once(restarted, UNSENT) == [1, 1, 1]
        assert restarted.twilio.messages_to(RUNNING) == [], "its text had gone before the crash"
        assert len(parents(restarted)) == len(UNSENT) + 1, "every caller's thread, the running job's too"
        assert await redis.get(left.conversation_lock) is None and await redis.get(left.run_lock) is None
        pending = await redis.xpending(keys.JOBS, GROUP)
        assert pending["pending"] == 0
        consumers = {c["name"] for c in await redis.xinfo_consumers(keys.JOBS, GROUP)}
        assert left.holder not in consumers, "the dead start's consumer is gone from the group"


async def test_another_instance_leaves_them_to_their_leases_and_the_restart_takes_them(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with instance("shop-1", redis_url, clock, tmp_path) as dead:
        left = await answer_and_die(dead, monkeypatch)
    async with instance("shop-2", redis_url, clock, tmp_path) as other:
        await other.services.jobs.timer.move_due()
        await still_held(redis, left)
        assert texted_once(other, UNSENT) == [0, 0, 0]
    async with instance("shop-1", redis_url, clock, tmp_path) as restarted:
        await restarted.fire_due()
        assert texted_once(restarted, UNSENT) == [1, 1, 1]
        assert len(parents(restarted)) == len(UNSENT) + 1


async def test_a_second_process_under_a_live_instance_name_releases_nothing(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with instance("shop-1", redis_url, clock, tmp_path) as alive:
        left = await answer_and_die(alive, monkeypatch)  # its workers stopped; its connections are open
        with caplog.at_level(logging.WARNING, logger="bot.work.incarnation"):
            async with instance("shop-1", redis_url, clock, tmp_path) as twin:
                await twin.services.jobs.timer.move_due()
                await still_held(redis, left)
                assert texted_once(twin, UNSENT) == [0, 0, 0]
        warnings = [r.getMessage() for r in caplog.records if r.name == "bot.work.incarnation"]
        assert len(warnings) == 1 and "another process runs under this instance name" in warnings[0], warnings
        assert alive.services.me.start in warnings[0], "the live start is named"
