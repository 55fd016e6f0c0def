"""`/textback forget <number>`: delete what textback stored about a caller, from Slack."""

from __future__ import annotations

from bot import phones
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError
from bot.store.forget import forget_caller

EXAMPLE = f"{COMMAND} forget (512) 555-0123"


async def forget(ctx: Ctx) -> Reply:
    """Admins only: the caller's conversations and records go on every line; opt-outs and blocks stay."""
    ctx.linked()
    await ctx.require_admin()
    raw = (await ctx.plain(ctx.args)).strip()
    if not raw:
        raise UsageError("say which number", EXAMPLE)
    number = phones.normalize(raw)
    if number is None:
        raise UsageError(
            f'"{raw}" is not a phone number: write it like (512) 555-0123, 512-555-0123 or +15125550123', EXAMPLE
        )
    lines = [line.number for line in await ctx.svc.lines.lines()]
    done = await forget_caller(ctx.svc.redis.client, number, lines)
    kept = f" Kept: {', '.join(done.kept)}, so they are never texted against their wish." if done.kept else ""
    masked = phones.mask(number)
    return Reply(
        text=(
            f"Forgot {phones.display(number)}: {done.conversations} conversation(s), "
            f"{done.keys_deleted} record(s) deleted.{kept} Also kept: {done.consent_note()}. Slack threads are "
            "the workspace's own history and stay in Slack."
        ),
        # The channel learns that it happened and who did it, not whose number it was.
        notice=(
            f":wastebasket: <@{ctx.user}> had textback forget the caller `{masked}` "
            f"({done.conversations} conversation(s) deleted; opt-outs, blocks and the consent log kept)."
        ),
    )
