"""`/textback lead` and `/textback leads`: a caller's lead, its status, and the CSV export."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError

from bot import phones
from bot.handlers.outcomes import record_lead
from bot.services import Services
from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, section
from workflows.conversation import Entry
from workflows.leads import (
    STATUSES,
    Lead,
    LeadEvent,
    check_move,
    period_start,
    thread_link,
)
from workflows.leads_csv import csv_text, export_filename
from workflows.lines import Line

log = logging.getLogger(__name__)

SET_EXAMPLE = f"{COMMAND} lead (512) 555-0123 qualified"
EXPORT_EXAMPLE = f"{COMMAND} leads export 30d"
LISTED = 10


async def lead(ctx: Ctx) -> Reply:
    """`lead <number>` shows a lead; `lead <number> <status>` moves it (anyone in the channel)."""
    line = ctx.linked()
    words = (await ctx.plain(ctx.args)).split()
    status = (
        words[-1].lower() if len(words) > 1 and words[-1].lower() in STATUSES else ""
    )
    raw = " ".join(words[:-1] if status else words)
    if not raw:
        raise UsageError("say which caller's lead", SET_EXAMPLE)
    number = phones.normalize(raw)
    if number is None:
        raise UsageError(
            f'"{raw}" is not a phone number, or the status is not one of {", ".join(STATUSES)}',
            SET_EXAMPLE,
        )
    found = await ctx.svc.leads.get(line.number, number)
    if found is None:
        return Reply(
            text=f"No lead for {phones.display(number)} on this line: leads start with a missed call or a text."
        )
    if not status:
        return _shown(found)
    return await _move(ctx, line, found, status)


async def _move(ctx: Ctx, line: Line, found: Lead, status: str) -> Reply:
    problem = check_move(found.status, status)
    if problem:
        raise UsageError(problem, SET_EXAMPLE)
    event = LeadEvent(
        kind="status",
        event_id="cmd:" + secrets.token_hex(8),
        line=line.number,
        phone=found.phone,
        at=ctx.svc.clock.now(),
        status=status,
        by=ctx.user,
    )
    done = await record_lead(ctx.svc, event)
    if done is None or not done[1]:
        return Reply(text=f"No change: the lead stays {found.status}.")
    updated = done[0]
    note = f"<@{ctx.user}> marked this lead *{status}* (was {found.status})."
    ctx.svc.tasks.spawn(
        _note_in_thread(ctx.svc, updated, note), name="lead-status-note"
    )
    return Reply(text=f"Lead {phones.display(found.phone)}: {found.status} → {status}.")


async def _note_in_thread(svc: Services, found: Lead, text: str) -> None:
    """Say in the caller's thread who moved the lead, so the team sees it where they work."""
    conv = await svc.store.get(found.conversation_id) if found.conversation_id else None
    if conv is None or not conv.thread_id:
        return
    await svc.chat.post_entry(
        conv, Entry("system", text, at=svc.clock.now(), icon="bookmark")
    )


def _when(at: datetime | None) -> str:
    return (
        f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at.isoformat()}>"
        if at
        else "never"
    )


def _shown(found: Lead) -> Reply:
    history = "\n".join(
        f"• {c.old} → {c.new} by {_who(c.by)} {_when(c.at)}"
        for c in found.history[-10:]
    )
    link = thread_link(found.channel, found.thread_ts)
    body = (
        f"*Lead {phones.display(found.phone)}*{' · ' + escape(found.name) if found.name else ''}\n"
        f"*Status:* {found.status} · *calls:* {found.calls} · *texts:* {found.texts_in} · "
        f"*team replies:* {found.team_replies}\n"
        f"*First contact:* {_when(found.created_at)} · *last:* {_when(found.last_event_at)}"
        + (f"\n<{link}|Open the thread>" if link else "")
        + (f"\n*History*\n{history}" if history else "")
        + f"\nChange it with `{COMMAND} lead {phones.display(found.phone)} <status>` ({', '.join(STATUSES)})."
    )
    return Reply(
        text=f"Lead {phones.display(found.phone)}: {found.status}",
        blocks=[section(body)],
    )


def _who(by: str) -> str:
    return f"<@{by}>" if by.startswith(("U", "W")) else escape(by)


async def leads(ctx: Ctx) -> Reply:
    """`leads`: counts by status and the latest leads; `leads export [period]`: the CSV."""
    line = ctx.linked()
    words = ctx.args.split()
    if words and words[0].lower() == "export":
        return await _export(ctx, line, words[1] if len(words) > 1 else "all")
    if words:
        raise UsageError(f'"{escape(ctx.args)}" is not a leads command', EXPORT_EXAMPLE)
    found = await ctx.svc.leads.of_line(line.number)
    if not found:
        return Reply(
            text="No leads on this line yet: every missed call or text from a new caller starts one."
        )
    counts = " · ".join(
        f"{s}: {n}" for s in STATUSES if (n := sum(1 for ld in found if ld.status == s))
    )
    latest = "\n".join(
        f"• {phones.display(ld.phone)}{' (' + escape(ld.name) + ')' if ld.name else ''}: {ld.status}, "
        f"{ld.calls} call(s), {ld.texts_in} text(s), last {_when(ld.last_event_at)}"
        for ld in found[:LISTED]
    )
    body = (
        f"*Leads on {escape(line.label)} ({len(found)})*\n{counts}\n*Latest*\n{latest}\n"
        f"Export them all as CSV with `{COMMAND} leads export` (or `{EXPORT_EXAMPLE}`)."
    )
    return Reply(text=f"{len(found)} lead(s)", blocks=[section(body)])


async def _export(ctx: Ctx, line: Line, period: str) -> Reply:
    now = ctx.svc.clock.now()
    try:
        since = period_start(period, now)
    except ValueError as exc:
        raise UsageError(str(exc), EXPORT_EXAMPLE) from None
    found = await ctx.svc.leads.of_line(line.number, since)
    # The upload takes longer than Slack waits for the command's answer: it runs after.
    ctx.svc.tasks.spawn(
        _upload(ctx.svc, line, ctx.user, found, period, now), name="leads-export"
    )
    return Reply(
        text=f"Exporting {len(found)} lead(s) ({period}): the CSV will appear in this channel in a moment."
    )


async def _upload(
    svc: Services, line: Line, user: str, found: list[Lead], period: str, now: datetime
) -> None:
    try:
        await svc.slack.files_upload_v2(
            channel=line.channel,
            content=csv_text(found).encode(),
            filename=export_filename(line.number, now),
            title=f"textback leads, {line.label}, {period}",
            initial_comment=f"<@{user}> exported {len(found)} lead(s) ({period}).",
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("leads export upload failed: %r", exc)
        await svc.chat.tell_user(
            line.channel,
            user,
            "The leads export could not be uploaded to Slack; try again in a minute.",
        )
