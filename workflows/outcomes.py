"""What a finished job adds up to: the line's figures and the caller's lead (PRODUCT §2.6).

Decided here, recorded through the `Outcomes` port once the job's own work (the text, the
thread posts) is done. Recording may never undo or repeat that work: a failure is logged and
swallowed, and a job's figures are counted at most once (step "outcome"), even when the job
runs again; the lead store applies each event once by its id.
"""

from __future__ import annotations

import logging
from datetime import datetime

from workflows.conversation import Caller, Conversation
from workflows.conversation_state import FIRST_REPLY_AT
from workflows.leads import EventKind, LeadEvent, lead_id
from workflows.ports import Figures, Outcomes, StepLog

log = logging.getLogger(__name__)


def lead_event(
    kind: EventKind,
    event_id: str,
    conv: Conversation,
    at: datetime,
    *,
    by: str = "",
    recording_url: str = "",
    transcript: str = "",
    answer: tuple[str, str] = ("", ""),
    text: str = "",
) -> LeadEvent:
    """Something that happened in `conv`, as the caller's lead hears of it."""
    return LeadEvent(
        kind=kind, event_id=event_id, line=conv.line, phone=conv.caller.number, at=at, name=conv.caller.name,
        line_name=conv.line_label, conversation_id=conv.id, channel=conv.channel, thread_ts=conv.thread_id or "",
        by=by, recording_url=recording_url, transcript=transcript, answer=answer, text=text or transcript,
    )


def caller_key(line: str, caller: Caller) -> str:
    """Who an event's figures belong to: the caller's lead id ("" for a withheld or invalid
    number, which cannot be told apart from the next one)."""
    return lead_id(line, caller.number) if caller.kind == "ok" and caller.number.startswith("+") else ""


def team_reply_figures(conv: Conversation, at: datetime) -> Figures:
    """A team reply texted at `at`: the caller was answered; the conversation's first reply is
    also timed (how long the caller waited)."""
    caller = caller_key(conv.line, conv.caller)
    if conv.extra.get(FIRST_REPLY_AT) != at.isoformat():
        return Figures(conv.line, at, ("answered",), caller=caller)
    waited = max(0.0, (at - conv.opened_at).total_seconds())
    return Figures(conv.line, at, ("answered", "replied"), reply_seconds=waited, caller=caller)


def caller_text_figures(conv: Conversation, at: datetime, *, keyword: bool) -> Figures:
    """A caller's text; after their text-back (and not a STOP, START or HELP) it is also a reply to it."""
    replied = conv.textback == "sent" and not keyword
    counted = ("texts_in", "reply_to_textback") if replied else ("texts_in",)
    return Figures(conv.line, at, counted, caller=caller_key(conv.line, conv.caller))


async def record_outcome(
    what: str, job_id: str, figures: Figures | None, lead: LeadEvent | None, *, steps: StepLog, outcomes: Outcomes
) -> None:
    """Count the job's figures the first time it gets here, then record its lead; never raises."""
    try:
        if await _first_time(steps) and figures is not None:
            await outcomes.count(figures)
        if lead is not None:
            await outcomes.record_lead(lead)
    except Exception:  # the job's own work is done; this must never undo or repeat it
        log.exception("job %s: recording the %s outcome failed", job_id, what)


async def record_lead_safely(job_id: str, event: LeadEvent, *, outcomes: Outcomes) -> None:
    """Record a lead event for a caller with a real number; never raises (the job's work is done)."""
    if not event.phone.startswith("+"):
        return
    try:
        await outcomes.record_lead(event)
    except Exception:  # as in record_outcome
        log.exception("job %s: recording the %s outcome failed", job_id, "lead")


async def _first_time(steps: StepLog) -> bool:
    """True the first time a job's outcome is counted: marked before counting, so a re-run after
    a crash counts nothing (a count missed is better than a count doubled)."""
    if await steps.get("outcome") is not None:
        return False
    await steps.put("outcome", "1")
    return True
