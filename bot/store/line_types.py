"""Cached carrier line types (Twilio Lookup answers), one short Redis string per number."""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis

from bot.store import keys


class RedisLineTypes:
    """The Lookup cache: a hit costs one GET, so a repeat caller adds no HTTP request."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def get(self, number: str) -> str | None:
        """The cached line type ("" when the carrier gave none); None when nothing is cached."""
        # Replies are bytes: the client is built without decode_responses.
        raw = cast(bytes | None, await self._r.get(keys.line_type(number)))
        return None if raw is None else raw.decode()

    async def put(self, number: str, line_type: str, ttl_s: int) -> None:
        """Remember a line type for `ttl_s` seconds (the TTL is the cache's expiry)."""
        await self._r.set(keys.line_type(number), line_type, ex=ttl_s)
