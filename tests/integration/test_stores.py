"""The stores' writes of a missed call's story, each in few commands and still safe: the lead
(once per event, never losing a concurrent update), the daily figures (old fields still
read), the outbound mapping (one SET), the conversation's lock (with and
without DELIFEQ) and the thread index."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError

from bot.store import keys
from bot.store.conversations import ConversationLocks, NewerCommands, RedisConversationStore
from bot.store.daily import DAILY_TTL_S, RedisDaily
from bot.store.leads import RedisLeads
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.steps import event
from workflows.conversation import Caller, Conversation

AT = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
DAY = date(2026, 11, 10)


def without(*names: str, redis: Redis) -> NewerCommands:
    """Commands as a server that lacks `names` (Redis 7) has them."""
    newer = NewerCommands(redis)
    for name in names:
        setattr(newer, name, False)
    return newer


def conversation(**kw: object) -> Conversation:
    return Conversation(line=LINE, caller=Caller(CALLER, "(512) 555-0123"), channel=CHANNEL, opened_at=AT,
                        origin="missed_call", in_hours=True, id="c1", **kw)  # type: ignore[arg-type]


# --- leads --------------------------------------------------------------------------------------


async def test_a_lead_event_is_applied_once(redis: Redis) -> None:
    leads = RedisLeads(redis)
    first = await leads.apply(event("missed_call", AT))
    assert first is not None and first[0].calls == 1
    assert await leads.apply(event("missed_call", AT)) is None
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.calls == 1


async def test_concurrent_events_on_one_lead_are_all_kept(redis: Redis) -> None:
    # Two instances: each reads the lead, and one of them finds it changed and starts over.
    instances = [RedisLeads(redis), RedisLeads(redis)]
    calls = [event("missed_call", AT + timedelta(minutes=i)) for i in range(6)]
    results = await asyncio.gather(*(instances[i % 2].apply(e) for i, e in enumerate(calls)))
    assert all(r is not None for r in results)
    found = await instances[0].get(LINE, CALLER)
    assert found is not None and found.calls == 6
    assert found.last_call_at == AT + timedelta(minutes=5)
    assert await redis.zscore(keys.leads_of(LINE), CALLER) == (AT + timedelta(minutes=5)).timestamp()


# --- daily figures ------------------------------------------------------------------------------


async def test_figures_of_one_event_are_one_field_and_read_as_each(redis: Redis) -> None:
    daily = RedisDaily(redis)
    await daily.count(LINE, DAY, "missed", "texted")
    await daily.count(LINE, DAY, "missed", "not_texted")
    await daily.count(LINE, DAY, "replied", reply_seconds=42.0)
    # What an older version wrote: a field per figure.
    await redis.hincrby(keys.daily(LINE, DAY.isoformat()), "missed", 2)
    await redis.hincrby(keys.daily(LINE, DAY.isoformat()), "texted", 2)
    [figures] = await daily.days(LINE, DAY, DAY)
    assert (figures.missed, figures.texted, figures.not_texted, figures.replied) == (4, 3, 1, 1)
    assert figures.reply_seconds == (42.0,)
    for key in (keys.daily(LINE, DAY.isoformat()), keys.reply_times(LINE, DAY.isoformat())):
        assert DAILY_TTL_S - 60 < await redis.ttl(key) <= DAILY_TTL_S


async def test_a_days_callers_are_read_per_figure_from_the_same_one_command_counts(redis: Redis) -> None:
    daily = RedisDaily(redis)
    for caller, what in (("ld_a", ("missed", "texted")), ("ld_a", ("missed",)), ("ld_b", ("missed", "texted")),
                         ("ld_a", ("texts_in", "reply_to_textback")), ("", ("missed", "not_texted"))):
        await daily.count(LINE, DAY, *what, caller=caller)
    [figures] = await daily.days(LINE, DAY, DAY)
    assert (figures.missed, figures.texted, figures.texts_in, figures.reply_to_textback) == (4, 2, 1, 1)
    assert figures.callers["missed"] == {"ld_a", "ld_b"} and figures.callers["reply_to_textback"] == {"ld_a"}
    assert figures.unnamed == {"missed": 1, "not_texted": 1}
    assert DAILY_TTL_S - 60 < await redis.ttl(keys.daily(LINE, DAY.isoformat())) <= DAILY_TTL_S
    # A new caller's field is new, yet the key already has its TTL from this instance: no EXPIRE.
    await redis.persist(keys.daily(LINE, DAY.isoformat()))
    await daily.count(LINE, DAY, "missed", caller="ld_c")
    assert await redis.ttl(keys.daily(LINE, DAY.isoformat())) == -1


# --- the outbound mapping -------------------------------------------------------------------------


async def test_an_outbound_text_maps_to_its_conversation_for_a_week_in_one_command(redis: Redis) -> None:
    store = RedisConversationStore(redis)
    conv = conversation(thread_id="111.222")
    await store.save(conv)
    await redis.config_resetstat()
    await store.record_outbound("SM1", conv, "333.444")
    stats = await redis.info("commandstats")
    written = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()
               if k.removeprefix("cmdstat_") in ("set", "hset", "hsetex", "expire", "multi", "exec", "evalsha")}
    assert written == {"set": 1}, "one SET with its time to live, on any server"
    found = await store.outbound("SM1")
    assert found is not None and found[0].id == "c1" and found[1] == "333.444"
    assert 0 < await redis.ttl(keys.outbound("SM1")) <= keys.OUTBOUND_TTL_S


async def test_an_outbound_mapping_an_older_version_wrote_is_read(redis: Redis) -> None:
    store = RedisConversationStore(redis)
    await store.save(conversation())
    await redis.hset(keys.outbound("SM2"), mapping={"conv": "c1", "message": ""})
    found = await store.outbound("SM2")
    assert found is not None and found[0].id == "c1" and found[1] == ""


# --- the thread index -----------------------------------------------------------------------------


async def test_the_thread_index_is_written_with_the_first_save_naming_the_thread(redis: Redis) -> None:
    store = RedisConversationStore(redis)
    conv = conversation()
    await store.save(conv)
    conv.thread_id = "111.222"
    await store.save(conv)
    found = await RedisConversationStore(redis).by_thread(CHANNEL, "111.222")
    assert found is not None and found.id == "c1"
    conv.calls = 2
    await store.save(conv)
    again = await store.get("c1")
    assert again is not None and again.calls == 2


async def test_another_instance_writes_the_index_it_has_not_seen(redis: Redis) -> None:
    conv = conversation(thread_id="111.222")
    await RedisConversationStore(redis).save(conv)
    await redis.delete(keys.thread(CHANNEL, "111.222"))  # as if written before the index existed
    await RedisConversationStore(redis).save(conv)
    assert await redis.get(keys.thread(CHANNEL, "111.222")) == b"c1"


async def test_a_resolved_save_closes_the_open_pointer(redis: Redis) -> None:
    store = RedisConversationStore(redis)
    conv, _ = await store.open_or_get(conversation(thread_id="111.222"))
    conv.status = "resolved"
    await store.save(conv)
    assert await store.open_for(LINE, CALLER) is None
    found = await store.by_thread(CHANNEL, "111.222")
    assert found is not None and found.status == "resolved"


# --- the conversation's lock ----------------------------------------------------------------------


@pytest.mark.parametrize("lacking", [(), ("delifeq",)])
async def test_two_instances_take_turns_on_a_conversation(redis: Redis, lacking: tuple[str, ...]) -> None:
    one, two = (ConversationLocks(redis, newer=without(*lacking, redis=redis)) for _ in range(2))
    order: list[str] = []
    holding = asyncio.Event()

    async def first() -> None:
        async with one.hold(LINE, CALLER):
            order.append("one in")
            holding.set()
            for _ in range(5):
                await redis.ping()  # the other instance tries meanwhile
            order.append("one out")

    async def second() -> None:
        await holding.wait()
        async with two.hold(LINE, CALLER):
            order.append("two in")

    async with asyncio.timeout(10):
        await asyncio.gather(first(), second())
    assert order == ["one in", "one out", "two in"]
    assert await redis.exists(keys.conversation_lock(LINE, CALLER)) == 0


@pytest.mark.parametrize("lacking", [(), ("delifeq",)])
async def test_a_lock_lost_meanwhile_is_not_released_for_its_new_holder(
    redis: Redis, lacking: tuple[str, ...]
) -> None:
    locks = ConversationLocks(redis, newer=without(*lacking, redis=redis))
    name = keys.conversation_lock(LINE, CALLER)
    with pytest.raises(LockNotOwnedError):
        async with locks.hold(LINE, CALLER):
            await redis.set(name, "someone else")  # expired, and taken by another instance
    assert await redis.get(name) == b"someone else"
