"""The step log of a job: which of its effects already happened, so a re-run repeats none."""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis

from bot.store import keys

# Long enough for any retry of the job; the log is garbage after that.
STEPS_TTL_S = 7 * 24 * 3600


class RedisSteps:
    """The step log of one job: which effects already happened, and their results.

    Read whole once (one round trip instead of one per step), with this runner's own writes
    laid over it: only the job's one runner (its run lock) writes the log. Each write still
    reaches Redis before `put` returns, ahead of the effect it guards.
    """

    def __init__(self, redis: Redis, job_id: str) -> None:
        self._r = redis
        self._job_id = job_id
        self._key = keys.job_steps(job_id)
        self._read: dict[str, str] | None = None
        self._written: dict[str, str] = {}
        self._expiring = False

    def key(self, name: str) -> str:
        return f"{self._job_id}:{name}"

    def part(self, name: str) -> RedisSteps:
        """The log of a part of the job (its urgent page, its question), kept in a hash of its own."""
        return RedisSteps(self._r, self.key(name))

    async def get(self, name: str) -> str | None:
        if name in self._written:
            return self._written[name]
        if self._read is None:
            # Bytes, not str: the client never decodes replies.
            raw = cast(dict[bytes, bytes], await self._r.hgetall(self._key))
            self._read = {k.decode(): v.decode() for k, v in raw.items()}
        return self._written.get(name, self._read.get(name))

    async def put(self, name: str, value: str) -> None:
        if self._expiring:  # the key already has its time to live; HSET keeps it
            await self._r.hset(self._key, name, value)
        else:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hset(self._key, name, value)
                pipe.expire(self._key, STEPS_TTL_S)
                await pipe.execute()
            self._expiring = True
        self._written[name] = value
