"""`/textback resolve <number>`, `reply <number> <text>` and `call <number>`: act on a caller's
thread; `/textback phone <number>`: my phone for call backs.

Slack runs no slash command inside a thread, so both name the caller by number. Replying in
the thread is the usual way; `reply` goes through the same path (guards, opt-outs, delivery
reactions) as a reply typed there.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import phones
from bot.slack.blocks import to_plain_text
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, section
from bot.store import keys
from workflows import card_actions
from workflows.conversation import Conversation, Entry
from workflows.jobs import CardActionJob, TeamReplyJob
from workflows.lines import is_open
from workflows.missed_call import ensure_thread
from workflows.texting import SMS_MAX_CHARS, static_guard

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


async def _post_and_send(ctx: Ctx, conv: Conversation, verb: str, text: str) -> bool:
    """Show the text in the thread as the user's `/textback <verb>`, then send it as a team reply
    typed there would be (the same job, guards and reactions); False when Slack took no post."""
    now = ctx.svc.clock.now()
    shown = Entry("team", f"via {COMMAND} {verb}: {await ctx.plain(text)}", at=now, icon="speech_balloon",
                  mentions=(ctx.user,))
    ts = await ctx.svc.chat.post_entry(conv, shown)
    if ts is None or not conv.thread_id:
        return False
    job = TeamReplyJob(channel=conv.channel, thread=conv.thread_id, ts=ts, user=ctx.user, text=text, at=now)
    await ctx.svc.jobs.enqueue(job, claim=keys.claim("reply", f"{conv.channel}:{ts}"))
    return True


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
    if not await _post_and_send(ctx, conv, "reply", text):
        return Reply(text="Could not post in the caller's thread, so nothing was sent. Try again in a minute.")
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


TEXT_EXAMPLE = f"{COMMAND} text (512) 555-0123 Hi, this is Acme Plumbing about your quote."
# Text first asks before texting anyone between these local hours (PRODUCT §2.7's quiet hours).
ASK_FROM, ASK_UNTIL = 21, 8
SEND_ANYWAY = "tb_text_anyway"


def late_for(number: str, line_tz: str, now: datetime) -> str | None:
    """The customer's local time ("10:40 PM") when it is too late or early to text them unasked."""
    local = now.astimezone(ZoneInfo(phones.timezone_of(number) or line_tz))
    return local.strftime("%-I:%M %p") if local.hour >= ASK_FROM or local.hour < ASK_UNTIL else None


async def text(ctx: Ctx, *, confirmed: bool = False) -> Reply:
    """Text a customer first: open (or reuse) their thread on this line and send the text with
    every guard a team reply has; between 9 PM and 8 AM their time, ask first."""
    number, body = await _split_number(ctx, TEXT_EXAMPLE)
    if not body.strip():
        raise UsageError(f"write the text to send after {phones.display(number)}", TEXT_EXAMPLE)
    svc, line, now = ctx.svc, ctx.linked(), ctx.svc.clock.now()
    caller = phones.caller_from(number, "", line.number)
    why = static_guard(line, caller) or await svc.flags.suppression(line.number, number, automatic=False)
    plain = await to_plain_text(body, resolve_user=svc.directory.user_name, resolve_channel=svc.directory.channel_name)
    if not why and len(plain.strip()) > SMS_MAX_CHARS:
        why = f"it is {len(plain.strip()):,} characters, over the {SMS_MAX_CHARS:,} one text can carry"
    if why:
        return Reply(text=f"Not sent to {phones.display(number)}: {why}. Nothing was texted.")
    late = late_for(number, line.timezone, now)
    if not confirmed and late:
        ask = f"It's {late} for this customer. Send anyway?"
        value = json.dumps({"n": number, "t": body})[:2000]
        return Reply(text=ask, blocks=[
            section(f":crescent_moon: {ask}"),
            {"type": "actions", "elements": [{"type": "button", "action_id": SEND_ANYWAY, "value": value,
                                              "text": {"type": "plain_text", "text": "Send anyway"}}]},
        ])
    conv = await _open_conversation(ctx, number)
    if conv is None:
        fresh = Conversation(line=line.number, caller=caller, channel=line.channel, opened_at=now,
                             origin="texted_out", in_hours=is_open(line.hours, line.timezone, now),
                             line_label=line.label, last_event_at=now)
        async with svc.locks.hold(line.number, number):
            conv, created = await svc.store.open_or_get(fresh)
            await ensure_thread(conv, store=svc.store, chat=svc.chat, now=now, first_attempt=created)
    if not conv.thread_id:
        return Reply(text=f"Could not open a Slack thread for {phones.display(number)}, so nothing was sent. "
                          "Try again in a minute.")
    if not await _post_and_send(ctx, conv, "text", body):
        return Reply(text="Could not post in the customer's thread, so nothing was sent. Try again in a minute.")
    return Reply(text=f"Sending to {phones.display(number)}: it is in their thread, which shows :outbox_tray: once "
                      "Twilio accepts it. Their replies come back there.")
