"""Script calls made in one turn of the event loop go to Redis as one pipeline, each caller
getting its own answer; a call alone is sent as it is, and an unknown script is loaded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from bot.store.connection import ScriptBatch

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL = "return redis.error_reply('refused ' .. ARGV[1])"


class Counting:
    """Counts the pipelines the batch sends through `redis`."""

    def __init__(self, redis: Redis) -> None:
        self.sent: list[int] = []
        real = redis.pipeline

        def pipeline(*args: Any, **kwargs: Any) -> Pipeline:
            pipe = real(*args, **kwargs)
            execute = pipe.execute

            async def counted(*a: Any, **kw: Any) -> list[Any]:
                self.sent.append(len(pipe.command_stack))
                return await execute(*a, **kw)

            pipe.execute = counted  # type: ignore[method-assign]
            return pipe

        redis.pipeline = pipeline  # type: ignore[method-assign]


async def test_calls_in_one_turn_share_one_pipeline_and_each_gets_its_answer(redis: Redis) -> None:
    script = redis.register_script(INCR)
    await script(keys=["n"], args=[0])  # loaded: the batch below finds it
    counting = Counting(redis)
    batch = ScriptBatch(redis)
    answers = await asyncio.gather(*(batch(script, keys=[f"k{i}"], args=[i]) for i in range(20)))
    assert answers == list(range(20))
    assert counting.sent == [20]


async def test_a_call_alone_goes_without_a_pipeline(redis: Redis) -> None:
    script = redis.register_script(INCR)
    counting = Counting(redis)
    batch = ScriptBatch(redis)
    assert await batch(script, keys=["alone"], args=[5]) == 5
    assert counting.sent == []
    assert int(await redis.get("alone")) == 5


async def test_one_failing_call_fails_only_its_caller(redis: Redis) -> None:
    ok, refusing = redis.register_script(INCR), redis.register_script(FAIL)
    await ok(keys=["warm"], args=[0])
    with pytest.raises(ResponseError):
        await refusing(keys=[], args=["x"])  # loaded too
    batch = ScriptBatch(redis)
    first, failed, last = await asyncio.gather(
        batch(ok, keys=["a"], args=[1]), batch(refusing, keys=[], args=["b"]), batch(ok, keys=["c"], args=[3]),
        return_exceptions=True,
    )
    assert (first, last) == (1, 3)
    assert isinstance(failed, ResponseError) and "refused b" in str(failed)


async def test_scripts_the_server_forgot_are_loaded_again(redis: Redis) -> None:
    script = redis.register_script(INCR)
    await script(keys=["x"], args=[1])
    await redis.script_flush()  # as after a restart with an empty Redis
    batch = ScriptBatch(redis)
    answers = await asyncio.gather(*(batch(script, keys=["x"], args=[1]) for _ in range(3)))
    assert sorted(answers) == [2, 3, 4]


async def test_a_cancelled_caller_leaves_the_others_their_answers(redis: Redis) -> None:
    script = redis.register_script(INCR)
    await script(keys=["warm"], args=[0])
    batch = ScriptBatch(redis)
    calls = [asyncio.ensure_future(batch(script, keys=[f"c{i}"], args=[i + 1])) for i in range(3)]
    # Runs after each call's first step (it queues its command) and before the batch is sent.
    asyncio.get_running_loop().call_soon(calls[1].cancel)
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert done[0] == 1 and done[2] == 3 and isinstance(done[1], asyncio.CancelledError)
    # Sent all the same: a caller cancelled after queueing does not take back its command.
    assert int(await redis.get("c1")) == 2
