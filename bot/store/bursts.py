"""Redis side of flood control: per-minute counters and the held-back texts."""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis

from bot.store import keys

# Counters outlive their minute a little, for texts that arrive late in it.
RATE_TTL_S = 120
# A flush claim left by an instance that died expires after this, and the next held text
# arms a new flush.
FLUSH_CLAIM_TTL_S = 60


class RedisBursts:
    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def count_inbound(self, line: str, caller: str, minute: int) -> int:
        key = keys.inbound_rate(line, caller, minute)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, RATE_TTL_S)
            count, _ = await pipe.execute()
        return int(count)

    async def hold(self, conv_id: str, text: str) -> int:
        return int(await self._r.rpush(keys.held(conv_id), text))

    async def take_held(self, conv_id: str) -> list[str]:
        # LPOP with a count takes them all atomically; a text held meanwhile waits for the
        # next flush instead of being lost between a read and a delete.
        # With a count, LPOP answers a list (or None when empty); bytes, as the client is
        # built without decode_responses.
        taken = cast(list[bytes] | None, await self._r.lpop(keys.held(conv_id), 10_000))
        return [t.decode() for t in taken or []]

    async def arm_flush(self, conv_id: str) -> bool:
        return bool(await self._r.set(keys.held(conv_id) + ":armed", 1, nx=True, ex=FLUSH_CLAIM_TTL_S))

    async def disarm_flush(self, conv_id: str) -> None:
        await self._r.delete(keys.held(conv_id) + ":armed")
