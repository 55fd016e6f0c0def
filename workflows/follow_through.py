"""Reminders on unanswered threads (PRODUCT §2.4).

A conversation is *waiting* from a caller's message until a person replies by text,
resolves it or snoozes it. While it waits, the line's reminder ladder is pending in
`Deadlines` as one job at its next rung (id and group `remind:<conv>`): each rung, when it
fires, schedules the next; a new caller message restarts it. The ladder counts
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
from workflows.language import language_of
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
from workflows.reminders import Step, ladder, pending, step_kind
from workflows.texting import once, post_once

__all__ = ["caller_wrote", "fire_ladder", "fire_reminder", "mark_waiting", "start_waiting", "stop_waiting", "wake"]



def _waited(since: str, now: datetime) -> str:
    return format_wait((now - datetime.fromisoformat(since)).total_seconds())


def _rung(conv_id: str, step: Step, since: str) -> Deadline:
    """The ladder's one pending job, at its next rung: the same id for every rung and episode,
    so scheduling it replaces whatever rung of the ladder was pending before."""
    return Deadline(remind_group(conv_id), step.due, ReminderJob(conv=conv_id, index=step.index, since=since))


def mark_waiting(c: Conversation, at: datetime) -> bool:
    """The caller waits since `at`, and a snooze ends; True when that changed `c` (never for a
    resolved one). A story that saves the conversation anyway marks it first (a new one is
    created waiting), and `start_waiting` then has nothing to save."""
    if c.status == "resolved":
        return False
    since = at.isoformat()
    changed = c.extra.get(WAITING) != since or SNOOZED_UNTIL in c.extra or SNOOZED_BY in c.extra
    c.extra[WAITING] = since
    c.extra.pop(SNOOZED_UNTIL, None)
    c.extra.pop(SNOOZED_BY, None)
    return changed


async def start_waiting(
    conv: Conversation,
    line: Line,
    *,
    at: datetime,
    store: ConversationStore,
    locks: ConversationLocks,
    deadlines: Deadlines,
    held: bool = False,
) -> Conversation:
    """A caller's message: the ladder (re)starts from `at`, and a snooze ends.

    With `held`, the caller holds the conversation's lock and `conv` was read under it: it is
    changed as it is, without taking the lock and reading it again. Either way it is saved only
    when `mark_waiting` changed it; the ladder's next rung is scheduled anyway (a re-run).
    """
    if held:
        return await _start_held(conv, line, at=at, store=store, deadlines=deadlines)
    async with locks.hold(conv.line, conv.caller.number):
        fresh = await store.get(conv.id) or conv
        return await _start_held(fresh, line, at=at, store=store, deadlines=deadlines)


async def _start_held(
    conv: Conversation, line: Line, *, at: datetime, store: ConversationStore, deadlines: Deadlines
) -> Conversation:
    if mark_waiting(conv, at):
        await store.save(conv)
    steps = ladder(line.reminders, hours=line.hours, tz=line.timezone, waiting_since=at, urgent=URGENT in conv.extra)
    if conv.status != "resolved" and steps:
        # Under the lock, so two restarts cannot leave the older one's rung pending. Whatever
        # was pending before (this ladder's rung, the rungs an older version scheduled one job
        # each, a snooze's end) finds the conversation waiting since `at` and does nothing.
        rung = _rung(conv.id, steps[0], at.isoformat())
        await deadlines.schedule(rung.job_id, rung.due, rung.job, group=remind_group(conv.id))
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
                           deadlines=deadlines, steps=steps, now=now, language=language_of(text))
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
    """One rung of the ladder, if the conversation still waits since `since` (a rung scheduled
    as a job of its own, as older versions did)."""
    found = await _still_waiting(conv_id, since, line_of=line_of, store=store)
    if found is None:
        return "stale"
    conv, line, steps_now = found
    if any(step.index > index for step in pending(steps_now, now)[:1]):
        # A later rung is due too (after an outage, or a clock jump): only the latest is worth sending.
        return "superseded"
    return await _remind(conv, line, index, since, chat=chat, pager=pager, steps=steps, now=now)


async def fire_ladder(
    conv_id: str,
    index: int,
    since: str,
    *,
    line_of: Callable[[str], Awaitable[Line | None]],
    store: ConversationStore,
    chat: ThreadChat,
    pager: Pager,
    steps_of: Callable[[int], StepLog],
    then: Callable[[Deadline], Awaitable[object]],
    older: Callable[[int], Awaitable[bool]],
    now: datetime,
) -> ReminderOutcome:
    """The ladder's job at rung `index`: that rung (or, when a later one is due too, only the
    latest), then `then` with the job at the next rung. `steps_of(rung)` is the rung's step
    log; `older(rung)` says whether a job of its own (as older versions scheduled each rung)
    is there to send that rung of this episode, and then leaves it to that job."""
    found = await _still_waiting(conv_id, since, line_of=line_of, store=store)
    if found is None:
        return "stale"
    conv, line, steps_now = found
    # After an outage or a clock jump only the latest rung due is worth sending, as when each
    # rung was a job of its own and the earlier ones found themselves superseded.
    index = max([index, *(step.index for step in pending(steps_now, now)[:1])])
    outcome: ReminderOutcome = "superseded"
    if not await older(index):
        outcome = await _remind(conv, line, index, since, chat=chat, pager=pager, steps=steps_of(index), now=now)
    following = [step for step in steps_now if step.index > index]
    if following:
        await then(_rung(conv_id, following[0], since))
    return outcome


async def _still_waiting(
    conv_id: str, since: str, *, line_of: Callable[[str], Awaitable[Line | None]], store: ConversationStore
) -> tuple[Conversation, Line, list[Step]] | None:
    """The conversation, its line and its ladder, if it still waits since `since`."""
    conv = await store.get(conv_id)
    if conv is None or conv.status == "resolved" or conv.extra.get(WAITING) != since:
        return None
    line = await line_of(conv.line)
    if line is None:
        return None
    steps_now = ladder(line.reminders, hours=line.hours, tz=line.timezone,
                       waiting_since=datetime.fromisoformat(since), urgent=URGENT in conv.extra)
    return conv, line, steps_now


async def _remind(
    conv: Conversation, line: Line, index: int, since: str, *, chat: ThreadChat, pager: Pager, steps: StepLog,
    now: datetime,
) -> ReminderOutcome:
    """Post rung `index` (each effect once, by `steps`)."""
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
