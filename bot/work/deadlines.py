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
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.store import keys
from workflows.jobs import JobDecodeError, TimedJob, decode, encode
from workflows.ports import Clock, Deadline

# Lua functions the scripts below share: forget jobs, and write one (a hash of its fields
# and its place in the due set, and in its group's set).
_LIB = """
local function forget(due, jobs, groups, ids)
  local n = 0
  for _, id in ipairs(ids) do
    local group = redis.call('HGET', jobs .. id, 'group')
    if group and group ~= '' then redis.call('SREM', groups .. group, id) end
    redis.call('ZREM', due, id)
    n = n + redis.call('DEL', jobs .. id)
  end
  return n
end
local function forget_group(due, jobs, groups, group)
  local ids = redis.call('SMEMBERS', groups .. group)
  redis.call('DEL', groups .. group)
  return forget(due, jobs, groups, ids)
end
"""

# Forget jobs: the ids given, or (ARGV[3] set) every id of that group.
_FORGET = _LIB + """
if ARGV[3] ~= '' then return forget_group(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) end
return forget(KEYS[1], ARGV[1], ARGV[2], {unpack(ARGV, 4)})
"""

# Schedule jobs in one step: ARGV[1..3] the job and group prefixes and the group, ARGV[4]
# "replace" to forget the group's jobs first, ARGV[5] (unless '') the args the first job's
# hash must still hold, else nothing is written (`advance`), ARGV[6] (unless '') a due time to
# publish on KEYS[2]; then six per job: id, score, kind, args, generation, born.
_PUT = _LIB + """
local jobs, groups, group = ARGV[1], ARGV[2], ARGV[3]
if ARGV[5] ~= '' and redis.call('HGET', jobs .. ARGV[7], 'args') ~= ARGV[5] then return 0 end
if ARGV[4] == 'replace' then forget_group(KEYS[1], jobs, groups, group) end
for i = 7, #ARGV, 6 do
  local id = ARGV[i]
  redis.call('HSET', jobs .. id, 'kind', ARGV[i + 2], 'args', ARGV[i + 3], 'group', group, 'gen', ARGV[i + 4],
             'attempts', '0', 'born', ARGV[i + 5], 'seq', '0')
  redis.call('ZADD', KEYS[1], ARGV[i + 1], id)
  if group ~= '' then redis.call('SADD', groups .. group, id) end
end
if ARGV[6] ~= '' then redis.call('PUBLISH', KEYS[2], ARGV[6]) end
return 1
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
# will see whatever this one was for: a lead's CRM job drains the whole outbox). A function,
# so a script of the lead store can do it in the same step as the lead's write.
ENSURE_LUA = """
local function ensure(job, stream, id, kind, args, gen, born)
  if redis.call('EXISTS', job) == 1 then return 0 end
  redis.call('HSET', job, 'kind', kind, 'args', args, 'gen', gen, 'attempts', '0', 'born', born, 'group', '')
  redis.call('XADD', stream, '*', 'kind', kind, 'args', args, 'seq', '0', 'id', id, 'gen', gen,
             'attempts', '0', 'born', born)
  return 1
end
"""
_ENSURE = ENSURE_LUA + "return ensure(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])"


def ensure_args(job_id: str, job: Any, born: datetime) -> list[str]:
    """The arguments of ENSURE_LUA's `ensure` after its two keys (job hash, stream)."""
    kind, args = encode(job)
    return [job_id, kind, json.dumps(args), new_gen(), str(int(born.timestamp() * 1000))]


def _forget_args(group: str, *ids: str) -> list[str]:
    """The _FORGET script's arguments: a group's jobs, or the jobs `ids` (group "")."""
    return [keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, group, *ids]


def _job_args(job: Deadline) -> list[str | float]:
    # A fresh generation per schedule: a run of the old version must not settle the new one.
    kind, args = encode(job.job)
    return [job.job_id, job.due.timestamp(), kind, json.dumps(args), new_gen(), str(int(job.due.timestamp() * 1000))]


def new_gen() -> str:
    return secrets.token_hex(8)


class Deadlines:
    """Jobs due at a time; any process may schedule and cancel.

    Each change is one Lua step (atomic, and no SCRIPT EXISTS as a script in a pipeline
    costs). Scheduling tells `scheduled`, this process's timer, so a timer asleep until later
    looks again; it also publishes the due time on `keys.DUE_WAKE` for the timers of other
    instances, unless the job is due more than `quiet_s` after now on `clock`: every timer
    looks at least that often (`Timing.tick_s`), so it will see the job in time anyway.
    """

    def __init__(self, redis: Redis, *, scheduled: Callable[[float], None] | None = None,
                 clock: Clock | None = None, quiet_s: float = 0.0) -> None:
        self._r = redis
        self._scheduled = scheduled or (lambda due: None)
        self._clock, self._quiet_s = clock, quiet_s
        self._forget, self._move, self._ensure, self._put = (
            redis.register_script(lua) for lua in (_FORGET, _MOVE, _ENSURE, _PUT))

    async def schedule(self, job_id: str, due: datetime, job: TimedJob, *, group: str = "") -> None:
        """Create or move a job: the same id again replaces its time and fields."""
        await self._write(group, [Deadline(job_id, due, job)])

    async def replace_group(self, group: str, jobs: Sequence[Deadline]) -> None:
        """Forget every pending job of `group` and schedule `jobs` in it, in one step."""
        await self._write(group, jobs, replace=True)

    async def advance(self, current: TimedJob, then: Deadline, *, group: str = "") -> bool:
        """Replace the job `then.job_id`, now running as `current`, by `then` (a chain's next
        step); False, writing nothing, when it was cancelled or scheduled anew meanwhile."""
        return await self._write(group, [then], unless_changed=json.dumps(encode(current)[1]))

    async def _write(self, group: str, jobs: Sequence[Deadline], *, replace: bool = False,
                     unless_changed: str = "") -> bool:
        first = min((job.due.timestamp() for job in jobs), default=None)
        if not jobs and not replace:
            return True
        now = self._clock.now().timestamp() if self._clock is not None else None
        wake = first is not None and (now is None or first <= now + self._quiet_s)
        args: list[str | float] = [keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, group, "replace" if replace else "",
                                   unless_changed, repr(first) if wake else ""]
        for job in jobs:
            args += _job_args(job)
        written = bool(await self._put(keys=[keys.DUE, keys.DUE_WAKE], args=args))
        if written and first is not None:
            self._scheduled(first)
        return written

    async def ensure(self, job_id: str, job: Any, born: datetime) -> None:
        """Run `job` now under `job_id`, unless a job of that id waits or runs already."""
        await self._ensure(keys=[keys.due_job(job_id), keys.JOBS], args=ensure_args(job_id, job, born))

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

    async def recorded(self, job_id: str) -> Any | None:
        """The job recorded under `job_id`, waiting or running; None when there is none (or it
        cannot be read)."""
        # Bytes: the client never decodes replies.
        kind, args = cast(list[bytes | None], await self._r.hmget(keys.due_job(job_id), ["kind", "args"]))
        if kind is None or args is None:
            return None
        try:
            return decode(kind.decode(), json.loads(args))
        except (JobDecodeError, ValueError):
            return None

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
