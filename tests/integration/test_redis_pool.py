"""The shared pool: no timer per command, yet a hung Redis still fails a command in bounded
time, and more commands at once than connections wait their turn instead of failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.store.connection import WatchedPool, shared_pool, watched_pool

# Generous: only there so a broken watchdog fails the test instead of hanging it.
DEADLINE_S = 10.0


async def _answer_hello_then_hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A Redis that answers the client's connection handshake and then nothing at all."""
    while line := await reader.readline():
        if not line.startswith(b"*"):
            continue
        parts = [await _bulk(reader) for _ in range(int(line[1:]))]
        if parts[0].upper() != b"CLIENT":
            break  # the first real command: never answered
        writer.write(b"+OK\r\n")
    try:
        await reader.read()  # hold the connection open until the client drops it
    finally:
        writer.close()


async def _bulk(reader: asyncio.StreamReader) -> bytes:
    size = int((await reader.readline())[1:])
    return (await reader.readexactly(size + 2))[:-2]


@pytest.fixture
async def hung_redis_url() -> AsyncIterator[str]:
    served: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.add(asyncio.current_task())  # type: ignore[arg-type]
        await _answer_hello_then_hang(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.close()
        for task in served:
            task.cancel()
        await asyncio.gather(*served, return_exceptions=True)


async def test_a_command_to_a_redis_that_never_answers_times_out(hung_redis_url: str) -> None:
    client = Redis.from_pool(watched_pool(hung_redis_url, answer_s=0.05, checkout_s=1, look_every_s=0.01))
    try:
        async with asyncio.timeout(DEADLINE_S):
            with pytest.raises(RedisTimeoutError, match="Timeout reading from"):
                await client.get("k")
    finally:
        await client.aclose()


async def test_a_pub_sub_wait_is_not_cut_short(redis_url: str) -> None:
    """Pub/sub reads wait as long as it takes (the timer's wake-ups listen for minutes)."""
    pool = watched_pool(redis_url, answer_s=5, checkout_s=DEADLINE_S)
    client = Redis.from_pool(pool)
    pubsub = client.pubsub()
    waiting = asyncio.Event()

    async def listen() -> Any:
        await pubsub.subscribe("tb:test:wake")
        assert (await pubsub.get_message(timeout=None) or {}).get("type") == "subscribe"
        waiting.set()
        return await pubsub.get_message(timeout=None)

    listener = asyncio.create_task(listen())
    try:
        async with asyncio.timeout(DEADLINE_S):
            await waiting.wait()
            pool.watchdog.look(now=time.monotonic() + 3600)  # long past any answer's limit
            await client.publish("tb:test:wake", "hi")
            message = await listener
        assert message["data"] == b"hi"
    finally:
        listener.cancel()
        await pubsub.aclose()
        await client.aclose()


async def test_the_shared_pool_sets_no_timer_per_command(redis_url: str) -> None:
    pool = shared_pool(redis_url)
    client = Redis.from_pool(pool)
    try:
        await client.set("tb:test:pool", 1)
        conn = await pool.get_connection()
        try:
            # No socket_timeout: redis-py would wrap every send and read in its own timer.
            assert conn.socket_timeout is None and conn.socket_connect_timeout
        finally:
            await pool.release(conn)
    finally:
        await client.delete("tb:test:pool")
        await client.aclose()


async def test_more_commands_at_once_than_connections_wait_their_turn(redis_url: str) -> None:
    pool = watched_pool(redis_url, max_connections=2, answer_s=5, checkout_s=DEADLINE_S)
    client = Redis.from_pool(pool)
    try:
        await client.delete("tb:test:turns")
        await asyncio.gather(*(client.incr("tb:test:turns") for _ in range(50)))
        assert int(await client.get("tb:test:turns") or 0) == 50
        assert len(pool._in_use_connections) == 0
    finally:
        await client.delete("tb:test:turns")
        await client.aclose()


async def test_a_checkout_gives_up_when_no_connection_comes_back(redis_url: str) -> None:
    pool: WatchedPool = watched_pool(redis_url, max_connections=1, answer_s=5, checkout_s=0.05)
    client = Redis.from_pool(pool)
    held = await pool.get_connection()
    try:
        async with asyncio.timeout(DEADLINE_S):
            with pytest.raises(RedisConnectionError, match="No connection available"):
                await client.ping()
    finally:
        await pool.release(held)
        await client.aclose()
