"""What people do on a thread's card (PRODUCT §2.8): I'm on it, Claim, Resolve, Snooze.

Each press changes the conversation under its lock and says what happened to the person
who pressed; a second press, or one on an old card, is told who was first.
"""

from __future__ import annotations

from datetime import datetime

from workflows.conversation import Conversation, Entry
from workflows.conversation_state import (
    ACKED_BY,
    CLAIMED_BY,
    PAGING,
    RESOLVED_BY,
    SNOOZED_BY,
    SNOOZED_UNTIL,
    WAITING,
    page_group,
    remind_group,
    update_locked,
)
from workflows.jobs import SnoozeEndJob
from workflows.ports import ConversationLocks, ConversationStore, Deadline, Deadlines, ThreadChat

__all__ = ["ActionOutcome", "acknowledge", "claim", "resolve", "snooze"]

ActionOutcome = tuple[bool, str]  # (changed, what to tell the person who pressed)


async def _noted(chat: ThreadChat, conv: Conversation, user: str, text: str, icon: str, now: datetime) -> None:
    """The press, said in the thread with the presser mentioned, and the card brought up to date."""
    await chat.post_entry(conv, Entry("system", text, at=now, icon=icon, mentions=(user,)))
    await chat.refresh_card(conv)


async def acknowledge(
    conv: Conversation, user: str, *, store: ConversationStore, locks: ConversationLocks, chat: ThreadChat,
    deadlines: Deadlines, now: datetime,
) -> ActionOutcome:
    """ "I'm on it": paging stops; the first to press owns it, later presses are told who did."""

    def change(c: Conversation) -> str:
        if ACKED_BY in c.extra:
            return c.extra[ACKED_BY]
        c.extra[ACKED_BY] = user
        c.extra.setdefault(CLAIMED_BY, user)
        c.extra.pop(PAGING, None)
        return ""

    conv, earlier = await update_locked(conv, change, store=store, locks=locks)
    await deadlines.cancel_group(page_group(conv.id))
    if earlier:
        return False, f"<@{earlier}> is already on it; paging had stopped."
    await _noted(chat, conv, user, "is on it; paging stopped.", "raising_hand", now)
    return True, "Thanks: paging stopped, and the thread shows you are on it."


async def claim(
    conv: Conversation, user: str, *, store: ConversationStore, locks: ConversationLocks, chat: ThreadChat,
    now: datetime,
) -> ActionOutcome:
    def change(c: Conversation) -> str:
        if CLAIMED_BY in c.extra:
            return c.extra[CLAIMED_BY]
        c.extra[CLAIMED_BY] = user
        return ""

    conv, earlier = await update_locked(conv, change, store=store, locks=locks)
    if earlier:
        who = "You" if earlier == user else f"<@{earlier}>"
        return False, f"{who} already claimed this caller."
    await _noted(chat, conv, user, "claimed this caller.", "hand", now)
    return True, "Claimed: reminders will mention you."


async def resolve(
    conv: Conversation, user: str, *, store: ConversationStore, locks: ConversationLocks, chat: ThreadChat,
    deadlines: Deadlines, now: datetime,
) -> ActionOutcome:
    """Done with this caller: reminders and paging stop; their next call opens a new thread."""

    def change(c: Conversation) -> str:
        if c.status == "resolved":
            return c.extra.get(RESOLVED_BY, "?")
        c.status = "resolved"
        c.extra[RESOLVED_BY] = user
        for key in (WAITING, PAGING, SNOOZED_UNTIL, SNOOZED_BY):
            c.extra.pop(key, None)
        return ""

    conv, earlier = await update_locked(conv, change, store=store, locks=locks)
    await deadlines.cancel_group(remind_group(conv.id))
    await deadlines.cancel_group(page_group(conv.id))
    if earlier:
        return False, f"Already resolved by <@{earlier}>."
    await _noted(chat, conv, user, "resolved this conversation.", "white_check_mark", now)
    return True, "Resolved: no more reminders. A new call or text from this caller opens a new thread."


async def snooze(
    conv: Conversation, user: str, until: datetime, *, store: ConversationStore, locks: ConversationLocks,
    chat: ThreadChat, deadlines: Deadlines, now: datetime, label: str,
) -> ActionOutcome:
    """No reminders until `until`; then the ladder starts again if nobody has replied."""

    def change(c: Conversation) -> str:
        if c.status == "resolved":
            return "resolved"
        c.extra[SNOOZED_UNTIL] = until.isoformat()
        c.extra[SNOOZED_BY] = user
        return c.extra.get(WAITING, "")

    conv, since = await update_locked(conv, change, store=store, locks=locks)
    if since == "resolved":
        return False, "This conversation is resolved; there is nothing to snooze."
    # The ladder goes and, while the caller waits, the wake-up comes, in one change.
    job = SnoozeEndJob(conv=conv.id, since=since, until=until.isoformat())
    wake = [Deadline(f"remind:{conv.id}:wake", until, job)] if since else []
    await deadlines.replace_group(remind_group(conv.id), wake)
    await _noted(chat, conv, user, f"snoozed reminders until {label}.", "zzz", now)
    return True, f"Snoozed until {label}."

