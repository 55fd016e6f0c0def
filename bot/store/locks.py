"""Per-conversation locks: FIFO within a process, exclusive across instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from bot.store import keys

# A holder that dies keeps the lock at most this long; work under it is a few API calls.
LOCK_TIMEOUT_S = 30.0


class ConversationLocks:
    """`hold(line, caller)` serialises everything done to one conversation.

    asyncio.Lock hands over in arrival order, which keeps a burst of caller texts in
    order on one instance; the Redis lock keeps two instances from opening two threads.
    """

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, line: str, caller: str) -> AsyncIterator[None]:
        name = keys.conversation_lock(line, caller)
        local = self._enter(name)
        try:
            # Bounded like the Redis lock: a hung holder must not stall this caller forever.
            async with asyncio.timeout(LOCK_TIMEOUT_S):
                await local.acquire()
            try:
                lock = self._r.lock(
                    name, timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S, sleep=0.02
                )
                async with lock:
                    held = asyncio.Event()
                    renewal = asyncio.create_task(_keep(lock, held))
                    try:
                        yield
                    finally:
                        held.set()
                        renewal.cancel()
            finally:
                local.release()
        finally:
            self._leave(name)

    def _enter(self, name: str) -> asyncio.Lock:
        lock, users = self._local.get(name, (asyncio.Lock(), 0))
        self._local[name] = (lock, users + 1)
        return lock

    def _leave(self, name: str) -> None:
        lock, users = self._local[name]
        if users <= 1:
            del self._local[name]
        else:
            self._local[name] = (lock, users - 1)


async def _keep(lock: Lock, released: asyncio.Event) -> None:
    """Renew the Redis lock while its holder works, so a slow holder keeps it to the end."""
    while not released.is_set():
        await asyncio.sleep(LOCK_TIMEOUT_S / 3)
        if released.is_set():
            return
        try:
            await lock.reacquire()
        except (LockError, TimeoutError):
            return  # lost: the holder finishes, and its effects are idempotent per step
