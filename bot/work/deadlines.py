"""The engine's due set (PRODUCT §2.4, PROTOCOLS §8): jobs waiting for a time, in Redis.

A job with an id (a reminder, a page, a digest, a retry, a lead's CRM deliveries) is a hash
`tb:job:<id>` (kind, JSON args, group, generation, attempts, born) and, while it waits, a
member of the sorted set `tb:due` scored by its due time on the app clock. When it is due,
one Lua step moves it into the job stream (bot/work/engine.py), where the workers run it like
any other job; two instances moving at once cannot both take it. The hash stays until the run
is done, so a cancel or a newer schedule of the same id (a new generation) wins over a run
already going: that run neither deletes nor retries what replaced it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.store import keys
from workflows.jobs import TimedJob, encode
from workflows.ports import Deadline

# Forget jobs: the ids given, or (ARGV[3] set) every id of that group.
_FORGET = """
local ids = {unpack(ARGV, 4)}
if ARGV[3] ~= '' then ids = redis.call('SMEMBERS', ARGV[2] .. ARGV[3]); redis.call('DEL', ARGV[2] .. ARGV[3]) end
local n = 0
for _, id in ipairs(ids) do
  local group = redis.call('HGET', ARGV[1] .. id, 'group')
  if group and group ~= '' then redis.call('SREM', ARGV[2] .. group, id) end
  redis.call('ZREM', KEYS[1], id)
  n = n + redis.call('DEL', ARGV[1] .. id)
end
return n
"""

# Move what is due into the stream, in one step, and say when the next job is due (a score
# as a string: a Lua number would lose the fraction). An idle look is two commands.
_MOVE = """
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local moved = 0
if first[2] and tonumber(first[2]) <= tonumber(ARGV[1]) then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
    redis.call('ZREM', KEYS[1], id)
    local j = redis.call('HMGET', ARGV[3] .. id, 'kind', 'args', 'gen', 'attempts', 'born', 'seq')
    if j[1] then
      redis.call('XADD', KEYS[2], '*', 'kind', j[1], 'args', j[2], 'seq', j[6] or '0', 'id', id,
                 'gen', j[3] or '', 'attempts', j[4] or '0', 'born', j[5] or ARGV[4])
      moved = moved + 1
    end
  end
  first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
end
return {moved, first[2] or ''}
"""

# Run as soon as possible under an id, unless a job of that id already waits or runs (then it
# will see whatever this one was for: a lead's CRM job drains the whole outbox).
_ENSURE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'args', ARGV[2], 'gen', ARGV[3], 'attempts', '0', 'born', ARGV[4], 'group', '')
redis.call('XADD', KEYS[2], '*', 'kind', ARGV[1], 'args', ARGV[2], 'seq', '0', 'id', ARGV[5], 'gen', ARGV[3],
           'attempts', '0', 'born', ARGV[4])
return 1
"""


def _forget_args(group: str, *ids: str) -> list[str]:
    """The _FORGET script's arguments: a group's jobs, or the jobs `ids` (group "")."""
    return [keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, group, *ids]


def _add(pipe: Pipeline, job: Deadline, group: str) -> None:
    # A fresh generation per schedule: a run of the old version must not settle the new one.
    kind, args = encode(job.job)
    fields = {"kind": kind, "args": json.dumps(args), "group": group, "gen": new_gen(), "attempts": "0",
              "born": str(int(job.due.timestamp() * 1000)), "seq": "0"}
    pipe.hset(keys.due_job(job.job_id), mapping=fields)  # type: ignore[arg-type]  # str keys and values
    pipe.zadd(keys.DUE, {job.job_id: job.due.timestamp()})
    if group:
        pipe.sadd(keys.due_group(group), job.job_id)


def new_gen() -> str:
    return secrets.token_hex(8)


class Deadlines:
    """Jobs due at a time; any process may schedule and cancel.

    Scheduling also publishes the due time on `keys.DUE_WAKE` (in the same transaction) and
    tells `scheduled`, this process's timer, so a timer asleep until later looks again.
    """

    def __init__(self, redis: Redis, *, scheduled: Callable[[float], None] | None = None) -> None:
        self._r = redis
        self._scheduled = scheduled or (lambda due: None)
        self._forget, self._move, self._ensure = (redis.register_script(lua) for lua in (_FORGET, _MOVE, _ENSURE))

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
            await self._forget(keys=[keys.DUE], args=_forget_args(group), client=pipe)
            for job in jobs:
                _add(pipe, job, group)
            if first is not None:
                pipe.publish(keys.DUE_WAKE, repr(first))
            await pipe.execute()
        if first is not None:
            self._scheduled(first)

    async def ensure(self, job_id: str, job: Any, born: datetime, *, client: Redis | Pipeline | None = None) -> None:
        """Run `job` now under `job_id`, unless a job of that id waits or runs already.

        With `client` a pipeline, it joins that transaction (a lead and its delivery's job).
        """
        kind, args = encode(job)
        await self._ensure(keys=[keys.due_job(job_id), keys.JOBS],
                           args=[kind, json.dumps(args), new_gen(), int(born.timestamp() * 1000), job_id],
                           client=client or self._r)

    async def cancel(self, job_id: str, *, client: Redis | Pipeline | None = None) -> bool:
        """Forget a job; True if it was pending. A run already started is not stopped.

        With `client` a pipeline, it joins that transaction (and the answer comes with it).
        """
        return bool(await self._forget(keys=[keys.DUE], args=_forget_args("", job_id), client=client or self._r))

    async def cancel_group(self, group: str) -> int:
        """Forget every job of a group (a conversation's reminders); how many there were."""
        return await self._forget_ids(group) if group else 0

    async def _forget_ids(self, group: str, *ids: str) -> int:
        return int(await self._forget(keys=[keys.DUE], args=_forget_args(group, *ids)))

    async def due_at(self, job_id: str) -> datetime | None:
        """When a pending job is due (app clock), or None when it is not waiting."""
        score = await self._r.zscore(keys.DUE, job_id)
        return datetime.fromtimestamp(score, UTC) if score is not None else None

    async def claim_fired(self, job_id: str) -> bool:
        """SET NX for a handler: True once per job id, so a re-run after a crash does nothing."""
        return bool(await self._r.set(keys.fired(job_id), 1, nx=True, ex=keys.CLAIM_TTL_S))

    async def move_due(self, now: float, limit: int) -> tuple[int, float | None]:
        """Move up to `limit` jobs due at `now` into the stream; how many, and when the next is due."""
        moved, first = await self._move(keys=[keys.DUE, keys.JOBS],
                                        args=[now, limit, keys.DUE_JOB_PREFIX, int(now * 1000)])
        return int(moved), float(first) if first else None
