"""`/textback resolve <number>`, `reply <number> <text>` and `call <number>`: act on a caller's
thread; `/textback phone <number>`: my phone for call backs.

Slack runs no slash command inside a thread, so both name the caller by number. Replying in
the thread is the usual way; `reply` goes through the same path (guards, opt-outs, delivery
reactions) as a reply typed there.
"""

from __future__ import annotations

from bot import phones
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError
from bot.store import keys
from workflows import card_actions
from workflows.conversation import Conversation, Entry
from workflows.jobs import CardActionJob, TeamReplyJob

RESOLVE_EXAMPLE = f"{COMMAND} resolve (512) 555-0123"
REPLY_EXAMPLE = f"{COMMAND} reply (512) 555-0123 A tech can be there by 11:30."
# "+1 (512) 555-0123" is at most four words.
MAX_NUMBER_WORDS = 4


async def _split_number(ctx: Ctx, example: str) -> tuple[str, str]:
    """The caller's E.164 number from the start of the text, and the raw text after it."""
    words = ctx.args.split()
    if not words:
        raise UsageError("say which caller, by their number", example)
    for size in range(1, min(MAX_NUMBER_WORDS, len(words)) + 1):
        number = phones.normalize(await ctx.plain(" ".join(words[:size])))
        if number is not None:
            rest = ctx.args.strip().split(None, size)
            return number, rest[size] if len(rest) > size else ""
    raise UsageError(
        f'"{await ctx.plain(words[0])}" does not start with a phone number: write it like (512) 555-0123', example
    )


async def _open_conversation(ctx: Ctx, number: str) -> Conversation | None:
    return await ctx.svc.store.open_for(ctx.linked().number, number)


def _none_open(number: str) -> Reply:
    return Reply(text=f"No open conversation with {phones.display(number)} on this line: nothing to act on. "
                      "A new call or text from them opens one.")


async def resolve(ctx: Ctx) -> Reply:
    """Anyone in the channel, like the card's Resolve button."""
    number, _ = await _split_number(ctx, RESOLVE_EXAMPLE)
    conv = await _open_conversation(ctx, number)
    if conv is None:
        return _none_open(number)
    svc = ctx.svc
    _, said = await card_actions.resolve(conv, ctx.user, store=svc.store, locks=svc.locks, chat=svc.chat,
                               deadlines=svc.jobs.deadlines, now=svc.clock.now())
    return Reply(text=said)


async def reply(ctx: Ctx) -> Reply:
    """Post the text in the caller's thread and send it as a team reply typed there would be."""
    number, text = await _split_number(ctx, REPLY_EXAMPLE)
    if not text.strip():
        raise UsageError(f"write the text to send after {phones.display(number)}", REPLY_EXAMPLE)
    conv = await _open_conversation(ctx, number)
    if conv is None:
        return _none_open(number)
    if not conv.thread_id:
        return Reply(text=f"The conversation with {phones.display(number)} has no Slack thread yet; try again shortly.")
    svc, now = ctx.svc, ctx.svc.clock.now()
    shown = Entry("team", f"via {COMMAND} reply: {await ctx.plain(text)}", at=now, icon="speech_balloon",
                  mentions=(ctx.user,))
    ts = await svc.chat.post_entry(conv, shown)
    if ts is None:
        return Reply(text="Could not post in the caller's thread, so nothing was sent. Try again in a minute.")
    job = TeamReplyJob(channel=conv.channel, thread=conv.thread_id, ts=ts, user=ctx.user, text=text, at=now)
    await svc.jobs.enqueue(job, claim=keys.claim("reply", f"{conv.channel}:{ts}"))
    return Reply(text=f"Sending to {phones.display(number)}; it is in their thread, which shows :outbox_tray: "
                      "once the text is accepted. Next time you can simply reply in the thread.")


CALL_EXAMPLE = f"{COMMAND} call (512) 555-0123"
PHONE_EXAMPLE = f"{COMMAND} phone (512) 555-0199"


async def call(ctx: Ctx) -> Reply:
    """Like the card's Call back button: ring my phone from the line's number, then the caller."""
    number, _ = await _split_number(ctx, CALL_EXAMPLE)
    conv = await _open_conversation(ctx, number)
    if conv is None:
        return _none_open(number)
    svc, now = ctx.svc, ctx.svc.clock.now()
    job = CardActionJob(action="tb_callback", user=ctx.user, channel=ctx.channel, conv=conv.id, at=now,
                        ts=now.isoformat())
    await svc.jobs.enqueue(job, claim=keys.claim("action", f"{conv.id}:{ctx.user}:tb_callback:{now.isoformat()}"))
    return Reply(text=f"Calling you back to {phones.display(number)}: your phone rings first, from the line's number.")


async def phone(ctx: Ctx) -> Reply:
    """Each person sets their own phone for call backs: `phone (512) 555-0199`, `phone remove`."""
    svc, text = ctx.svc, (await ctx.plain(ctx.args)).strip()
    key = keys.staff_phone(ctx.user)
    if not text:
        raw = await svc.redis.client.get(key)
        if not raw:
            return Reply(text=f"You have no phone set for call backs. Set yours: `{PHONE_EXAMPLE}`.")
        shown = raw.decode() if isinstance(raw, bytes) else str(raw)
        return Reply(text=f"Your phone for call backs: {phones.mask(shown)}. `{COMMAND} phone remove` clears it.")
    if text.lower() in ("remove", "clear", "off", "none"):
        await svc.redis.client.delete(key)
        return Reply(text="Your phone for call backs is cleared.")
    number = phones.normalize(text)
    if number is None:
        raise UsageError(f'"{text}" is not a phone number: write it like (512) 555-0199', PHONE_EXAMPLE)
    await svc.redis.client.set(key, number)
    return Reply(text=f"Saved: call backs ring {phones.mask(number)} first, showing the line's number to the caller.")
