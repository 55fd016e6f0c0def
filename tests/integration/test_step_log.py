"""The step log in Redis (RedisSteps): a thread post's "done" mark goes with the job's next
step written, its outcome mostly, in one HSET; a run that ends first loses it harmlessly (a
re-run finds the post, it does not post again); `once` writes its mark at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis

from bot.store import keys
from bot.store.conversations import STEPS_TTL_S, RedisSteps
from tests.conftest import CALLER, CHANNEL, LINE
from workflows.conversation import Caller, Conversation, Entry
from workflows.leads import LeadEvent
from workflows.outcomes import record_outcome
from workflows.ports import Figures, ThreadChat
from workflows.texting import once, post_once

AT = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
JOB = "missed:CA1"
CONV = Conversation(line=LINE, caller=Caller(CALLER, "(512) 555-0123"), channel=CHANNEL, opened_at=AT,
                    origin="missed_call", in_hours=True, id="c1", thread_id="111.222")
ENTRY = Entry("system", "Texted the caller", at=AT)


class Chat:
    """The thread posts of the `ThreadChat` port: what was posted, by key."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.looked: list[str] = []

    async def post_entry(self, conv: Conversation, entry: Entry, *, key: str = "") -> str | None:
        self.posted.append(key)
        return f"{len(self.posted)}.0"

    async def find_post(self, conv: Conversation, key: str, since: datetime) -> str | None:
        self.looked.append(key)
        return "1.0" if key in self.posted else None


class Outcomes:
    def __init__(self) -> None:
        self.counted: list[Figures] = []

    async def count(self, figures: Figures) -> None:
        self.counted.append(figures)

    async def record_lead(self, event: LeadEvent) -> None:
        pass


async def stored(redis: Redis) -> dict[str, str]:
    raw = await redis.hgetall(keys.job_steps(JOB))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def webhook_wrote(redis: Redis) -> None:
    """What the missed call's webhook left in the job's log: its plan, with the log's time to live."""
    await redis.hset(keys.job_steps(JOB), "plan", "{}")
    await redis.expire(keys.job_steps(JOB), STEPS_TTL_S)


async def test_a_posts_done_mark_goes_with_the_outcome_in_one_hset(counted: Redis) -> None:
    await webhook_wrote(counted)
    steps, chat, outcomes = RedisSteps(counted, JOB), Chat(), Outcomes()
    await counted.config_resetstat()
    await post_once(steps, "entry:textback", cast(ThreadChat, chat), CONV, ENTRY, AT)
    assert (await stored(counted))["entry:textback"] == "posting:" + AT.isoformat()  # before the post
    assert await steps.get("entry:textback") == "done"  # read back at once
    await record_outcome("missed call", JOB, Figures(LINE, AT, ("missed",)), None,
                         steps=steps, outcomes=cast(Outcomes, outcomes))
    stats = await counted.info("commandstats")
    # The log read once, then HSET "posting:" before the post and HSET "done" with "outcome".
    assert int(stats["cmdstat_hset"]["calls"]) == 2
    assert await stored(counted) == {"plan": "{}", "entry:textback": "done", "outcome": "1"}
    assert len(outcomes.counted) == 1 and chat.posted == [f"{JOB}:entry:textback"]


async def test_a_run_ending_before_the_done_mark_is_written_posts_nothing_again(redis: Redis) -> None:
    chat = Chat()
    await post_once(RedisSteps(redis, JOB), "entry:textback", cast(ThreadChat, chat), CONV, ENTRY, AT)
    assert (await stored(redis))["entry:textback"].startswith("posting:")
    # The job fails before its next step (or its process stops); its re-run looks the post up.
    rerun = RedisSteps(redis, JOB)
    await post_once(rerun, "entry:textback", cast(ThreadChat, chat), CONV, ENTRY, AT)
    assert chat.posted == [f"{JOB}:entry:textback"] and chat.looked == [f"{JOB}:entry:textback"]
    await rerun.put("outcome", "1")
    assert await stored(redis) == {"entry:textback": "done", "outcome": "1"}
    assert 0 < await redis.ttl(keys.job_steps(JOB)) <= STEPS_TTL_S


async def test_a_post_lost_before_slack_is_posted_by_the_rerun(redis: Redis) -> None:
    chat = Chat()
    await RedisSteps(redis, JOB).put("entry:textback", "posting:" + AT.isoformat())  # stopped mid-post
    await post_once(RedisSteps(redis, JOB), "entry:textback", cast(ThreadChat, chat), CONV, ENTRY, AT)
    assert chat.posted == [f"{JOB}:entry:textback"]


async def test_once_writes_its_mark_at_once(redis: Redis) -> None:
    ran: list[str] = []

    async def effect() -> None:
        ran.append("dm")

    steps = RedisSteps(redis, JOB)
    await post_once(steps, "post", cast(ThreadChat, Chat()), CONV, ENTRY, AT)
    assert await once(steps, "dm", effect)
    # Nothing before it says the effect may have run: its mark is durable now, with the post's.
    assert await stored(redis) == {"post": "done", "dm": "done"}
    assert not await once(RedisSteps(redis, JOB), "dm", effect)
    assert ran == ["dm"]
