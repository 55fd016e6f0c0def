"""Durable work: webhooks record a job in Redis before answering; workers run it until done.

A Redis stream with one consumer group. Each instance is a consumer; a job stays pending
until its handler finishes, so a process killed mid-job leaves it pending and another
instance (or this one after a restart) claims it again once it was idle `retry_idle_ms`,
at the next look for such jobs (every `RECLAIM_EVERY_S`). A job that failed here is
claimed again when its back-off ends. Handlers make every effect idempotent through the
job's step log (`RedisSteps`), so a re-run skips what was already done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.store import keys
from workflows.jobs import JobDecodeError, decode, encode
from workflows.ports import RetryLater

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]
Replies = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]

GROUP = "workers"
# A job whose worker went silent this long is taken over by another worker.
RECLAIM_IDLE_MS = 10_000
# A job still failing this long after it was recorded is given up (and logged): by then
# the caller has moved on. Judged by age, not attempts, so waiting for a turn costs nothing.
MAX_JOB_AGE_MS = 15 * 60 * 1000
# The run lock of a job outlives a missed heartbeat or two, but not a dead process for long.
RUN_LOCK_MS = 30_000
# Back-off after a failure doubles from the retry interval up to this many intervals
# (10 s -> 20 -> 40 ... -> 5 min with the default).
BACKOFF_CAP = 30
# Jobs run concurrently: a slow Slack call must not hold up the next caller's text-back.
# They mostly wait on the network, and in a burst every job's Slack work waits for the
# text-backs still in hand (bot/work/fast_lane.py), so a whole burst must fit in at once.
MAX_IN_FLIGHT = 256
# Jobs taken from the stream per read: a burst of missed calls is read in a few round trips.
READ_BATCH = 64
# How long one read waits on an empty stream. A new job ends the wait at once and stop()
# cancels it, so a long wait only means fewer commands while idle. It needs a reader client
# that waits that long for an answer (RedisHandle.reader); on the shared client a read
# waits a second, well within its 5 s.
READ_BLOCK_MS = 30_000
SHARED_READ_BLOCK_MS = 1000
# How often jobs left pending by a worker that died are looked for. A job that failed here
# does not wait for this: it is claimed again when its own back-off ends.
RECLAIM_EVERY_S = 30.0
# Pause before trying again while Redis is unavailable.
REDIS_RETRY_S = 1.0

# Claim the delivery id and record the job in one step: a crash between the two would
# otherwise leave a claimed delivery with no job (lost) or a job with no claim (doubled).
# With a third key, the job also takes the next number in that sequence (the order of a
# caller's texts), in the same step, so a crash cannot leave a gap that stalls the rest.
_CLAIM_AND_ADD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local seq = 0
  if #KEYS > 2 then seq = redis.call('INCR', KEYS[3]) end
  return redis.call('XADD', KEYS[2], '*', 'kind', ARGV[2], 'args', ARGV[3], 'seq', seq)
end
return false
"""


class JobQueue:
    """Enqueue at the door; run, retry and reclaim in the workers."""

    def __init__(
        self, redis: Redis, *, consumer: str | None = None, retry_idle_ms: int = RECLAIM_IDLE_MS,
        reader: Redis | None = None,
    ) -> None:
        self._r = redis
        self._reader = reader or redis
        self._block_ms = READ_BLOCK_MS if reader is not None else SHARED_READ_BLOCK_MS
        # How long a pending job waits before it is run again (by any worker).
        self.retry_idle_ms = retry_idle_ms
        self._consumer = consumer or secrets.token_hex(6)
        self._handlers: dict[str, Handler] = {}
        self._kinds: dict[str, type[Any]] = {}
        self._claim_and_add = redis.register_script(_CLAIM_AND_ADD)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._grouped = False  # the consumer group is known to exist
        self.reclaim_every_s = RECLAIM_EVERY_S
        # Jobs that failed here -> when (monotonic) a reclaim can take them back: their
        # back-off has ended and they have been idle `retry_idle_ms`.
        self._retries: dict[str, float] = {}
        self._retry_noted = asyncio.Event()

    def register(self, job_type: type[Any], handler: Handler) -> None:
        """`handler(job_id, job)` runs the jobs of `job_type` (a dataclass of workflows.jobs)."""
        self._kinds[job_type.KIND] = job_type
        self._handlers[job_type.KIND] = handler

    async def enqueue(self, job: Any, *, claim: str, sequence: str | None = None) -> bool:
        """Record `job` once per delivery id `claim` (False if seen); `sequence` numbers it."""
        kind, args = encode(job)
        payload = json.dumps(args, separators=(",", ":"))
        job_keys = [claim, keys.JOBS] + ([sequence] if sequence else [])
        added = await self._claim_and_add(keys=job_keys, args=[keys.CLAIM_TTL_S, kind, payload])
        return added is not None

    async def ensure_group(self) -> None:
        try:
            await self._r.xgroup_create(keys.JOBS, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True

    async def run(self) -> None:
        """Read and run jobs until `stop()`; survives Redis outages by retrying."""
        reclaim = asyncio.create_task(self._reclaim_forever())
        try:
            while not self._stopping.is_set():
                try:
                    if not self._grouped:  # Redis may be down at start, or restart empty later
                        await self.ensure_group()
                    await self._read_once(block_ms=self._block_ms)
                except (RedisError, OSError) as exc:
                    if "NOGROUP" in str(exc):
                        self._grouped = False
                    log.warning("job queue: redis unavailable (%r); retrying", exc)
                    await asyncio.sleep(REDIS_RETRY_S)
        finally:
            reclaim.cancel()

    async def _read_once(self, block_ms: int) -> None:
        await self._slots.acquire()
        self._slots.release()
        # Bytes, not str: the client never decodes replies.
        replies = cast(Replies | None, await self._reader.xreadgroup(
            GROUP, self._consumer, {keys.JOBS: ">"}, count=READ_BATCH, block=block_ms
        ))
        for _, entries in replies or []:
            for entry_id, fields in entries:
                self._start(entry_id.decode(), fields)

    def _start(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        task = asyncio.create_task(self._run_one(entry_id, fields), name=f"job:{entry_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _run_one(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        kind = fields.get(b"kind", b"").decode()
        # One runner per job, even when a starved event loop let another worker reclaim it.
        running = keys.job_running(entry_id)
        if not await self._r.set(running, self._consumer, nx=True, px=RUN_LOCK_MS):
            return
        done = asyncio.Event()
        heartbeat = asyncio.create_task(self._keep_claimed(entry_id, done))
        finished = False
        try:
            finished = await self._run_claimed(entry_id, kind, fields)
        finally:
            # The flag, not only the cancel: a cancel landing inside a Redis call can come out
            # as a TimeoutError, and a heartbeat that survived it would hold the job forever.
            done.set()
            heartbeat.cancel()
            if not finished:  # a finished job's lock went with its entry
                await self._r.delete(running)

    async def _keep_claimed(self, entry_id: str, done: asyncio.Event) -> None:
        """While a job runs, keep resetting its idle time so no other worker takes it over."""
        while not done.is_set():
            await asyncio.sleep(self.retry_idle_ms / 3000)
            if done.is_set():
                return
            try:
                await self._r.xclaim(keys.JOBS, GROUP, self._consumer, 0, [entry_id], justid=True)
                await self._r.pexpire(keys.job_running(entry_id), RUN_LOCK_MS)
            except (RedisError, OSError) as exc:
                log.warning("job %s: heartbeat failed: %r", entry_id, exc)

    async def _run_claimed(self, entry_id: str, kind: str, fields: dict[bytes, bytes]) -> bool:
        """Run the job; True once it is done and gone from the stream."""
        async with self._slots:
            handler = self._handlers.get(kind)
            try:
                if handler is None:
                    log.error("job %s: no handler for kind %r; dropped", entry_id, kind)
                else:
                    # The stream entry numbers a caller's texts; the job reads it as a field.
                    wire = {**json.loads(fields.get(b"args", b"{}")), "seq": int(fields.get(b"seq", b"0"))}
                    await handler(entry_id, decode(kind, wire, self._kinds))
            except JobDecodeError as exc:  # it would fail the same way every time
                log.error("job %s: %s; dropped", entry_id, exc)
            except RetryLater as exc:
                delay = await self._back_off(entry_id)
                log.warning("job %s (%s) will be retried in %.1f s: %s", entry_id, kind, delay, exc)
                return False  # left pending: reclaimed once its back-off has passed
            except Exception:
                await self._back_off(entry_id)
                log.exception("job %s (%s) failed; will be retried", entry_id, kind)
                return False
            await self._finish(entry_id)
            return True

    async def _finish(self, entry_id: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.xack(keys.JOBS, GROUP, entry_id)
            pipe.xdel(keys.JOBS, entry_id)
            pipe.delete(keys.job_attempts(entry_id), keys.job_retry_at(entry_id), keys.job_running(entry_id))
            await pipe.execute()

    async def _reclaim_forever(self) -> None:
        while not self._stopping.is_set():
            found = 0
            try:
                found = await self.reclaim()
            except (RedisError, OSError) as exc:
                log.warning("job queue: reclaim failed: %r", exc)
                await asyncio.sleep(REDIS_RETRY_S)
            # While jobs are being taken over (a worker died, jobs are failing) look again at the
            # retry pace: a taken job may still be locked by its dead runner, or fail again.
            await self._until_next_reclaim(self.retry_idle_ms / 2000 if found else self.reclaim_every_s)

    async def _until_next_reclaim(self, regular_in: float) -> None:
        """Sleep until a job that failed here may run again, or until the next regular look."""
        regular = time.monotonic() + regular_in
        while (left := min([regular, *self._retries.values()]) - time.monotonic()) > 0:
            self._retry_noted.clear()
            try:
                await asyncio.wait_for(self._retry_noted.wait(), left)
            except TimeoutError:
                pass  # due now

    def _retry_in(self, entry_id: str, seconds: float) -> None:
        """Claim the job back in `seconds` (with a margin for XAUTOCLAIM's idle check)."""
        self._retries[entry_id] = time.monotonic() + seconds + 0.01
        self._retry_noted.set()

    async def reclaim(self) -> int:
        """Take over jobs left pending by a dead or failing worker; give up the hopeless."""
        looked_for = {e for e, at in self._retries.items() if at <= time.monotonic()}
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        cursor: bytes | str = "0-0"
        while True:  # page through every pending job, not only the first page
            cursor, page, _ = await self._r.xautoclaim(
                keys.JOBS, GROUP, self._consumer, min_idle_time=self.retry_idle_ms, start_id=cursor, count=100
            )
            claimed += page
            if cursor in (b"0-0", "0-0"):
                break
        # Not claimed: finished, or in another worker's hands (whose own retries they are).
        for entry in looked_for:
            self._retries.pop(entry, None)
        now_ms = int(time.time() * 1000)
        for entry_id, fields in claimed:
            entry = entry_id.decode()
            self._retries.pop(entry, None)
            if now_ms - int(entry.split("-")[0]) > MAX_JOB_AGE_MS:
                log.error("job %s (%s) given up: still failing after 15 minutes", entry, fields.get(b"kind"))
                await self._finish(entry)
                continue
            due = await self._retry_due(entry)
            if due is not None and due > now_ms:
                # Stays pending, idle again from now: claimed again after its back-off.
                self._retry_in(entry, max(due - now_ms, self.retry_idle_ms) / 1000)
                continue
            self._start(entry, fields)
        return len(claimed)

    async def _back_off(self, entry_id: str) -> float:
        """Record when a failed job may run again: doubling from the retry interval, with jitter."""
        attempts_key = keys.job_attempts(entry_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.incr(attempts_key)
            pipe.expire(attempts_key, MAX_JOB_AGE_MS // 1000)
            attempts, _ = await pipe.execute()
        base = self.retry_idle_ms / 1000
        # Jitter spreads the retries of jobs that failed together (a Slack outage) apart.
        delay = min(base * 2 ** (int(attempts) - 1), base * BACKOFF_CAP) * random.uniform(0.8, 1.2)
        await self._r.set(keys.job_retry_at(entry_id), int(time.time() * 1000 + delay * 1000), px=MAX_JOB_AGE_MS)
        # Its last heartbeat was before now, so by then it is also idle enough to be claimed.
        self._retry_in(entry_id, max(delay, base))
        return delay

    async def _retry_due(self, entry_id: str) -> int | None:
        """Epoch ms before which a failed job must not run again; None if it never failed."""
        due = await self._r.get(keys.job_retry_at(entry_id))
        return int(due) if due is not None else None

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no job is queued, pending or running (tests and the demo)."""
        if not self._grouped:  # the runner may not have created it yet
            await self.ensure_group()
        async with asyncio.timeout(timeout):
            while True:
                if self._in_flight:
                    await asyncio.wait(set(self._in_flight))
                    continue
                summary = await self._r.xpending(keys.JOBS, GROUP)
                lag = await self._lag()
                if not summary["pending"] and not lag and not self._in_flight:
                    return
                await asyncio.sleep(0.005)

    async def _lag(self) -> int:
        groups = await self._r.xinfo_groups(keys.JOBS)
        group = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
        return int(group.get("lag") or 0) if group else 0

    def start(self) -> None:
        """Start reading jobs in the background."""
        self._stopping.clear()
        self._runner = asyncio.create_task(self.run(), name="jobs")

    async def stop(self) -> None:
        """Stop reading; let running jobs finish (unfinished ones stay pending for others)."""
        self._stopping.set()
        if self._runner is not None:
            # A read cut short may have taken a job; it stays pending and is reclaimed.
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)
