"""Leads in Redis: the record, a per-line index, and the CRM outbox written in the same step."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis

from bot.store import keys
from bot.work.deadlines import ENSURE_LUA, Deadlines, ensure_args
from workflows.jobs import CrmDeliveryJob
from workflows.leads import Lead, LeadEvent, Said, StatusChange, apply_event, lead_fields, without_old_words

_DATES = (
    "created_at",
    "updated_at",
    "first_call_at",
    "last_call_at",
    "first_reply_at",
    "last_event_at",
)

# Write an event's effect on a lead (the _apply script below), if the lead is still as read
# (ARGV[1], '' for none: a lead record is never empty) and the event was not claimed (KEYS[1]).
# ARGV[3] is the lead to write ('' when the event changed nothing), ARGV[6] the CRM outbox
# entry ('' for none); the rest are `ensure`'s for the lead's CRM sending job.
_APPLY = ENSURE_LUA + """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return -1 end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
  if ARGV[6] ~= '' then
    redis.call('RPUSH', KEYS[4], ARGV[6])
    ensure(KEYS[5], KEYS[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
  end
end
return 1
"""

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
    return Lead(**data)


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
        self._apply = redis.register_script(_APPLY)

    async def get(self, line: str, phone: str) -> Lead | None:
        raw = await self._r.get(keys.lead(line, phone))
        return loads(raw) if raw is not None else None

    async def apply(
        self, event: LeadEvent, *, deliver: PayloadFor | None = None
    ) -> tuple[Lead, list[str]] | None:
        """Apply `event` once (None when it was already applied); queue a delivery if it changed the lead.

        Optimistic: read the lead, compute, then one Lua step writes the event's claim, the
        lead, the index and the outbox entry, unless the lead changed since it was read (then
        it starts over) or the event was claimed already.
        """
        key, claim = keys.lead(event.line, event.phone), keys.lead_event(event.event_id)
        while True:
            raw = cast(bytes | None, await self._r.get(key))
            lead, changes = apply_event(loads(raw) if raw is not None else None, event)
            if self._keep is not None and changes:
                lead = without_old_words(lead, event.at - self._keep)
            entry = ""
            if changes and deliver is not None:
                entry = json.dumps({"line": lead.line, "payload": deliver(lead, changes, event)}, separators=(",", ":"))
            # The lead's sending job, unless one already waits (backing off) or runs: it
            # sends the whole outbox, in order.
            crm_job = keys.crm_job(lead.id)
            done = int(await self._apply(
                keys=[claim, key, keys.leads_of(lead.line), keys.crm_outbox(lead.id), keys.due_job(crm_job), keys.JOBS],
                args=[raw or b"", keys.CLAIM_TTL_S, dumps(lead) if changes else "", lead.phone, activity(lead), entry,
                      *ensure_args(crm_job, CrmDeliveryJob(lead=lead.id), event.at)],
            ))
            if done == 1:
                return lead, changes
            if done == 0:
                return None

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
        """Delete a caller's lead on a line with its pending deliveries; how many keys went."""
        found = await self.get(line, phone)
        if found is None:
            return 0
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.lead(line, phone), keys.crm_outbox(found.id))
            pipe.zrem(keys.leads_of(line), phone)
            # A sending job waiting for its retry goes too; one running finds the outbox empty.
            await self._jobs.cancel(keys.crm_job(found.id), client=pipe)
            deleted, *_ = await pipe.execute()
        return int(deleted)
