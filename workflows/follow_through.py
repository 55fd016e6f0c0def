"""Reminders on unanswered threads (PRODUCT §2.4).

A conversation is *waiting* from a caller's message until a person replies by text,
resolves it or snoozes it. While it waits, the line's reminder ladder is pending in
`Deadlines` (group `remind:<conv>`); a new caller message restarts it. The ladder counts
open time only, unless the thread is urgent (`workflows.paging`). `caller_wrote` is what a
caller's words start (a text, a voicemail transcript): urgent paging, then the ladder.

Every timed job carries the episode it belongs to (`since`): a job left from a ladder that
was restarted or stopped finds another episode in the conversation and does nothing. The
state lives in `Conversation.extra` (`workflows.conversation_state`) and is changed only
under the conversation's lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from workflows.conversation import Conversation, Entry
from workflows.conversation_state import (
    CLAIMED_BY,
    SNOOZED_BY,
    SNOOZED_UNTIL,
    URGENT,
    WAITING,
    remind_group,
    update_locked,
)
from workflows.durations import format_wait
from workflows.jobs import ReminderJob
from workflows.lines import Line
from workflows.oncall import on_duty
from workflows.paging import matcher_for, raise_urgent
from workflows.ports import (
    CallerFlags,
    ConversationLocks,
    ConversationStore,
    Deadline,
    Deadlines,
    Pager,
    SmsSender,
    StepLog,
    ThreadChat,
)
from workflows.reminders import ladder, pending, step_kind
from workflows.texting import once, post_once

__all__ = ["caller_wrote", "fire_reminder", "start_waiting", "stop_waiting", "wake"]



def _waited(since: str, now: datetime) -> str:
    return format_wait((now - datetime.fromisoformat(since)).total_seconds())


def _ladder_jobs(conv: Conversation, line: Line, since: datetime) -> list[Deadline]:
    steps = ladder(
        line.reminders, hours=line.hours, tz=line.timezone, waiting_since=since, urgent=URGENT in conv.extra
    )
    return [
        Deadline(f"remind:{conv.id}:{step.index}", step.due,
                 ReminderJob(conv=conv.id, index=step.index, since=since.isoformat()))
        for step in steps
    ]


async def start_waiting(
    conv: Conversation,
    line: Line,
    *,
    at: datetime,
    store: ConversationStore,
    locks: ConversationLocks,
    deadlines: Deadlines,
) -> Conversation:
    """A caller's message: the ladder (re)starts from `at`, and a snooze ends."""

    def change(c: Conversation) -> bool:
        if c.status == "resolved":
            return False
        c.extra[WAITING] = at.isoformat()
        c.extra.pop(SNOOZED_UNTIL, None)
        c.extra.pop(SNOOZED_BY, None)
        return True

    conv, waiting = await update_locked(conv, change, store=store, locks=locks)
    # The old ladder goes and the new one comes in one change; a rung of the old one that
    # fires in between finds the conversation waiting since a later time and does nothing.
    await deadlines.replace_group(remind_group(conv.id), _ladder_jobs(conv, line, at) if waiting else [])
    return conv


async def caller_wrote(
    conv: Conversation,
    line: Line,
    text: str,
    *,
    at: datetime,
    store: ConversationStore,
    locks: ConversationLocks,
    chat: ThreadChat,
    sms: SmsSender,
    flags: CallerFlags,
    deadlines: Deadlines,
    steps: StepLog,
    now: datetime,
) -> None:
    """Words from the caller (a text, a voicemail transcript): urgent words mark the thread and
    page on-call (`workflows.paging`), then the ladder restarts from `at`."""
    match = matcher_for(line).match(text)
    if match is not None:
        await raise_urgent(conv, line, match, store=store, locks=locks, chat=chat, sms=sms, flags=flags,
                           deadlines=deadlines, steps=steps, now=now)
    await start_waiting(conv, line, at=at, store=store, locks=locks, deadlines=deadlines)


async def stop_waiting(
    conv: Conversation, *, store: ConversationStore, locks: ConversationLocks, deadlines: Deadlines
) -> Conversation:
    """A person answered the caller: no more reminders until the caller writes again."""
    await deadlines.cancel_group(remind_group(conv.id))
    conv, _ = await update_locked(conv, lambda c: c.extra.pop(WAITING, None), store=store, locks=locks)
    return conv


ReminderOutcome = Literal["stale", "superseded", "reminded", "mentioned", "dm", "nobody_on_call"]


async def fire_reminder(
    conv_id: str,
    index: int,
    since: str,
    *,
    line_of: Callable[[str], Awaitable[Line | None]],
    store: ConversationStore,
    chat: ThreadChat,
    pager: Pager,
    steps: StepLog,
    now: datetime,
) -> ReminderOutcome:
    """One rung of the ladder, if the conversation still waits since `since`."""
    conv = await store.get(conv_id)
    if conv is None or conv.status == "resolved" or conv.extra.get(WAITING) != since:
        return "stale"
    line = await line_of(conv.line)
    if line is None:
        return "stale"
    steps_now = ladder(line.reminders, hours=line.hours, tz=line.timezone,
                       waiting_since=datetime.fromisoformat(since), urgent=URGENT in conv.extra)
    if any(step.index > index for step in pending(steps_now, now)[:1]):
        # A later rung is due too (after an outage, or a clock jump): only the latest is worth sending.
        return "superseded"
    waited = _waited(since, now)
    kind = step_kind(index)
    if kind == "thread_reminder":
        text = f"No reply yet: the caller has been waiting {waited}."
        await post_once(steps, "post", chat, conv, Entry("system", text, at=now, icon="alarm_clock"), now)
        return "reminded"
    if kind == "mention":
        who = conv.extra.get(CLAIMED_BY) or "here"
        text = f"Still no reply after {waited}: can someone text this caller back?"
        if who != "here":
            text = f"Still no reply after {waited}: you claimed this caller."
        entry = Entry("system", text, at=now, icon="alarm_clock", mentions=(who,))
        await post_once(steps, "post", chat, conv, entry, now)
        return "mentioned"
    duty = on_duty(line.oncall, line.timezone, now)
    if duty is None:
        text = f"No reply after {waited}, and nobody is on call for this line (set oncall in the lines file)."
        entry = Entry("system", text, at=now, icon="alarm_clock", mentions=("here",))
        await post_once(steps, "post", chat, conv, entry, now)
        return "nobody_on_call"
    user = duty.primary.user
    dm = f"A caller on {line.label} has had no reply for {waited}: {conv.caller.display}."
    await once(steps, "dm", lambda: pager.dm(user, dm, conv))
    note = Entry("system", f"No reply after {waited}: sent a direct message to the on-call person.",
                 at=now, icon="alarm_clock", mentions=(user,))
    await post_once(steps, "post", chat, conv, note, now)
    return "dm"



async def wake(
    conv_id: str, since: str, until: str, *, line_of: Callable[[str], Awaitable[Line | None]], store: ConversationStore,
    locks: ConversationLocks, deadlines: Deadlines,
) -> bool:
    """A snooze ended: the ladder starts again from its end, if the caller still waits."""
    conv = await store.get(conv_id)
    if conv is None or conv.status == "resolved" or conv.extra.get(WAITING) != since:
        return False
    if conv.extra.get(SNOOZED_UNTIL) != until:
        return False
    line = await line_of(conv.line)
    if line is None:
        return False
    await start_waiting(conv, line, at=datetime.fromisoformat(until), store=store, locks=locks, deadlines=deadlines)
    return True
