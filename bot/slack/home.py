"""The App Home tab: each line's figures for today and this week, and its open threads."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import phones
from bot.handlers.digest import booked_ids, recovery_between
from bot.services import Services
from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Block, clip, context, header, section
from bot.slack.commands.stats import earned, figures
from workflows.conversation import Conversation
from workflows.lines import Line
from workflows.ports import RetryLater
from workflows.recovery import recovery
from workflows.stats import line_stats

log = logging.getLogger(__name__)

# A Home view holds at most 100 blocks; each line takes five.
MAX_LINES = 18
OPEN_LISTED = 5
# Open threads older than this are left off the Home tab (they still show in the channel).
OPEN_WINDOW = timedelta(days=30)


def register(bolt: AsyncApp, svc: Services) -> None:
    """Publish the Home tab whenever someone opens it."""

    async def on_home_opened(event: dict[str, Any]) -> None:
        user = str(event.get("user") or "")
        if user and event.get("tab", "home") == "home":
            # Built after Slack has its answer: the figures take a few reads and permalinks.
            svc.tasks.spawn(publish(svc, user), name="app-home")

    bolt.event("app_home_opened")(on_home_opened)


async def publish(svc: Services, user: str) -> None:
    view = {"type": "home", "blocks": await home_blocks(svc)}
    try:
        await svc.slack.views_publish(user_id=user, view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not publish the Home tab: %r", exc)


def _starts(line: Line, now: datetime) -> tuple[datetime, datetime]:
    """Local midnight today, and local midnight on this week's Monday."""
    local = now.astimezone(ZoneInfo(line.timezone))
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today - timedelta(days=local.weekday())


async def home_blocks(svc: Services) -> list[Block]:
    now = svc.clock.now()
    lines = list(await svc.lines.lines())[:MAX_LINES]
    found = await svc.store.opened_since({ln.number for ln in lines}, now - OPEN_WINDOW)
    blocks: list[Block] = [
        header("textback"),
        context(f"Missed calls, texts and replies per line · `{COMMAND} stats 30d` in a line's channel for more"),
    ]
    for line in lines:
        blocks += await _line_blocks(svc, line, found, now)
    if not lines:
        blocks.append(section("No lines yet: link a channel with `/textback setup <number>`."))
    return blocks


async def _line_blocks(svc: Services, line: Line, found: list[Conversation], now: datetime) -> list[Block]:
    today, week = _starts(line, now)
    this_week, days, leads = await recovery_between(svc, line, week.date(), today.date())
    today_only = recovery(days[-1:], booked_ids(leads))
    value = line.average_job_value
    fields = [
        {"type": "mrkdwn",
         "text": f"*Today*\n{earned(today_only, value)}\n{figures(line_stats(found, line.number, today))}"},
        {"type": "mrkdwn",
         "text": f"*This week*\n{earned(this_week, value)}\n{figures(line_stats(found, line.number, week))}"},
    ]
    open_convs = [c for c in found if c.line == line.number and c.status != "resolved" and c.thread_id]
    links = []
    for conv in open_convs[:OPEN_LISTED]:
        try:
            link = await svc.chat.permalink(conv)
        except RetryLater:
            link = None
        title = escape(conv.caller.display)
        links.append(f"• <{link}|{title}>" if link else f"• {title}")
    more = f"\n…and {len(open_convs) - OPEN_LISTED} more in <#{line.channel}>" if len(open_convs) > OPEN_LISTED else ""
    threads = "\n".join(links) + more if links else "None: every caller has been looked after."
    return [
        {"type": "divider"},
        section(f"*{escape(line.label)}* · {phones.display(line.number)} · <#{line.channel}>"),
        {"type": "section", "fields": fields},
        section(clip(f"*Open threads ({len(open_convs)})*\n{threads}")),
        context(f"Updated {now.astimezone(ZoneInfo(line.timezone)).strftime('%a %b %-d, %-I:%M %p')} "
                f"({line.timezone})"),
    ]
