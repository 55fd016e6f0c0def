"""The `Outcomes` port over the app's services: /metrics, the daily figures, leads, the CRM webhook.

What to count and which lead events to record is decided in workflows/ (workflows/outcomes.py
and beside each flow); this only writes it down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.metrics import suppression_label
from bot.services import Services
from workflows.leads import Lead, LeadEvent, webhook_payload
from workflows.ports import Figures


@dataclass(frozen=True)
class ServiceOutcomes:
    """Figures into /metrics and the line's day in Redis; lead events into the leads and the CRM outbox."""

    svc: Services

    async def count(self, figures: Figures) -> None:
        _to_metrics(self.svc, figures)
        day = await _local_day(self.svc, figures.line, figures.at)
        await self.svc.daily.count(
            figures.line, day, *figures.counted, reply_seconds=figures.reply_seconds, caller=figures.caller
        )

    async def record_lead(self, event: LeadEvent) -> None:
        await record_lead(self.svc, event)


def _to_metrics(svc: Services, figures: Figures) -> None:
    m, line, counted = svc.metrics, figures.line, figures.counted
    if "missed" in counted:
        m.missed_calls.labels(line=line).inc()
    if figures.no_text:
        m.textbacks_suppressed.labels(line=line, reason=suppression_label(figures.no_text)).inc()
    if "texted" in counted:
        m.textbacks_sent.labels(line=line).inc()
    if "texts_in" in counted:
        m.sms_inbound.labels(line=line).inc()
    if "replied" in counted and figures.reply_seconds is not None:
        m.first_reply.observe(figures.reply_seconds)


async def _local_day(svc: Services, line: str, at: datetime) -> date:
    """The line's local date of `at`: a week's figures follow the business's calendar."""
    found = await svc.lines.line_for_number(line)
    return at.astimezone(ZoneInfo(found.timezone if found else "UTC")).date()


async def record_lead(svc: Services, event: LeadEvent) -> tuple[Lead, list[str]] | None:
    """Apply an event to its lead once, queueing a CRM delivery (and its job) when the lead changed."""

    def deliver(lead: Lead, changes: list[str], ev: LeadEvent) -> dict[str, Any]:
        return webhook_payload(lead, changes, business=svc.settings.config.business, cause=ev.kind)

    sending = svc.crm.enabled_for(event.line)
    done = await svc.leads.apply(event, deliver=deliver if sending else None)
    if done is not None and done[1] and done[0].version == 1:
        svc.metrics.leads_created.labels(line=event.line).inc()
    return done
