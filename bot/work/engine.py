"""The engine: every durable job runs here, as soon as possible or at its due time.

One Redis stream with one consumer group runs every job but one kind of run: a missed call's
job, run where its text-back was sent (below). Webhooks record their job in it
before answering (`enqueue`); jobs with a due time wait in the due set (bot/work/deadlines.py)
and the timer (bot/work/timer.py) moves them into the stream when due. Each instance is a consumer, and a job
stays pending until its handler is done.

- **Retry.** A job that fails leaves the stream and waits in the due set until its back-off
  ends (one policy, its limits per kind: `workflows.jobs.Retry`): 1 s, 3 s, then doubling
  from `retry_idle_ms`. Its id, attempts and age go with it, so its step log still applies
  when it runs again.
- **Slack outages.** A job that failed because Slack was unavailable (`SlackUnavailable`)
  waits up to a day, not 15 minutes, and is noted as waiting for Slack; the first call to
  Slack that succeeds after such failures makes them all due at once (`slack_answered`).
- **Reclaim.** Only a job whose worker died stays pending: once idle `retry_idle_ms` (a running
  job's heartbeat keeps it fresh) another worker takes it at its next look.
- **One runner per entry,** even when a starved event loop let another worker take it over:
  its run lock, `tb:running:<entry>`, taken with NX. A reclaimed entry takes it before it
  runs. A first delivery cannot be taken over before it has been idle `retry_idle_ms`, so it
  takes the lock only at its first heartbeat, or before it settles when it got that far
  without one: a short job (milliseconds, the usual case) costs no lock commands. A runner
  that finds the lock taken stops (its handler cancelled) and does not settle the entry.
- **Exactly once.** Handlers make every effect idempotent through the job's step log
  (`RedisSteps`, keyed by the job id), so a re-run skips what was already done.
- **The app clock throughout:** due times, back-offs and ages; tests move a fake clock.
- **Text-backs first:** a missed call's text is sent by its webhook (bot/twilio/webhooks.py),
  which recorded the call's job in the due set, due at its recovery time. Once the send's
  answer is logged, the same process runs the job at once (`run_held`): no stream entry, its
  step log as the webhook wrote it, its due time its lease (pushed on while it runs). If the
  process dies first, the job comes due and runs from the stream, anywhere. On one instance,
  jobs wait (a second at most) while voice webhooks and text-backs are in hand (the fast
  lane, below).
- **Quiet when idle:** a read blocks 30 s, the timer sleeps until the next due time, the
  reclaim looks every 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import json
import logging
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.logs import current_job, mask_numbers
from bot.store import keys
from bot.work.background import cancel_and_wait
from bot.work.deadlines import new_gen
from bot.work.timer import TIMER_ROLES, Timer, Timing
from workflows.jobs import JobDecodeError, decode, encode, retry_policy
from workflows.ports import Clock, RetryLater, SlackUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]
Replies = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]

GROUP = "workers"
# A job whose worker went silent this long is taken over by another worker; also the first
# back-off after a failure.
RECLAIM_IDLE_MS = 10_000
# The run lock of a job outlives a missed heartbeat or two, but not a dead process for long.
RUN_LOCK_MS = 30_000
# A first delivery runs without its run lock while no other worker can have taken it over:
# for this share of `retry_idle_ms` after the entry was delivered (the rest is a margin for the
# settle's round trip and the clocks of the server and this process). Heartbeats come every
# third of `retry_idle_ms`, so the first one takes the lock within the window.
UNLOCKED_SHARE = 0.5
# A job run where it was recorded (`run_held`) keeps its place in the due set this far ahead
# of now while it runs: should this process die, the job comes due there and runs elsewhere.
HELD_LEASE_S = 30.0
# Jobs run concurrently: a slow Slack call must not hold up the next job. They mostly wait
# on the network, so a whole burst fits in at once.
MAX_IN_FLIGHT = 256
# Jobs taken from the stream per read.
READ_BATCH = 64
# How long one read waits on an empty stream. A new job ends the wait at once and stop()
# cancels it, so a long wait only means fewer commands while idle. It needs a reader client
# that waits that long for an answer (RedisHandle.reader); on the shared client a read
# waits a second, well within its 5 s.
READ_BLOCK_MS = 30_000
SHARED_READ_BLOCK_MS = 1000
# Failures kept for `textback status` (the newest first).
ERRORS_KEPT = 20
# Pause before trying again while Redis is unavailable.
REDIS_RETRY_S = 1.0

# Claim the delivery id and record the job in one step: a crash between the two would
# otherwise leave a claimed delivery with no job (lost) or a job with no claim (doubled).
# With a third key, the job also takes the next number in that sequence (the order of a
# caller's texts), in the same step, so a crash cannot leave a gap that stalls the rest.
_CLAIM_AND_ADD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local seq = 0
  if #KEYS > 2 then
    seq = redis.call('INCR', KEYS[3])
    if ARGV[5] ~= '' then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
  end
  return redis.call('XADD', KEYS[2], '*', 'kind', ARGV[2], 'args', ARGV[3], 'seq', seq, 'born', ARGV[4])
end
return false
"""

# A run ends: the entry leaves the stream; a job with an id also loses its hash, unless it was
# cancelled or scheduled anew meanwhile (another generation), which then stays as it is.
# With ARGV[6] '1' the run held its run lock (KEYS[2]), which goes too.
_DONE = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[6] == '1' then redis.call('DEL', KEYS[2]) end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], 'gen') == ARGV[4] then
  local group = redis.call('HGET', KEYS[3], 'group')
  if group and group ~= '' then redis.call('SREM', ARGV[5] .. group, ARGV[3]) end
  redis.call('DEL', KEYS[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
end
return 1
"""

# A run failed: the entry leaves the stream and the job waits in the due set until ARGV[5]. A
# held run (no entry, ARGV[2] '') only moves the job's due time, if the job is still there.
# A job first recorded by a webhook gets its hash now; one cancelled or scheduled anew while
# it ran is not retried (-1). With ARGV[12] '1' it failed because Slack was unavailable: it is
# noted (with its generation) among the jobs waiting for Slack, KEYS[6], else taken off it.
# With ARGV[13] '1' the run held its run lock (KEYS[2]), which goes too.
_RETRY = """
if ARGV[2] ~= '' then redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[1], ARGV[2])
elseif not redis.call('ZSCORE', KEYS[4], ARGV[3]) then return -1 end
if ARGV[13] == '1' then redis.call('DEL', KEYS[2]) end
local gen = ARGV[4]
if gen ~= '' then
  if redis.call('HGET', KEYS[3], 'gen') ~= gen then return -1 end
  redis.call('HSET', KEYS[3], 'attempts', ARGV[6])
else
  gen = ARGV[11]
  redis.call('HSET', KEYS[3], 'kind', ARGV[7], 'args', ARGV[8], 'seq', ARGV[9], 'born', ARGV[10],
             'attempts', ARGV[6], 'gen', gen, 'group', '')
end
if ARGV[12] == '1' then redis.call('HSET', KEYS[6], ARGV[3], gen) else redis.call('HDEL', KEYS[6], ARGV[3]) end
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
redis.call('PUBLISH', KEYS[5], ARGV[5])
return 1
"""

# Slack answers again: every job noted as waiting for it (KEYS[1], id -> generation) that is
# still of that generation (not cancelled, done or scheduled anew since) and due later than
# ARGV[1] is due at ARGV[1]; the timers are told (KEYS[3]). How many were moved.
_SLACK_BACK = """
local waiting = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
local moved = 0
for i = 1, #waiting, 2 do
  local id = waiting[i]
  if redis.call('HGET', ARGV[2] .. id, 'gen') == waiting[i + 1] then
    local due = redis.call('ZSCORE', KEYS[2], id)
    if due and tonumber(due) > tonumber(ARGV[1]) then
      redis.call('ZADD', KEYS[2], ARGV[1], id)
      moved = moved + 1
    end
  end
end
if moved > 0 then redis.call('PUBLISH', KEYS[3], ARGV[1]) end
return moved
"""


@dataclass(frozen=True)
class Entry:
    """One stream entry: the job's kind and wire form, and what a retry carries along."""

    entry_id: str
    kind: str
    args: bytes
    seq: int
    job_id: str  # the step log's key: the first entry id, or the id the job was scheduled with
    gen: str  # "" for a job recorded by a webhook that never failed
    attempts: int
    born_ms: int  # when it was recorded, or first due (app clock)
    # The job's step log as its recorder left it, as JSON ("" when not carried): what its first
    # run finds there, since nothing else writes it before (`steps_at_delivery`).
    steps: str = ""

    @property
    def held(self) -> bool:
        """A job run where it was recorded, straight from the due set (`Engine.run_held`): it
        has no stream entry, and its place in the due set is its lease."""
        return not self.entry_id

    @classmethod
    def read(cls, entry_id: str, fields: dict[bytes, bytes]) -> Entry:
        def text(name: bytes, default: str = "") -> str:
            return fields.get(name, default.encode()).decode()

        # An entry recorded before ids and ages were (an older version) is its own id and age.
        born = text(b"born") or entry_id.split("-")[0]
        return cls(entry_id, text(b"kind"), fields.get(b"args", b"{}"), int(text(b"seq", "0") or 0),
                   text(b"id") or entry_id, text(b"gen"), int(text(b"attempts", "0") or 0), int(born),
                   text(b"steps"))


# The step log a run was handed with its job: (job id, log). A held run (`run_held`) gets the
# one its webhook wrote; a stream entry may carry one too (a `steps` field, from a recorder
# that knows it), used on its first delivery only. Set in the run's own task (and so seen by
# what it starts), never for an entry taken over or retried.
_delivered_steps: contextvars.ContextVar[tuple[str, dict[str, str]] | None] = contextvars.ContextVar(
    "delivered_steps", default=None)


def steps_at_delivery(job_id: str) -> dict[str, str] | None:
    """The step log of the job running here as it was handed over: by its webhook for a held
    run, or by its stream entry on a first delivery. No run can have written more (a retry is
    a new entry without one, and an entry taken over is no first delivery). None otherwise:
    read the log from Redis."""
    known = _delivered_steps.get()
    return dict(known[1]) if known is not None and known[0] == job_id else None


@dataclass
class _Run:
    """One run of an entry, as far as its run lock goes."""

    entry: Entry
    locked: bool = False  # this run holds the entry's run lock
    # Monotonic: until then no other worker can have taken the entry over, so the run needs no
    # lock; 0 for an entry taken over, which takes it before it runs.
    unlocked_until: float = 0.0
    lost: bool = False  # another worker took the entry over: this run does not settle it
    stopped: bool = False  # its heartbeat cancelled it for that, and the cancel is not undone yet


def _step_log(raw: str) -> dict[str, str] | None:
    """A step log carried as JSON; None (read it from Redis) unless it is one, whole."""
    try:
        log = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(log, dict) or not all(isinstance(v, str) for v in log.values()):
        return None
    return log


def _delivered(entry_id: str, sent: float, received: float, wall: float) -> float:
    """The earliest the read sent at `sent` and answered at `received` can have delivered the
    entry (monotonic times; `wall`: the wall clock at `received`). The server counts an entry's
    idle time from its delivery, which came after the read was sent and after the entry was
    added (its id's milliseconds, on the server's clock, taken as this one's). For a read that
    waited for the entry the latter is the closer bound; and unlike `received`, it holds when
    this process was too slow to take the answer (a starved event loop)."""
    added_s = int(entry_id.split("-")[0]) / 1000
    return max(sent, received - max(0.0, wall - added_s))


class Engine:
    """Record jobs, move them when due, run them; retry, give up and reclaim by one rule."""

    def __init__(
        self, redis: Redis, clock: Clock, *, consumer: str | None = None, retry_idle_ms: int = RECLAIM_IDLE_MS,
        reader: Redis | None = None, role: str = "all", timing: Timing = Timing(),
    ) -> None:
        self._r = redis
        self._clock = clock
        self._reader = reader or redis
        self._block_ms = READ_BLOCK_MS if reader is not None else SHARED_READ_BLOCK_MS
        # How long a pending job waits before another worker takes it over; the first back-off.
        self.retry_idle_ms = retry_idle_ms
        self._consumer = consumer or secrets.token_hex(6)
        self._t = timing
        self.timer = Timer(redis, clock, timing=timing)
        self.deadlines = self.timer.deadlines
        self.moves = role in TIMER_ROLES  # this instance also moves due jobs into the stream
        self._handlers: dict[str, Handler] = {}
        self.lane = FastLane()
        self._kinds: dict[str, type[Any]] = {}
        self._claim_and_add, self._done, self._retry, self._slack_back = (
            redis.register_script(lua) for lua in (_CLAIM_AND_ADD, _DONE, _RETRY, _SLACK_BACK)
        )
        # Jobs may wait for Slack (noted in Redis): set when one failed on Slack here, and at
        # start, for those an earlier process left. Only while it is set does a successful
        # Slack call cost a Redis command (`slack_answered`); otherwise it costs nothing.
        self._slack_waits = True
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._grouped = False  # the consumer group is known to exist
        self._retrying: set[str] = set()  # ids of jobs that failed here, for wait_idle

    @property
    def consumer(self) -> str:
        """This worker's name in the stream's consumer group (and its run locks' value)."""
        return self._consumer

    def resume(self, entries: list[Entry]) -> None:
        """Run entries claimed for this worker (an earlier start of this instance left them)."""
        for entry in entries:
            self._start(entry)

    def register(self, job_type: type[Any], handler: Handler) -> None:
        """`handler(job_id, job)` runs the jobs of `job_type` (a dataclass of workflows.jobs)."""
        self._kinds[job_type.KIND] = job_type
        self._handlers[job_type.KIND] = handler

    async def enqueue(
        self, job: Any, *, claim: str, sequence: str | None = None, sequence_ttl_s: int | None = None
    ) -> bool:
        """Record `job` once per delivery id `claim` (False if seen); `sequence` numbers it (the
        counter kept `sequence_ttl_s` after its last use, or for ever)."""
        kind, args = encode(job)
        payload = json.dumps(args, separators=(",", ":"))
        job_keys = [claim, keys.JOBS] + ([sequence] if sequence else [])
        born = int(self._clock.now().timestamp() * 1000)
        added = await self._claim_and_add(
            keys=job_keys, args=[keys.CLAIM_TTL_S, kind, payload, born, sequence_ttl_s or ""]
        )
        return added is not None

    async def ensure_group(self) -> None:
        try:
            await self._r.xgroup_create(keys.JOBS, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True

    # --- reading and running -------------------------------------------------------------

    async def run(self) -> None:
        """Read and run jobs until `stop()`; survives Redis outages by retrying."""
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

    async def _read_once(self, block_ms: int) -> None:
        await self._slots.acquire()
        self._slots.release()
        sent = time.monotonic()
        # Bytes, not str: the client never decodes replies.
        replies = cast(Replies | None, await self._reader.xreadgroup(
            GROUP, self._consumer, {keys.JOBS: ">"}, count=READ_BATCH, block=block_ms
        ))
        if not replies:
            return
        now, wall = time.monotonic(), time.time()
        for _, entries in replies:
            for entry_id, fields in entries:
                entry = Entry.read(entry_id.decode(), fields)
                self._start(entry, delivered=_delivered(entry.entry_id, sent, now, wall))

    def run_held(self, job_id: str, kind: str, args: str, *, gen: str, born_ms: int, steps: dict[str, str]) -> None:
        """Run now, here, a job this process recorded in the due set and still holds there: a
        missed call's job once its webhook's text-back was answered. No stream entry, no read
        and no run lock: its due time is its lease, pushed on while it runs, and `steps` its
        step log as written (the run does not read it). If the process dies, the job comes due
        and runs on any instance, as recorded. A failure waits in the due set like any retry."""
        if self._stopping.is_set():  # stopping: left held, it runs at its recovery time
            return
        entry = Entry("", kind, args.encode(), 0, job_id, gen, 0, born_ms,
                      json.dumps(steps, separators=(",", ":")))
        task = asyncio.create_task(self._run_one(entry), name=f"job:{job_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._ended)

    def _start(self, entry: Entry, *, delivered: float | None = None) -> None:
        """Run `entry`; `delivered` (monotonic) for a first delivery, None for one taken over."""
        task = asyncio.create_task(self._run_one(entry, delivered), name=f"job:{entry.job_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # Nobody awaits a run: what it did not handle itself is logged here, not lost with it.
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: unexpected failure", task.get_name(), exc_info=task.exception())

    async def _run_one(self, entry: Entry, delivered: float | None = None) -> None:
        current_job.set((entry.kind, entry.job_id))  # this task's own context: its log lines name it
        run = _Run(entry)
        if entry.held:  # only this process has it: the due set holds it for this run
            run.unlocked_until = math.inf
        elif delivered is not None:  # a first delivery: nobody else can have it for a while
            run.unlocked_until = delivered + self.retry_idle_ms * UNLOCKED_SHARE / 1000
        if entry.held or delivered is not None:
            known = _step_log(entry.steps) if entry.steps else None
            if known is not None:
                _delivered_steps.set((entry.job_id, known))
        if time.monotonic() >= run.unlocked_until:
            # Taken over (or delivered long ago): the run lock first. Held: another runner has it.
            try:
                run.locked = await self._lock(entry)
            except (RedisError, OSError) as exc:
                log.warning("job %s (%s) not started: redis unavailable (%r); it stays pending and runs later",
                            entry.job_id, entry.kind, exc)
                return
            if not run.locked:
                return
        runner = asyncio.current_task()
        assert runner is not None
        done = asyncio.Event()
        heartbeat = asyncio.create_task(self._keep_claimed(run, done, runner))
        settled = False
        try:
            async with self._slots:
                try:
                    failure, slack = await self._call(entry)
                finally:
                    # The flag, not a cancel: a beat under way ends, so whether it took the run
                    # lock is known (a cancel landing inside a Redis call leaves that unknown).
                    done.set()
                    await asyncio.wait({heartbeat})
                settled = await self._settle(run, failure, slack)
        except asyncio.CancelledError:
            if not run.stopped or runner.uncancel() > 0:  # not (only) its heartbeat's cancel
                raise
            run.stopped = False
        finally:
            if run.locked and not settled:  # a settled job's lock went with its entry
                with contextlib.suppress(RedisError, OSError):
                    await self._r.delete(keys.job_running(entry.entry_id))
        if run.stopped:  # the heartbeat's cancel was swallowed on its way (a Redis call ate it)
            runner.uncancel()
        if run.lost:
            log.warning("job %s (%s) was taken over by another worker while this one was too slow to keep it; "
                        "stopped here and left to that worker", entry.job_id, entry.kind)

    async def _lock(self, entry: Entry) -> bool:
        """Take the entry's run lock; False when another runner holds it."""
        return bool(await self._r.set(keys.job_running(entry.entry_id), self._consumer, nx=True, px=RUN_LOCK_MS))

    async def _keep_claimed(self, run: _Run, done: asyncio.Event, runner: asyncio.Task[Any]) -> None:
        """While a job runs, keep resetting its idle time so no other worker takes it over. A
        first delivery takes its run lock at the first beat; held by another worker, the entry
        was taken over: the run is stopped (cancelled) and does not settle it."""
        entry_id = run.entry.entry_id
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.retry_idle_ms / 3000):
                    await done.wait()
            if done.is_set():
                return
            try:
                if run.entry.held:
                    # The lease pushed on; when the job is no longer there it came due (this
                    # process was too slow to push it) and another worker may run it.
                    lease = self._clock.now().timestamp() + HELD_LEASE_S
                    async with self._r.pipeline(transaction=False) as pipe:
                        pipe.zadd(keys.DUE, {run.entry.job_id: lease}, xx=True, gt=True)
                        pipe.zscore(keys.DUE, run.entry.job_id)
                        _, still = await pipe.execute()
                    if still is None:
                        run.lost = True
                        if not done.is_set():
                            run.stopped = True
                            runner.cancel()
                        return
                elif not run.locked:
                    if not await self._lock(run.entry):
                        run.lost = True
                        if not done.is_set():  # still in its handler: stop it
                            run.stopped = True
                            runner.cancel()
                        return
                    run.locked = True
                    await self._r.xclaim(keys.JOBS, GROUP, self._consumer, 0, [entry_id], justid=True)
                else:
                    await self._r.xclaim(keys.JOBS, GROUP, self._consumer, 0, [entry_id], justid=True)
                    await self._r.pexpire(keys.job_running(entry_id), RUN_LOCK_MS)
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:  # once per outage, not every beat
                    log.warning("job %s: heartbeat failed: %r", entry_id or run.entry.job_id, exc)
                failing = True

    async def _call(self, entry: Entry) -> tuple[str | None, bool]:
        """Run the job's handler: what failed (None: done), and whether Slack was unavailable."""
        handler = self._handlers.get(entry.kind)
        try:
            if handler is None:
                # Retried, not dropped: mid-deploy another instance may know the kind.
                raise LookupError(f"no handler for kind {entry.kind!r}")
            # The stream entry numbers a caller's texts; the job reads it as a field.
            wire = {**json.loads(entry.args), "seq": entry.seq}
            job = decode(entry.kind, wire, self._kinds)
            await self.lane.wait_clear()
            await handler(entry.job_id, job)
        except JobDecodeError as exc:  # it would fail the same way every time
            log.error("job %s: %s; dropped", entry.job_id, exc)
        except RetryLater as exc:
            return str(exc), isinstance(exc, SlackUnavailable)
        except RedisError as exc:  # an outage: expected, and logged with the retry, in one line
            return repr(exc), False
        except Exception as exc:
            log.exception("job %s (%s) failed", entry.job_id, entry.kind)
            return repr(exc), False
        return None, False

    async def _settle(self, run: _Run, failure: str | None, slack: bool) -> bool:
        """Done, or waiting for its retry; True once settled. Not when taken over."""
        entry = run.entry
        if run.lost:
            return False
        try:
            if not run.locked and time.monotonic() >= run.unlocked_until:
                # No heartbeat took the lock (a starved loop, or Redis failing them), and another
                # worker may have taken the entry over since: only with the lock is it this run's.
                run.locked = await self._lock(entry)
                if not run.locked:
                    run.lost = True
                    return False
            if failure is None:
                await self._finish(entry, locked=run.locked)
            else:
                await self._retry_later(entry, failure, waiting_for_slack=slack, locked=run.locked)
        except (RedisError, OSError) as exc:
            # Left pending: reclaimed once idle, and the step log keeps effects single.
            log.warning("job %s (%s) %s; could not settle it: %r; it stays pending and runs again later",
                        entry.job_id, entry.kind, "done" if failure is None else f"failed ({failure})", exc)
            return False
        return True

    async def _finish(self, entry: Entry, *, locked: bool) -> None:
        """The entry leaves the stream, and its run lock if `locked`; a job with an id loses its
        hash (unless cancelled or scheduled anew while it ran). A held job leaves the due set."""
        if entry.held:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.zrem(keys.DUE, entry.job_id)
                pipe.delete(keys.due_job(entry.job_id))
                await pipe.execute()
            return
        await self._done(
            keys=[keys.JOBS, keys.job_running(entry.entry_id), keys.due_job(entry.job_id), keys.SLACK_WAITING],
            args=[GROUP, entry.entry_id, entry.job_id, entry.gen, keys.DUE_GROUP_PREFIX, "1" if locked else ""],
        )

    async def _retry_later(self, entry: Entry, failure: str, *, waiting_for_slack: bool, locked: bool) -> None:
        """Wait in the due set until the back-off ends; give up once the kind's policy says so."""
        policy = retry_policy(self._kinds.get(entry.kind))
        now = self._clock.now().timestamp()
        age_s = now - entry.born_ms / 1000
        if policy.gives_up(age_s, waiting_for_slack=waiting_for_slack):
            log.error("job %s (%s) given up: still failing after %.0f minutes (%d attempts): %s",
                      entry.job_id, entry.kind, age_s / 60, entry.attempts + 1, failure)
            await self._finish(entry, locked=locked)
            await self._note_error(entry, f"given up after {entry.attempts + 1} attempts: {failure}", now)
            return
        attempts = entry.attempts + 1
        # Jitter spreads the retries of jobs that failed together (an outage).
        delay = policy.delay_s(attempts, self.retry_idle_ms / 1000) * random.uniform(0.8, 1.2)
        at = now + delay
        kept = await self._retry(
            keys=[keys.JOBS, keys.job_running(entry.entry_id), keys.due_job(entry.job_id), keys.DUE, keys.DUE_WAKE,
                  keys.SLACK_WAITING],
            args=[GROUP, entry.entry_id, entry.job_id, entry.gen, repr(at), attempts,
                  entry.kind, entry.args, entry.seq, entry.born_ms, new_gen(), "1" if waiting_for_slack else "",
                  "1" if locked else ""],
        )
        if int(kept) < 0:
            log.info("job %s (%s) failed, and was cancelled or scheduled anew meanwhile", entry.job_id, entry.kind)
            return
        if waiting_for_slack:
            self._slack_waits = True  # after the note is written: a success from now on sees it
        log.warning("job %s (%s) will be retried in %.1f s (attempt %d): %s",
                    entry.job_id, entry.kind, delay, attempts, failure)
        self._retrying.add(entry.job_id)
        self.timer.scheduled(at)
        await self._note_error(entry, f"attempt {attempts} failed, retried in {delay:.1f} s: {failure}", now)

    async def _note_error(self, entry: Entry, what: str, at: float) -> None:
        """Keep the newest failures for `textback status` (numbers masked, like the log)."""
        note = json.dumps({"at": round(at, 3), "kind": entry.kind, "job": entry.job_id, "error": mask_numbers(what)})
        try:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.lpush(keys.JOB_ERRORS, note)
                pipe.ltrim(keys.JOB_ERRORS, 0, ERRORS_KEPT - 1)
                await pipe.execute()
        except (RedisError, OSError):
            pass  # the log line above has it already

    async def slack_answered(self) -> None:
        """A call to Slack succeeded: when jobs may be waiting for Slack, on any instance, they
        are all due now (one Lua step, and a wake-up for every timer). Free otherwise."""
        if not self._slack_waits:
            return
        self._slack_waits = False
        now = self._clock.now().timestamp()
        try:
            moved = int(await self._slack_back(keys=[keys.SLACK_WAITING, keys.DUE, keys.DUE_WAKE],
                                               args=[repr(now), keys.DUE_JOB_PREFIX]))
        except (RedisError, OSError) as exc:
            self._slack_waits = True  # the next success tries again
            log.warning("slack is back, but the jobs waiting for it could not be hurried: %r", exc)
            return
        if moved:
            log.info("slack is back: %d job(s) waiting for it run now", moved)
            # At once, not "if sooner than planned": a fake clock moved past the plan would
            # leave the timer asleep (other instances hear the wake-up message).
            self.timer.look_now()

    # --- reclaiming what dead workers left -------------------------------------------------

    async def _reclaim_forever(self) -> None:
        while not self._stopping.is_set():
            found = 0
            try:
                found = await self.reclaim()
            except (RedisError, OSError) as exc:
                log.warning("job queue: reclaim failed: %r", exc)
            # While jobs are being taken over, look again soon: one may still be locked by its
            # dead runner until the run lock runs out.
            await self._pause(self.retry_idle_ms / 2000 if found else self._t.reclaim_every_s)

    async def reclaim(self) -> int:
        """Take over jobs left pending by a worker that went silent; how many."""
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        cursor: bytes | str = "0-0"
        while True:  # page through every pending job, not only the first page
            cursor, page, _ = await self._r.xautoclaim(
                keys.JOBS, GROUP, self._consumer, min_idle_time=self.retry_idle_ms, start_id=cursor, count=100
            )
            claimed += page
            if cursor in (b"0-0", "0-0"):
                break
        for entry_id, fields in claimed:
            if fields is not None:  # None: deleted meanwhile
                self._start(Entry.read(entry_id.decode(), fields))
        return len(claimed)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- start, stop, wait ---------------------------------------------------------------------

    def start(self) -> None:
        """Run jobs (and, in a timer role, move due ones) in the background."""
        self._stopping.clear()
        self._tasks = [asyncio.create_task(self.run(), name="jobs"),
                       asyncio.create_task(self._reclaim_forever(), name="reclaim")]
        if self.moves:
            self.timer.start()

    async def stop(self) -> None:
        """Stop reading and moving; let running jobs finish (unfinished ones stay pending)."""
        self._stopping.set()
        await self.timer.stop()
        # A read cut short may have taken a job; it stays pending and is reclaimed.
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)

    async def wait_idle(self, timeout: float = 10.0, *, retries_within: float = 0.0) -> None:
        """Wait until no job is queued, pending or running, and no job that failed here waits
        for a retry due within `retries_within` seconds of now (tests and the demo: with a fake
        clock only the test moves time, so only retries already due are waited for)."""
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
                    retry = await self.next_retry()
                    if retry is None or retry > self._clock.now().timestamp() + retries_within:
                        return
                await asyncio.sleep(0.005)

    async def next_retry(self) -> float | None:
        """When the first job that failed here and waits for its retry is due (app clock)."""
        first: float | None = None
        for job_id in list(self._retrying):
            due = await self._r.zscore(keys.DUE, job_id)
            if due is None:
                self._retrying.discard(job_id)
            elif first is None or due < first:
                first = float(due)
        return first

    async def _lag(self) -> int:
        groups = await self._r.xinfo_groups(keys.JOBS)
        group = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
        return int(group.get("lag") or 0) if group else 0


# --- the fast lane ---------------------------------------------------------------------------
# Voice webhooks and text-backs first: on one instance, jobs wait while they are in hand.
#
# Webhooks, text-backs and jobs share one event loop. In a burst of missed calls, the first
# callers' jobs (thread, card, lead, reminders) would otherwise take turns with the later
# callers' webhooks and text-backs, so the last caller waits on the line for the answer and
# for the text behind the first callers' threads. A voice webhook is in the lane while it is
# handled, and a missed call's text-back until its SMS request was answered; every job waits
# until the entries that were in hand when it started waiting have left. Entries arriving
# later do not extend a wait, so a steady stream of calls cannot hold jobs back.
#
# Timing only: nothing here decides whether anything happens. Every wait is bounded, and an
# entry nobody removes expires.

# The longest a job waits for the lane: a slow or hung SMS request delays jobs by at most this.
PATIENCE_S = 1.0
# An entry nobody removed is forgotten after this long (every entry leaves in a `finally`).
ENTRY_TTL_S = 15.0


class FastLane:
    """Voice webhooks being handled and text-backs not answered yet, on this instance.

    A job waits only for the entries already in hand when it started waiting: in a burst that
    puts every webhook and text-back first, and under a steady stream of calls nothing waits
    for calls that came after it (the lane would never be empty).

    Entries are numbered as they enter, so "the entries in hand when I started" is "every
    entry up to number n": a job sleeps until the oldest entry left is newer than its n, and
    each leave wakes only the jobs that are free now (in a burst of 50, each job is woken
    once, not at every one of the 50 leaves).
    """

    def __init__(
        self, *, patience_s: float = PATIENCE_S, entry_ttl_s: float = ENTRY_TTL_S
    ) -> None:
        self.patience_s = patience_s
        self._ttl = entry_ttl_s
        # entry -> (its number, when it expires), oldest first: numbers and expiry times only grow
        self._entries: dict[str, tuple[int, float]] = {}
        self._entered = 0
        # Sleeping jobs: (the last entry each waits for, a tie-breaker, its wake-up), a heap.
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._slept = 0
        self._waiting = 0  # jobs waiting

    def enter(self, key: str) -> None:
        self._entries.pop(key, None)  # entered again: it moves to the end
        self._entered += 1
        self._entries[key] = (self._entered, time.monotonic() + self._ttl)

    def leave(self, key: str) -> None:
        if self._entries.pop(key, None) is not None and self._sleepers:
            self._wake()

    def _purge(self) -> None:
        now = time.monotonic()
        while self._entries:
            key, (_, expires) = next(iter(self._entries.items()))
            if expires > now:
                return
            del self._entries[key]

    def _oldest(self) -> float:
        """The number of the oldest entry still in hand (infinity: none)."""
        self._purge()
        return next(iter(self._entries.values()))[0] if self._entries else math.inf

    def _wake(self) -> None:
        oldest = self._oldest()
        while self._sleepers and self._sleepers[0][0] < oldest:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():  # else it gave up waiting already
                woken.set_result(None)

    def busy(self) -> bool:
        self._purge()
        return bool(self._entries)

    @property
    def waiting(self) -> int:
        """Jobs waiting for the lane now."""
        return self._waiting

    @property
    def asleep(self) -> int:
        """Waiting jobs not woken yet (a woken one runs at the loop's next turn)."""
        return sum(not woken.done() for *_, woken in self._sleepers)

    async def wait_clear(self) -> None:
        """Until the entries in hand now have left (or expired), or `patience_s` passed."""
        last = self._entered
        if self._oldest() > last:
            return
        deadline = time.monotonic() + self.patience_s
        self._waiting += 1
        try:
            while self._oldest() <= last:
                now = time.monotonic()
                if now >= deadline:
                    return
                first_expiry = next(iter(self._entries.values()))[1]
                woken = asyncio.get_running_loop().create_future()
                self._slept += 1
                heapq.heappush(self._sleepers, (last, self._slept, woken))
                # A timeout cancels `woken`, which the next wake skips.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(deadline, first_expiry) - now + 0.001):
                        await woken
        finally:
            self._waiting -= 1
