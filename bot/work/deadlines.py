"""Deadlines in Redis (PRODUCT §2.4, PROTOCOLS §8); bot/work/firer.py fires them.

Pending jobs live in our own sorted set `tb:due`, scored by the app clock, with each job's
kind and JSON args in a hash: nothing is pickled and every Redis call is async. Any process
may schedule and cancel. A look moves due ids into `tb:inflight` in one Lua call, so even two
firers whose leases overlap (a GC pause, a network split) never take the same job. A firer
that dies mid-job leaves its jobs in flight; they go back to due when their lease runs out,
and handlers claim `fired(job_id)` so that re-run repeats no effect.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.store import keys
from workflows.jobs import TimedJob, encode
from workflows.ports import Deadline

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8

# Forget jobs: the ids given, or (ARGV[3] set) every id of that group.
_FORGET = """
local ids = {unpack(ARGV, 4)}
if ARGV[3] ~= '' then ids = redis.call('SMEMBERS', ARGV[2] .. ARGV[3]); redis.call('DEL', ARGV[2] .. ARGV[3]) end
local n = 0
for _, id in ipairs(ids) do
  local group = redis.call('HGET', ARGV[1] .. id, 'group')
  if group and group ~= '' then redis.call('SREM', ARGV[2] .. group, id) end
  redis.call('ZREM', KEYS[1], id); redis.call('ZREM', KEYS[2], id)
  n = n + redis.call('DEL', ARGV[1] .. id)
end
return n
"""

# One look of the firer, in one step: leases run out (those jobs are due again now, unless
# cancelled or already scheduled anew); due -> in flight with the payload read, so no two
# firers can take one id; and when to look next: the first due time and the first lease end
# (scores as strings: a Lua number would lose the fraction). An idle look is three commands.
_TAKE = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[3])
local first_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local first_lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if first_lease[2] and tonumber(first_lease[2]) <= now then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do
    local job = ARGV[4] .. id
    redis.call('ZREM', KEYS[2], id)
    if redis.call('EXISTS', job) == 1 and not redis.call('ZSCORE', KEYS[1], id) then
      redis.call('HINCRBY', job, 'attempts', 1); redis.call('ZADD', KEYS[1], ARGV[1], id)
    end
  end
  first_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
end
local out = {}
if limit > 0 and first_due[2] and tonumber(first_due[2]) <= now then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #due, 2 do
    local id = due[i]
    local job = redis.call('HMGET', ARGV[4] .. id, 'kind', 'args', 'gen', 'attempts')
    redis.call('ZREM', KEYS[1], id)
    if job[1] then redis.call('ZADD', KEYS[2], ARGV[2], id); out[#out + 1] = {id, due[i + 1], unpack(job)} end
  end
  first_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  first_lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
end
return {out, first_due[2] or '', first_lease[2] or ''}
"""

# Done (ARGV[5] == '') or retry at ARGV[5]. Only the generation taken settles a job: one
# cancelled or scheduled anew while it ran keeps its new state (we only drop our stale lease).
_SETTLE = """
local id, job = ARGV[1], ARGV[3] .. ARGV[1]
if redis.call('HGET', job, 'gen') ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[1], id) then redis.call('ZREM', KEYS[2], id) end
  return -1
end
redis.call('ZREM', KEYS[2], id)
if ARGV[5] ~= '' and redis.call('HINCRBY', job, 'attempts', 1) < tonumber(ARGV[6]) then
  redis.call('ZADD', KEYS[1], ARGV[5], id)
  return 1
end
local group = redis.call('HGET', job, 'group')
if group and group ~= '' then redis.call('SREM', ARGV[4] .. group, id) end
redis.call('DEL', job)
return 0
"""


@dataclass(frozen=True)
class Taken:
    """A job a firer holds: what to run, and the generation that may settle it."""

    job_id: str
    due: float
    kind: str
    args: dict[str, Any]
    gen: str
    attempts: int

    @classmethod
    def decode(cls, row: list[bytes]) -> Taken:
        job_id, due, kind, args, gen, attempts = (v.decode() for v in row)
        return cls(job_id, float(due), kind, json.loads(args), gen, int(attempts))


_FORGET_KEYS = [keys.DUE, keys.IN_FLIGHT]


def _forget_args(group: str, *ids: str) -> list[str]:
    """The _FORGET script's arguments: a group's jobs, or the jobs `ids` (group "")."""
    return [keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, group, *ids]


def _add(pipe: Pipeline, job: Deadline, group: str) -> None:
    # A fresh generation per schedule: a run of the old version must not settle the new one.
    kind, args = encode(job.job)
    fields = {"kind": kind, "args": json.dumps(args), "group": group,
              "gen": secrets.token_hex(8), "attempts": "0"}
    pipe.hset(keys.due_job(job.job_id), mapping=fields)  # type: ignore[arg-type]  # str keys and values
    pipe.zadd(keys.DUE, {job.job_id: job.due.timestamp()})
    if group:
        pipe.sadd(keys.due_group(group), job.job_id)


def _score(raw: bytes) -> float | None:
    return float(raw) if raw else None


class Deadlines:
    """Pending jobs in Redis; any process (web or scheduler) may schedule and cancel.

    Scheduling also publishes the due time on `keys.DUE_WAKE` (in the same transaction) and
    tells `scheduled`, this process's firer, so a firer asleep until later looks again.
    """

    def __init__(self, redis: Redis, *, scheduled: Callable[[float], None] | None = None) -> None:
        self._r = redis
        self._scheduled = scheduled or (lambda due: None)
        self._forget, self._take, self._settle = (redis.register_script(lua) for lua in (_FORGET, _TAKE, _SETTLE))

    async def schedule(self, job_id: str, due: datetime, job: TimedJob, *, group: str = "") -> None:
        """Create or move a job: the same id again replaces its time and fields."""
        async with self._r.pipeline(transaction=True) as pipe:
            _add(pipe, Deadline(job_id, due, job), group)
            pipe.publish(keys.DUE_WAKE, repr(due.timestamp()))
            await pipe.execute()
        self._scheduled(due.timestamp())

    async def replace_group(self, group: str, jobs: Sequence[Deadline]) -> None:
        """Forget every pending job of `group` and schedule `jobs` in it, in one round trip."""
        first = min((job.due.timestamp() for job in jobs), default=None)
        async with self._r.pipeline(transaction=True) as pipe:
            await self._forget(keys=_FORGET_KEYS, args=_forget_args(group), client=pipe)
            for job in jobs:
                _add(pipe, job, group)
            if first is not None:
                pipe.publish(keys.DUE_WAKE, repr(first))
            await pipe.execute()
        if first is not None:
            self._scheduled(first)

    async def cancel(self, job_id: str) -> bool:
        """Forget a job; True if it was pending. A run already started is not stopped."""
        return bool(await self._forget_ids("", job_id))

    async def cancel_group(self, group: str) -> int:
        """Forget every job of a group (a conversation's reminders); how many there were."""
        return await self._forget_ids(group) if group else 0

    async def _forget_ids(self, group: str, *ids: str) -> int:
        return int(await self._forget(keys=_FORGET_KEYS, args=_forget_args(group, *ids)))

    async def due_at(self, job_id: str) -> datetime | None:
        """When a pending job is due (app clock), or None when it is not waiting."""
        score = await self._r.zscore(keys.DUE, job_id)
        return datetime.fromtimestamp(score, UTC) if score is not None else None

    async def claim_fired(self, job_id: str) -> bool:
        """SET NX for a handler: True once per job id, so a re-run after a crash does nothing."""
        return bool(await self._r.set(keys.fired(job_id), 1, nx=True, ex=keys.CLAIM_TTL_S))

    async def next_due(self) -> float | None:
        first = await self._r.zrange(keys.DUE, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def take(self, now: float, lease_until: float, limit: int) -> tuple[list[Taken], float | None]:
        """Put expired leases back, take up to `limit` due jobs, and say when to look next: the
        first due time or lease end still ahead (None when nothing is waiting at all)."""
        rows, first_due, first_lease = await self._take(
            keys=[keys.DUE, keys.IN_FLIGHT], args=[now, lease_until, limit, keys.DUE_JOB_PREFIX]
        )
        ahead = [t for t in (_score(first_due), _score(first_lease)) if t is not None]
        return [Taken.decode(row) for row in rows], min(ahead, default=None)

    async def settle(self, job: Taken, retry_at: float | None) -> int:
        """Finish a run: 1 retry scheduled, 0 deleted (done or given up), -1 superseded."""
        args = [job.job_id, job.gen, keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, retry_at or "", MAX_ATTEMPTS]
        result = int(await self._settle(keys=[keys.DUE, keys.IN_FLIGHT], args=args))
        if result == 1 and retry_at is not None:
            self._scheduled(retry_at)
        return result
