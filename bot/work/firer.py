"""The one process that fires due deadlines: the leader lease, the sleep until the next due time.

One asyncio task per firing instance keeps or seeks the leader lease, and while it leads it
sleeps until the next due time (or a lease in flight running out), read in the same Lua call
that takes what is due (bot/work/deadlines.py). A job scheduled earlier than that wakes it:
here through a hook, from other instances through a pub/sub message published with the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.clock import Clock
from bot.store import keys
from bot.work.deadlines import MAX_ATTEMPTS, Deadlines, Taken
from bot.work.wakeups import Wakeup
from workflows.jobs import decode
from workflows.ports import RetryLater

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]

FIRING_ROLES = ("all", "scheduler")
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
