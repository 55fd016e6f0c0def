"""Integration fixtures: a flushed Redis client, a fake clock, and the real server on a free
port wired to fresh stand-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.settings import parse_config
from bot.store.connection import shared_pool
from bot.work.engine import Engine
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CONFIG_YAML, OPEN_TIME, embedded_valkey


@asynccontextmanager
async def flushed(url: str, *, everything: bool = False) -> AsyncIterator[Redis]:
    """A client on `url` with its database (or, `everything`, the whole server) flushed."""
    client = Redis.from_url(url)
    await (client.flushall() if everything else client.flushdb())
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on a flushed database: every test starts from nothing."""
    async with flushed(redis_url) as client:
        yield client


@pytest.fixture(scope="module")
def own_valkey() -> Iterator[str]:
    """A Valkey only one test module uses: its command statistics count nothing else."""
    with embedded_valkey() as url:
        yield url


@pytest.fixture
async def counted(own_valkey: str) -> AsyncIterator[Redis]:
    """A client on `own_valkey`, flushed: for tests that count the commands something sends."""
    async with flushed(own_valkey, everything=True) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPEN_TIME)


@asynccontextmanager
async def rig_for(yaml: str, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The real server on a free port with this lines file, wired to fresh stand-ins; every
    request the stand-ins saw must have matched the published API specs."""
    config = parse_config(yaml, "test.yml")
    async with Rig(rig_settings(config, redis_url=redis_url, data_dir=tmp_path), clock=clock) as r:
        yield r
        assert not r.twilio.violations, r.twilio.violations
        assert not r.slack.violations, r.slack.violations
        tasks = r.services.tasks
    # Shutting down waits for background work; a test must not leave any still running then.
    assert tasks.cancelled == [], f"background work left running: {tasks.cancelled}"


@pytest.fixture
async def rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The real server on a free port, wired to fresh stand-ins, two lines configured."""
    async with rig_for(CONFIG_YAML, redis_url, clock, tmp_path) as r:
        yield r


async def effects_in_redis(rig: Rig) -> list[bytes]:
    """Keys anything stored, besides what every start creates: the job stream and each
    line's next weekly digest."""
    r = rig.services.redis.client
    assert await r.xlen("tb:jobs") == 0, "a job was recorded"
    started = (b"tb:jobs", b"tb:due")  # the weekly digests are pending from start
    return [k for k in await r.keys("tb:*") if k not in started and not k.startswith(b"tb:job:digest:")]


@pytest.fixture
async def connect(redis: Redis, redis_url: str) -> AsyncIterator[Callable[[], Redis]]:
    """A new Redis client per instance, as separate processes would have (the app's pool)."""
    opened: list[Redis] = []

    def new() -> Redis:
        opened.append(Redis.from_pool(shared_pool(redis_url)))
        return opened[-1]

    yield new
    for client in opened:
        await client.aclose()


@pytest.fixture
async def engines() -> AsyncIterator[list[Engine]]:
    """Engines a test starts; stopped at the end so no background work outlives the test."""
    started: list[Engine] = []
    yield started
    for engine in started:
        await engine.stop()
