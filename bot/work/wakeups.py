"""Wake-ups between instances over Redis pub/sub, so a sleeping loop hears of new work at once.

A loop that sleeps until its next due time (the engine's timer) must wake early when another
instance adds earlier work. The writer PUBLISHes in the same transaction
as its write; each listening loop holds a subscription, which costs no command while idle. A
message is only a hint (what is due is read from Redis), and one published while the
subscription was down is lost, so every subscription, the first and each one renewed after
a dropped connection, is heard as "look again".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.work.background import cancel_and_wait

log = logging.getLogger(__name__)

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
