"""Leads in Redis: the record, a per-line index, and the CRM outbox written in the same step."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.store import keys
from bot.work.deadlines import ENSURE_LUA, Deadlines, ensure_args
from workflows.jobs import CrmDeliveryJob
from workflows.leads import (
    Lead,
    LeadEvent,
    Said,
    StatusChange,
    apply_event,
    lead_fields,
    lead_id,
    maybe_keyed,
    was_applied,
    without_old_words,
)

_DATES = (
    "created_at",
    "updated_at",
    "first_call_at",
    "last_call_at",
    "first_reply_at",
    "last_event_at",
    "keyed_until",
)

# A lead and its CRM delivery, written together if the lead is still as read (ARGV[1], ''
# for none: a lead record is never empty): the lead ARGV[2], its index entry (ARGV[3] scored
# ARGV[4]), the outbox entry ARGV[5]; the rest are `ensure`'s for the lead's CRM sending job.
_APPLY_DELIVERING = ENSURE_LUA + """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[5])
ensure(KEYS[4], KEYS[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return 1
"""

# SET ... IFEQ for servers without it (before Valkey 8.1: Redis 7).
_SET_IF_SAME = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# Events that make a lead active at their time, and so may start one: their first write
# tries to create the lead, and reads the one already there if it cannot.
_ACTIVATING = frozenset({"missed_call", "caller_sms", "team_reply"})

# Deliveries are built before the write, from the lead as it is written.
PayloadFor = Callable[[Lead, list[str], LeadEvent], dict[str, Any]]


def dumps(lead: Lead) -> str:
    data = lead_fields(lead)
    for name in _DATES:
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else None
    data["history"] = [{**h, "at": h["at"].isoformat()} for h in data["history"]]
    data["transcript"] = [{**t, "at": t["at"].isoformat()} for t in data["transcript"]]
    return json.dumps(data, separators=(",", ":"))


def loads(raw: str | bytes) -> Lead:
    data: dict[str, Any] = json.loads(raw)
    for name in _DATES:
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    data["history"] = [
        StatusChange(**{**h, "at": datetime.fromisoformat(h["at"])})
        for h in data["history"]
    ]
    # Leads written before the transcript existed have none.
    data["transcript"] = [Said(**{**t, "at": datetime.fromisoformat(t["at"])}) for t in data.get("transcript", [])]
    # A field a newer version added is left out: an instance still running this one reads its leads.
    return Lead(**{name: value for name, value in data.items() if name in _FIELDS})


_FIELDS = frozenset(f.name for f in fields(Lead))


def activity(lead: Lead) -> float:
    """The index score: when the caller last called or texted."""
    return (lead.last_event_at or lead.created_at).timestamp()


class RedisLeads:
    """Reads and updates leads; an update and its CRM delivery are written together or not at all."""

    def __init__(self, redis: Redis, jobs: Deadlines | None = None, *, keep_days: int | None = None) -> None:
        self._r = redis
        self._jobs = jobs or Deadlines(redis)  # where a lead's CRM sending job is kept
        # The lines file's retention: what was said leaves the lead's transcript after it.
        self._keep = timedelta(days=keep_days) if keep_days else None
        self._delivering = redis.register_script(_APPLY_DELIVERING)
        self._set_if_same = redis.register_script(_SET_IF_SAME)
        # Whether the server has SET ... IFEQ (Valkey 8.1): None until it answers one.
        self.ifeq: bool | None = None

    async def get(self, line: str, phone: str) -> Lead | None:
        raw = await self._r.get(keys.lead(line, phone))
        return loads(raw) if raw is not None else None

    async def apply(
        self, event: LeadEvent, *, deliver: PayloadFor | None = None
    ) -> tuple[Lead, list[str]] | None:
        """Apply `event` once (None when it was already applied); queue a delivery if it changed the lead.

        Optimistic: read the lead, compute, then write it if it is still as read (SET IFEQ, or
        SET NX for a new one), else start over. The lead names the events it took, so an event
        is applied once. Its index entry is written first, in the same round trip: whatever
        stops the process, a lead written is listed. Three commands (the read, the index entry,
        the write); two for a call or text from a new caller, whose first write creates the
        lead (SET NX GET: or reads the one there). A delivery to a CRM is written with the lead
        in one script.
        """
        key, index = keys.lead(event.line, event.phone), keys.leads_of(event.line)
        guessed: float | None = None  # the index score written before the lead was read
        if deliver is None and event.kind in _ACTIVATING:
            # Most missed calls are a new caller's: create the lead, or learn the one there.
            lead, changes = self._next(None, event)
            guessed = activity(lead)
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.zadd(index, {event.phone: guessed})
                pipe.set(key, dumps(lead), nx=True, get=True)
                _, raw = await pipe.execute()
            if raw is None:
                return lead, changes
        else:
            raw = await self._r.get(key)
        first = True  # the index holds the guess, or else the score of the lead as read
        while True:
            before = loads(raw) if raw is not None else None
            if before is not None and await self._took(before, event):
                if guessed is not None and guessed != activity(before):
                    await self._r.zadd(index, {event.phone: activity(before)})  # the guess undone
                return None
            lead, changes = self._next(before, event)
            if changes and deliver is not None:
                done = await self._write_delivering(raw, lead, changes, event, deliver)
            else:
                score = activity(lead)
                indexed = guessed if guessed is not None else activity(before) if before is not None else None
                done = await self._write(key, raw, lead, index, None if first and score == indexed else score)
            if done:
                return lead, changes
            # Changed meanwhile (or created): start over, and write the index entry again.
            raw, first = cast(bytes | None, await self._r.get(key)), False

    def _next(self, before: Lead | None, event: LeadEvent) -> tuple[Lead, list[str]]:
        lead, changes = apply_event(before, event)
        if self._keep is not None and changes:
            lead = without_old_words(lead, event.at - self._keep)
        return lead, changes

    async def _took(self, lead: Lead, event: LeadEvent) -> bool:
        """Whether the lead already took the event: it names it, or else (an older version may
        have applied it) that version's key for it is there."""
        if was_applied(lead, event.event_id):
            return True
        return maybe_keyed(lead, event) and bool(await self._r.exists(keys.lead_event(event.event_id)))

    async def _write(self, key: str, raw: bytes | None, lead: Lead, index: str, score: float | None) -> bool:
        """Write the lead if it is still `raw` (None: absent), its index entry first (`score`;
        None when the index has it already); False when it changed meanwhile."""
        value = dumps(lead)
        if raw is not None and self.ifeq is False:
            if score is not None:
                await self._r.zadd(index, {lead.phone: score})
            return bool(await self._set_if_same(keys=[key], args=[raw, value]))
        async with self._r.pipeline(transaction=False) as pipe:
            if score is not None:
                pipe.zadd(index, {lead.phone: score})
            if raw is None:
                pipe.set(key, value, nx=True)
            else:
                pipe.execute_command("SET", key, value, "IFEQ", raw)
            *indexed, written = await pipe.execute(raise_on_error=False)
        for failed in indexed:
            if isinstance(failed, Exception):
                raise failed
        if isinstance(written, ResponseError) and raw is not None and "syntax error" in str(written).lower():
            self.ifeq = False  # before Valkey 8.1 (Redis 7): a script from now on
            return await self._write(key, raw, lead, index, None)
        if isinstance(written, Exception):
            raise written
        if raw is not None:
            self.ifeq = True
        return bool(written)

    async def _write_delivering(
        self, raw: bytes | None, lead: Lead, changes: list[str], event: LeadEvent, deliver: PayloadFor
    ) -> bool:
        """The lead with its CRM outbox entry and the lead's sending job, unless one already
        waits (backing off) or runs: it sends the whole outbox, in order."""
        entry = json.dumps({"line": lead.line, "payload": deliver(lead, changes, event)}, separators=(",", ":"))
        crm_job = keys.crm_job(lead.id)
        return bool(await self._delivering(
            keys=[keys.lead(lead.line, lead.phone), keys.leads_of(lead.line), keys.crm_outbox(lead.id),
                  keys.due_job(crm_job), keys.JOBS],
            args=[raw or b"", dumps(lead), lead.phone, activity(lead), entry,
                  *ensure_args(crm_job, CrmDeliveryJob(lead=lead.id), event.at)],
        ))

    async def of_line(self, line: str, since: datetime | None = None) -> list[Lead]:
        """A line's leads active since `since` (all when None), most recently active first."""
        low: float | str = since.timestamp() if since is not None else "-inf"
        phones = cast(
            list[bytes],
            await self._r.zrevrangebyscore(keys.leads_of(line), "+inf", low),
        )
        if not phones:
            return []
        raws = await self._r.mget([keys.lead(line, p.decode()) for p in phones])
        return [loads(raw) for raw in raws if raw is not None]

    async def forget(self, line: str, phone: str) -> int:
        """Delete a caller's lead on a line with its pending deliveries; how many keys went.

        The index entry goes even without a lead: it is written ahead of the lead, so a process
        stopped between the two leaves one with the caller's number.
        """
        found = lead_id(line, phone)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.lead(line, phone), keys.crm_outbox(found))
            pipe.zrem(keys.leads_of(line), phone)
            # A sending job waiting for its retry goes too; one running finds the outbox empty.
            await self._jobs.cancel(keys.crm_job(found), client=pipe)
            deleted, *_ = await pipe.execute()
        return int(deleted)
