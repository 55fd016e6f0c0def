"""What Redis keeps for each conversation: the ports a story is handed for its caller.

The record, its thread index, cooldown and idempotency claims (`ConversationStore`); the
lock that serialises everything done to it (`ConversationLocks`); what the team and the
carriers told us about the caller's number (`CallerFlags`); and the step log of each job
run for it, so a re-run repeats no effect (`StepLog`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from bot.store import keys
from bot.store.consent import RedisConsentLog
from workflows.conversation import Caller, Conversation
from workflows.ports import ConsentEvent

log = logging.getLogger(__name__)

# `open_or_get` on a server without SET's NX and GET together (Redis 6.2): the pointer and the
# record in one script. ARGV[4]: seconds they are kept ('' for ever: the lines file's retention).
_OPEN_OR_GET = """
local id = redis.call('GET', KEYS[1])
if id then
  local record = redis.call('GET', ARGV[3] .. id)
  if record then return {0, record} end
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
end
return {1, ARGV[2]}
"""

# An index key (open pointer or thread) -> the conversation id -> its record, in one trip.
_BY_INDEX = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
"""

# Conversations whose thread index this process knows to be written (`save`).
INDEXED_KEPT = 4096

_MAX_SET = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
end
return 0
"""

# The conversation's pointer and thread index are written once, the record on every change:
# each save refreshes the record's time to live, and the index's once half of it has passed.
KEPT_DAY = "kept_day"


def _today() -> int:
    """Days since 1970 (UTC), for when an index's time to live was last refreshed."""
    return int(time.time() // 86400)


async def outbound_fields(r: Redis, key: str) -> tuple[str, str] | None:
    """An outbound SMS's mapping: (conversation id, team message id). Older versions wrote a
    hash (`conv`, `message`), read until it expires."""
    try:
        raw = cast(bytes | None, await r.get(key))
    except ResponseError as exc:
        if "WRONGTYPE" not in str(exc):
            raise
        # Replies are bytes: the client is built without decode_responses.
        data = cast(dict[bytes, bytes], await r.hgetall(key))
        return (data[b"conv"].decode(), data.get(b"message", b"").decode()) if b"conv" in data else None
    if raw is None:
        return None
    conv_id, message_id = json.loads(raw)
    return str(conv_id), str(message_id)


class RedisConversationStore:
    """Conversations, thread index, cooldowns and idempotency claims in Redis."""

    def __init__(self, redis: Redis, *, newer: NewerCommands | None = None, keep_days: int | None = None) -> None:
        self._r = redis
        self._newer = newer or NewerCommands(redis)
        # The lines file's retention: a conversation's keys expire this long after its last
        # change (None: kept for ever).
        self._keep_days = keep_days
        self._ttl = keep_days * 86400 if keep_days else None
        # Conversation id -> the thread its record names, as written or read here (newest last).
        self._indexed: dict[str, tuple[str, str]] = {}
        self._open = redis.register_script(_OPEN_OR_GET)
        self._by_index = redis.register_script(_BY_INDEX)

    async def open_or_get(self, conv: Conversation) -> tuple[Conversation, bool]:
        """Return the open conversation, or store `conv` as a new one; True when new.

        Callers hold the conversation's lock. The pointer is taken, or the one there read, in
        one command (SET NX GET), then the record is written: a crash in between leaves a
        pointer without a record, which readers take for no open conversation (`_BY_INDEX`)
        and the next open replaces, as it replaces one whose record is gone for any reason (it
        must not open a second thread).
        """
        conv.id = conv.id or secrets.token_hex(8)
        pointer = keys.open_conversation(conv.line, conv.caller.number)
        if self._ttl:
            conv.extra[KEPT_DAY] = str(_today())
        held = await self._take_pointer(pointer, conv.id)
        if held is False:  # the server lacks SET NX GET: the pointer and record in one script
            is_new, raw = await self._open(
                keys=[pointer, keys.conversation(conv.id)],
                args=[conv.id, dumps(conv), keys.conversation(""), self._ttl or ""],
            )
            return (conv, True) if int(is_new) else (self._remember_index(loads(raw)), False)
        record = keys.conversation(conv.id)
        if held is None:
            await self._r.set(record, dumps(conv), ex=self._ttl)
            return conv, True
        raw = await self._r.get(keys.conversation(held.decode()))
        if raw is not None:
            return self._remember_index(loads(raw)), False
        async with self._r.pipeline(transaction=False) as pipe:  # a pointer without its record
            pipe.set(record, dumps(conv), ex=self._ttl)
            pipe.set(pointer, conv.id, ex=self._ttl)
            await pipe.execute()
        return conv, True

    async def _take_pointer(self, pointer: str, conv_id: str) -> bytes | None | Literal[False]:
        """The id the open pointer held (None: it was free, and now holds `conv_id`); False on a
        server without SET's NX and GET together (before Redis 7.0), told once."""
        if self._newer.set_nx_get is False:
            return False
        try:
            held = cast(bytes | None, await self._r.set(pointer, conv_id, nx=True, get=True, ex=self._ttl))
        except ResponseError as exc:
            if "syntax error" not in str(exc).lower():
                raise
            self._newer.set_nx_get = False
            return False
        self._newer.set_nx_get = True
        return held

    async def _by_pointer(self, pointer: str) -> Conversation | None:
        raw = await self._by_index(keys=[pointer], args=[keys.conversation("")])
        return self._remember_index(loads(raw)) if raw is not None else None

    async def open_for(self, line: str, caller: str) -> Conversation | None:
        """The caller's open conversation on a line, if any."""
        return await self._by_pointer(keys.open_conversation(line, caller))

    async def opened_since(self, lines: set[str], since: datetime) -> list[Conversation]:
        """Conversations on `lines` opened at or after `since`, newest first.

        Read by scanning the records: figures for a few lines over weeks, not a hot path.
        """
        names = [key async for key in self._r.scan_iter(match=keys.conversation("*"), count=500)]
        found: list[Conversation] = []
        for start in range(0, len(names), 200):
            for raw in await self._r.mget(names[start : start + 200]):
                conv = loads(raw) if raw is not None else None
                if conv is not None and conv.line in lines and conv.opened_at >= since:
                    found.append(conv)
        return sorted(found, key=lambda c: c.opened_at, reverse=True)

    async def get(self, conv_id: str) -> Conversation | None:
        """Load a conversation by id."""
        raw = await self._r.get(keys.conversation(conv_id))
        return self._remember_index(loads(raw)) if raw is not None else None

    async def save(self, conv: Conversation) -> None:
        """Write the record and keep the thread index in step; with a retention, each write
        keeps the record that long again, and the index and pointer once half of it passed."""
        record = keys.conversation(conv.id)
        ttl = self._ttl
        stale = self._index_stale(conv)
        if stale:
            conv.extra[KEPT_DAY] = str(_today())
        if conv.status == "resolved":
            # Together or not at all: a resolved record whose open pointer stayed would make
            # the caller's next call continue a closed conversation. (Once per conversation.)
            async with self._r.pipeline(transaction=True) as pipe:
                if conv.thread_id:
                    pipe.set(keys.thread(conv.channel, conv.thread_id), conv.id, ex=ttl)
                pipe.set(record, dumps(conv), ex=ttl)
                pipe.delete(keys.open_conversation(conv.line, conv.caller.number))
                pipe.delete(keys.cooldown(conv.line, conv.caller.number))
                await pipe.execute()
            return
        indexed = self._indexed.get(conv.id) == (conv.channel, conv.thread_id)
        if not stale and (not conv.thread_id or indexed):
            await self._r.set(record, dumps(conv), ex=ttl)
            return
        # No MULTI needed: the index is written first, and an index whose record does not
        # name the thread yet is harmless (the record is read through it; a re-run of the
        # job that opened the thread finds its post and saves again). The other way round,
        # a record naming a thread nobody can find it by, cannot happen.
        async with self._r.pipeline(transaction=False) as pipe:
            if conv.thread_id:
                pipe.set(keys.thread(conv.channel, conv.thread_id), conv.id, ex=ttl)
            if stale:  # the open pointer too, or a long conversation's next call would open anew
                pipe.set(keys.open_conversation(conv.line, conv.caller.number), conv.id, ex=ttl, xx=True)
            pipe.set(record, dumps(conv), ex=ttl)
            await pipe.execute()
        self._remember_index(conv)

    def _index_stale(self, conv: Conversation) -> bool:
        """With a retention, whether the pointer and index were last kept over half of it ago."""
        if not self._keep_days:
            return False
        kept = conv.extra.get(KEPT_DAY, "")
        return not kept.isdigit() or _today() - int(kept) >= self._keep_days / 2

    def _remember_index(self, conv: Conversation) -> Conversation:
        """The record names its thread, so the index was written (before it): later saves of
        the same thread need not write it again. Bounded: what is forgotten is written again."""
        if conv.thread_id:
            self._indexed.pop(conv.id, None)
            self._indexed[conv.id] = (conv.channel, conv.thread_id)
            while len(self._indexed) > INDEXED_KEPT:
                del self._indexed[next(iter(self._indexed))]
        return conv

    async def by_thread(self, channel: str, thread_id: str) -> Conversation | None:
        """Find the conversation a Slack thread belongs to."""
        return await self._by_pointer(keys.thread(channel, thread_id))

    async def record_outbound(self, sid: str, conv: Conversation, message_id: str | None) -> None:
        """Map an outbound SMS to its conversation and the team message that caused it: one
        SET with its time to live, on any server (a hash needed HSETEX, or MULTI, HSET, EXPIRE
        and EXEC where the server lacks it)."""
        value = json.dumps([conv.id, message_id or ""], separators=(",", ":"))
        await self._r.set(keys.outbound(sid), value, ex=keys.OUTBOUND_TTL_S)

    async def outbound(self, sid: str) -> tuple[Conversation, str] | None:
        """The conversation and team message id of an outbound SMS, if known."""
        found = await outbound_fields(self._r, keys.outbound(sid))
        if found is None:
            return None
        conv = await self.get(found[0])
        return (conv, found[1]) if conv is not None else None

    async def keep_early_report(self, sid: str, status: str, error_code: int | None) -> None:
        """Keep a failed delivery report of an SMS not recorded yet (its job waits for Slack)."""
        value = json.dumps([status, error_code])
        await self._r.set(keys.early_report(sid), value, ex=keys.EARLY_REPORT_TTL_S)

    async def early_report(self, sid: str) -> tuple[str, int | None] | None:
        """The status and error code kept by `keep_early_report`, if any."""
        raw = await self._r.get(keys.early_report(sid))
        if raw is None:
            return None
        status, code = json.loads(raw)
        return str(status), int(code) if code is not None else None

    async def last_turn(self, line: str, caller: str) -> int:
        """The number of the caller's last text already handled (0 before the first)."""
        value = await self._r.get(keys.text_turn(line, caller))
        return int(value) if value is not None else 0

    async def wait_turn(self, line: str, caller: str, seq: int, timeout: float) -> bool:
        """Poll (briefly, backing off) until text `seq` is handled; False after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + timeout, 0.01
        while await self.last_turn(line, caller) < seq:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        return True

    async def finish_turn(self, line: str, caller: str, seq: int) -> None:
        """Record text number `seq` as handled (never moving backwards)."""
        await self._r.eval(_MAX_SET, 1, keys.text_turn(line, caller), seq, self._ttl or "")


# --- The conversation's lock -----------------------------------------------------------------

# A holder that dies keeps the lock at most this long; work under it is a few API calls.
LOCK_TIMEOUT_S = 30.0
# How often a waiter tries again for a lock another instance holds.
LOCK_POLL_S = 0.02

# Only the holder's token may end or extend the lock (when no DELIFEQ ends it in one command).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"


class ConversationLocks:
    """`hold(line, caller)` serialises everything done to one conversation.

    asyncio.Lock hands over in arrival order, which keeps a burst of caller texts in
    order on one instance; the Redis lock (SET NX PX with a token, ended only by its holder)
    keeps two instances from opening two threads. Its token starts with `owner` (this process's
    instance and incarnation), so a restart of the same instance knows the locks it left.
    """

    def __init__(self, redis: Redis, *, newer: NewerCommands | None = None, owner: str = "") -> None:
        self._r = redis
        self._newer = newer or NewerCommands(redis)
        self._owner = owner
        self._release_script = redis.register_script(_RELEASE)
        self._renew_script = redis.register_script(_RENEW)
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, line: str, caller: str) -> AsyncIterator[None]:
        name = keys.conversation_lock(line, caller)
        local = self._enter(name)
        try:
            # Bounded like the Redis lock: a hung holder must not stall this caller forever.
            async with asyncio.timeout(LOCK_TIMEOUT_S):
                await local.acquire()
            try:
                token = self.new_token()
                await self._acquire(name, token)
                held = asyncio.Event()
                renewal = asyncio.create_task(self._keep(name, token, held))
                try:
                    yield
                finally:
                    held.set()
                    renewal.cancel()
                    if not await self._release(name, token):
                        raise LockNotOwnedError("the conversation's lock expired before its holder was done")
            finally:
                local.release()
        finally:
            self._leave(name)

    def new_token(self) -> str:
        """A lock value of this process's: its owner name, then a random part."""
        return f"{self._owner}/{secrets.token_hex(16)}" if self._owner else secrets.token_hex(16)

    async def _acquire(self, name: str, token: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_TIMEOUT_S
        while not await self._r.set(name, token, nx=True, px=int(LOCK_TIMEOUT_S * 1000)):
            if loop.time() >= deadline:
                raise LockError("the conversation's lock was not free within its timeout")
            await asyncio.sleep(LOCK_POLL_S)

    async def _release(self, name: str, token: str) -> bool:
        if self._newer.delifeq is not False:
            deleted = await self._newer.run("delifeq", "DELIFEQ", name, token)
            if deleted is not None:
                return bool(deleted)
        return bool(await self._release_script(keys=[name], args=[token]))

    async def _keep(self, name: str, token: str, released: asyncio.Event) -> None:
        """Renew the Redis lock while its holder works, so a slow holder keeps it to the end."""
        while not released.is_set():
            await asyncio.sleep(LOCK_TIMEOUT_S / 3)
            if released.is_set():
                return
            try:
                if not await self._renew_script(keys=[name], args=[token, int(LOCK_TIMEOUT_S * 1000)]):
                    return  # lost: the holder finishes, and its effects are idempotent per step
            except (RedisError, OSError) as exc:
                # Not the lock's name: it holds the caller's number.
                log.warning("a conversation's lock was not renewed: redis unavailable (%r)", exc)
                return

    def _enter(self, name: str) -> asyncio.Lock:
        lock, users = self._local.get(name, (asyncio.Lock(), 0))
        self._local[name] = (lock, users + 1)
        return lock

    def _leave(self, name: str) -> None:
        lock, users = self._local[name]
        if users <= 1:
            del self._local[name]
        else:
            self._local[name] = (lock, users - 1)


class NewerCommands:
    """Commands newer servers have (Valkey 9: DELIFEQ; Redis 7.0: SET with NX and GET
    together) that save a script or a MULTI: used until the server says it does not know one,
    then never again on this connection."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self.delifeq: bool | None = None  # None until known
        self.set_nx_get: bool | None = None  # told by `RedisConversationStore.open_or_get`

    async def run(self, name: str, *command: EncodableT) -> Any:
        """The command's reply, or None (and it is not tried again) when the server lacks it."""
        try:
            reply = await self._r.execute_command(*command)
        except ResponseError as exc:
            if "unknown command" not in str(exc).lower():
                raise
            setattr(self, name, False)
            return None
        setattr(self, name, True)
        return reply


# --- The caller's number: opted out, blocked, landline ---------------------------------------

# Why no text may go, in the order they are checked.
OPTED_OUT = "the caller opted out (replied STOP)"
OPTED_OUT_ELSEWHERE = "the caller opted out on another of this business's lines (replied STOP)"
OPT_OUT_UNDECIDED = "the caller's last text may be an opt-out: waiting for someone to decide on the thread's card"
BLOCKED = "the number is blocked"
LANDLINE = "the number is a landline (cannot receive texts)"


class RedisCallerFlags:
    """What the team and the carriers have told us about a number.

    A STOP is always recorded against the line it was sent to. With `opt_out_scope="account"`
    a STOP on any of `lines` counts for all of them, and a START on any clears them all; so
    switching the scope either way needs no migration.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        opt_out_scope: str = "line",
        lines: tuple[str, ...] | Callable[[], Iterable[str]] = (),
        keep_days: int | None = None,
    ) -> None:
        self._r = redis
        self._account_wide = opt_out_scope == "account"
        self._keep_s = keep_days * 86400 if keep_days else None  # the lines file's retention
        # The business's line numbers, or a function giving the current ones (lines linked
        # from Slack come and go while the app runs).
        self._lines = lines

    def other_lines(self, line: str) -> list[str]:
        """The lines whose opt-outs also count on `line` (account-wide scope)."""
        if not self._account_wide:
            return []
        numbers = self._lines() if callable(self._lines) else self._lines
        return [ln for ln in numbers if ln != line]

    async def suppression(self, line: str, caller: str, *, automatic: bool = True) -> str:
        """Why no text may go to `caller` from `line` ("" when texts are allowed). An opt-out
        nobody has decided on holds automatic texts only: a person's reply is their call."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.sismember(keys.opted_out(line), caller)
            pipe.sismember(keys.blocked(line), caller)
            pipe.sismember(keys.LANDLINES, caller)
            pipe.zscore(keys.opt_out_pending(line), caller)
            for other in self.other_lines(line):
                pipe.sismember(keys.opted_out(other), caller)
            opted_out, blocked, landline, pending, *elsewhere = await pipe.execute()
        if opted_out:
            return OPTED_OUT
        if any(elsewhere):
            return OPTED_OUT_ELSEWHERE
        if automatic and pending is not None:
            return OPT_OUT_UNDECIDED
        if blocked:
            return BLOCKED
        if landline:
            return LANDLINE
        return ""

    async def is_opted_out(self, line: str, caller: str) -> bool:
        """Whether `caller` opted out of `line` (or, account-wide, of any line)."""
        async with self._r.pipeline(transaction=False) as pipe:
            for each in (line, *self.other_lines(line)):
                pipe.sismember(keys.opted_out(each), caller)
            return any(await pipe.execute())

    async def set_opted_out(self, line: str, caller: str, opted_out: bool) -> None:
        """Record an opt-out (True) or an opt-in (False); either settles an undecided one."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zrem(keys.opt_out_pending(line), caller)
            if opted_out:
                pipe.sadd(keys.opted_out(line), caller)
            else:
                for each in (line, *self.other_lines(line)):
                    pipe.srem(keys.opted_out(each), caller)
            await pipe.execute()

    async def hold_for_decision(self, line: str, caller: str, asked_at: datetime) -> None:
        """Hold automatic texts to `caller` until someone decides whether their text was an opt-out."""
        await self._r.zadd(keys.opt_out_pending(line), {caller: asked_at.timestamp()}, nx=True)

    async def take_decision(self, line: str, caller: str) -> datetime | None:
        """Release the hold: when the undecided text came in, or None when nothing was waiting
        (decided already). Read and removed together, so only one answer counts."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zscore(keys.opt_out_pending(line), caller)
            pipe.zrem(keys.opt_out_pending(line), caller)
            asked, removed = await pipe.execute()
        return datetime.fromtimestamp(float(asked), UTC) if removed and asked is not None else None

    async def claim_help_reply(self, line: str, caller: str, *, now: datetime, window_s: int, owner: str) -> bool:
        """True when `owner` may send the HELP reply: no other went to `caller` from `line` in the window.

        Read then written without a transaction: callers hold the conversation lock, which
        serialises every text of one caller on one line.
        """
        key = keys.help_replied(line, caller)
        raw = await self._r.get(key)
        if raw is not None:
            last = json.loads(raw)
            if last["owner"] == owner:  # a re-run of the job that sent it
                return True
            if now < datetime.fromisoformat(last["at"]) + timedelta(seconds=window_s):
                return False
        # The time compared is the app's clock; the TTL only collects the key afterwards.
        await self._r.set(key, json.dumps({"at": now.isoformat(), "owner": owner}), ex=window_s + 3600)
        return True

    async def set_blocked(self, line: str, caller: str, blocked: bool) -> None:
        if blocked:
            await self._r.sadd(keys.blocked(line), caller)
        else:
            await self._r.srem(keys.blocked(line), caller)

    async def is_blocked(self, line: str, caller: str) -> bool:
        return bool(await self._r.sismember(keys.blocked(line), caller))

    async def blocked_numbers(self, line: str) -> list[str]:
        """The numbers blocked on `line`, sorted."""
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in await self._r.smembers(keys.blocked(line)))

    async def mark_landline(self, caller: str) -> None:
        await self._r.sadd(keys.LANDLINES, caller)

    async def learned_opt_out(self, line: str, caller: str, error_code: int) -> None:
        await self.set_opted_out(line, caller, True)
        # The log's time is when it was learned (wall time): it answers an auditor, not a timer.
        await RedisConsentLog(self._r).record(ConsentEvent(
            at=datetime.now(UTC), line=line, caller=caller, event="opt_out", how=f"carrier error {error_code}",
            by="carrier"))

    async def remember_language(self, line: str, caller: str, spanish: bool) -> None:
        if spanish:
            await self._r.set(keys.spanish(line, caller), "1", ex=self._keep_s)
        else:
            await self._r.delete(keys.spanish(line, caller))


# --- A job's step log ------------------------------------------------------------------------

# Long enough for any retry of the job; the log is garbage after that.
STEPS_TTL_S = 7 * 24 * 3600


class RedisSteps:
    """The step log of one job: which effects already happened, and their results.

    Read whole once (one round trip instead of one per step), with this runner's own writes
    laid over it: only the job's one runner (its run lock) writes the log. Each `put` still
    reaches Redis before it returns, ahead of the effect it guards, and carries the marks
    `later` kept back in the same HSET: a thread post's "done", written with the job's next
    step (its outcome, mostly). A run that ends before one loses it, which is harmless: the
    step still reads "posting:", and a re-run looks for the post before posting (post_once).
    `read`: the log as it stands in Redis, when the caller knows it (a job's first run, from
    its stream entry), so it is not read at all.
    """

    def __init__(self, redis: Redis, job_id: str, *, read: dict[str, str] | None = None) -> None:
        self._r = redis
        self._job_id = job_id
        self._key = keys.job_steps(job_id)
        self._read: dict[str, str] | None = read
        self._written: dict[str, str] = {}
        self._later: dict[FieldT, EncodableT] = {}  # marks for the next put
        self._expiring = bool(read)  # whoever wrote it gave it its time to live

    def key(self, name: str) -> str:
        return f"{self._job_id}:{name}"

    def part(self, name: str) -> RedisSteps:
        """The log of a part of the job (its urgent page, its question), kept in a hash of its own."""
        return RedisSteps(self._r, self.key(name))

    async def get(self, name: str) -> str | None:
        if name in self._written:
            return self._written[name]
        if self._read is None:
            # Bytes, not str: the client never decodes replies.
            raw = cast(dict[bytes, bytes], await self._r.hgetall(self._key))
            self._read = {k.decode(): v.decode() for k, v in raw.items()}
            self._expiring = self._expiring or bool(raw)  # whoever wrote it gave it its time to live
        return self._written.get(name, self._read.get(name))

    async def put(self, name: str, value: str) -> None:
        fields = {**self._later, name: value}
        if self._expiring:  # the key already has its time to live; HSET keeps it
            await self._r.hset(self._key, mapping=fields)
        else:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hset(self._key, mapping=fields)
                pipe.expire(self._key, STEPS_TTL_S)
                await pipe.execute()
            self._expiring = True
        self._later.clear()
        self._written[name] = value

    def later(self, name: str, value: str) -> None:
        self._written[name] = value
        self._later[name] = value


# --- Conversation <-> JSON, as stored in Redis -----------------------------------------------

_DATES = ("opened_at", "last_event_at")


def dumps(conv: Conversation) -> str:
    """Serialise a conversation for storage."""
    # A shallow copy: the record holds only scalars, the caller and a dict of strings, and
    # dataclasses.asdict's deep copy was a tenth of the CPU a missed call costs.
    data = dict(vars(conv))
    data["caller"] = dict(vars(conv.caller))
    for name in _DATES:
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else None
    return json.dumps(data, separators=(",", ":"))


def loads(raw: str | bytes) -> Conversation:
    """Rebuild a conversation from storage."""
    data: dict[str, Any] = json.loads(raw)
    data["caller"] = Caller(**data["caller"])
    for name in _DATES:
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return Conversation(**data)
