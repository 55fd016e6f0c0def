"""A text to a line from a staff or on-call phone is not a new caller: it answers the page that
reached that phone. "OK" or "1" acknowledges it (as the card's I'm on it does); anything else
goes into the paged caller's thread as that person's message (PRODUCT §2.5)."""

from __future__ import annotations

from datetime import datetime

from workflows import card_actions
from workflows.conversation import Conversation, Entry
from workflows.conversation_state import ACKED_BY, PAGING
from workflows.lines import Line
from workflows.ports import ConversationLocks, ConversationStore, Deadlines, StepLog, ThreadChat
from workflows.texting import post_once

# What a person on a job types to say "I'm on it".
ACK_WORDS = frozenset({"ok", "okay", "k", "1", "yes", "y", "on it", "im on it", "i'm on it", "got it"})


def is_ack(text: str) -> bool:
    return text.strip().lower().rstrip(".!").strip() in ACK_WORDS


def staff_member(line: Line, phone: str) -> str | None:
    """The Slack user whose phone (in the line's `staff:` or on-call people) sent a text."""
    people = [*line.staff, *(line.oncall.people if line.oncall else ()),
              *((line.oncall.backup,) if line.oncall and line.oncall.backup else ())]
    return next((p.user for p in people if p.phone and p.phone == phone), None)


def paging_now(conversations: list[Conversation]) -> Conversation | None:
    """The conversation whose page a staff text answers: the newest one still paging, else the
    newest one paged at all (an "OK" after someone else pressed I'm on it is told so)."""
    paged = [c for c in conversations if c.status == "open" and (PAGING in c.extra or ACKED_BY in c.extra)]
    paged.sort(key=lambda c: c.extra.get(PAGING, ""), reverse=True)
    return next((c for c in paged if PAGING in c.extra), paged[0] if paged else None)


async def staff_text_story(
    conv: Conversation, user: str, body: str, *, store: ConversationStore, locks: ConversationLocks,
    chat: ThreadChat, deadlines: Deadlines, steps: StepLog, now: datetime,
) -> str:
    """Act on a staff member's text about the page on `conv`; what happened ("acked", "posted")."""
    if is_ack(body):
        await card_actions.acknowledge(conv, user, store=store, locks=locks, chat=chat, deadlines=deadlines, now=now)
        return "acked"
    entry = Entry("system", f"texted from their phone: {body}", at=now, icon="iphone", mentions=(user,))
    await post_once(steps, "entry:staff", chat, conv, entry, now)
    return "posted"
