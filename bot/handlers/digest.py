"""The weekly digest: scheduled per line at its local day and time, posted once per week."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.metrics import RECOVERY_STEPS
from bot.services import Services
from bot.slack.blocks import escape
from bot.store.conversations import RedisSteps
from workflows.digest import DayFigures, Digest, next_digest_at, summarize, week_of, weekly_digest
from workflows.jobs import DigestJob
from workflows.leads import STATUSES, Lead
from workflows.lines import Line
from workflows.recovery import Recovery, earned_sentence, recovery
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


def local_midnight(line: Line, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(line.timezone))


async def recovery_between(
    svc: Services, line: Line, first: date, last: date
) -> tuple[Recovery, list[DayFigures], list[Lead]]:
    """What it earned on `line` from local day `first` to `last`, with the days and the leads it read.

    The days' figures name their callers; a caller missed in the period was active since its
    start, so the line's leads active since then hold every booked one.
    """
    days = await svc.daily.days(line.number, first, last)
    leads = await svc.leads.of_line(line.number, local_midnight(line, first))
    return recovery(days, booked_ids(leads)), days, leads


# A scrape waits no longer than this for the recovery figures; on a timeout the last ones stay.
GAUGES_TIMEOUT_S = 1.0


async def refresh_recovery_gauges(svc: Services) -> None:
    """Each line's recovery figure this week (its local Monday to today) into /metrics; never raises."""
    now = svc.clock.now()
    try:
        async with asyncio.timeout(GAUGES_TIMEOUT_S):
            for line in await svc.lines.lines():
                today = now.astimezone(ZoneInfo(line.timezone)).date()
                found, _, _ = await recovery_between(svc, line, today - timedelta(days=today.weekday()), today)
                for step in RECOVERY_STEPS:
                    svc.metrics.recovered_callers.labels(line=line.number, step=step).set(getattr(found, step))
    except Exception as exc:  # the counters are served all the same
        log.warning("/metrics: could not read the recovery figures: %r", exc)


def booked_ids(leads: list[Lead]) -> set[str]:
    return {lead.id for lead in leads if lead.status == "booked"}


async def week_digest(svc: Services, line: Line, now: datetime) -> Digest:
    """The digest of the last full week before `now`."""
    start, end = week_of(now, line.timezone)
    found, days, leads = await recovery_between(svc, line, start, end)
    since = local_midnight(line, start)
    new = Counter(str(lead.status) for lead in leads if lead.created_at >= since)
    week = summarize(days, leads=dict(new))
    answered = f"{found.answered} of {found.missed} missed caller{'' if found.missed == 1 else 's'}"
    return weekly_digest(week, line.label, earned_sentence(found, line.average_job_value), answered, STATUSES)


def digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    """The title and what it earned, the week's bars in a code block (for even columns), then the details."""
    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}

    blocks = [section(f":bar_chart: *{escape(digest.title)}*\n*{escape(digest.headline)}*")]
    if digest.chart:
        blocks.append(section("Missed calls by day\n```" + "\n".join(escape(b) for b in digest.chart) + "```"))
    if digest.details:
        blocks.append(section("\n".join(f"• {escape(d)}" for d in digest.details)))
    return blocks


async def post_digest(svc: Services, fired_id: str, job: DigestJob) -> None:
    line = await svc.lines.line_for_number(job.line)
    if line is None:
        return
    now = svc.clock.now()
    start, _ = week_of(now, line.timezone)
    digest = await week_digest(svc, line, now)
    steps = RedisSteps(svc.redis.client, f"{fired_id}@{start.isoformat()}")
    await once(steps, "post", lambda: svc.chat.call(
        "chat.postMessage", channel=line.channel, text=f"{digest.title}: {digest.headline}",
        blocks=digest_blocks(digest), unfurl_links=False, unfurl_media=False,
    ))
    await schedule_next(svc, line, now)
