"""Deadlines in Redis and the one process that fires them (PRODUCT §2.4, PROTOCOLS §8).

Pending jobs live in our own sorted set `tb:due`, scored by the app clock, with each job's
kind and JSON args in a hash: nothing is pickled and every Redis call is async. APScheduler
runs only two interval jobs, the leader-lease renewal and a one-second tick. Only the lease
holder fires. A tick moves due ids into `tb:inflight` in one Lua call, so even two firers
whose leases overlap (a GC pause, a network split) never take the same job. A firer that
dies mid-job leaves its jobs in flight; they go back to due when their lease runs out, and
handlers claim `fired(job_id)` so that re-run repeats no effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from bot.clock import Clock
from bot.store import keys
from workflows.jobs import TimedJob, decode, encode
from workflows.ports import Deadline, RetryLater

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]

FIRING_ROLES = ("all", "scheduler")
MAX_ATTEMPTS = 8
RETRY_BASE_S, RETRY_MAX_S = 5.0, 300.0

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

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

# Due -> in flight, payload read in the same step: no two firers can take one id.
_TAKE = """
local due, out = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3]), {}
for i = 1, #due, 2 do
  local id = due[i]
  local job = redis.call('HMGET', ARGV[4] .. id, 'kind', 'args', 'gen', 'attempts')
  redis.call('ZREM', KEYS[1], id)
  if job[1] then redis.call('ZADD', KEYS[2], ARGV[2], id); out[#out + 1] = {id, due[i + 1], unpack(job)} end
end
return out
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

# Leases run out: due again now, unless the job was cancelled or already scheduled anew.
_RECLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(ids) do
  local job = ARGV[2] .. id
  redis.call('ZREM', KEYS[2], id)
  if redis.call('EXISTS', job) == 1 and not redis.call('ZSCORE', KEYS[1], id) then
    redis.call('HINCRBY', job, 'attempts', 1); redis.call('ZADD', KEYS[1], ARGV[1], id)
  end
end
return #ids
"""


@dataclass(frozen=True)
class Timing:
    """How often and how long; tests shorten the real-time ones (the leader lease)."""

    lease_ms: int = 15_000  # a dead leader is replaced within this
    renew_s: float = 5.0
    tick_s: float = 1.0
    job_lease_s: float = 30.0  # a job whose firer died runs again this long after it was taken
    # Below the job lease, so a slow handler is cancelled (and retried) before it could
    # also be started elsewhere.
    job_timeout_s: float = 20.0
    max_running: int = 64


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


class Deadlines:
    """Pending jobs in Redis; any process (web or scheduler) may schedule and cancel."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._forget, self._take, self._settle, self._reclaim = (
            redis.register_script(lua) for lua in (_FORGET, _TAKE, _SETTLE, _RECLAIM)
        )

    async def schedule(self, job_id: str, due: datetime, job: TimedJob, *, group: str = "") -> None:
        """Create or move a job: the same id again replaces its time and fields."""
        async with self._r.pipeline(transaction=True) as pipe:
            _add(pipe, Deadline(job_id, due, job), group)
            await pipe.execute()

    async def replace_group(self, group: str, jobs: Sequence[Deadline]) -> None:
        """Forget every pending job of `group` and schedule `jobs` in it, in one round trip."""
        async with self._r.pipeline(transaction=True) as pipe:
            await self._forget(keys=_FORGET_KEYS, args=_forget_args(group), client=pipe)
            for job in jobs:
                _add(pipe, job, group)
            await pipe.execute()

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

    async def take(self, now: float, lease_until: float, limit: int) -> list[Taken]:
        rows = await self._take(keys=[keys.DUE, keys.IN_FLIGHT], args=[now, lease_until, limit, keys.DUE_JOB_PREFIX])
        return [Taken.decode(row) for row in rows]

    async def settle(self, job: Taken, retry_at: float | None) -> int:
        """Finish a run: 1 retry scheduled, 0 deleted (done or given up), -1 superseded."""
        args = [job.job_id, job.gen, keys.DUE_JOB_PREFIX, keys.DUE_GROUP_PREFIX, retry_at or "", MAX_ATTEMPTS]
        return int(await self._settle(keys=[keys.DUE, keys.IN_FLIGHT], args=args))

    async def reclaim(self, now: float) -> int:
        return int(await self._reclaim(keys=[keys.DUE, keys.IN_FLIGHT], args=[now, keys.DUE_JOB_PREFIX]))


class Scheduler:
    """Fires due jobs while this process holds the leader lease; `web` processes never fire."""

    def __init__(self, redis: Redis, clock: Clock, *, role: str = "all", name: str = "", timing: Timing = Timing()) -> None:
        self.deadlines = Deadlines(redis)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.fires = role in FIRING_ROLES
        self._r, self._clock, self._t = redis, clock, timing
        self._renew, self._release = redis.register_script(_RENEW), redis.register_script(_RELEASE)
        self._handlers: dict[str, Handler] = {}
        self._kinds: dict[str, type[Any]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._leader_until = 0.0  # monotonic; measured from before the request that won it
        self._aps: AsyncIOScheduler | None = None
        # The lease and tick jobs run one at a time; `stop` waits until none is active.
        self._busy, self._idle = asyncio.Lock(), asyncio.Event()
        self._active, self._stopping = 0, False

    def register(self, job_type: type[Any], handler: Handler) -> None:
        """`handler(job_id, job)` runs jobs of `job_type`; raising (or RetryLater) retries later."""
        self._kinds[job_type.KIND] = job_type
        self._handlers[job_type.KIND] = handler

    @property
    def is_leader(self) -> bool:
        return self.fires and time.monotonic() < self._leader_until

    async def campaign(self) -> bool:
        """Take or renew the leader lease; True while this process may fire."""
        if not self.fires:
            return False
        was, started = self.is_leader, time.monotonic()
        got = await self._r.set(keys.SCHEDULER_LEADER, self.name, nx=True, px=self._t.lease_ms)
        if got or await self._renew(keys=[keys.SCHEDULER_LEADER], args=[self.name, self._t.lease_ms]):
            self._leader_until = started + self._t.lease_ms / 1000
        else:
            self._leader_until = 0.0
        if self.is_leader != was:
            log.info("scheduler %s: %s", self.name, "leading" if self.is_leader else "lost the lease")
        return self.is_leader

    async def tick(self, now: datetime | None = None) -> int:
        """Fire what is due if we lead; the number of jobs started."""
        return await self.fire_due(now or self._clock.now()) if self.is_leader else 0

    async def fire_due(self, now: datetime) -> int:
        """Reclaim expired leases and start due jobs, without the leader check."""
        at = now.timestamp()
        await self.deadlines.reclaim(at)
        free = self._t.max_running - len(self._running)
        jobs = await self.deadlines.take(at, at + self._t.job_lease_s, free) if free > 0 else []
        for job in jobs:
            task = asyncio.create_task(self._run(job), name=f"due:{job.job_id}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(jobs)

    async def run_due(self, now: datetime) -> int:
        """Fire what is due at `now` and wait until those runs (and any already going) finish."""
        started = await self.fire_due(now)
        while self._running:
            await asyncio.wait(set(self._running))
        return started

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slot_free.set()

    async def _run(self, job: Taken) -> None:
        retry_at: float | None = None
        try:
            if job.attempts >= MAX_ATTEMPTS:
                raise RuntimeError(f"{job.attempts} attempts already")
            # A kind nobody registered is retried, not dropped: mid-deploy another instance may know it.
            handler = self._handlers[job.kind]
            async with asyncio.timeout(self._t.job_timeout_s):
                await handler(job.job_id, decode(job.kind, job.args, self._kinds))
        except RetryLater as exc:
            log.warning("due job %s (%s) will be retried: %s", job.job_id, job.kind, exc)
            retry_at = self._retry_at(job)
        except Exception:  # a failing handler must not stop the others; it is retried
            log.exception("due job %s (%s) failed; will be retried", job.job_id, job.kind)
            retry_at = self._retry_at(job)
        try:
            if await self.deadlines.settle(job, retry_at) == 0 and retry_at is not None:
                log.error("due job %s (%s) given up after %d attempts", job.job_id, job.kind, MAX_ATTEMPTS)
        except (RedisError, OSError) as exc:
            # Left in flight: reclaimed when its lease runs out, and the handler's claim holds.
            log.warning("due job %s: could not settle: %r", job.job_id, exc)

    def _retry_at(self, job: Taken) -> float:
        return self._clock.now().timestamp() + min(RETRY_BASE_S * 2.0**job.attempts, RETRY_MAX_S)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for started jobs; what still runs then is cancelled and stays in flight."""
        if self._running:
            # A handler times out at job_timeout_s; the margin lets its run settle in Redis.
            await asyncio.wait(set(self._running), timeout=self._t.job_timeout_s + 5 if timeout is None else timeout)
        for task in list(self._running):
            task.cancel()

    def start(self) -> None:
        """Run the lease and tick jobs on this loop; a `web` process does nothing."""
        if not self.fires:
            return
        self._stopping = False
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick is noise
        # Two tick instances may overlap for a moment: the next one queues on the lock while
        # the last finishes its second, instead of being skipped (a one-second gap).
        defaults = {"misfire_grace_time": None, "coalesce": True, "max_instances": 2}
        self._aps = AsyncIOScheduler(timezone=UTC, job_defaults=defaults)
        first = datetime.now(UTC)
        self._aps.add_job(self._lease_job, "interval", seconds=self._t.renew_s, id="lease", next_run_time=first)
        self._aps.add_job(self._tick_job, "interval", seconds=self._t.tick_s, id="tick", next_run_time=first)
        self._aps.start()

    async def stop(self, *, release: bool = True) -> None:
        """Stop firing, let started jobs finish, hand the lease on (`release=False`: as if killed)."""
        self._stopping = True
        if self._aps is not None:
            self._aps.pause()
            while self._active:  # never cancel a lease or tick job half-way through a Redis call
                self._idle.clear()
                await self._idle.wait()
            self._aps.shutdown(wait=False)
            self._aps = None
        self._leader_until = 0.0
        await self.drain()
        if release and self.fires:
            try:
                await self._release(keys=[keys.SCHEDULER_LEADER], args=[self.name])
            except (RedisError, OSError) as exc:
                log.warning("scheduler %s: could not release the lease: %r", self.name, exc)

    async def _one_at_a_time(self, body: Callable[[], Awaitable[object]], what: str) -> None:
        self._active += 1
        try:
            async with self._busy:
                if not self._stopping:
                    await body()
        except (RedisError, OSError) as exc:
            log.warning("scheduler %s: %s failed: %r", self.name, what, exc)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _lease_job(self) -> None:
        await self._one_at_a_time(self.campaign, "lease renewal")

    async def _tick_job(self) -> None:
        await self._one_at_a_time(self._fire_for_a_tick, "tick")

    async def _fire_for_a_tick(self) -> None:
        """Fire each job at its due time during this tick's interval.

        One take per tick would make reminders up to a second late; this keeps lateness to
        about a Redis round trip while APScheduler still sets the rhythm.
        """
        end = time.monotonic() + self._t.tick_s
        while self.is_leader and not self._stopping and time.monotonic() < end:
            await self.tick()
            if not await self._wait_for_work(end):
                return

    async def _wait_for_work(self, end: float) -> bool:
        """Sleep until a slot frees up or the next job is due; False when that is past `end`."""
        left = end - time.monotonic()
        if len(self._running) >= self._t.max_running:
            self._slot_free.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_free.wait(), left)
            return True
        due = await self.deadlines.next_due()
        if due is None or due - self._clock.now().timestamp() > left:
            return False
        await asyncio.sleep(max(0.0, due - self._clock.now().timestamp()))
        return True
