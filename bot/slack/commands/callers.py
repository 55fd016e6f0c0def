"""`/textback block` and `unblock`: numbers that never get an automatic text from this line."""

from __future__ import annotations

from bot import phones
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, section

EXAMPLE = f"{COMMAND} block (512) 555-0123"


async def _number(ctx: Ctx, verb: str) -> str:
    raw = (await ctx.plain(ctx.args)).strip()
    if not raw:
        raise UsageError("say which number", f"{COMMAND} {verb} (512) 555-0123")
    number = phones.normalize(raw)
    if number is None:
        raise UsageError(
            f'"{raw}" is not a phone number: write it like (512) 555-0123, 512-555-0123 or +15125550123',
            f"{COMMAND} {verb} (512) 555-0123",
        )
    return number


async def block(ctx: Ctx) -> Reply:
    line = ctx.linked()
    if not ctx.args.strip():
        return await _list(ctx)
    await ctx.require_admin()
    number = await _number(ctx, "block")
    shown = phones.display(number)
    if number == line.number:
        raise UsageError(f"{shown} is this line's own number", EXAMPLE)
    if await ctx.svc.flags.is_blocked(line.number, number):
        return Reply(text=f"No change: {shown} is already blocked on this line.")
    await ctx.svc.flags.set_blocked(line.number, number, True)
    return Reply(
        text=f"Blocked {shown}: calls from it get a thread but no automatic text.",
        announce=[f"*blocked number* {shown}: not blocked → blocked (no automatic texts)"],
    )


async def unblock(ctx: Ctx) -> Reply:
    line = ctx.linked()
    await ctx.require_admin()
    number = await _number(ctx, "unblock")
    shown = phones.display(number)
    if not await ctx.svc.flags.is_blocked(line.number, number):
        return Reply(text=f"No change: {shown} is not blocked on this line.")
    await ctx.svc.flags.set_blocked(line.number, number, False)
    return Reply(
        text=f"Unblocked {shown}: missed calls from it get the text-back again.",
        announce=[f"*blocked number* {shown}: blocked → not blocked"],
    )


async def _list(ctx: Ctx) -> Reply:
    numbers = await ctx.svc.flags.blocked_numbers(ctx.linked().number)
    if not numbers:
        return Reply(text=f"No numbers are blocked on this line. Block one with `{EXAMPLE}`.")
    # A long list is cut to what one section holds; the count stays exact.
    shown = "\n".join(f"• {phones.display(n)}" for n in numbers[:150])
    more = f"\n…and {len(numbers) - 150} more" if len(numbers) > 150 else ""
    return Reply(text=f"{len(numbers)} blocked number(s)", blocks=[section(f"*Blocked numbers ({len(numbers)})*\n{shown}{more}")])
