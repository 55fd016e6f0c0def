"""What a finished job tells the lead record, the CRM webhook and the metrics.

Called by bot/job_handlers.py after a workflow ran. Nothing here may break the text-back
path: every failure is logged and swallowed (the job itself has already done its work).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.jobs import RedisSteps
from bot.metrics import suppression_label
from bot.services import Services
from bot.store.daily import RedisDaily
from workflows.conversation import Conversation
from workflows.leads import Lead, LeadEvent, webhook_payload
from workflows.mirror import InboundSms
from workflows.missed_call import MissedCall

log = logging.getLogger(__name__)


async def record_lead(svc: Services, event: LeadEvent) -> tuple[Lead, list[str]] | None:
    """Apply an event to its lead once, queueing a CRM delivery when the lead changed."""

    def deliver(lead: Lead, changes: list[str], ev: LeadEvent) -> dict[str, Any]:
        return webhook_payload(
            lead, changes, business=svc.settings.config.business, cause=ev.kind
        )

    sending = svc.crm.enabled_for(event.line)
    done = await svc.leads.apply(event, deliver=deliver if sending else None)
    if done is not None and done[1]:
        if done[0].version == 1:
            svc.metrics.leads_created.labels(line=event.line).inc()
        if sending:  # a delivery was queued
            svc.crm.kick()
    return done


async def record_lead_safely(svc: Services, job_id: str, event: LeadEvent) -> None:
    """`record_lead` for callers with a real number, never raising (the job's work is done)."""
    if not event.phone.startswith("+"):
        return

    async def work() -> None:
        await record_lead(svc, event)

    await _guarded("lead", job_id, work())


async def _local_day(svc: Services, line: str, at: datetime) -> date:
    """The line's local date of `at`: a week's figures follow the business's calendar."""
    found = await svc.lines.line_for_number(line)
    return at.astimezone(ZoneInfo(found.timezone if found else "UTC")).date()


async def _guarded(what: str, job_id: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:  # the job's own work is done; this must never undo or repeat it
        log.exception("job %s: recording the %s outcome failed", job_id, what)


async def _first_time(steps: RedisSteps) -> bool:
    """True the first time a job's outcome is counted (a re-run after a crash counts nothing).

    `steps` is the log the job's handler used: already read, so this costs one write."""
    if await steps.get("outcome") is not None:
        return False
    await steps.put("outcome", "1")
    return True


def _event(
    kind: Any, job_id: str, conv: Conversation, at: datetime, **extra: str
) -> LeadEvent:
    return LeadEvent(
        kind=kind,
        event_id=job_id,
        line=conv.line,
        phone=conv.caller.number,
        at=at,
        name=conv.caller.name,
        line_name=conv.line_label,
        conversation_id=conv.id,
        channel=conv.channel,
        thread_ts=conv.thread_id or "",
        **extra,
    )


async def missed_call(
    svc: Services, job_id: str, steps: RedisSteps, call: MissedCall, conv: Conversation
) -> None:
    async def work() -> None:
        if await _first_time(steps):
            line = call.line.number
            svc.metrics.missed_calls.labels(line=line).inc()
            raw = await steps.get("plan")
            plan = json.loads(raw) if raw else {}
            figures = ["missed"]
            if not plan.get("send"):
                reason = suppression_label(str(plan.get("reason", "")))
                svc.metrics.textbacks_suppressed.labels(line=line, reason=reason).inc()
                if not str(plan.get("reason", "")).startswith("already texted"):
                    figures.append("not_texted")
            elif conv.textback == "sent":
                svc.metrics.textbacks_sent.labels(line=line).inc()
                figures.append("texted")
            day = await _local_day(svc, line, call.at)
            await RedisDaily(svc.redis.client).count(line, day, *figures)
        if call.caller.kind == "ok":
            await record_lead(svc, _event("missed_call", job_id, conv, call.at))

    await _guarded("missed call", job_id, work())


async def caller_sms(
    svc: Services, job_id: str, steps: RedisSteps, msg: InboundSms, conv: Conversation
) -> None:
    async def work() -> None:
        if await _first_time(steps):
            svc.metrics.sms_inbound.labels(line=msg.line.number).inc()
            day = await _local_day(svc, msg.line.number, msg.at)
            await RedisDaily(svc.redis.client).count(msg.line.number, day, "texts_in")
        if msg.caller.kind == "ok":
            await record_lead(svc, _event("caller_sms", job_id, conv, msg.at))

    await _guarded("caller text", job_id, work())


async def team_reply(
    svc: Services, job_id: str, steps: RedisSteps, args: dict[str, Any], conv: Conversation
) -> None:
    """A reply texted to the caller (`conv`, as it was saved): the lead is contacted, and the
    first one is timed."""

    async def work() -> None:
        at = datetime.fromisoformat(str(args["at"]))
        if (
            await _first_time(steps)
            and conv.extra.get("first_reply_at") == at.isoformat()
        ):
            waited = max(0.0, (at - conv.opened_at).total_seconds())
            svc.metrics.first_reply.observe(waited)
            day = await _local_day(svc, conv.line, at)
            await RedisDaily(svc.redis.client).count(conv.line, day, "replied", reply_seconds=waited)
        await record_lead(
            svc, _event("team_reply", job_id, conv, at, by=str(args["user"]))
        )

    await _guarded("team reply", job_id, work())
