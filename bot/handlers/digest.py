"""The weekly digest: scheduled per line at its local day and time, posted once per week."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.services import Services
from bot.slack.blocks import escape
from bot.store.conversations import RedisSteps
from bot.store.daily import RedisDaily
from workflows.digest import digest_text, next_digest_at, summarize, week_of
from workflows.jobs import DigestJob
from workflows.leads import STATUSES
from workflows.lines import Line
from workflows.texting import once

log = logging.getLogger(__name__)



def job_id(line: str) -> str:
    return f"digest:{line}"


async def schedule_next(svc: Services, line: Line, after: datetime) -> None:
    if line.digest is None:
        await svc.jobs.deadlines.cancel(job_id(line.number))
        return
    due = next_digest_at(after, line.timezone, *line.digest)
    await svc.jobs.deadlines.schedule(job_id(line.number), due, DigestJob(line=line.number))


async def ensure_all(svc: Services) -> None:
    """At start: every line's next digest is pending (scheduling the same time again is harmless)."""
    now = svc.clock.now()
    for configured in svc.settings.config.lines:
        line = await svc.lines.line_for_number(configured.number) or configured
        try:
            await schedule_next(svc, line, now)
        except Exception:  # a digest must never keep the app from starting
            log.exception("could not schedule the weekly digest of a line")


async def week_message(svc: Services, line: Line, now: datetime) -> str:
    """The digest of the last full week before `now`, as plain text."""
    start, end = week_of(now, line.timezone)
    days = await RedisDaily(svc.redis.client).days(line.number, start, end)
    since = datetime.combine(start, time(0), tzinfo=ZoneInfo(line.timezone))
    leads = [lead for lead in await svc.leads.of_line(line.number, since) if lead.created_at >= since]
    week = summarize(days, leads=dict(Counter(lead.status for lead in leads)))
    return digest_text(week, line.label, STATUSES)


async def post_digest(svc: Services, fired_id: str, job: DigestJob) -> None:
    line = await svc.lines.line_for_number(job.line)
    if line is None:
        return
    now = svc.clock.now()
    start, _ = week_of(now, line.timezone)
    text = await week_message(svc, line, now)
    steps = RedisSteps(svc.redis.client, f"{fired_id}@{start.isoformat()}")
    title, *rest = text.split("\n")
    body = f":bar_chart: *{escape(title)}*\n" + "\n".join(f"• {escape(r)}" for r in rest)
    await once(steps, "post", lambda: svc.chat.call(
        "chat.postMessage", channel=line.channel, text=title,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}],
        unfurl_links=False, unfurl_media=False,
    ))
    await schedule_next(svc, line, now)



