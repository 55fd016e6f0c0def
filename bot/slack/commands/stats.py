"""`/textback stats [7d|30d]`: the line's figures over a period, from its stored conversations."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, context, section
from workflows.leads import period_start
from workflows.stats import LineStats, format_minutes, line_stats

EXAMPLE = f"{COMMAND} stats 30d"


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
    what = "since the start" if period == "all" else f"in the last {period}"
    return Reply(
        text=f"textback stats for {line.label} {what}",
        blocks=[
            section(f"*{escape(line.label)}, {what}*\n{figures(result)}"),
            context(f"Counted from conversations opened {what}. Other periods: `{EXAMPLE}`, "
                    f"`{COMMAND} stats 24h`, `{COMMAND} stats all`."),
        ],
    )
