"""The follow-through state of a conversation: its keys in `Conversation.extra`, the
deadline groups, and the one way to change that state (re-read under the lock, then save).

Reminders (`workflows.follow_through`), paging (`workflows.paging`), the card's buttons
(`workflows.card_actions`) and qualification (`workflows.qualify`) share these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from workflows.conversation import Conversation
from workflows.ports import ConversationLocks, ConversationStore

T = TypeVar("T")

# Keys in Conversation.extra.
WAITING = "waiting_since"
URGENT, HAZARD = "urgent", "hazard"
PAGING, ACKED_BY = "paging_since", "acked_by"
CLAIMED_BY, RESOLVED_BY = "claimed_by", "resolved_by"
SNOOZED_UNTIL, SNOOZED_BY = "snoozed_until", "snoozed_by"
SAFETY_SENT = "safety_sent"  # hazards, comma-separated
FIRST_REPLY_AT = "first_reply_at"


def remind_group(conv_id: str) -> str:
    return f"remind:{conv_id}"


def page_group(conv_id: str) -> str:
    return f"page:{conv_id}"


async def update_locked(
    conv: Conversation,
    change: Callable[[Conversation], T],
    *,
    store: ConversationStore,
    locks: ConversationLocks,
) -> tuple[Conversation, T]:
    """Apply `change` to the stored conversation under its lock and save it; its result too.

    Read again under the lock: a copy loaded before it may miss a button pressed meanwhile.
    """
    async with locks.hold(conv.line, conv.caller.number):
        fresh = await store.get(conv.id) or conv
        result = change(fresh)
        await store.save(fresh)
    return fresh, result
