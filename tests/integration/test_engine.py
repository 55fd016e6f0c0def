"""The engine runs every job: retries wait in the due set by one policy, a dead worker's jobs
are taken over, and each effect happens once (bot/work/engine.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis

from bot.store import keys
from bot.work.engine import GROUP, Engine, steps_at_delivery
from bot.work.timer import Timing
from standins.clock import FakeClock
from tests.integration.engine_kit import (
    FAST,
    MICROSECOND,
    Fired,
    NobodyKnows,
    Tick,
    redis_empty,
    running,
)
from workflows.jobs import CrmDeliveryJob, Retry, retry_policy
from workflows.ports import RetryLater, SlackUnavailable


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
    await a.timer.move_due()
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
    """The first two retries come fast (a blip is usually over in seconds), then the waits
    double from the first interval (`retry_idle_ms`)."""
    calls: list[str] = []

    async def flaky(job_id: str, job: Tick) -> None:
        calls.append(job_id)
        if len(calls) in (1, 3):
            raise RetryLater("slack 503")
        if len(calls) in (2, 4):
            raise RuntimeError("bug")

    engine = running(engines, redis, clock, flaky, retry_idle_ms=10_000)
    await engine.deadlines.schedule("j", clock.now(), Tick())
    for attempt, wait in ((1, 1), (2, 3), (3, 10), (4, 20)):
        async with asyncio.timeout(5):
            while len(calls) < attempt or await engine.deadlines.due_at("j") is None:
                await engine.wait_idle()
        due = await engine.deadlines.due_at("j")
        assert due is not None
        # 1 s, 3 s, then doubling from the first interval, with 20 % jitter either way.
        assert wait * 0.8 <= (due - clock.now()).total_seconds() <= wait * 1.2
        assert await redis.hget(keys.due_job("j"), "attempts") == str(attempt).encode()
        clock.set(due + MICROSECOND)  # the score's float may be a hair after the datetime
    async with asyncio.timeout(5):
        while len(calls) < 5:
            await engine.wait_idle()
    await engine.wait_idle()
    assert calls == ["j"] * 5 and await engine.deadlines.due_at("j") is None
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
            while await redis.exists(keys.due_job("j")):  # until given up: the job and its hash are gone
                await engine.wait_idle()
                due = await engine.deadlines.due_at("j")
                if due is not None:
                    clock.set(due + MICROSECOND)
    assert any("given up" in r.getMessage() for r in caplog.records)
    # Retries after 1 s and 3 s, then doubling from a minute: 1, 2, 4, 5, 5 ... minutes, until
    # 15 minutes have passed (the jitter decides whether the last try is the 8th or the 9th).
    assert 8 <= len(calls) <= 9
    assert await redis_empty(engine)


@dataclass(frozen=True)
class Post:
    """A job of the tests' own that only talks to Slack; waits up to an hour between tries."""

    KIND: ClassVar[str] = "post"
    RETRY: ClassVar[Retry] = Retry(cap_s=3600.0)


async def test_a_job_waiting_for_slack_is_kept_for_a_day_not_15_minutes(
    redis: Redis, clock: FakeClock, engines: list[Engine], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[float] = []
    born = clock.now()

    async def slack_down(job_id: str, job: Post) -> None:
        calls.append((clock.now() - born).total_seconds())
        raise SlackUnavailable("slack chat.postMessage: HTTP 503")

    engine = running(engines, redis, clock, slack_down, job_type=Post, retry_idle_ms=60_000)
    await engine.deadlines.schedule("j", clock.now(), Post())
    with caplog.at_level(logging.ERROR, logger="bot.work.engine"):
        async with asyncio.timeout(20):
            while await redis.exists(keys.due_job("j")):
                await engine.wait_idle()
                due = await engine.deadlines.due_at("j")
                if due is not None:
                    clock.set(due + MICROSECOND)
    assert any("given up" in r.getMessage() for r in caplog.records)
    assert calls[-2] < 24 * 3600 <= calls[-1], "tried until a day had passed, then given up"
    assert await redis_empty(engine) and not await redis.exists(keys.SLACK_WAITING)


async def test_slack_answering_on_one_instance_runs_the_jobs_waiting_for_it_on_every_instance(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine]
) -> None:
    """A job of instance A waits a long back-off for Slack; a Slack call on instance B (which
    runs no jobs, and saw no failure) succeeds: the job runs at once (no time passes), and a
    job scheduled for later is left alone."""
    up = asyncio.Event()
    ran: list[str] = []

    async def posts(job_id: str, job: Post) -> None:
        ran.append(job_id)
        if not up.is_set():
            raise SlackUnavailable("slack chat.postMessage: HTTP 503")

    a = running(engines, connect(), clock, posts, job_type=Post, retry_idle_ms=600_000)
    b = Engine(connect(), clock)  # another instance, here only for its Slack calls
    later = clock.now() + timedelta(hours=1)
    await a.deadlines.schedule("reminder", later, Post())
    await a.deadlines.schedule("j", clock.now(), Post())
    for attempt in (1, 2, 3):  # waits of 1 s, 3 s, then 10 minutes
        async with asyncio.timeout(5):
            while len(ran) < attempt or await a.deadlines.due_at("j") is None:
                await a.wait_idle()
        due = await a.deadlines.due_at("j")
        assert due is not None
        if attempt < 3:
            clock.set(due + MICROSECOND)
    assert due > clock.now() + timedelta(minutes=5) and len(ran) == 3
    up.set()
    await b.slack_answered()  # B's first Slack answer since it started
    async with asyncio.timeout(5):
        while len(ran) < 4:
            await a.wait_idle()
    await a.wait_idle()
    assert ran == ["j"] * 4 and await a.deadlines.due_at("j") is None
    assert await a.deadlines.due_at("reminder") == later


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


async def test_a_short_job_delivered_first_takes_no_run_lock(
    redis: Redis, clock: FakeClock, engines: list[Engine]
) -> None:
    """A job read from the stream and done before its first heartbeat needs no run lock: no
    other worker can take it over that soon. The lock's SET and its DEL were two of the Redis
    commands each missed call cost."""
    fired = Fired()
    engine = Engine(redis, clock, timing=FAST, retry_idle_ms=60_000)
    engine.register(Tick, fired)
    assert await engine.enqueue(Tick(), claim="tb:seen:test:1")
    await redis.config_resetstat()  # what the job's run costs from here, not its recording
    engine.start()
    engines.append(engine)
    await fired.wait_for(1)
    await engine.wait_idle()
    stats = await redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    assert {c: calls[c] for c in ("set", "del", "pexpire", "xclaim") if c in calls} == {}
    assert calls["xack"] == calls["xdel"] == 1
    assert await redis_empty(engine)


class OtherWorker:
    """Another process's engine, on a thread and event loop of its own: it takes over a job
    that went idle while this test's event loop was blocked (starved), runs it, and finishes
    it when told."""

    def __init__(self, redis_url: str, clock: FakeClock, retry_idle_ms: int) -> None:
        self.took = threading.Event()  # it runs the job (its run lock taken)
        self.release = threading.Event()
        self.ran: list[str] = []
        self.errors: list[BaseException] = []
        self._url, self._clock, self._idle_ms = redis_url, clock, retry_idle_ms
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="other-worker")

    def start(self) -> None:
        self._thread.start()

    async def join(self) -> None:
        self.release.set()
        await asyncio.to_thread(self._thread.join, 10)
        assert not self._thread.is_alive()

    async def _main(self) -> None:
        r = Redis.from_url(self._url)
        try:
            # Its own reclaim looks often: it takes the job once the job has been idle long enough.
            other = Engine(r, self._clock, consumer="other", retry_idle_ms=self._idle_ms,
                           timing=Timing(reclaim_every_s=self._idle_ms / 5000))
            ran = asyncio.Event()

            async def handler(job_id: str, job: Tick) -> None:
                self.took.set()
                assert await asyncio.to_thread(self.release.wait, 10)
                self.ran.append(job_id)
                ran.set()

            other.register(Tick, handler)
            # Only its reclaim runs (as `start` would run it): it must not read the job first.
            other._tasks = [asyncio.create_task(other._reclaim_forever(), name="reclaim")]
            try:
                async with asyncio.timeout(10):
                    await ran.wait()
            finally:
                await other.stop()  # lets its run settle the job
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            await r.aclose()


@pytest.mark.parametrize("starved", ["before-it-started", "while-it-ran", "before-it-settled"])
async def test_a_first_run_starved_past_its_take_over_stops_and_leaves_the_job_to_the_other_worker(
    connect: Callable[[], Redis], redis: Redis, redis_url: str, clock: FakeClock, engines: list[Engine],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, starved: str,
) -> None:
    """The first runner's event loop is blocked until another worker took the job over (its
    run lock held): the first runner does not start it, stops it (its handler cancelled) at its
    next heartbeat, or does not settle it; the other worker runs it and settles it, once."""
    idle_ms = 100
    other = OtherWorker(redis_url, clock, idle_ms)
    seen: list[str] = []
    a_redis, a_reader = connect(), connect()
    # A's Redis is slow too: a run lock it asks for before the take-over is answered after it.
    taking_lock = a_redis.set

    async def slow_set(*args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(other.took.wait, 10)
        return await taking_lock(*args, **kwargs)

    monkeypatch.setattr(a_redis, "set", slow_set)
    if starved == "before-it-started":  # blocked as the read's answer came in
        reading = a_reader.xreadgroup

        async def starved_read(*args: Any, **kwargs: Any) -> Any:
            replies = await reading(*args, **kwargs)
            if replies:
                other.took.wait(10)
            return replies

        monkeypatch.setattr(a_reader, "xreadgroup", starved_read)

    async def first(job_id: str, job: Tick) -> None:
        seen.append("started")
        other.took.wait(10)  # blocks the event loop, heartbeats too
        if starved == "while-it-ran":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("stopped")
                raise
        seen.append("done")

    a = Engine(a_redis, clock, consumer="first", reader=a_reader, retry_idle_ms=idle_ms,
               timing=Timing(tick_s=0.05, reclaim_every_s=3600))  # A itself takes nothing over
    a.register(Tick, first)
    a_ended = asyncio.Event()  # A's run of the entry is over, however it ended
    running = a._run_one

    async def run_one(*args: Any, **kwargs: Any) -> None:
        try:
            await running(*args, **kwargs)
        finally:
            a_ended.set()

    monkeypatch.setattr(a, "_run_one", run_one)
    await a.ensure_group()  # before the other worker looks for jobs to take over
    a.start()
    engines.append(a)
    other.start()
    try:
        assert await a.enqueue(Tick(), claim="tb:seen:test:1")
        with caplog.at_level(logging.WARNING, logger="bot.work.engine"):
            assert await asyncio.to_thread(other.took.wait, 10)
            async with asyncio.timeout(10):
                await a_ended.wait()
        assert seen == {"before-it-started": [], "while-it-ran": ["started", "stopped"],
                        "before-it-settled": ["started", "done"]}[starved]
        pending = await redis.xpending_range(keys.JOBS, GROUP, min="-", max="+", count=10)
        assert [p["consumer"] for p in pending] == [b"other"], "not settled by the first runner"
        [entry_id] = [p["message_id"].decode() for p in pending]
        assert await redis.get(keys.job_running(entry_id)) == b"other"
        taken_over = [r for r in caplog.records if "taken over" in r.getMessage()]
        assert len(taken_over) == (0 if starved == "before-it-started" else 1)
    finally:
        await other.join()  # the other worker settles it now
    assert other.errors == [] and other.ran == [entry_id]
    assert await redis_empty(a) and not await redis.exists(keys.job_running(entry_id))


@pytest.mark.parametrize("again", ["retried", "taken-over"])
async def test_only_a_first_delivery_finds_the_step_log_its_entry_carried(
    connect: Callable[[], Redis], clock: FakeClock, engines: list[Engine], again: str
) -> None:
    """An entry may carry its job's step log as its recorder left it: its first run finds it
    there (nothing else can have written the log yet). A retry or a take-over may follow a run
    that wrote more steps: it reads the log from Redis."""
    seen: list[dict[str, str] | None] = []
    entered = asyncio.Event()

    async def handler(job_id: str, job: Tick) -> None:
        seen.append(steps_at_delivery(job_id))
        entered.set()
        if len(seen) == 1 and again == "retried":
            raise RetryLater("slack 503")
        if len(seen) == 1:
            await asyncio.Event().wait()  # the process dies here: the job is never settled

    a = running(engines, connect(), clock, handler, retry_idle_ms=100)
    await a.ensure_group()
    await a._r.xadd(keys.JOBS, {"kind": "remind", "args": "{}", "id": "j", "gen": "", "steps": '{"plan":"p"}'})
    await asyncio.wait_for(entered.wait(), 5)
    if again == "taken-over":
        for task in list(a._in_flight):
            task.cancel()
        await a.stop()
        a = running(engines, connect(), clock, handler, retry_idle_ms=100)
    else:
        async with asyncio.timeout(5):
            while (due := await a.deadlines.due_at("j")) is None:  # until it waits for its retry
                await a.wait_idle()
        clock.set(due + MICROSECOND)
    async with asyncio.timeout(5):
        while len(seen) < 2:
            await a.wait_idle()
    await a.wait_idle()
    assert seen == [{"plan": "p"}, None]
    assert await redis_empty(a)
