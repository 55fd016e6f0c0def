"""Background work started by webhooks after they have answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: list[asyncio.Task[Any]], *, every_s: float = 1.0) -> None:
    """Cancel `tasks` and wait until each has ended. redis-py can swallow a cancel that lands
    while it waits for a reply (a blocking stream read, a pub/sub read): the task then waits on,
    so it is cancelled again until it has ended."""
    for task in tasks:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=every_s)


class Background:
    """Keeps references to running tasks, logs their failures, and drains them on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        # Tasks a drain had to cancel, by name: work that did not finish in time (tests fail on it).
        self.cancelled: list[str] = []

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        if isinstance(exc, RedisError):
            # An outage: expected, and what the task was for is recovered by its job. One line.
            log.warning("background task %s failed: redis unavailable (%r)", task.get_name(), exc)
        else:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for running work (new work may start while waiting)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=left)
        for task in list(self._tasks):
            log.warning("background task %s still running after %.0f s; cancelled", task.get_name(), timeout)
            self.cancelled.append(task.get_name())
            task.cancel()
