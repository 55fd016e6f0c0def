"""`/textback hours closed|open|holidays`: dated closures and special hours, on top of the weekly hours."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, change_line, section
from workflows.lines import Line, Shift, format_shift_hhmm, parse_shifts
from workflows.override_fields import EXCEPTIONS_FIELD, format_exceptions, parse_date

CLOSED_EXAMPLE = f"{COMMAND} hours closed 2026-12-25"
OPEN_EXAMPLE = f"{COMMAND} hours open 2026-12-24 08:00-12:00"
REMOVE_EXAMPLE = f"{COMMAND} hours closed remove 2026-12-25"
WORDS = frozenset({"closed", "close", "open", "holidays", "holiday", "exceptions", "special"})
LISTING = frozenset({"holidays", "holiday", "exceptions", "special"})


def _today(ctx: Ctx, line: Line) -> date:
    return ctx.svc.clock.now().astimezone(ZoneInfo(line.timezone)).date()


def upcoming(ctx: Ctx, line: Line) -> dict[date, tuple[Shift, ...]]:
    """The line's dated exceptions from today on (past ones no longer matter)."""
    today = _today(ctx, line)
    exceptions = line.hours.exceptions if line.hours else {}
    return {d: s for d, s in sorted(exceptions.items()) if d >= today}


def describe(exceptions: dict[date, tuple[Shift, ...]]) -> str:
    def shifts(day: tuple[Shift, ...]) -> str:
        return ", ".join(format_shift_hhmm(s) for s in day) if day else "closed"

    return "\n".join(f"• {d.strftime('%a %b %-d, %Y')} ({d.isoformat()}): {shifts(s)}" for d, s in exceptions.items())


async def dated(ctx: Ctx, head: str, rest: str) -> Reply:
    """`hours holidays` lists; `hours closed <date>`, `hours open <date> <hours>`, `hours closed remove <date>` change."""
    line = ctx.linked()
    if head in LISTING:
        return await _list(ctx, line)
    await ctx.require_admin()
    words = rest.split(None, 1)
    removing = bool(words) and words[0].lower() in ("remove", "delete", "rm", "clear")
    if removing:
        words = words[1].split(None, 1) if len(words) > 1 else []
    example = REMOVE_EXAMPLE if removing else CLOSED_EXAMPLE if head.startswith("close") else OPEN_EXAMPLE
    if not words:
        raise UsageError("say which date, as YYYY-MM-DD", example)
    try:
        day = parse_date(words[0])
    except ValueError as exc:
        raise UsageError(str(exc), example) from None
    exceptions = dict(line.hours.exceptions if line.hours else {})
    if removing:
        if day not in exceptions:
            return Reply(text=f"No change: {day.isoformat()} has no closure or special hours on this line.")
        exceptions.pop(day)
    else:
        if day < _today(ctx, line):
            raise UsageError(f"{day.isoformat()} is in the past", example)
        exceptions[day] = _shifts(head, words[1] if len(words) > 1 else "", example)
    change = await ctx.change(EXCEPTIONS_FIELD, format_exceptions(exceptions))
    if not change.changed:
        return Reply(text=f"No change: {day.isoformat()} already reads that way.")
    return Reply(
        text="Saved: holidays and special hours changed.",
        blocks=[section(f":white_check_mark: Saved for *{escape(line.label)}*:\n{change_line(change)}")],
        announce=[change_line(change)],
    )


def _shifts(head: str, text: str, example: str) -> tuple[Shift, ...]:
    if head.startswith("close"):
        if text.strip():
            raise UsageError(f'"{text.strip()}" after the date: a closed day has no hours', CLOSED_EXAMPLE)
        return ()
    if not text.strip():
        raise UsageError("say the hours of that day", example)
    try:
        shifts = parse_shifts(text)
    except ValueError as exc:
        raise UsageError(str(exc), example) from None
    if not shifts:
        raise UsageError(f"for a closed day use `{CLOSED_EXAMPLE}`", CLOSED_EXAMPLE)
    return shifts


async def _list(ctx: Ctx, line: Line) -> Reply:
    found = upcoming(ctx, line)
    source = await ctx.svc.lines.source_of(line, EXCEPTIONS_FIELD)
    if not found:
        return Reply(text=f"No holidays or special hours ahead on this line. Add one with `{CLOSED_EXAMPLE}` "
                          f"or `{OPEN_EXAMPLE}`.")
    body = (f"*Holidays and special hours* · _{source}_\n{describe(found)}\n"
            f"Change with `{CLOSED_EXAMPLE}`, `{OPEN_EXAMPLE}` or `{REMOVE_EXAMPLE}`.")
    return Reply(text=f"{len(found)} holiday(s) or special day(s)", blocks=[section(body)])
