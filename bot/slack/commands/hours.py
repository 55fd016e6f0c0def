"""`/textback hours`: show the opening hours, set them per weekday, set the timezone."""

from __future__ import annotations

from bot.lines.directory import Change
from bot.slack.blocks import escape
from bot.slack.commands import holidays
from bot.slack.commands.replies import (
    COMMAND,
    EXAMPLES,
    Ctx,
    Reply,
    UsageError,
    change_line,
    section,
)
from bot.slack.commands.status import hours_lines
from workflows.line_overrides import DAY_KEYS
from workflows.lines import parse_weekday

TIMEZONE_WORDS = frozenset({"tz", "timezone", "time_zone", "time-zone", "zone"})
DAY_GROUPS = {
    "weekdays": (0, 1, 2, 3, 4), "weekday": (0, 1, 2, 3, 4),
    "weekend": (5, 6), "weekends": (5, 6),
    "daily": tuple(range(7)), "everyday": tuple(range(7)), "all": tuple(range(7)), "every_day": tuple(range(7)),
}
DAYS_HELP = "use mon, tue, wed, thu, fri, sat or sun, a range like mon-fri, a list like sat,sun, or weekdays / weekend"


def parse_days(text: str) -> tuple[int, ...]:
    """Weekday numbers from "mon", "Monday:", "mon-fri", "fri-mon", "sat,sun", "weekdays"..."""
    word = text.strip().lower().rstrip(":")
    if word in DAY_GROUPS:
        return DAY_GROUPS[word]
    try:
        if "," in word:
            return tuple(sorted({parse_weekday(part) for part in word.split(",") if part}))
        if "-" in word:
            first, last = (parse_weekday(part) for part in word.split("-", 1))
            # A range may wrap past Sunday: "fri-mon" is Friday to Monday.
            return tuple((first + i) % 7 for i in range((last - first) % 7 + 1))
        return (parse_weekday(word),)
    except ValueError:
        raise UsageError(f'"{text}" is not a day: {DAYS_HELP}', EXAMPLES["hours"]) from None


def _day_names(days: tuple[int, ...]) -> str:
    return ", ".join(DAY_KEYS[d].capitalize() for d in days)


async def hours(ctx: Ctx) -> Reply:
    words = ctx.args.split(None, 1)
    if not words:
        return await _show(ctx)
    head, rest = words[0], (words[1].strip() if len(words) > 1 else "")
    if head.lower() in holidays.WORDS:
        return await holidays.dated(ctx, head.lower(), await ctx.plain(rest))
    await ctx.require_admin()
    if head.lower().rstrip(":") in TIMEZONE_WORDS:
        if not rest:
            raise UsageError("say which timezone", EXAMPLES["timezone"])
        return _changed(ctx, [await ctx.change("timezone", await ctx.plain(rest))], "timezone")
    days = parse_days(head)
    if not rest:
        raise UsageError(
            f"say the hours for {_day_names(days)}, or closed",
            f"{COMMAND} hours {head} 08:00-17:00` or `{COMMAND} hours {head} closed",
        )
    shifts = await ctx.plain(rest)
    changes = [await ctx.change(f"hours.{DAY_KEYS[d]}", shifts) for d in days]
    return _changed(ctx, changes, f"hours for {_day_names(days)}")


async def _show(ctx: Ctx) -> Reply:
    rows = await hours_lines(ctx, ctx.linked())
    tip = (f"Change with `{COMMAND} hours mon 08:00-17:00`, `{COMMAND} hours sat closed` or "
           f"`{COMMAND} hours tz America/Chicago`; holidays with `{holidays.CLOSED_EXAMPLE}` and "
           f"`{holidays.OPEN_EXAMPLE}`.")
    return Reply(text="Opening hours", blocks=[section("\n".join(rows)), section(tip)])


def _changed(ctx: Ctx, changes: list[Change], what: str) -> Reply:
    done = [c for c in changes if c.changed]
    if not done:
        now = ", ".join(sorted({c.new for c in changes}))
        return Reply(text=f"No change: the {what} stay {now}." if len(changes) > 1 else f"No change: the {what} stays {now}.")
    summary = "\n".join(change_line(c) for c in done)
    return Reply(
        text=f"Saved: {what} changed.",
        blocks=[section(f":white_check_mark: Saved for *{escape(ctx.linked().label)}*:\n{summary}")],
        announce=[change_line(c) for c in done],
    )
