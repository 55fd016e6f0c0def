"""Call back from the business number (PRODUCT §3.1: the card's "Call back" button and
`/textback call`): textback rings the presser's own phone with the line's number as caller ID,
then connects them to the caller; the outcome goes into the thread, and a call that connected
counts as the team's answer (the reminder ladder stops, the lead is contacted, the stats)."""

from __future__ import annotations

from datetime import datetime

from workflows.conversation import Conversation, Entry
from workflows.follow_through import stop_waiting
from workflows.lines import Line
from workflows.outcomes import lead_event, record_outcome, team_reply_figures
from workflows.ports import ConversationLocks, ConversationStore, Deadlines, Outcomes, StepLog, ThreadChat
from workflows.qualify import end_for_human

NO_PHONE = ("You have no phone set for call backs: run `/textback phone (512) 555-0199` with your own "
            "number (or ask an admin to add you to `staff:` in the lines file), then press Call back again.")
BLOCKED = "This number is blocked on this line: textback does not call it."
# The Dial outcome of the bridged leg (PROTOCOLS 1.2) as the thread says it.
OUTCOMES = {"busy": "the line was busy", "no-answer": "no answer", "failed": "the call could not be placed",
            "canceled": "the call was canceled"}


def staff_phone(user: str, own: str | None, line: Line) -> str | None:
    """The phone a call back rings for `user`: the one they set themselves, else theirs in the
    line's `staff:` list, else in its on-call people; None when they have none."""
    if own:
        return own
    people = [*line.staff, *(line.oncall.people if line.oncall else ()),
              *((line.oncall.backup,) if line.oncall and line.oncall.backup else ())]
    return next((p.phone for p in people if p.user == user and p.phone), None)


def connected(status: str, seconds: int) -> bool:
    return status.strip().lower() in ("completed", "answered") and seconds > 0


def outcome_text(user: str, status: str, seconds: int) -> str:
    """The thread's line for a call back's outcome (the mention is added by the chat edge)."""
    if connected(status, seconds):
        minutes, rest = divmod(seconds, 60)
        took = f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"
        return f"called back from the business number: connected for {took}."
    return f"called back from the business number: {OUTCOMES.get(status.strip().lower(), status or 'no answer')}."


async def callback_outcome_story(
    conv: Conversation, user: str, status: str, seconds: int, *, job_id: str, store: ConversationStore,
    chat: ThreadChat, locks: ConversationLocks, steps: StepLog, outcomes: Outcomes, deadlines: Deadlines,
    now: datetime,
) -> None:
    """A call back ended: say how in the thread (once); a connected call is the team's answer."""
    if await steps.get("told") is None:
        await chat.post_entry(conv, Entry("system", outcome_text(user, status, seconds), at=now,
                                          icon="telephone_receiver", mentions=(user,)), key=f"callback:{job_id}")
        await steps.put("told", "1")
    if not connected(status, seconds):
        return
    conv = await store.get(conv.id) or conv
    if "first_reply_at" not in conv.extra:
        conv.extra["first_reply_at"] = now.isoformat()
        conv.extra["first_reply_by"] = user
    conv.last_event_at = now
    await store.save(conv)
    lead = lead_event("team_reply", job_id, conv, now, by=user, text=outcome_text(user, status, seconds))
    await record_outcome("call back", job_id, team_reply_figures(conv, now), lead, steps=steps, outcomes=outcomes)
    await end_for_human(conv, store=store, locks=locks, deadlines=deadlines)
    conv = await stop_waiting(conv, store=store, locks=locks, deadlines=deadlines)
    await chat.refresh_card(conv)
