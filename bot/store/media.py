"""Pictures served to Twilio for outgoing MMS: one hash per picture, named by an unguessable
token, so whichever instance Twilio's request reaches can serve it."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from bot.store import keys


class RedisMediaShelf:
    """Puts a picture up until a time on the app's clock; a Redis TTL removes it a little later."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def put(self, content: bytes, content_type: str, *, now: datetime, until: datetime) -> str:
        """Store the picture; its token (43 URL-safe characters, 256 random bits)."""
        token = secrets.token_urlsafe(32)
        ttl = int((until - now).total_seconds()) + keys.SERVED_MEDIA_GRACE_S
        fields = {"type": content_type, "until": f"{until.timestamp():.3f}", "data": content}
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.served_media(token), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(keys.served_media(token), ttl)
            await pipe.execute()
        return token

    async def get(self, token: str, *, now: datetime) -> tuple[str, bytes] | None:
        """(content type, bytes) while the picture is valid at `now`; None otherwise."""
        raw = cast(list[bytes | None], await self._r.hmget(keys.served_media(token), ["type", "until", "data"]))
        kind, until, data = raw
        if kind is None or until is None or data is None or now.timestamp() >= float(until):
            return None
        return kind.decode(), data
