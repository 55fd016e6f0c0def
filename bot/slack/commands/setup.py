"""`/textback setup <number>`: link the channel it is run in to one of the account's Twilio numbers."""

from __future__ import annotations

from bot import phones
from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, section

EXAMPLE = f"{COMMAND} setup (512) 555-0100"


async def _unlink(ctx: Ctx) -> Reply:
    """`setup remove`: this channel's line, linked from Slack, is linked no more."""
    line = ctx.line
    if line is None:
        return Reply(text="This channel has no line to unlink; nothing changed.")
    shown = phones.display(line.number)
    if ctx.svc.lines.in_file(line.number):
        return Reply(text=f":warning: {shown} is this channel's line in the lines file: change it there, "
                          "not from Slack.")
    if not await ctx.svc.lines.unlink(line.number):
        return Reply(text=f"{shown} was not linked from Slack; nothing changed.")
    return Reply(
        text=f"Unlinked {shown} from this channel. Calls and texts to it are no longer answered by textback; "
             f"threads already here stay. `{COMMAND} setup {shown}` links it again, with its settings.",
        announce=[f"*line*: {shown} → not linked"],
    )


async def setup(ctx: Ctx) -> Reply:
    """Admins only: a number owned by the Twilio account, not yet linked elsewhere, becomes this channel's line."""
    await ctx.require_admin()
    raw = (await ctx.plain(ctx.args)).strip()
    if not raw:
        raise UsageError("say which Twilio number to link to this channel", EXAMPLE)
    if raw.lower() in ("remove", "unlink", "off"):
        return await _unlink(ctx)
    number = phones.normalize(raw)
    if number is None:
        raise UsageError(
            f'"{raw}" is not a phone number: write it like (512) 555-0100, 512-555-0100 or +15125550100', EXAMPLE
        )
    shown = phones.display(number)
    lines = ctx.svc.lines
    existing = await lines.line_for_number(number)
    if existing is not None and existing.channel == ctx.channel:
        where = "in the lines file" if lines.in_file(number) else "linked from Slack"
        return Reply(text=f"{shown} is already this channel's line ({where}); nothing changed. "
                          f"`{COMMAND} status` shows its settings.")
    if existing is not None:
        return Reply(text=f":warning: {shown} is already linked to <#{existing.channel}>: a number has one channel. "
                          f"Run `{COMMAND}` there to change it, or link another number here.")
    if ctx.line is not None:
        return Reply(text=f":warning: This channel is already linked to {phones.display(ctx.line.number)} "
                          f"({escape(ctx.line.label)}): one line per channel. Link {shown} in a channel of its own.")
    owned = await ctx.svc.numbers.owned(number) if ctx.svc.numbers is not None else None
    if owned is None:
        return Reply(text="Could not ask Twilio which numbers the account owns; nothing changed. Try again in a minute.")
    if not owned:
        return Reply(text=f":warning: {shown} is not a number of this Twilio account, so textback could not answer "
                          "its calls. Buy or port it in the Twilio Console (Phone Numbers), then run setup again.")
    await lines.link(number, ctx.channel, by=ctx.user, at=ctx.svc.clock.now())
    line = await lines.line_for_number(number)
    assert line is not None
    body = (
        f":white_check_mark: Linked this channel to {shown}. Missed calls and texts to it now open threads here.\n"
        f"*Starting settings:* business {escape(line.business)} (from the lines file), timezone {line.timezone}, "
        "open 24 hours, every call that reaches the number counts as missed, the default text-back messages.\n"
        f"Next: `{COMMAND} hours mon-fri 08:00-17:00`, `{COMMAND} hours tz America/Chicago`, "
        f"`{COMMAND} template`, `{COMMAND} oncall set @someone`. In the Twilio Console, point the number's "
        "call and message webhooks at textback (`/twilio/voice`, `/twilio/sms`)."
    )
    return Reply(
        text=f"Linked this channel to {shown}.",
        blocks=[section(body)],
        announce=[f"*line*: not linked → {shown} (business: {escape(line.business)})"],
    )
