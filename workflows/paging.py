"""Urgent threads (PRODUCT §2.5): the mark on the card, the safety text, and paging.

An urgent text marks the thread, sends a safety text for life-safety hazards, and starts
paging: round 0 pages whoever is on call at once, each later round (every
`escalate_after`) pages them again together with the backup, until someone presses
"I'm on it" (group `page:<conv>`), for at most `MAX_PAGE_ROUNDS` rounds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from workflows.conversation import Conversation, Entry
from workflows.conversation_state import (
    ACKED_BY,
    HAZARD,
    PAGING,
    SAFETY_SENT,
    URGENT,
    page_group,
    update_locked,
)
from workflows.jobs import PageJob
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
from workflows.texting import once, post_once, send_once

__all__ = ["MAX_PAGE_ROUNDS", "fire_page", "matcher_for", "raise_urgent"]

# Pages repeat every `escalate_after` until acknowledged; after this many rounds the
# thread says paging stopped (5-minute rounds: two hours).
MAX_PAGE_ROUNDS = 24


def matcher_for(line: Line) -> UrgentMatcher:
    """The line's urgent phrases: its vertical's preset with its own changes."""
    return _matcher(line.vertical, line.urgency.add, line.urgency.remove)


@functools.lru_cache(maxsize=256)
def _matcher(vertical: str, add: tuple[str, ...], remove: tuple[str, ...]) -> UrgentMatcher:
    # Built once per distinct setting, not per text.
    return UrgentMatcher.for_line(vertical, add, remove)


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
    language: str = "en",
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

        conv, result = await update_locked(conv, change, store=store, locks=locks)
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
        body = safety_sms(hazard, line.vertical, dict(line.urgency.safety_texts), language)
        texted = await send_once(steps, "safety", sms, to=conv.caller.number, from_=line.number, body=body, now=now)
        safety_sent = texted.ok
        shown = f"Sent the caller a safety text: \u201c{body}\u201d" if texted.ok else (
            f"The safety text could not be sent: {texted.reason}.")
        await post_once(steps, "safety_note", chat, conv, Entry("system", shown, at=now, icon="warning"), now)
    if paging_since:
        job = PageJob(conv=conv.id, round=0, since=paging_since)
        await deadlines.schedule(f"page:{conv.id}:0", now, job, group=page_group(conv.id))
    return UrgentOutcome(fresh == "1", safety_sent, bool(paging_since))


PageOutcome = Literal["stale", "paged", "nobody_on_call", "gave_up"]


def spoken(display: str, fallback: str = "") -> str:
    """A phone number as a voice should read it: "(512) 555-0177" as "5 1 2, 5 5 5, 0 1 7 7"."""
    groups = re.findall(r"\d+", display) or ([fallback] if fallback else [])
    return ", ".join(" ".join(group) for group in groups) or "an unknown number"


def _page_texts(conv: Conversation, line: Line) -> tuple[str, str]:
    """What the on-call phone gets: an SMS, and the words spoken on a call."""
    why = conv.extra.get(URGENT, "urgent")
    sms = (f"URGENT {line.label}: {conv.caller.display} wrote \u201c{why}\u201d. "
           "Open Slack and press I'm on it.")
    say = (f"Urgent call for {line.label}. A caller at {spoken(conv.caller.display, conv.caller.number)} wrote: {why}. "
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
    job = PageJob(conv=conv.id, round=round_ + 1, since=since)
    due = now + timedelta(seconds=escalate)
    await deadlines.schedule(f"page:{conv.id}:{round_ + 1}", due, job, group=page_group(conv.id))
    return "paged", vias

