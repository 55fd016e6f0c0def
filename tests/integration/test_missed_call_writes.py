"""A missed call's own Redis writes, each in as few commands as stay safe: the decide step
claims the call with its plan (no claim key of its own), a new conversation is two writes (a
crash between them opens no second thread), and it is created waiting, so starting the
reminder ladder saves nothing. Counted with INFO commandstats, as `python -m bench.commands`
counts them (commands inside a script one by one)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.store import keys
from bot.store.conversations import BLOCKED, STEPS_TTL_S, NewerCommands, RedisCallerFlags, RedisConversationStore
from bot.store.textbacks import RedisTextbacks
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from workflows.conversation import Caller, Conversation
from workflows.conversation_state import WAITING
from workflows.jobs import MissedCallJob
from workflows.ports import TextbackAsk
from workflows.texting import sending_mark

T = TypeVar("T")
AT = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
FIRST = "Sorry we missed your call. Reply STOP to opt out."
LATER = "Sorry we missed your call."
OTHER = "+15125550199"


async def commands(redis: Redis) -> Counter[str]:
    """The commands the server ran so far, by name (INFO, the counting itself, left out)."""
    stats = await redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info"})


async def counted(redis: Redis, work: Awaitable[T]) -> tuple[T, Counter[str]]:
    """What `work` returned, and the commands it ran."""
    before = await commands(redis)
    result = await work
    return result, await commands(redis) - before


async def snapshot(redis: Redis) -> dict[bytes, Any]:
    """Every key and its value, to tell that a step changed nothing."""
    return {key: await redis.dump(key) for key in sorted(await redis.keys("*"))}


# --- the decide step: the plan is the call's claim ------------------------------------------------


def decide(textbacks: RedisTextbacks, sid: str, caller: str = CALLER) -> Awaitable[tuple[bool, str, str] | None]:
    ask = TextbackAsk(owner=sid, line=LINE, caller=caller, cooldown_s=4 * 3600, reason="",
                      cooldown_reason="already texted", first_body=FIRST, later_body=LATER)
    job = MissedCallJob(call_sid=sid, line=LINE, caller=caller, at=AT)
    return textbacks.decide(ask, job_id=keys.missed_call_job(sid), job=job, now=AT,
                            recover_at=AT + timedelta(seconds=30))


async def test_the_decide_step_claims_the_call_with_its_plan(redis: Redis) -> None:
    textbacks = RedisTextbacks(redis, RedisCallerFlags(redis), owner="web-1/a")
    await decide(textbacks, "CA0", caller=OTHER)  # the script loaded, as by a server's first call
    decided, ran = await counted(redis, decide(textbacks, "CA1"))
    assert decided == (True, FIRST, "")
    # The checks (opt-outs, undecided opt-out, block, landline), the cooldown and first-text
    # claims, the plan (the call's claim), the job's record, and the step log's time to live.
    assert ran == Counter({"evalsha": 1, "sismember": 3, "zscore": 1, "set": 2, "hsetnx": 1, "hset": 1, "zadd": 1,
                           "expire": 1})
    steps = keys.job_steps(keys.missed_call_job("CA1"))
    assert await redis.hkeys(steps) == [b"plan"], "no \"sending\" mark: the plan to send says as much"
    assert 0 < await redis.ttl(steps) <= STEPS_TTL_S
    assert await redis.keys(keys.claim("missed", "*")) == []
    before = await snapshot(redis)
    assert await decide(textbacks, "CA1") is None, "Twilio repeated the webhook"
    assert await snapshot(redis) == before


async def test_a_repeat_gives_back_the_claims_a_guard_lifted_since_let_it_take(redis: Redis) -> None:
    """The call was not texted (blocked); the number is unblocked, then Twilio repeats the
    webhook: the repeat passes the checks and takes the cooldown and first-text claims before
    it finds the plan, and gives them back. The caller's next call is their first text."""
    flags = RedisCallerFlags(redis)
    textbacks = RedisTextbacks(redis, flags)
    await flags.set_blocked(LINE, CALLER, True)
    assert await decide(textbacks, "CA1") == (False, "", BLOCKED)
    await flags.set_blocked(LINE, CALLER, False)
    before = await snapshot(redis)
    assert await decide(textbacks, "CA1") is None
    assert await snapshot(redis) == before, "no cooldown, no first-text mark: nobody was texted"
    assert await decide(textbacks, "CA2") == (True, FIRST, "")


async def test_a_call_the_previous_version_decided_is_not_decided_again(redis: Redis) -> None:
    """Twilio repeats a webhook across an upgrade: the previous version's step wrote a claim key
    of its own, and with it the step log (the plan and the "sending" mark), which is found."""
    sid, job_id = "CA1", keys.missed_call_job("CA1")
    await redis.set(keys.claim("missed", sid), "1", ex=keys.CLAIM_TTL_S)
    await redis.set(keys.cooldown(LINE, CALLER), sid, ex=4 * 3600)
    await redis.set(keys.texted(LINE, CALLER), sid)
    plan = json.dumps({"send": True, "body": FIRST, "reason": ""})
    await redis.hset(keys.job_steps(job_id), mapping={"plan": plan, "textback": sending_mark(AT)})
    await redis.expire(keys.job_steps(job_id), STEPS_TTL_S)
    await redis.hset(keys.due_job(job_id), mapping={"kind": "missed_call", "args": "{}", "by": "web-1/old"})
    await redis.zadd(keys.DUE, {job_id: (AT + timedelta(seconds=30)).timestamp()})
    before = await snapshot(redis)
    assert await decide(RedisTextbacks(redis, RedisCallerFlags(redis)), sid) is None
    assert await snapshot(redis) == before


# --- a new conversation: the pointer taken, then the record -----------------------------------------


def conversation(conv_id: str, caller: str = CALLER) -> Conversation:
    return Conversation(line=LINE, caller=Caller(caller, "(512) 555-0123"), channel=CHANNEL, opened_at=AT,
                        origin="missed_call", in_hours=True, id=conv_id)


def without_set_nx_get(redis: Redis) -> NewerCommands:
    """As a server before Redis 7.0 has them: no SET with NX and GET together."""
    newer = NewerCommands(redis)
    newer.set_nx_get = False
    return newer


async def test_a_new_conversation_is_two_writes_and_an_open_one_two_reads(redis: Redis) -> None:
    store = RedisConversationStore(redis)
    (conv, created), ran = await counted(redis, store.open_or_get(conversation("c1")))
    assert created and conv.id == "c1"
    assert ran == Counter({"set": 2}), "the pointer taken (SET NX GET), then the record"
    (found, created), ran = await counted(redis, store.open_or_get(conversation("c2")))
    assert not created and found.id == "c1"
    assert ran == Counter({"set": 1, "get": 1}), "the pointer read as it is not taken, then its record"
    assert await redis.exists(keys.conversation("c2")) == 0


@pytest.mark.parametrize("set_nx_get", [True, False])
async def test_a_pointer_left_without_its_record_is_no_open_conversation_until_replaced(
    redis: Redis, set_nx_get: bool
) -> None:
    """A crash between the pointer and the record: readers find no open conversation, and the
    next open (the job's re-run, with the same id, or another story's) creates it."""
    newer = NewerCommands(redis) if set_nx_get else without_set_nx_get(redis)
    store = RedisConversationStore(redis, newer=newer, keep_days=30)
    pointer = keys.open_conversation(LINE, CALLER)
    for left, opening in (("c1", "c1"), ("c1", "c2")):
        await redis.flushdb()
        await redis.set(pointer, left)
        assert await store.open_for(LINE, CALLER) is None
        conv, created = await store.open_or_get(conversation(opening))
        assert created and conv.id == opening
        found = await store.open_for(LINE, CALLER)
        assert found is not None and found.id == opening
        assert 0 < await redis.ttl(pointer) <= 30 * 86400
        assert 0 < await redis.ttl(keys.conversation(opening)) <= 30 * 86400


async def test_a_server_without_set_nx_get_opens_in_one_script(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis 6.2 answers SET with NX and GET together with a syntax error: told once, the store
    opens conversations with the script from then on."""
    newer = NewerCommands(redis)
    store = RedisConversationStore(redis, newer=newer)
    plain_set = redis.set

    async def older_set(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("nx") and kwargs.get("get"):
            raise ResponseError("ERR syntax error")
        return await plain_set(*args, **kwargs)

    monkeypatch.setattr(redis, "set", older_set)
    conv, created = await store.open_or_get(conversation("c1"))
    assert created and newer.set_nx_get is False
    found, created = await store.open_or_get(conversation("c2"))
    assert not created and found.id == "c1"
    (_, created), ran = await counted(redis, store.open_or_get(conversation("c3", caller=OTHER)))
    assert created and ran["evalsha"] == 1 and ran["set"] == 2


# --- the whole story: the conversation saved as few times as it changes -----------------------------


def counting_saves(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[Conversation]:
    """Each conversation the store saves, from now on (copied, as it was saved)."""
    store = rig.services.store
    saved: list[Conversation] = []
    save = store.save

    async def recorded(conv: Conversation) -> None:
        saved.append(Conversation(**{**vars(conv), "extra": dict(conv.extra)}))
        await save(conv)

    monkeypatch.setattr(store, "save", recorded)
    return saved


async def test_a_new_callers_conversation_is_created_waiting_and_saved_once_with_its_thread(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = counting_saves(rig, monkeypatch)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [with_thread] = saved  # the thread's save; starting the ladder changed nothing
    assert with_thread.thread_id and with_thread.extra[WAITING] == clock.now().isoformat()
    conv = await rig.services.store.open_for(LINE, CALLER)
    assert conv is not None and conv.extra[WAITING] == clock.now().isoformat()


async def test_a_repeat_call_is_counted_and_waits_in_one_save(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(minutes=25)
    saved = counting_saves(rig, monkeypatch)
    await rig.missed_call(CALLER, LINE)  # inside the cooldown: no second text
    await rig.settle()
    [counted_call] = saved
    assert counted_call.calls == 2 and counted_call.extra[WAITING] == clock.now().isoformat()
