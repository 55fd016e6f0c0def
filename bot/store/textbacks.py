"""A missed call's text-back decided, and its job recorded, in one Redis step (the
`TextbackRecord` port); the send's answer logged, and the job let go, in another."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from bot.store import keys
from bot.store.connection import ScriptBatch
from bot.store.conversations import (
    BLOCKED,
    LANDLINE,
    OPT_OUT_UNDECIDED,
    OPTED_OUT,
    OPTED_OUT_ELSEWHERE,
    STEPS_TTL_S,
    RedisCallerFlags,
)
from workflows.jobs import encode
from workflows.ports import TextbackAsk

# --- A missed call's text-back, decided in one step -----------------------------------------

# The checks of `RedisCallerFlags.suppression`, the cooldown claim and the first-text mark, the
# plan in the job's step log, and the job's record: one round trip before the SMS. With a job
# id (ARGV[9]) the plan's field is the call's claim (Twilio retries a webhook): only this step
# creates the step log, which lives as long as a claim did. A repeat finds the plan there,
# gives back whatever this run took (the cooldown or first-text mark, when the first run was
# stopped by a guard since lifted) and changes nothing. The job is recorded straight into the
# stream when no text is due, else in the due set until the webhook logs the send's answer
# (`_ANSWERED`), or RECOVER_AFTER when it never does. A plan to send with no answer logged
# means "sending" since the call: the job asks Twilio before it sends (workflows/missed_call.py).
# KEYS: 1 steps, 2 cooldown, 3 texted, 4 landlines, 5 blocked, 6 job hash, 7 due set, 8 stream,
#       9 opt-outs undecided on this line (a sorted set), 10 the caller writes Spanish (read only
#       when the line has Spanish texts), 11.. opted out on this line, then on the others that count.
# ARGV: 1 owner, 2 caller, 3 cooldown s, 4 reason, 5 first body, 6 later body, 7 cooldown
#       reason, 8 steps ttl, 9 job id, 10 kind, 11 args, 12 gen, 13 born ms, 14 recover at,
#       15..18 the flags' reasons, 19 who decided (this process's instance and incarnation: a
#       restart of the same instance makes the job due at once), 20 seconds the first-text mark
#       is kept ('' for ever: the lines file's retention), 21 the undecided opt-out's reason,
#       22 and 23 the first and later bodies in Spanish ('' when the line has none).
_DECIDE = """
local job = ARGV[9]
local taken = {}
local function mine(key, ttl)
  local set
  if ttl then set = redis.call('SET', key, ARGV[1], 'NX', 'EX', ttl)
  else set = redis.call('SET', key, ARGV[1], 'NX') end
  if set then taken[#taken + 1] = key; return true end
  return redis.call('GET', key) == ARGV[1]
end
local reason, body = ARGV[4], ''
if reason == '' then
  for i = 11, #KEYS do
    if redis.call('SISMEMBER', KEYS[i], ARGV[2]) == 1 then reason = ARGV[i == 11 and 15 or 16]; break end
  end
end
if reason == '' and redis.call('ZSCORE', KEYS[9], ARGV[2]) then reason = ARGV[21] end
if reason == '' and redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 1 then reason = ARGV[17] end
if reason == '' and redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then reason = ARGV[18] end
if reason == '' then
  if not mine(KEYS[2], ARGV[3]) then reason = ARGV[7]
  elseif mine(KEYS[3], ARGV[20] ~= '' and ARGV[20] or nil) then body = ARGV[5] else body = ARGV[6] end
  if ARGV[22] ~= '' and redis.call('EXISTS', KEYS[10]) == 1 then
    if body == ARGV[5] then body = ARGV[22] else body = ARGV[23] end
  end
end
local send = reason == ''
if job ~= '' then
  local plan = cjson.encode({send = send, body = body, reason = reason})
  if redis.call('HSETNX', KEYS[1], 'plan', plan) == 0 then
    if #taken > 0 then redis.call('DEL', unpack(taken)) end
    return false
  end
  if send then
    redis.call('HSET', KEYS[6], 'kind', ARGV[10], 'args', ARGV[11], 'gen', ARGV[12], 'attempts', '0',
               'born', ARGV[13], 'seq', '0', 'group', '', 'by', ARGV[19])
    redis.call('ZADD', KEYS[7], ARGV[14], job)
  else
    redis.call('XADD', KEYS[8], '*', 'kind', ARGV[10], 'args', ARGV[11], 'seq', '0', 'id', job, 'gen', '',
               'attempts', '0', 'born', ARGV[13])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[8])
end
return {send and 1 or 0, body, reason}
"""

# The webhook's send was answered: log it, and say whether the job is still in the due set
# under its id (its score), where `_DECIDE` put it: then the webhook's process runs it at once
# (`Engine.run_held`), its due time the lease. Nil: the timer took it already (the send outlasted
# RECOVER_AFTER), and it runs from the stream, once, as recorded.
# KEYS: 1 steps, 2 due set. ARGV: 1 step, 2 record, 3 job id.
_ANSWERED = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('ZSCORE', KEYS[2], ARGV[3])
"""


@dataclass(frozen=True)
class HeldJob:
    """A missed call's job as its webhook recorded it, still held in the due set."""

    kind: str
    args: str
    gen: str
    born_ms: int
    steps: dict[str, str]


class RedisTextbacks:
    """The `TextbackRecord` port: a missed call's text-back decided, and its job recorded, in
    one Lua step; the send's answer logged, and the job let go, in another."""

    def __init__(self, redis: Redis, flags: RedisCallerFlags, *, owner: str = "", keep_days: int | None = None) -> None:
        self._r = redis
        self._keep_s = keep_days * 86400 if keep_days else ""
        self._flags = flags
        self._owner = owner
        self._decide, self._answered = (redis.register_script(lua) for lua in (_DECIDE, _ANSWERED))
        self._batch = ScriptBatch(redis)
        # What the release needs to write the job's stream entry, kept from its decide: the
        # entry's fields, and the plan as `_DECIDE` logged it.
        self._pending: dict[str, tuple[list[str], str]] = {}
        self._held: dict[str, HeldJob] = {}

    async def _run(self, ask: TextbackAsk, job_id: str, job_args: list[str | int | float]) -> list[Any] | None:
        opted_out = [keys.opted_out(line) for line in (ask.line, *self._flags.other_lines(ask.line))]
        names = [keys.job_steps(job_id), keys.cooldown(ask.line, ask.caller), keys.texted(ask.line, ask.caller),
                 keys.LANDLINES, keys.blocked(ask.line), keys.due_job(job_id), keys.DUE, keys.JOBS,
                 keys.opt_out_pending(ask.line), keys.spanish(ask.line, ask.caller), *opted_out]
        args: list[str | int | float] = [
            ask.owner, ask.caller, ask.cooldown_s, ask.reason, ask.first_body, ask.later_body, ask.cooldown_reason,
            STEPS_TTL_S, *job_args, OPTED_OUT, OPTED_OUT_ELSEWHERE, BLOCKED, LANDLINE,
            self._owner, self._keep_s, OPT_OUT_UNDECIDED, ask.first_body_es, ask.later_body_es,
        ]
        return cast(list[Any] | None, await self._batch(self._decide, keys=names, args=args))

    @staticmethod
    def _decided(raw: list[Any]) -> tuple[bool, str, str]:
        send, body, reason = raw
        return bool(int(send)), _text(body), _text(reason)

    async def decide(self, ask: TextbackAsk, *, job_id: str, job: object, now: datetime,
                     recover_at: datetime) -> tuple[bool, str, str] | None:
        kind, wire = encode(job)
        entry = [kind, json.dumps(wire, separators=(",", ":")), secrets.token_hex(8), str(int(now.timestamp() * 1000))]
        raw = await self._run(ask, job_id, [job_id, *entry, recover_at.timestamp()])
        if raw is None:
            return None
        decided = self._decided(raw)
        send, body, reason = decided
        if send:
            # The plan's fields, as `_DECIDE` encodes them (its JSON reads the same).
            plan = json.dumps({"send": send, "body": body, "reason": reason}, separators=(",", ":"))
            self._pending[job_id] = (entry, plan)
        return decided

    async def answered(self, job_id: str, step: str, record: str) -> None:
        entry, plan = self._pending.pop(job_id)
        due = await self._batch(self._answered, keys=[keys.job_steps(job_id), keys.DUE], args=[step, record, job_id])
        if due is not None:
            kind, args, gen, born = entry
            # The step log as it now stands: the plan `_DECIDE` wrote and this record.
            self._held[job_id] = HeldJob(kind, args, gen, int(born), {"plan": plan, step: record})

    def take_held(self, job_id: str) -> HeldJob | None:
        """The job `answered` found still waiting in the due set, for this process to run now
        (None: the timer took it, or the answer was not logged)."""
        return self._held.pop(job_id, None)

    def forget(self, job_id: str) -> None:
        """Drop what `decide` kept for a send that ended without `answered` (it raised): the job
        then runs at its recovery time."""
        self._pending.pop(job_id, None)

    async def plan(self, ask: TextbackAsk) -> tuple[bool, str, str]:
        raw = await self._run(ask, "", ["", "", "", "", 0, 0])
        assert raw is not None  # without a job id there is no claim to lose
        return self._decided(raw)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
