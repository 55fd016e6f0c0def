"""Script calls made in the same turn of the event loop, sent to Redis together.

In a burst of missed calls, dozens of webhooks reach their decide step within a millisecond.
Each script call on its own costs a pooled connection, a write and a read, and wakes Redis
once; sent together they share one pipeline: one write, one read, one wake-up. A call alone
waits for nothing: the batch is sent at the end of the loop turn that queued it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._queued: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, script: AsyncScript, *, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((script, keys, args, answer))
        return await answer

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Call]) -> None:
        try:
            if len(batch) == 1:
                script, keys, args, answer = batch[0]
                _settle(answer, await script(keys=keys, args=args))
                return
            async with self._r.pipeline(transaction=False) as pipe:
                for script, keys, args, _ in batch:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                replies = await pipe.execute(raise_on_error=False)
            for (script, keys, args, answer), reply in zip(batch, replies, strict=True):
                if isinstance(reply, NoScriptError):  # Redis restarted empty, or was flushed
                    try:
                        reply = await script(keys=keys, args=args)
                    except Exception as exc:
                        reply = exc
                _settle(answer, reply)
        except BaseException as exc:
            for *_, answer in batch:
                if not answer.done():
                    answer.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise


def _settle(answer: asyncio.Future[Any], reply: Any) -> None:
    if answer.done():
        return
    if isinstance(reply, Exception):
        answer.set_exception(reply)
    else:
        answer.set_result(reply)
