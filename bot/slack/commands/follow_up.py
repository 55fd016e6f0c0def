"""`/textback cooldown`, `/textback reminders` and `/textback screen`: how a line follows up on
callers, and whether its staff phones screen calls."""

from __future__ import annotations

from bot.slack.commands.replies import EXAMPLES, Ctx, Reply, change_line, section
from workflows.line_overrides import show


async def _setting(ctx: Ctx, field: str, meaning: str) -> Reply:
    line = ctx.linked()
    if not ctx.args.strip():
        source = await ctx.svc.lines.source_of(line, field)
        return Reply(text=f"{field.capitalize()}: {show(line, field)} ({source}). {meaning} Change with `{EXAMPLES[field]}`.")
    await ctx.require_admin()
    change = await ctx.change(field, ctx.args.strip())
    if not change.changed:
        return Reply(text=f"No change: {field} stays {change.new}.")
    return Reply(
        text=f"Saved: {field} {change.old} → {change.new}.",
        blocks=[section(f":white_check_mark: Saved. {change_line(change)}\n{meaning}")],
        announce=[change_line(change)],
    )


async def cooldown(ctx: Ctx) -> Reply:
    return await _setting(ctx, "cooldown", "A caller who calls again within this time gets no second automatic text.")


async def reminders(ctx: Ctx) -> Reply:
    return await _setting(ctx, "reminders", "An unanswered thread is nudged after each of these delays.")


async def screen(ctx: Ctx) -> Reply:
    return await _setting(ctx, "screen", "With screening on, a staff phone that answers hears who is calling and "
                                         "must press 1 to take it; a decline or a voicemail counts as missed.")
