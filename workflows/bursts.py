"""Flood control for caller texts: past a rate, texts are shown together, never dropped (§2.7)."""

from __future__ import annotations

from datetime import datetime

from workflows.conversation import Conversation, Entry
from workflows.ports import BurstStore, ConversationLocks, ConversationStore, ThreadChat

# A person rarely sends more than this in a minute; a bot or an auto-responder does.
INBOUND_PER_MINUTE = 10
# Slack's section text limit, less room for the heading.
BATCH_CHARS = 2800


def minute_of(now: datetime) -> int:
    """The rate window a text falls in."""
    return int(now.timestamp()) // 60


def batch_lines(texts: list[str]) -> list[str]:
    """Held texts as thread posts, each under Slack's size limit, in arrival order."""
    posts: list[str] = []
    current = ""
    for text in texts:
        line = "• " + text.replace("\n", " ")
        if current and len(current) + len(line) + 1 > BATCH_CHARS:
            posts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line[:BATCH_CHARS]
    if current:
        posts.append(current)
    return posts


async def flush_held(
    conv_id: str,
    *,
    store: ConversationStore,
    bursts: BurstStore,
    chat: ThreadChat,
    locks: ConversationLocks,
    now: datetime,
) -> int:
    """Post the texts held back during a burst as grouped thread lines; returns how many."""
    conv = await store.get(conv_id)
    if conv is None:
        return 0
    async with locks.hold(conv.line, conv.caller.number):
        await bursts.disarm_flush(conv_id)
        texts = await bursts.take_held(conv_id)
        posts = batch_lines(texts)
        for i, body in enumerate(posts):
            head = f"{len(texts)} more texts from the caller, sent in quick succession:\n" if i == 0 else ""
            await chat.post_entry(conv, Entry("caller", head + body, at=now))
    return len(texts)


def held_text(body: str, attachments: int) -> str:
    """One held text, its attachments counted (they are copied into the thread on their own)."""
    more = f"(+{attachments} attachment{'s' if attachments > 1 else ''})" if attachments else ""
    return " ".join(filter(None, [body, more])).strip() or "(empty message)"


async def hold_if_flooding(
    conv: Conversation, body: str, attachments: int, *, bursts: BurstStore, now: datetime
) -> str:
    """ "post" within the rate; past it "hold_first" (this text armed the flush) or "hold"."""
    count = await bursts.count_inbound(conv.line, conv.caller.number, minute_of(now))
    if count <= INBOUND_PER_MINUTE:
        return "post"
    await bursts.hold(conv.id, held_text(body, attachments))
    # Armed through the store, not by "first held": if the instance that armed a flush
    # died, its claim expires and the next held text arms a new one.
    return "hold_first" if await bursts.arm_flush(conv.id) else "hold"
