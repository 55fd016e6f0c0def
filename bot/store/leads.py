"""Leads in Redis: the record, a per-line index, and the CRM outbox written in the same step."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from bot.store import keys
from bot.work.deadlines import Deadlines
from workflows.jobs import CrmDeliveryJob
from workflows.leads import Lead, LeadEvent, StatusChange, apply_event, lead_fields

_DATES = (
    "created_at",
    "updated_at",
    "first_call_at",
    "last_call_at",
    "first_reply_at",
    "last_event_at",
)

# Deliveries are built inside the transaction, from the lead as it is written.
PayloadFor = Callable[[Lead, list[str], LeadEvent], dict[str, Any]]


def dumps(lead: Lead) -> str:
    data = lead_fields(lead)
    for name in _DATES:
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else None
    data["history"] = [{**h, "at": h["at"].isoformat()} for h in data["history"]]
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
    return Lead(**data)


def activity(lead: Lead) -> float:
    """The index score: when the caller last called or texted."""
    return (lead.last_event_at or lead.created_at).timestamp()


class RedisLeads:
    """Reads and updates leads; an update and its CRM delivery are written together or not at all."""

    def __init__(self, redis: Redis, jobs: Deadlines | None = None) -> None:
        self._r = redis
        self._jobs = jobs or Deadlines(redis)  # where a lead's CRM sending job is kept

    async def get(self, line: str, phone: str) -> Lead | None:
        raw = await self._r.get(keys.lead(line, phone))
        return loads(raw) if raw is not None else None

    async def apply(
        self, event: LeadEvent, *, deliver: PayloadFor | None = None
    ) -> tuple[Lead, list[str]] | None:
        """Apply `event` once (None when it was already applied); queue a delivery if it changed the lead.

        Optimistic: WATCH the lead, compute, then write the lead, the index, the event's claim
        and the outbox entry in one MULTI; a concurrent update makes it start over.
        """
        key, claim = keys.lead(event.line, event.phone), keys.lead_event(event.event_id)
        async with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, claim)
                    if await pipe.exists(claim):
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return None
                    raw = await pipe.get(key)
                    lead, changes = apply_event(
                        loads(raw) if raw is not None else None, event
                    )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(claim, "1", ex=keys.CLAIM_TTL_S)
                    if changes:
                        pipe.set(key, dumps(lead))
                        pipe.zadd(
                            keys.leads_of(lead.line), {lead.phone: activity(lead)}
                        )
                        if deliver is not None:
                            entry = {
                                "line": lead.line,
                                "payload": deliver(lead, changes, event),
                            }
                            pipe.rpush(
                                keys.crm_outbox(lead.id),
                                json.dumps(entry, separators=(",", ":")),
                            )
                            # The lead's sending job, unless one already waits (backing
                            # off) or runs: it sends the whole outbox, in order.
                            await self._jobs.ensure(
                                keys.crm_job(lead.id), CrmDeliveryJob(lead=lead.id), event.at, client=pipe
                            )
                    await pipe.execute()
                    return lead, changes
                except WatchError:
                    continue

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
