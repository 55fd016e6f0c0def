"""The timer: due jobs into the engine's stream, at their time, by any instance in a timer role.

The due set (bot/work/deadlines.py) holds what waits for a time. One Lua step moves what is
due into the stream, so two instances moving at once never both take a job, and no leader is
needed. Between looks the timer sleeps until the next due time, or `Timing.tick_s` at most;
a job scheduled sooner wakes it, here through `scheduled()` and from other instances through
a pub/sub message written with the job (`Wakeup`, below).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.store import keys
from bot.work.background import cancel_and_wait
from bot.work.deadlines import Deadlines
from workflows.ports import Clock

log = logging.getLogger(__name__)

# Roles whose instances move due jobs into the stream; every role runs jobs.
TIMER_ROLES = ("all", "scheduler")
# Jobs moved from the due set per look.
MOVE_BATCH = 256
# Pause before trying again while Redis is unavailable.
REDIS_RETRY_S = 1.0


@dataclass(frozen=True)
class Timing:
    """How long the timer sleeps at most, and how often the reclaim looks (tests shorten them)."""

    # The longest the timer sleeps without looking at the due set. It wakes sooner for the
    # next due time or a job scheduled earlier (here or on another instance), so this only
    # bounds a wake-up lost with a dropped subscription.
    tick_s: float = 60.0
    # How often jobs left pending by a worker that died are looked for.
    reclaim_every_s: float = 30.0


class Timer:
    """Moves due jobs into the stream; owns the due set its wake-ups come from."""

    def __init__(self, redis: Redis, clock: Clock, *, timing: Timing = Timing()) -> None:
        self._r = redis
        self._clock = clock
        self._t = timing
        # Jobs due later than one tick from now need no wake-up message: this loop and those of
        # other instances look at least once a tick.
        self.deadlines = Deadlines(redis, scheduled=self.scheduled, clock=clock, quiet_s=timing.tick_s)
        self.wakeup = Wakeup(redis, keys.DUE_WAKE, self._heard)
        self._look = asyncio.Event()  # look at once
        self._next_look = math.inf  # app clock: when the sleeping timer looks next
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self.wakeup.start()
        self._task = asyncio.create_task(self._keep_moving(), name="timer")

    async def stop(self) -> None:
        self._stopping = True
        self._look.set()
        await self.wakeup.stop()
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def adopt_older(self) -> int:
        """Jobs an older version's leader had taken and not finished are due again now."""
        taken = cast(list[bytes], await self._r.zrange(keys.OLD_IN_FLIGHT, 0, -1))
        if taken:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.zadd(keys.DUE, {job_id: self._clock.now().timestamp() for job_id in taken}, nx=True)
                pipe.delete(keys.OLD_IN_FLIGHT)
                await pipe.execute()
            self._look.set()
        return len(taken)

    async def move_due(self, now: float | None = None) -> int:
        """Move every job due at `now` (app clock) into the stream; how many."""
        at = self._clock.now().timestamp() if now is None else now
        total = 0
        while True:
            moved, _ = await self.deadlines.move_due(at, MOVE_BATCH)
            total += moved
            if moved < MOVE_BATCH:
                return total

    async def _keep_moving(self) -> None:
        """Sleep until the next due time (or until woken by an earlier one), then move."""
        while not self._stopping:
            self._look.clear()
            try:
                self._next_look = math.inf  # a job scheduled while we look makes us look again
                now = self._clock.now().timestamp()
                moved, first = await self.deadlines.move_due(now, MOVE_BATCH)
                wait = 0.0 if moved == MOVE_BATCH else self._t.tick_s if first is None else max(0.0, first - now)
                wait = min(wait, self._t.tick_s)
                self._next_look = now + wait
            except (RedisError, OSError) as exc:
                log.warning("timer: redis unavailable (%r); retrying", exc)
                wait = REDIS_RETRY_S
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._look.wait(), wait)

    def scheduled(self, due: float) -> None:
        """A job was scheduled at `due` (app clock): a timer asleep until later looks now."""
        if due < self._next_look:
            self._look.set()

    def look_now(self) -> None:
        """Look at the due set at once, whatever the timer planned (jobs were made due now)."""
        self._look.set()

    def _heard(self, message: bytes | None) -> None:
        if message:
            with contextlib.suppress(ValueError):
                self.scheduled(float(message))
        else:
            self._look.set()  # subscribed again: a message may have been missed


# --- wake-ups between instances ------------------------------------------------------------
# Wake-ups between instances over Redis pub/sub, so a sleeping loop hears of new work at once.
#
# A loop that sleeps until its next due time (the engine's timer) must wake early when another
# instance adds earlier work. The writer PUBLISHes in the same transaction
# as its write; each listening loop holds a subscription, which costs no command while idle. A
# message is only a hint (what is due is read from Redis), and one published while the
# subscription was down is lost, so every subscription, the first and each one renewed after
# a dropped connection, is heard as "look again".

# Pause before subscribing again once the connection could not be restored.
RETRY_S = 1.0

# Called with each message's data, or with None after (re)subscribing: look again.
Heard = Callable[[bytes | None], None]


class Wakeup:
    """Listens on one channel in the background and calls `heard` for what arrives."""

    def __init__(self, redis: Redis, channel: str, heard: Heard) -> None:
        self._r = redis
        self.channel = channel
        self._heard = heard
        self._task: asyncio.Task[None] | None = None
        # Subscriptions confirmed: the first, and one after each reconnect.
        self.subscriptions = 0
        self._confirmed = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"wakeup:{self.channel}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def subscribed(self, after: int = 0) -> None:
        """Until more than `after` subscriptions were confirmed: a message sent before is lost."""
        while self.subscriptions <= after:
            self._confirmed.clear()
            await self._confirmed.wait()

    async def _listen(self) -> None:
        while True:
            pubsub = self._r.pubsub()
            try:
                # The client restores a dropped connection by itself and subscribes again,
                # which arrives here as another "subscribe" message.
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._heard(message["data"])
                    elif message["type"] == "subscribe":
                        self.subscriptions += 1
                        self._confirmed.set()
                        self._heard(None)
            except (RedisError, OSError) as exc:
                log.warning("wake-ups on %s: redis unavailable (%r); subscribing again", self.channel, exc)
            finally:
                await pubsub.aclose()
            await asyncio.sleep(RETRY_S)
