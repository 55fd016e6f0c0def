"""Who this process is, and what it takes back at start from its previous incarnation.

An instance has a name that stays the same across its restarts (TEXTBACK_INSTANCE, else Fly's
machine id, else host:port) and a random incarnation per start: `web-1/3fa9c2d1`. Its shared
Redis connections are named for it (`textback/web-1/3fa9c2d1`, where the server allows), and
so is what it holds: the job stream's consumer and the run locks (that name), the conversation
locks (that name, then a random part), and the missed-call jobs its webhooks decided (`by` in
the job's hash).

A process that dies (kill -9, a crash, a restarted machine) leaves those behind. Other
instances wait out the leases (30 s), since they cannot tell a dead holder from a slow one. A
restarted instance can: when Redis lists no connection of another incarnation of its name,
that one is gone. Then, before serving, it releases the run and conversation locks it left,
takes back the stream entries pending on it and runs them at once, and makes the missed-call
jobs it decided due now (each finds its "sending" mark and asks Twilio before it sends, so no
text is doubled). A live twin (two processes given one name), or a Redis that does not say
who is connected, releases nothing early, with a warning.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.store import keys
from bot.store.connection import Naming
from bot.work.engine import GROUP, Engine, Entry
from workflows.missed_call import RECOVER_AFTER
from workflows.ports import Clock

log = logging.getLogger(__name__)

Claimed = list[tuple[bytes, dict[bytes, bytes] | None]]

CONNECTION_PREFIX = "textback/"
# Keys scanned per round trip at start, looking for the locks left behind.
SCAN_COUNT = 1000

# Delete the locks whose value says an earlier incarnation of this instance holds them.
# ARGV: 1 the instance's prefix ("web-1/"), 2 this incarnation's name ("web-1/3fa9c2d1").
_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] and v ~= ARGV[2]
     and string.sub(v, 1, #ARGV[2] + 1) ~= ARGV[2] .. '/' then
    n = n + redis.call('DEL', key)
  end
end
return n
"""

# Missed-call jobs due up to ARGV[1] that an earlier incarnation of this instance decided: due
# at ARGV[6] (now) instead, and the timers told. ARGV: 2 the jobs' id prefix, 3 the job hash
# prefix, 4 the instance's prefix, 5 this incarnation's name.
_DUE_NOW = """
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  if string.sub(id, 1, #ARGV[2]) == ARGV[2] then
    local by = redis.call('HGET', ARGV[3] .. id, 'by')
    if by and string.sub(by, 1, #ARGV[4]) == ARGV[4] and by ~= ARGV[5] then
      redis.call('ZADD', KEYS[1], 'XX', ARGV[6], id)
      n = n + 1
    end
  end
end
if n > 0 then redis.call('PUBLISH', KEYS[2], ARGV[6]) end
return n
"""


@dataclass(frozen=True)
class Incarnation:
    """This process: its instance's name and the random part of this start."""

    instance: str
    start: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def name(self) -> str:
        """What its locks and stream consumer are known by."""
        return f"{self.instance}/{self.start}"

    @property
    def connection_name(self) -> str:
        """What its shared Redis connections are named (CLIENT SETNAME)."""
        return CONNECTION_PREFIX + self.name


@dataclass
class TakenBack:
    """What a start took back from its previous incarnation."""

    entries: list[Entry] = field(default_factory=list)
    locks: int = 0
    missed_calls: int = 0


async def take_back(redis: Redis, me: Incarnation, engine: Engine, clock: Clock,
                    naming: Naming | None) -> TakenBack | None:
    """Release what an earlier incarnation of this instance left, unless it may still be alive
    (None); the entries returned are this engine's to run (`Engine.resume`)."""
    doubt = await _alive_or_unknown(redis, me, naming)
    if doubt:
        log.warning("instance %s: %s; locks and work left by an earlier start wait out their leases",
                    me.instance, doubt)
        return None
    taken = TakenBack(entries=await _pending_entries(redis, me, engine))
    taken.locks = await _release_locks(redis, me)
    taken.missed_calls = await _missed_calls_due_now(redis, me, clock)
    if taken.entries or taken.locks or taken.missed_calls:
        log.info("instance %s restarted as %s: %d job(s) taken back, %d lock(s) released, %d missed call(s) "
                 "due now", me.instance, me.start, len(taken.entries), taken.locks, taken.missed_calls)
    return taken


async def _alive_or_unknown(redis: Redis, me: Incarnation, naming: Naming | None) -> str:
    """Why an earlier incarnation may still be alive ("" when Redis shows it is gone)."""
    await redis.ping()  # a connection of ours open, and so named, before Redis is asked
    if naming is None or not naming.supported:
        return "Redis does not name connections (CLIENT SETNAME), so an earlier start cannot be told gone"
    try:
        clients = cast(list[dict[str, Any]], await redis.client_list())
    except ResponseError:
        return "Redis does not list connections (CLIENT LIST), so an earlier start cannot be told gone"
    same = CONNECTION_PREFIX + me.instance + "/"
    twins = {_text(c.get("name")) for c in clients} - {me.connection_name}
    alive = sorted(n.removeprefix(same) for n in twins if n.startswith(same))
    if alive:
        return (f"another process runs under this instance name (incarnation {', '.join(alive)}): give each "
                "process its own TEXTBACK_INSTANCE")
    return ""


async def _pending_entries(redis: Redis, me: Incarnation, engine: Engine) -> list[Entry]:
    """Claim the stream entries pending on earlier incarnations' consumers; drop those consumers."""
    try:
        consumers = await redis.xinfo_consumers(keys.JOBS, GROUP)
    except ResponseError:  # no stream or group yet: nothing was ever read
        return []
    same = me.instance + "/"
    entries: list[Entry] = []
    for consumer in consumers:
        name = _text(consumer.get("name"))
        if not name.startswith(same) or name == me.name:
            continue
        while True:
            pending = await redis.xpending_range(keys.JOBS, GROUP, min="-", max="+", count=100, consumername=name)
            if not pending:
                break
            ids: list[Any] = [p["message_id"] for p in pending]
            claimed = cast(Claimed, await redis.xclaim(keys.JOBS, GROUP, engine.consumer, 0, ids))
            for entry_id, fields in claimed:
                if fields:  # None: deleted meanwhile (XCLAIM then drops it from the pending list)
                    entries.append(Entry.read(_text(entry_id), fields))
        await redis.xgroup_delconsumer(keys.JOBS, GROUP, name)
    return entries


async def _release_locks(redis: Redis, me: Incarnation) -> int:
    release = redis.register_script(_RELEASE)
    released = 0
    for pattern in (keys.job_running("*"), keys.conversation_lock("*", "*")):
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=pattern, count=SCAN_COUNT):
            batch.append(key)
            if len(batch) >= SCAN_COUNT:
                released += int(await release(keys=batch, args=[me.instance + "/", me.name]))
                batch = []
        if batch:
            released += int(await release(keys=batch, args=[me.instance + "/", me.name]))
    return released


async def _missed_calls_due_now(redis: Redis, me: Incarnation, clock: Clock) -> int:
    now = clock.now().timestamp()
    # Such a job is due RECOVER_AFTER after its call: a later one is no text-back still waiting.
    window = now + 2 * RECOVER_AFTER.total_seconds()
    due_now = redis.register_script(_DUE_NOW)
    return int(await due_now(keys=[keys.DUE, keys.DUE_WAKE], args=[
        repr(window), keys.MISSED_CALL_JOB_PREFIX, keys.DUE_JOB_PREFIX, me.instance + "/", me.name, repr(now)]))


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value

