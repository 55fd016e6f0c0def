"""The two-way mirror: caller SMS into the thread, team replies out as SMS (PRODUCT §2.2-2.3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from workflows import hours as hours_mod
from workflows.conversation import Caller, Conversation, Entry, SmsResult
from workflows.lines import Line
from workflows.missed_call import ensure_thread
from workflows.ports import ConversationLocks, ConversationStore, SmsSender, ThreadChat

DEFAULT_NOTE_PREFIXES = ("note:", "//")


@dataclass(frozen=True)
class InboundSms:
    """A text from a caller to one of our lines."""

    message_id: str
    line: Line
    caller: Caller
    body: str
    media: tuple[str, ...]
    at: datetime


async def handle_caller_sms(
    msg: InboundSms,
    *,
    store: ConversationStore,
    chat: ThreadChat,
    locks: ConversationLocks,
) -> Conversation:
    """Mirror a caller's text into their open thread, opening a "texted in" thread if needed."""
    fresh = Conversation(
        line=msg.line.number,
        caller=msg.caller,
        channel=msg.line.channel,
        opened_at=msg.at,
        origin="texted_in",
        in_hours=hours_mod.is_open(msg.line.hours, msg.line.timezone, msg.at),
        line_label=msg.line.label,
    )
    async with locks.hold(msg.line.number, msg.caller.number):
        conv, _ = await store.open_or_get(fresh)
        conv.texts_in += 1
        conv.last_event_at = msg.at
        await ensure_thread(conv, store=store, chat=chat)
        await chat.post_entry(conv, Entry("caller", msg.body, media=msg.media, at=msg.at))
        await store.save(conv)
    return conv


@dataclass(frozen=True)
class TeamReply:
    """A message a person wrote in a Slack thread."""

    channel: str
    thread_id: str
    message_id: str
    user: str
    raw_text: str


ReplyOutcome = Literal["not_ours", "note", "duplicate", "empty", "sent", "refused"]


def is_internal_note(raw_text: str, prefixes: Sequence[str] = DEFAULT_NOTE_PREFIXES) -> bool:
    """A reply starting with a note prefix stays in Slack."""
    head = raw_text.lstrip().lower()
    # An empty prefix would turn every reply into a note and silence the channel.
    return any(head.startswith(p.strip().lower()) for p in prefixes if p.strip())


async def handle_team_reply(
    reply: TeamReply,
    *,
    store: ConversationStore,
    sms: SmsSender,
    chat: ThreadChat,
    to_plain: Callable[[str], Awaitable[str]],
    now: datetime,
) -> ReplyOutcome:
    """Send a human's thread reply to the caller as SMS, exactly once."""
    conv = await store.by_thread(reply.channel, reply.thread_id)
    if conv is None:
        return "not_ours"
    if is_internal_note(reply.raw_text):
        return "note"
    if not await store.claim("reply", f"{reply.channel}:{reply.message_id}"):
        return "duplicate"
    text = (await to_plain(reply.raw_text)).strip()
    if not text:
        return "empty"
    if conv.caller.kind != "ok":
        refusal = SmsResult(ok=False, error="this caller's number cannot receive texts")
        await chat.mark_reply(conv, reply.message_id, refusal)
        return "refused"
    result = await sms.send_sms(to=conv.caller.number, from_=conv.line, body=text)
    if result.sid:
        # Recorded first: Twilio's delivery report may arrive before Slack answers.
        await store.record_outbound(result.sid, conv, reply.message_id)
    await chat.mark_reply(conv, reply.message_id, result)
    if not result.ok:
        return "refused"
    if "first_reply_at" not in conv.extra:
        conv.extra["first_reply_at"] = now.isoformat()
        conv.extra["first_reply_by"] = reply.user
    conv.last_event_at = now
    await store.save(conv)
    return "sent"
