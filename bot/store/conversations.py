"""Redis-backed conversation store: the `ConversationStore` port of the workflows."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.store import keys
from workflows.conversation import Caller, Conversation

_OPEN_OR_GET = """
local id = redis.call('GET', KEYS[1])
if id then
  local record = redis.call('GET', ARGV[3] .. id)
  if record then return {0, record} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {1, ARGV[2]}
"""

# A re-run of the job that made a claim finds its own name: still its claim. The first-text
# mark is only taken with the cooldown window, as the text it marks is then sent.
_CLAIM_TEXTBACK = """
local function claim(key, ttl)
  local taken
  if ttl then
    taken = redis.call('SET', key, ARGV[1], 'NX', 'EX', ttl)
  else
    taken = redis.call('SET', key, ARGV[1], 'NX')
  end
  if taken or redis.call('GET', key) == ARGV[1] then return 1 end
  return 0
end
if claim(KEYS[1], ARGV[2]) == 0 then return {0, 0} end
return {1, claim(KEYS[2], nil)}
"""

# An index key (open pointer or thread) -> the conversation id -> its record, in one trip.
_BY_INDEX = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
"""

_MAX_SET = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


class RedisConversationStore:
    """Conversations, thread index, cooldowns and idempotency claims in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._open = redis.register_script(_OPEN_OR_GET)
        self._claim_textback = redis.register_script(_CLAIM_TEXTBACK)
        self._by_index = redis.register_script(_BY_INDEX)

    async def open_or_get(self, conv: Conversation) -> tuple[Conversation, bool]:
        """Return the open conversation, or store `conv` as a new one, in one atomic step.

        The pointer and the record are written together; a pointer whose record is gone
        (never expected, but it must not open a second thread) is replaced.
        """
        conv.id = conv.id or secrets.token_hex(8)
        pointer = keys.open_conversation(conv.line, conv.caller.number)
        is_new, raw = await self._open(
            keys=[pointer, keys.conversation(conv.id)], args=[conv.id, dumps(conv), keys.conversation("")]
        )
        return (conv, True) if int(is_new) else (loads(raw), False)

    async def _by_pointer(self, pointer: str) -> Conversation | None:
        raw = await self._by_index(keys=[pointer], args=[keys.conversation("")])
        return loads(raw) if raw is not None else None

    async def open_for(self, line: str, caller: str) -> Conversation | None:
        """The caller's open conversation on a line, if any."""
        return await self._by_pointer(keys.open_conversation(line, caller))

    async def opened_since(self, lines: set[str], since: datetime) -> list[Conversation]:
        """Conversations on `lines` opened at or after `since`, newest first.

        Read by scanning the records: figures for a few lines over weeks, not a hot path.
        """
        names = [key async for key in self._r.scan_iter(match=keys.conversation("*"), count=500)]
        found: list[Conversation] = []
        for start in range(0, len(names), 200):
            for raw in await self._r.mget(names[start : start + 200]):
                conv = loads(raw) if raw is not None else None
                if conv is not None and conv.line in lines and conv.opened_at >= since:
                    found.append(conv)
        return sorted(found, key=lambda c: c.opened_at, reverse=True)

    async def get(self, conv_id: str) -> Conversation | None:
        """Load a conversation by id."""
        raw = await self._r.get(keys.conversation(conv_id))
        return loads(raw) if raw is not None else None

    async def save(self, conv: Conversation) -> None:
        """Write the record and keep the thread index in step."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(keys.conversation(conv.id), dumps(conv))
            if conv.thread_id:
                pipe.set(keys.thread(conv.channel, conv.thread_id), conv.id)
            if conv.status == "resolved":
                pipe.delete(keys.open_conversation(conv.line, conv.caller.number))
                pipe.delete(keys.cooldown(conv.line, conv.caller.number))
            await pipe.execute()

    async def by_thread(self, channel: str, thread_id: str) -> Conversation | None:
        """Find the conversation a Slack thread belongs to."""
        return await self._by_pointer(keys.thread(channel, thread_id))

    async def claim_textback(self, line: str, caller: str, cooldown: int, owner: str) -> tuple[bool, bool]:
        """The cooldown window for `owner`, then the first-text mark: one round trip for both."""
        keys_ = [keys.cooldown(line, caller), keys.texted(line, caller)]
        claimed, first = await self._claim_textback(keys=keys_, args=[owner, max(1, cooldown)])
        return bool(int(claimed)), bool(int(first))

    async def record_outbound(self, sid: str, conv: Conversation, message_id: str | None) -> None:
        """Map an outbound SMS to its conversation and the team message that caused it."""
        key = keys.outbound(sid)
        mapping: dict[FieldT, EncodableT] = {"conv": conv.id, "message": message_id or ""}
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, keys.OUTBOUND_TTL_S)
            await pipe.execute()

    async def outbound(self, sid: str) -> tuple[Conversation, str] | None:
        """The conversation and team message id of an outbound SMS, if known."""
        # Replies are bytes: the client is built without decode_responses.
        data = cast(dict[bytes, bytes], await self._r.hgetall(keys.outbound(sid)))
        if not data:
            return None
        conv = await self.get(data[b"conv"].decode())
        return (conv, data[b"message"].decode()) if conv is not None else None

    async def last_turn(self, line: str, caller: str) -> int:
        """The number of the caller's last text already handled (0 before the first)."""
        value = await self._r.get(keys.text_turn(line, caller))
        return int(value) if value is not None else 0

    async def wait_turn(self, line: str, caller: str, seq: int, timeout: float) -> bool:
        """Poll (briefly, backing off) until text `seq` is handled; False after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + timeout, 0.01
        while await self.last_turn(line, caller) < seq:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        return True

    async def finish_turn(self, line: str, caller: str, seq: int) -> None:
        """Record text number `seq` as handled (never moving backwards)."""
        await self._r.eval(_MAX_SET, 1, keys.text_turn(line, caller), seq)


# --- Conversation <-> JSON, as stored in Redis -----------------------------------------------

_DATES = ("opened_at", "last_event_at")


def dumps(conv: Conversation) -> str:
    """Serialise a conversation for storage."""
    # A shallow copy: the record holds only scalars, the caller and a dict of strings, and
    # dataclasses.asdict's deep copy was a tenth of the CPU a missed call costs.
    data = dict(vars(conv))
    data["caller"] = dict(vars(conv.caller))
    for name in _DATES:
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else None
    return json.dumps(data, separators=(",", ":"))


def loads(raw: str | bytes) -> Conversation:
    """Rebuild a conversation from storage."""
    data: dict[str, Any] = json.loads(raw)
    data["caller"] = Caller(**data["caller"])
    for name in _DATES:
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return Conversation(**data)
