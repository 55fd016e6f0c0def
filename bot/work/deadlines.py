"""Deadlines in Redis and the one process that fires them (PRODUCT §2.4, PROTOCOLS §8).

Pending jobs live in our own sorted set `tb:due`, scored by the app clock, with each job's
kind and JSON args in a hash: nothing is pickled and every Redis call is async. One asyncio
task per firing instance keeps or seeks the leader lease, and while it leads it sleeps until
the next due time (or a lease in flight running out), read in the same Lua call that takes
what is due. A job scheduled earlier than that wakes it: here through a hook, from other
instances through a pub/sub message published with the job. Only the lease holder fires. A
look moves due ids into `tb:inflight` in one Lua call, so even two firers whose leases
overlap (a GC pause, a network split) never take the same job. A firer that dies mid-job
leaves its jobs in flight; they go back to due when their lease runs out, and handlers
claim `fired(job_id)` so that re-run repeats no effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from bot.clock import Clock
from bot.store import keys
from bot.work.wakeups import Wakeup
from workflows.jobs import TimedJob, decode, encode
from workflows.ports import Deadline, RetryLater

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]

FIRING_ROLES = ("all", "scheduler")
MAX_ATTEMPTS = 8
RETRY_BASE_S, RETRY_MAX_S = 5.0, 300.0
# Pause before trying again while Redis is unavailable.
REDIS_RETRY_S = 1.0

# Take the lease when free, renew it when ours: {1, 0}. Else {0, the holder's ms left}, so a
# candidate sleeps until the lease could run out instead of asking again and again.
_CAMPAIGN = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  return {0, redis.call('PTTL', KEYS[1])}
end
return {1, 0}
"""
# Hand the lease on, and tell the other candidates so one takes it now.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], '')
  return 1
end
return 0
"""

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
class Timing:
    """How often and how long; tests shorten the real-time ones (the leader lease, the look)."""

    lease_ms: int = 60_000  # a leader that dies without a word is replaced within this
    renew_s: float = 20.0  # a third of the lease: two renewals in a row may fail
    # The longest the leader sleeps without looking at the due set. It wakes sooner for the
    # next due time, a lease in flight running out, or a job scheduled earlier (here or on
    # another instance), so this only bounds a wake-up lost with a dropped subscription.
    tick_s: float = 60.0
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


class Scheduler:
    """Fires due jobs while this process holds the leader lease; `web` processes never fire."""

    def __init__(self, redis: Redis, clock: Clock, *, role: str = "all", name: str = "", timing: Timing = Timing()) -> None:
        self.deadlines = Deadlines(redis, scheduled=self._scheduled)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.fires = role in FIRING_ROLES
        self._r, self._clock, self._t = redis, clock, timing
        self._campaign, self._release = redis.register_script(_CAMPAIGN), redis.register_script(_RELEASE)
        self._handlers: dict[str, Handler] = {}
        self._kinds: dict[str, type[Any]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._leader_until = 0.0  # monotonic; measured from before the request that won it
        self._loop: asyncio.Task[None] | None = None
        self.wakeup = Wakeup(redis, keys.DUE_WAKE, self._heard_message)
        # Set to end the loop's sleep; the flags say what for (the leader's look, a campaign).
        self._wake = asyncio.Event()
        self._look_now = self._campaign_now = False
        self._next_look = math.inf  # app clock: when the sleeping leader will look next
        self._stopping = False

    def register(self, job_type: type[Any], handler: Handler) -> None:
        """`handler(job_id, job)` runs jobs of `job_type`; raising (or RetryLater) retries later."""
        self._kinds[job_type.KIND] = job_type
        self._handlers[job_type.KIND] = handler

    @property
    def is_leader(self) -> bool:
        return self.fires and time.monotonic() < self._leader_until

    async def campaign(self) -> bool:
        """Take or renew the leader lease; True while this process may fire."""
        await self._seek_lease()
        return self.is_leader

    async def _seek_lease(self) -> float:
        """Take or renew the lease; the seconds until the next campaign."""
        if not self.fires:
            return math.inf
        was, started = self.is_leader, time.monotonic()
        held, left_ms = await self._campaign(keys=[keys.SCHEDULER_LEADER], args=[self.name, self._t.lease_ms])
        self._leader_until = started + self._t.lease_ms / 1000 if held else 0.0
        if self.is_leader != was:
            log.info("scheduler %s: %s", self.name, "leading" if self.is_leader else "lost the lease")
            self._look_now = self.is_leader  # a new leader looks at once (its predecessor's leases too)
        if held:
            return self._t.renew_s
        # Another leads: ask again when its lease could have run out (it renews long before).
        return min(int(left_ms), self._t.lease_ms) / 1000 + 0.005 if int(left_ms) >= 0 else self._t.renew_s

    async def tick(self, now: datetime | None = None) -> int:
        """Fire what is due if we lead; the number of jobs started."""
        return await self.fire_due(now or self._clock.now()) if self.is_leader else 0

    async def fire_due(self, now: datetime) -> int:
        """Reclaim expired leases and start due jobs, without the leader check."""
        started, _ = await self._fire(now.timestamp())
        return started

    async def _fire(self, at: float) -> tuple[int, float | None]:
        """Start what is due at `at`; how many, and when something is due next (None: unknown)."""
        free = self._t.max_running - len(self._running)
        if free <= 0:
            return 0, None  # a finishing job wakes the loop
        jobs, ahead = await self.deadlines.take(at, at + self._t.job_lease_s, free)
        for job in jobs:
            task = asyncio.create_task(self._run(job), name=f"due:{job.job_id}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(jobs), at if len(jobs) == free else ahead  # a full batch: more may be due

    async def run_due(self, now: datetime) -> int:
        """Fire what is due at `now` and wait until those runs (and any already going) finish."""
        started = await self.fire_due(now)
        while self._running:
            await asyncio.wait(set(self._running))
        return started

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if len(self._running) == self._t.max_running - 1:
            self._look_soon()  # it was full: what waits for a slot may start now

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

    # --- the background loop: lease, looks and sleeps ---------------------------------------

    def start(self) -> None:
        """Keep or seek the lease and fire on this loop; a `web` process does nothing."""
        if not self.fires:
            return
        self._stopping = False
        self.wakeup.start()
        self._loop = asyncio.create_task(self._keep_firing(), name="scheduler")

    async def stop(self, *, release: bool = True) -> None:
        """Stop firing, let started jobs finish, hand the lease on (`release=False`: as if killed)."""
        self._stopping = True
        if self._loop is not None:
            self._wake.set()
            # Not cancelled: a look cut short after its Lua step ran would leave the jobs it
            # took in flight until their lease runs out. The loop ends at its next step.
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        await self.wakeup.stop()
        self._leader_until = 0.0
        await self.drain()
        if release and self.fires:
            try:
                await self._release(keys=[keys.SCHEDULER_LEADER, keys.DUE_WAKE], args=[self.name])
            except (RedisError, OSError) as exc:
                log.warning("scheduler %s: could not release the lease: %r", self.name, exc)

    async def _keep_firing(self) -> None:
        """Campaign when due (or told the lease was released); while leading, look when due
        (or woken by an earlier job); in between, sleep. One task, so stop() can wait for it
        instead of cancelling it half-way through a Redis call."""
        campaign_at = look_at = 0.0  # monotonic
        while not self._stopping:
            self._wake.clear()
            try:
                if self._campaign_now or time.monotonic() >= campaign_at:
                    self._campaign_now = False
                    campaign_at = time.monotonic() + await self._seek_lease()
                if self.is_leader and (self._look_now or time.monotonic() >= look_at) and not self._stopping:
                    self._look_now = False
                    look_at = time.monotonic() + await self._look()
                wait = min(campaign_at, look_at if self.is_leader else math.inf) - time.monotonic()
            except (RedisError, OSError) as exc:
                log.warning("scheduler %s: redis unavailable (%r); retrying", self.name, exc)
                wait = REDIS_RETRY_S
            await self._sleep(wait)

    async def _look(self) -> float:
        """Fire what is due now; the seconds until the next look."""
        self._next_look = math.inf  # a job scheduled while we look makes us look again
        now = self._clock.now().timestamp()
        _, ahead = await self._fire(now)
        wait = self._t.tick_s if ahead is None else min(self._t.tick_s, max(0.0, ahead - now))
        self._next_look = now + wait
        return wait

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _scheduled(self, due: float) -> None:
        """A job was scheduled at `due` (app clock): a leader asleep until later looks now."""
        if self.is_leader and due < self._next_look:
            self._look_soon()

    def _look_soon(self) -> None:
        self._look_now = True
        self._wake.set()

    def _heard_message(self, message: bytes | None) -> None:
        if message:
            self._scheduled(float(message))
        elif self.is_leader:
            self._look_soon()  # subscribed again: a message may have been missed
        else:
            self._campaign_now = True  # the lease was released (or a message was missed)
            self._wake.set()
