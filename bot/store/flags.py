"""Per-number flags in Redis: opted out, blocked, landline (the `CallerFlags` port)."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys


class RedisCallerFlags:
    """What the team and the carriers have told us about a number."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def suppression(self, line: str, caller: str) -> str:
        """Why no text may go to `caller` from `line` ("" when texts are allowed)."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.sismember(keys.opted_out(line), caller)
            pipe.sismember(keys.blocked(line), caller)
            pipe.sismember(keys.LANDLINES, caller)
            opted_out, blocked, landline = await pipe.execute()
        if opted_out:
            return "the caller opted out (replied STOP)"
        if blocked:
            return "the number is blocked"
        if landline:
            return "the number is a landline (cannot receive texts)"
        return ""

    async def set_opted_out(self, line: str, caller: str, opted_out: bool) -> None:
        if opted_out:
            await self._r.sadd(keys.opted_out(line), caller)
        else:
            await self._r.srem(keys.opted_out(line), caller)

    async def set_blocked(self, line: str, caller: str, blocked: bool) -> None:
        if blocked:
            await self._r.sadd(keys.blocked(line), caller)
        else:
            await self._r.srem(keys.blocked(line), caller)

    async def is_blocked(self, line: str, caller: str) -> bool:
        return bool(await self._r.sismember(keys.blocked(line), caller))

    async def blocked_numbers(self, line: str) -> list[str]:
        """The numbers blocked on `line`, sorted."""
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in await self._r.smembers(keys.blocked(line)))

    async def mark_landline(self, caller: str) -> None:
        await self._r.sadd(keys.LANDLINES, caller)
