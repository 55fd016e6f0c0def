"""Follow-through: reminders on unanswered threads and paging for urgent ones (PRODUCT §2.4, §2.5).

A conversation is *waiting* from a caller's message until a person replies by text,
resolves it or snoozes it. While it waits, the line's reminder ladder is pending in
`Deadlines` (group `remind:<conv>`); a new caller message restarts it. The ladder counts
open time only, unless the thread is urgent.

An urgent text marks the thread, sends a safety text for life-safety hazards, and starts
paging: round 0 pages whoever is on call at once, each later round (every
`escalate_after`) pages them again together with the backup, until someone presses
"I'm on it" (group `page:<conv>`), for at most `MAX_PAGE_ROUNDS` rounds.

Every timed job carries the episode it belongs to (`since`): a job left from a ladder that
was restarted or stopped finds another episode in the conversation and does nothing. The
state lives in `Conversation.extra` and is changed only under the conversation's lock.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from workflows.conversation import Conversation, Entry
from workflows.durations import format_duration
from workflows.keywords import Match, UrgentMatcher, safety_sms
from workflows.lines import Line, Person
from workflows.oncall import on_duty
from workflows.ports import (
    CallerFlags,
    ConversationLocks,
    ConversationStore,
    Deadlines,
    Pager,
    SmsSender,
    StepLog,
    ThreadChat,
)
from workflows.reminders import ladder, pending, step_kind
from workflows.sending import once, post_once, send_once

__all__ = [
    "MAX_PAGE_ROUNDS",
    "PAGE_KIND",
    "REMIND_KIND",
    "WAKE_KIND",
    "acknowledge",
    "claim",
    "fire_page",
    "fire_reminder",
    "matcher_for",
    "raise_urgent",
    "resolve",
    "snooze",
    "start_waiting",
    "stop_waiting",
    "wake",
]

REMIND_KIND = "reminder"
PAGE_KIND = "page"
WAKE_KIND = "snooze_end"
# Pages repeat every `escalate_after` until acknowledged; after this many rounds the
# thread says paging stopped (5-minute rounds: two hours).
MAX_PAGE_ROUNDS = 24

# Keys in Conversation.extra.
WAITING = "waiting_since"
URGENT, HAZARD = "urgent", "hazard"
PAGING, ACKED_BY = "paging_since", "acked_by"
CLAIMED_BY, RESOLVED_BY = "claimed_by", "resolved_by"
SNOOZED_UNTIL, SNOOZED_BY = "snoozed_until", "snoozed_by"
SAFETY_SENT = "safety_sent"  # hazards, comma-separated


def remind_group(conv_id: str) -> str:
    return f"remind:{conv_id}"


def page_group(conv_id: str) -> str:
    return f"page:{conv_id}"


def matcher_for(line: Line) -> UrgentMatcher:
    """The line's urgent phrases: its vertical's preset with its own changes."""
    return _matcher(line.vertical, line.urgency.add, line.urgency.remove)


@functools.lru_cache(maxsize=256)
def _matcher(vertical: str, add: tuple[str, ...], remove: tuple[str, ...]) -> UrgentMatcher:
    # Built once per distinct setting, not per text.
    return UrgentMatcher.for_line(vertical, add, remove)


async def _update(
    conv: Conversation,
    change: Callable[[Conversation], object],
    *,
    store: ConversationStore,
    locks: ConversationLocks,
) -> tuple[Conversation, object]:
    """Apply `change` to the stored conversation under its lock and save it; its result too."""
    async with locks.hold(conv.line, conv.caller.number):
        fresh = await store.get(conv.id) or conv
        result = change(fresh)
        await store.save(fresh)
    return fresh, result


def _waited(since: str, now: datetime) -> str:
    seconds = max(0, int((now - datetime.fromisoformat(since)).total_seconds()))
    return format_duration(seconds - seconds % 60 if seconds >= 120 else seconds)


# --- the reminder ladder --------------------------------------------------------------------


async def _schedule_ladder(conv: Conversation, line: Line, since: datetime, *, deadlines: Deadlines) -> int:
    steps = ladder(
        line.reminders, hours=line.hours, tz=line.timezone, waiting_since=since, urgent=URGENT in conv.extra
    )
    for step in steps:
        args = {"conv": conv.id, "index": step.index, "since": since.isoformat()}
        await deadlines.schedule(
            f"remind:{conv.id}:{step.index}", step.due, REMIND_KIND, args, group=remind_group(conv.id)
        )
    return len(steps)


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

    await deadlines.cancel_group(remind_group(conv.id))
    conv, waiting = await _update(conv, change, store=store, locks=locks)
    if waiting:
        await _schedule_ladder(conv, line, at, deadlines=deadlines)
    return conv


async def stop_waiting(
    conv: Conversation, *, store: ConversationStore, locks: ConversationLocks, deadlines: Deadlines
) -> Conversation:
    """A person answered the caller: no more reminders until the caller writes again."""
    await deadlines.cancel_group(remind_group(conv.id))
    conv, _ = await _update(conv, lambda c: c.extra.pop(WAITING, None), store=store, locks=locks)
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


# --- urgent threads and paging --------------------------------------------------------------


@dataclass(frozen=True)
class UrgentOutcome:
    newly_urgent: bool
    safety_sent: bool
    paging_started: bool


async def raise_urgent(
    conv: Conversation,
    line: Line,
    match: Match,
    *,
    store: ConversationStore,
    locks: ConversationLocks,
    chat: ThreadChat,
    sms: SmsSender,
    flags: CallerFlags,
    deadlines: Deadlines,
    steps: StepLog,
    now: datetime,
) -> UrgentOutcome:
    """Mark the thread urgent, send the safety text once per hazard, and start paging once.

    The decisions are taken under the lock and recorded in the job's step log, so a re-run
    repeats none of them and two texts racing each other page once.
    """
    decided = await steps.get("urgent")
    if decided is None:

        def change(c: Conversation) -> str:
            fresh = URGENT not in c.extra
            if fresh:
                c.extra[URGENT] = match.phrase
            safety = ""
            sent = [h for h in c.extra.get(SAFETY_SENT, "").split(",") if h]
            if match.hazard and match.hazard not in sent:
                c.extra[HAZARD] = match.hazard
                c.extra[SAFETY_SENT] = ",".join([*sent, match.hazard])
                safety = match.hazard
            page = PAGING not in c.extra and ACKED_BY not in c.extra and c.status == "open"
            if page:
                c.extra[PAGING] = now.isoformat()
            return f"{int(fresh)}|{safety}|{c.extra[PAGING] if page else ''}"

        conv, result = await _update(conv, change, store=store, locks=locks)
        decided = str(result)
        await steps.put("urgent", decided)
    else:
        conv = await store.get(conv.id) or conv
    fresh, hazard, paging_since = decided.split("|")
    if fresh == "1":
        await once(steps, "card", lambda: chat.refresh_card(conv))
        note = Entry("system", f"Urgent: the caller wrote \u201c{match.phrase}\u201d.", at=now, icon="rotating_light")
        await post_once(steps, "urgent_note", chat, conv, note, now)
    safety_sent = False
    if hazard and conv.caller.kind == "ok" and not await flags.suppression(conv.line, conv.caller.number):
        body = safety_sms(hazard, line.vertical, dict(line.urgency.safety_texts))
        result = await send_once(steps, "safety", sms, to=conv.caller.number, from_=line.number, body=body, now=now)
        safety_sent = result.ok
        shown = f"Sent the caller a safety text: \u201c{body}\u201d" if result.ok else (
            f"The safety text could not be sent: {result.reason}.")
        await post_once(steps, "safety_note", chat, conv, Entry("system", shown, at=now, icon="warning"), now)
    if paging_since:
        args = {"conv": conv.id, "round": 0, "since": paging_since}
        await deadlines.schedule(f"page:{conv.id}:0", now, PAGE_KIND, args, group=page_group(conv.id))
    return UrgentOutcome(fresh == "1", safety_sent, bool(paging_since))


PageOutcome = Literal["stale", "paged", "nobody_on_call", "gave_up"]


def _page_texts(conv: Conversation, line: Line) -> tuple[str, str]:
    """What the on-call phone gets: an SMS, and the words spoken on a call."""
    why = conv.extra.get(URGENT, "urgent")
    sms = (f"URGENT {line.label}: {conv.caller.display} wrote \u201c{why}\u201d. "
           "Open Slack and press I'm on it.")
    # "(512) 555-0177" is read out as "5 1 2, 5 5 5, 0 1 7 7".
    groups = re.findall(r"\d+", conv.caller.display) or [conv.caller.number]
    spoken_number = ", ".join(" ".join(group) for group in groups)
    say = (f"Urgent call for {line.label}. A caller at {spoken_number} wrote: {why}. "
           "Please open Slack and press I'm on it.")
    return sms, say


async def _page_person(
    person: Person, role: str, conv: Conversation, line: Line, *, pager: Pager, sms: SmsSender, steps: StepLog,
    now: datetime,
) -> list[str]:
    """Page one person every way they can be reached; how ("slack", "sms", "voice")."""
    sms_text, say = _page_texts(conv, line)
    why = conv.extra.get(URGENT, "urgent")
    dm = f":rotating_light: Urgent on {line.label} ({role}): {conv.caller.display} wrote \u201c{why}\u201d."
    await once(steps, f"dm:{person.user}", lambda: pager.dm(person.user, dm, conv))
    vias = ["slack"]
    if person.phone:
        await send_once(steps, f"sms:{person.user}", sms, to=person.phone, from_=line.number, body=sms_text, now=now)
        vias.append("sms")
        if line.oncall is not None and line.oncall.call:
            await once(steps, f"call:{person.user}", lambda: pager.call(to=person.phone, from_=line.number, say=say))
            vias.append("voice")
    return vias


async def fire_page(
    conv_id: str,
    round_: int,
    since: str,
    *,
    line_of: Callable[[str], Awaitable[Line | None]],
    store: ConversationStore,
    chat: ThreadChat,
    pager: Pager,
    sms: SmsSender,
    deadlines: Deadlines,
    steps: StepLog,
    now: datetime,
) -> tuple[PageOutcome, list[str]]:
    """Page round `round_`: the on-call person, and from round 1 the backup too; then arm the next."""
    conv = await store.get(conv_id)
    if (conv is None or conv.status == "resolved" or ACKED_BY in conv.extra
            or conv.extra.get(PAGING) != since):
        return "stale", []
    line = await line_of(conv.line)
    if line is None:
        return "stale", []
    duty = on_duty(line.oncall, line.timezone, now)
    if duty is None:
        text = "Urgent, and nobody is on call for this line (set oncall in the lines file)."
        entry = Entry("system", text, at=now, icon="rotating_light", mentions=("here",))
        await post_once(steps, "post", chat, conv, entry, now)
        return "nobody_on_call", []
    targets = [(duty.primary, "on call")]
    if round_ >= 1 and duty.backup is not None:
        targets.append((duty.backup, "backup"))
    vias: list[str] = []
    for person, role in targets:
        vias += await _page_person(person, role, conv, line, pager=pager, sms=sms, steps=steps, now=now)
    how = "direct message" + (", text" if any(p.phone for p, _ in targets) else "")
    if line.oncall is not None and line.oncall.call and any(p.phone for p, _ in targets):
        how += " and call"
    again = "" if round_ == 0 else f" (page {round_ + 1})"
    text = f"Paged by {how}{again}. Press I'm on it on the card to stop paging."
    entry = Entry("system", text, at=now, icon="rotating_light", mentions=tuple(p.user for p, _ in targets))
    await post_once(steps, "post", chat, conv, entry, now)
    escalate = line.oncall.escalate_after if line.oncall else 300
    if round_ + 1 >= MAX_PAGE_ROUNDS:
        stop = Entry("system", f"Nobody pressed I'm on it after {round_ + 1} pages; paging stopped.",
                     at=now, icon="warning", mentions=("here",))
        await post_once(steps, "gave_up", chat, conv, stop, now)
        return "gave_up", vias
    args = {"conv": conv.id, "round": round_ + 1, "since": since}
    due = now + timedelta(seconds=escalate)
    await deadlines.schedule(f"page:{conv.id}:{round_ + 1}", due, PAGE_KIND, args, group=page_group(conv.id))
    return "paged", vias


# --- what people do on the card -------------------------------------------------------------

ActionOutcome = tuple[bool, str]  # (changed, what to tell the person who pressed)


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

    conv, earlier = await _update(conv, change, store=store, locks=locks)
    await deadlines.cancel_group(page_group(conv.id))
    if earlier:
        return False, f"<@{earlier}> is already on it; paging had stopped."
    await chat.post_entry(conv, Entry("system", "is on it; paging stopped.", at=now, icon="raising_hand",
                                      mentions=(user,)))
    await chat.refresh_card(conv)
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

    conv, earlier = await _update(conv, change, store=store, locks=locks)
    if earlier:
        who = "You" if earlier == user else f"<@{earlier}>"
        return False, f"{who} already claimed this caller."
    await chat.post_entry(conv, Entry("system", "claimed this caller.", at=now, icon="hand", mentions=(user,)))
    await chat.refresh_card(conv)
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

    conv, earlier = await _update(conv, change, store=store, locks=locks)
    await deadlines.cancel_group(remind_group(conv.id))
    await deadlines.cancel_group(page_group(conv.id))
    if earlier:
        return False, f"Already resolved by <@{earlier}>."
    await chat.post_entry(conv, Entry("system", "resolved this conversation.", at=now, icon="white_check_mark",
                                      mentions=(user,)))
    await chat.refresh_card(conv)
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

    conv, since = await _update(conv, change, store=store, locks=locks)
    if since == "resolved":
        return False, "This conversation is resolved; there is nothing to snooze."
    await deadlines.cancel_group(remind_group(conv.id))
    if since:
        args = {"conv": conv.id, "since": since, "until": until.isoformat()}
        await deadlines.schedule(f"remind:{conv.id}:wake", until, WAKE_KIND, args, group=remind_group(conv.id))
    await chat.post_entry(conv, Entry("system", f"snoozed reminders until {label}.", at=now, icon="zzz",
                                      mentions=(user,)))
    await chat.refresh_card(conv)
    return True, f"Snoozed until {label}."


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
