"""The lines file's `retention`: what a conversation stored expires that long after its last
activity; leads, opt-outs and blocks, the schedule and the day figures are kept on purpose."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.store import keys
from bot.store.conversations import KEPT_DAY, RedisConversationStore
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CONFIG_YAML, LINE
from tests.integration.conftest import rig_for

DAY = 86400
# Kept whatever the retention, and why.
KEPT = {
    r"tb:lead:.*": "the lead: the business's customer list, until textback forget",
    r"tb:leads:.*": "the line's index of its leads",
    r"tb:(due|jobs|job:digest:.*)": "the schedule and the job stream",
    r"tb:(daily|replytimes):\+\d+:\d{4}-\d\d-\d\d": "a line's day figures (400 days; no caller in them)",
}


def kept_on_purpose(name: str) -> bool:
    return any(re.fullmatch(pattern, name) for pattern in KEPT)


async def seconds_left(r: Redis, name: bytes) -> int:
    """The key's time to live; for a hash whose fields expire (HSETEX), the longest of theirs."""
    ttl = int(await r.ttl(name))
    if ttl >= 0 or await r.type(name) != b"hash":
        return ttl
    fields = await r.hkeys(name)
    try:
        ttls = await r.execute_command("HTTL", name, "FIELDS", len(fields), *fields)
    except ResponseError:  # a server without field expiry
        return ttl
    return -1 if any(int(t) < 0 for t in ttls) else max(int(t) for t in ttls)


async def story(rig: Rig) -> None:
    """A missed call, the caller's text, a team reply, the reminders."""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "my sink is leaking")
    await rig.settle()
    conv = await rig.services.store.open_for(LINE, CALLER)
    assert conv is not None and conv.thread_id
    await rig.team_replies(CHANNEL, conv.thread_id, "on our way")
    await rig.settle()
    await rig.fire_due()


@pytest.fixture
async def kept_30_days(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for("retention: 30d\n" + CONFIG_YAML, redis_url, clock, tmp_path) as r:
        yield r


async def test_everything_a_conversation_stored_expires_within_the_retention(kept_30_days: Rig, redis: Redis) -> None:
    await story(kept_30_days)
    checked, forever, too_long = [], [], []
    async for raw in redis.scan_iter(match="tb:*", count=1000):
        name = raw.decode()
        if kept_on_purpose(name):
            continue
        left = await seconds_left(redis, raw)
        checked.append(name)
        if left < 0:
            forever.append(name)
        elif left > 30 * DAY:
            too_long.append((name, left))
    assert forever == [] and too_long == []
    # The story stored what this test is about: the record, its pointer and index, the
    # caller's counters and first-text mark.
    for prefix in ("tb:conv:", "tb:open:", "tb:thread:", "tb:seq:", "tb:turn:", "tb:texted:"):
        assert any(name.startswith(prefix) for name in checked), prefix


async def test_forever_keeps_the_conversation(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with rig_for("retention: forever\n" + CONFIG_YAML, redis_url, clock, tmp_path) as rig:
        await story(rig)
        conv = await rig.services.store.open_for(LINE, CALLER)
        assert conv is not None and conv.thread_id
        for name in (keys.conversation(conv.id), keys.open_conversation(LINE, CALLER),
                     keys.thread(conv.channel, conv.thread_id)):
            assert await redis.ttl(name) == -1, name


async def test_a_long_conversation_keeps_its_thread_link_and_pointer(kept_30_days: Rig, redis: Redis) -> None:
    await story(kept_30_days)
    store = kept_30_days.services.store
    conv = await store.open_for(LINE, CALLER)
    assert conv is not None and conv.thread_id
    links = (keys.thread(conv.channel, conv.thread_id), keys.open_conversation(LINE, CALLER))
    # As if the links were written 20 days ago, more than half the retention.
    conv.extra[KEPT_DAY] = str(int(conv.extra[KEPT_DAY]) - 20)
    for name in links:
        await redis.expire(name, 10 * DAY)
    await RedisConversationStore(redis, keep_days=30).save(conv)
    for name in links:
        assert await redis.ttl(name) > 29 * DAY, name
