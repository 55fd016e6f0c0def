"""`/textback stats [7d|30d]`: the line's figures over a period, from its stored conversations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.handlers.digest import recovery_between
from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, context, section
from bot.store.daily import DAILY_TTL_S
from workflows.leads import period_start
from workflows.recovery import Recovery, money, work_value
from workflows.stats import LineStats, format_minutes, line_stats

EXAMPLE = f"{COMMAND} stats 30d"
# The daily figures are kept this long: `stats all` reads no further back.
KEPT_DAYS = DAILY_TTL_S // 86400


def earned(found: Recovery, average_job_value: float | None) -> str:
    """What it earned, as one line of the figures (shared with the App Home)."""
    callers = "caller" if found.missed == 1 else "callers"
    text = (f"• What it earned: *{found.missed}* missed {callers}, *{found.texted}* texted back, "
            f"*{found.replied}* replied, *{found.answered}* answered by the team, *{found.booked}* booked")
    value = work_value(found, average_job_value)
    return text if value is None else f"{text}: about *{money(value)}* of work"


def figures(stats: LineStats) -> str:
    """The figures as a short list, shared with the App Home."""
    return "\n".join([
        f"• Missed calls: *{stats.missed_calls}*",
        f"• Texted back automatically: *{stats.texted}*",
        f"• Caller texts: *{stats.texts_in}*",
        f"• Answered by the team: *{stats.replied}* of {stats.conversations} conversation(s)",
        f"• Still open: *{stats.open_threads}*",
        f"• Median time to the first team reply: *{format_minutes(stats.median_first_reply_s)}*",
    ])


async def stats(ctx: Ctx) -> Reply:
    """Anyone in the channel; default the last 7 days."""
    line = ctx.linked()
    period = ctx.args.strip().lower() or "7d"
    now = ctx.svc.clock.now()
    try:
        since = period_start(period, now) or datetime.min.replace(tzinfo=UTC)
    except ValueError as exc:
        raise UsageError(str(exc).replace("4w or all", "30d or all"), EXAMPLE) from None
    found = await ctx.svc.store.opened_since({line.number}, since)
    result = line_stats(found, line.number, since)
    # What it earned counts whole local days, from the day the period starts to today.
    today = now.astimezone(ZoneInfo(line.timezone)).date()
    first = today - timedelta(days=KEPT_DAYS - 1)
    if since > now - timedelta(days=KEPT_DAYS - 1):
        first = since.astimezone(ZoneInfo(line.timezone)).date()
    recovered, _, _ = await recovery_between(ctx.svc, line, first, today)
    what = "since the start" if period == "all" else f"in the last {period}"
    return Reply(
        text=f"textback stats for {line.label} {what}",
        blocks=[
            section(f"*{escape(line.label)}, {what}*\n{earned(recovered, line.average_job_value)}\n{figures(result)}"),
            context(f"What it earned counts callers from {first:%b} {first.day} to today; the rest, conversations "
                    f"opened {what}. Other periods: `{EXAMPLE}`, `{COMMAND} stats 24h`, `{COMMAND} stats all`."),
        ],
    )
