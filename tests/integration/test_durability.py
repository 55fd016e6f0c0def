"""Nothing lost, nothing doubled: retries, unsure sends and dead workers (§4)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.handlers.messages import missed_call as run_missed_call
from bot.handlers.table import register_all
from bot.store import keys
from bot.twilio import webhooks
from bot.work.engine import GROUP, Engine
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, parents, texts_to
from workflows.jobs import MissedCallJob
from workflows.missed_call import RECOVER_AFTER, TEXTBACK_STEP
from workflows.texting import sending_mark


async def test_slack_down_then_up_gives_one_text_and_one_thread(rig: Rig) -> None:
    rig.slack.fail_next("chat.postMessage", count=3, status=503)
    await rig.missed_call(CALLER, LINE)
    await rig.retry_waiting()  # the failed job's back-off passes on the fake clock
    assert len(rig.twilio.messages_to(CALLER)) == 1, "the retried job must not text again"
    [parent] = parents(rig)
    assert rig.slack.thread(CHANNEL, parent["ts"]) == [parent]
    assert "text-back sent: \u201cHi, this is Acme Plumbing" in blocks_text(parent)


async def test_slack_rate_limit_is_retried(rig: Rig) -> None:
    rig.slack.fail_next("chat.postMessage", count=1, status=429, headers={"Retry-After": "0"})
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(parents(rig)) == 1


async def test_twilio_throttling_is_retried_and_texts_once(rig: Rig) -> None:
    rig.twilio.fail_next("CreateMessage", count=2, status=429,
                         body={"code": 20429, "message": "Too Many Requests", "status": 429})
    await rig.missed_call(CALLER, LINE)
    await rig.retry_waiting()  # the failed job's back-off passes on the fake clock
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert "text-back sent" in blocks_text(rig.slack.message(CHANNEL, parents(rig)[0]["ts"]))


async def test_a_send_that_reached_twilio_despite_a_500_is_not_repeated(rig: Rig) -> None:
    rig.twilio.fail_next("CreateMessage", count=1, status=500, after_accept=True)
    await rig.missed_call(CALLER, LINE)
    await rig.retry_waiting()  # the failed job's back-off passes on the fake clock
    assert len(rig.twilio.messages_to(CALLER)) == 1, "reconciled through the Messages list"
    assert any(r.method == "ListMessage" for r in rig.twilio.requests)
    assert "text-back sent" in blocks_text(rig.slack.message(CHANNEL, parents(rig)[0]["ts"]))


async def test_a_send_lost_before_twilio_is_sent_again(rig: Rig) -> None:
    rig.twilio.fail_next("CreateMessage", count=1, status=500)
    await rig.missed_call(CALLER, LINE)
    await rig.retry_waiting()  # the failed job's back-off passes on the fake clock
    assert len(rig.twilio.messages_to(CALLER)) == 1


async def test_a_team_reply_is_not_repeated_after_an_unsure_send(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    thread = parents(rig)[0]["ts"]
    rig.twilio.fail_next("CreateMessage", count=1, status=502, after_accept=True)
    await rig.team_replies(CHANNEL, thread, "on our way")
    await rig.settle()
    assert texts_to(rig).count("on our way") == 1


async def test_permanent_slack_errors_are_not_retried_forever(rig: Rig) -> None:
    rig.slack.fail_next("chat.postMessage", count=50, status=200, body={"ok": False, "error": "channel_not_found"})
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    posts = [r for r in rig.slack.requests if r.method == "chat.postMessage"]
    assert len(rig.twilio.messages_to(CALLER)) == 1 and len(posts) <= 3


async def test_a_job_left_by_a_dead_worker_is_finished_by_another_instance(rig: Rig) -> None:
    r = rig.services.redis.client
    # The instance had made the job stream's group before it went away (its runner does that
    # at start, and a stop right after the rig started could come first).
    await rig.services.jobs.ensure_group()
    await rig.services.jobs.stop()  # this instance stops taking jobs, as if it were gone
    sid, _, status, _ = await rig.missed_call(CALLER, LINE)
    assert status == 200
    await rig.services.tasks.drain()  # the webhook's text-back; its job stays held (jobs are stopped)
    # Its recovery time came, and a worker read the job and died before finishing it: pending,
    # never acknowledged.
    await r.zadd(keys.DUE, {keys.missed_call_job(sid): rig.services.clock.now().timestamp()})
    await rig.services.jobs.timer.move_due()
    taken = await r.xreadgroup(GROUP, "dead-worker", {keys.JOBS: ">"}, count=10)
    assert len(taken[0][1]) == 1
    assert len(rig.twilio.messages_to(CALLER)) == 1 and parents(rig) == []
    # Another instance (its own queue object on its own consumer name) takes it over.
    other = Engine(r, rig.services.clock, consumer="survivor", retry_idle_ms=50)
    rig.services.jobs = other
    register_all(rig.services)
    assert await wait_reclaimed(other) == 1
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1 and len(parents(rig)) == 1


async def test_a_job_rerun_after_a_crash_mid_way_repeats_no_effect(rig: Rig) -> None:
    """Run a finished job again (as if its acknowledgement was lost): no second text or post."""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [steps_key] = await rig.services.redis.client.keys("tb:steps:*")
    job_id = steps_key.decode().removeprefix("tb:steps:")
    posts_before = len(rig.slack.messages)
    await run_missed_call(rig.services, job_id, await original_args(rig, job_id))
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert len(rig.slack.messages) == posts_before


async def test_a_job_the_previous_version_left_mid_post_of_its_text_back_line_posts_none(rig: Rig) -> None:
    """The previous version posted "Texted the caller" as a thread line, its step logged
    "posting:" first. Its job re-run after the upgrade neither posts the line nor looks for it:
    the card, refreshed, shows the text sent."""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    r = rig.services.redis.client
    [steps_key] = await r.keys("tb:steps:*")
    job_id = steps_key.decode().removeprefix("tb:steps:")
    await r.hset(steps_key, "entry:textback", "posting:" + rig.services.clock.now().isoformat())
    posts_before = len(rig.slack.messages)
    await run_missed_call(rig.services, job_id, await original_args(rig, job_id))
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1 and len(rig.slack.messages) == posts_before
    assert not any(q.method == "conversations.history" for q in rig.slack.requests), "no line looked for"
    [parent] = parents(rig)
    assert rig.slack.thread(CHANNEL, parent["ts"]) == [parent]
    assert "text-back sent: \u201cHi, this is Acme Plumbing" in blocks_text(parent)


async def original_args(rig: Rig, job_id: str) -> MissedCallJob:
    """The job the webhook recorded, rebuilt from its id and the conversation."""
    r = rig.services.redis.client
    [conv_key] = await r.keys("tb:conv:*")
    conv = json.loads(await r.get(conv_key))
    return MissedCallJob(call_sid=job_id.removeprefix(keys.MISSED_CALL_JOB_PREFIX), line=LINE, caller=CALLER,
                         at=datetime.fromisoformat(conv["opened_at"]))


async def wait_reclaimed(queue: Engine) -> int:
    async with asyncio.timeout(5):
        while True:
            taken = await queue.reclaim()
            if taken:
                return taken
            await asyncio.sleep(0.05)


async def test_texts_keep_their_order_when_an_earlier_one_is_retried(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    thread = parents(rig)[0]["ts"]
    rig.slack.fail_next("chat.postMessage", count=2, status=500)
    for i in range(4):
        await rig.caller_texts(CALLER, LINE, f"part {i}")
    await rig.retry_waiting()  # the failed job's back-off passes on the fake clock
    texts = [blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)]
    shown = [t.split("part ")[1][0] for t in texts if "part " in t]
    assert shown == ["0", "1", "2", "3"]


async def test_a_slack_post_that_landed_despite_an_error_is_not_repeated(rig: Rig) -> None:
    """The parent and the thread lines are tagged, so an unsure post is found, not re-posted."""
    rig.slack.fail_next("chat.postMessage", count=1, status=500, after_accept=True)  # the card
    await rig.missed_call(CALLER, LINE)
    await rig.retry_waiting()
    [parent] = parents(rig)
    assert rig.slack.thread(CHANNEL, parent["ts"]) == [parent]
    assert "text-back sent: \u201cHi, this is Acme Plumbing" in blocks_text(parent)
    assert any(r.method == "conversations.history" for r in rig.slack.requests)
    await rig.caller_texts(CALLER, LINE, "hello")
    rig.slack.fail_next("chat.postMessage", count=1, status=503, after_accept=True)
    await rig.retry_waiting()
    assert sum("hello" in blocks_text(m) for m in rig.slack.thread(CHANNEL, parent["ts"])) == 1


async def test_retries_back_off(rig: Rig) -> None:
    """A failing job is retried after about 1 s, then 3 s (a blip is usually over by then),
    then each wait is twice the one before, from the first interval (with jitter)."""
    clock = rig.services.clock
    assert isinstance(clock, FakeClock)
    rig.services.jobs.retry_idle_ms = 10_000  # production's TEXTBACK_JOB_RETRY_S
    rig.slack.fail_next("chat.postMessage", count=4, status=503)
    await rig.missed_call(CALLER, LINE)
    waits: list[float] = []
    for _ in range(4):
        await rig.settle()
        due = await rig.services.jobs.next_retry()
        assert due is not None, "the failed job waits for its retry"
        waits.append(due - clock.now().timestamp())
        clock.set(datetime.fromtimestamp(due, UTC) + timedelta(microseconds=1))
        await rig.fire_due()
    assert await rig.services.jobs.next_retry() is None
    for wait, planned in zip(waits, (1, 3, 10, 20), strict=True):  # give or take 20 %
        assert planned * 0.8 <= wait <= planned * 1.2, waits
    assert len(parents(rig)) == 1


class Crash(Exception):
    """The process died here."""


async def test_a_crash_between_the_text_back_request_and_its_record_still_texts_once(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook sent the text-back, and died before it logged Twilio's answer: the call's job
    waits in the due set, runs once its recovery time passed, finds the text in Twilio's Messages
    list and does the Slack work; the caller gets one text."""
    async def died(job_id: str, step: str, record: str) -> None:
        raise Crash
    monkeypatch.setattr(rig.services.textbacks, "answered", died)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1 and parents(rig) == [], "sent; the job waits"
    assert await rig.fire_due() == 0, "not before its recovery time"
    clock.advance(seconds=RECOVER_AFTER.total_seconds())
    assert await rig.fire_due() == 1
    assert len(rig.twilio.messages_to(CALLER)) == 1, "found in the Messages list, not sent again"
    assert any(r.method == "ListMessage" for r in rig.twilio.requests)
    [parent] = parents(rig)
    assert "text-back sent" in blocks_text(parent)


async def test_a_call_the_previous_version_decided_recovers_through_its_sending_mark(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This version logs the plan alone (a plan to send with no answer means "sending"); the
    previous one logged a "sending" mark beside it. Either way, a crash after the request
    leaves a job that asks Twilio's Messages list before it texts."""
    async def died(job_id: str, step: str, record: str) -> None:
        raise Crash
    monkeypatch.setattr(rig.services.textbacks, "answered", died)
    called = clock.now()
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    r = rig.services.redis.client
    [steps] = await r.keys("tb:steps:*")
    assert await r.hkeys(steps) == [b"plan"]
    await r.hset(steps, TEXTBACK_STEP, sending_mark(called))  # as the previous version logged it
    clock.advance(seconds=RECOVER_AFTER.total_seconds())
    assert await rig.fire_due() == 1
    assert len(rig.twilio.messages_to(CALLER)) == 1, "found in the Messages list, not sent again"
    assert any(r.method == "ListMessage" for r in rig.twilio.requests)
    assert "text-back sent" in blocks_text(parents(rig)[0])


async def test_a_crash_after_the_decision_and_before_the_request_texts_once(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call was decided and recorded, and the process died before its SMS request left:
    the job runs at its recovery time, finds no text in Twilio's list, and sends it."""
    async def died(*args: object, **kwargs: object) -> None:
        raise Crash
    monkeypatch.setattr(webhooks, "send_from_webhook", died)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages == []
    clock.advance(seconds=RECOVER_AFTER.total_seconds())
    assert await rig.fire_due() == 1
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert "text-back sent" in blocks_text(parents(rig)[0])


async def test_a_text_back_the_webhook_could_not_send_is_retried_by_its_job(rig: Rig) -> None:
    """Twilio refused the webhook's try for now (503): the thread opens at once showing the
    text-back pending, and the job sends it after its back-off."""
    rig.twilio.fail_next("CreateMessage", count=1, status=503)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages == []
    assert "text-back sent" not in blocks_text(parents(rig)[0])
    await rig.retry_waiting()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert "text-back sent" in blocks_text(parents(rig)[0])
