"""Leads: one record per caller per line, kept up to date by every call and text (PRODUCT §2.6).

Pure: the edges load a lead, apply an event here and store the result. Time is passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

LeadStatus = Literal["new", "contacted", "qualified", "booked", "lost", "spam"]
STATUSES: tuple[LeadStatus, ...] = (
    "new",
    "contacted",
    "qualified",
    "booked",
    "lost",
    "spam",
)
EventKind = Literal["missed_call", "caller_sms", "team_reply", "status", "voicemail", "answer"]
# Who moved a lead when no person did.
AUTOMATIC = "textback"


@dataclass(frozen=True)
class StatusChange:
    """One step of a lead's history: from which status to which, who, when."""

    old: str
    new: str
    by: str  # a Slack user id, or AUTOMATIC
    at: datetime


@dataclass
class Said:
    """One line of the conversation the lead keeps: when, who ("caller" or a Slack user id),
    what kind (a caller text, a team reply, a call back, a voicemail transcript), the words."""

    at: datetime
    who: str
    kind: str
    text: str


# What the lead keeps of a conversation: enough for a CRM, never unbounded.
TRANSCRIPT_KEPT = 200
# The ids of the events a lead last took, so a re-run of one (its job retried) is told apart:
# a re-run comes within minutes, long before fifty more calls and texts from one caller.
APPLIED_KEPT = 50

@dataclass
class Lead:
    """A caller on a line, as the business's CRM would see them."""

    line: str  # the line's E.164 number
    phone: str  # the caller's number (E.164, or what the carrier gave)
    created_at: datetime
    updated_at: datetime
    origin: Literal["missed_call", "texted_in"]
    name: str = ""
    line_name: str = ""
    status: LeadStatus = "new"
    first_call_at: datetime | None = None
    last_call_at: datetime | None = None
    calls: int = 0
    texts_in: int = 0
    team_replies: int = 0
    first_reply_at: datetime | None = None
    last_event_at: datetime | None = None
    conversation_id: str = ""
    channel: str = ""
    thread_ts: str = ""
    history: list[StatusChange] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # qualification answers by label
    voicemail_url: str = ""  # the latest voicemail's recording (Twilio URL)
    voicemail_transcript: str = ""  # its transcript, when transcription is on
    # What was said (caller texts, team replies, call backs, voicemail transcripts), oldest first.
    transcript: list[Said] = field(default_factory=list)
    version: int = 0  # bumped on every change: the order of CRM deliveries
    # The ids of the last APPLIED_KEPT events applied, oldest first. None: the record was
    # written by an older version, which kept them apart (a key per event).
    applied: list[str] | None = None
    # Set when this version first wrote a record an older version wrote: an event up to this
    # time may have been applied by that version, so its key is looked for too.
    keyed_until: datetime | None = None

    @property
    def id(self) -> str:
        return lead_id(self.line, self.phone)


def lead_id(line: str, phone: str) -> str:
    """A stable id for a caller on a line that shows neither number."""
    return "ld_" + hashlib.sha256(f"{line}|{phone}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class LeadEvent:
    """Something that happened to a caller's conversation, as a finished job saw it."""

    kind: EventKind
    event_id: str  # the job or command that caused it: an event is applied once
    line: str
    phone: str
    at: datetime
    name: str = ""
    line_name: str = ""
    conversation_id: str = ""
    channel: str = ""
    thread_ts: str = ""
    status: str = ""  # kind "status": the new status
    by: str = ""  # kind "status" and "team_reply": the Slack user
    recording_url: str = ""  # kind "voicemail"
    transcript: str = ""  # kind "voicemail", when the transcript arrived
    answer: tuple[str, str] = ("", "")  # kind "answer": (label, value)
    text: str = ""  # the words said, for the lead's transcript (caller_sms, team_reply, voicemail)


def check_move(current: str, target: str) -> str:
    """Why a person may not move a lead from `current` to `target` ("" when allowed).

    Every funnel status can be set, in any order, to correct mistakes; only "new" is kept
    for leads nobody has dealt with, so it is reachable again only from spam (a mistake).
    """
    if target not in STATUSES:
        return f'"{target}" is not a lead status: use one of {", ".join(STATUSES)}'
    if target == current:
        return f"the lead is already {current}"
    if target == "new" and current != "spam":
        return 'a lead goes back to "new" only from spam; use "contacted" instead'
    return ""


def was_applied(lead: Lead, event_id: str) -> bool:
    """Whether the lead names `event_id` among the events it last took."""
    return event_id in (lead.applied or ())


def maybe_keyed(lead: Lead, event: LeadEvent) -> bool:
    """Whether an older version, which kept a key per event applied, may have applied `event`:
    the lead is as it wrote it, or the event is from before this version first wrote it."""
    return lead.applied is None or (lead.keyed_until is not None and event.at <= lead.keyed_until)


def apply_event(lead: Lead | None, event: LeadEvent) -> tuple[Lead, list[str]]:
    """The lead after `event`, and the names of the fields that changed (empty: nothing did).

    The lead also keeps the event's id, even when nothing else changed, so applying it again
    is a no-op; an event it already names is not applied again.
    """
    if lead is not None and was_applied(lead, event.event_id):
        return lead, []
    before = _snapshot(lead) if lead is not None else None
    current = lead if lead is not None else _new_lead(event)
    after = _applied(replace(current, history=list(current.history), answers=dict(current.answers),
                             transcript=list(current.transcript)), event)
    after.applied = [*(current.applied or ()), event.event_id][-APPLIED_KEPT:]
    if lead is not None and lead.applied is None:
        after.keyed_until = max(event.at, lead.updated_at)
    changed = sorted(
        k for k, v in _snapshot(after).items() if before is None or before.get(k) != v
    )
    if not changed and lead is not None:
        return replace(lead, applied=after.applied, keyed_until=after.keyed_until), []
    after.updated_at = event.at
    after.version = (lead.version if lead is not None else 0) + 1
    return after, changed


def _new_lead(event: LeadEvent) -> Lead:
    origin: Literal["missed_call", "texted_in"] = (
        "missed_call" if event.kind == "missed_call" else "texted_in"
    )
    return Lead(
        line=event.line,
        phone=event.phone,
        created_at=event.at,
        updated_at=event.at,
        origin=origin,
    )


def _applied(lead: Lead, event: LeadEvent) -> Lead:
    lead.name = lead.name or event.name
    lead.line_name = event.line_name or lead.line_name
    if event.conversation_id:
        # A new conversation (after the last one was resolved) moves the lead to its thread.
        same = lead.conversation_id == event.conversation_id
        lead.conversation_id, lead.channel = (
            event.conversation_id,
            event.channel or lead.channel,
        )
        lead.thread_ts = event.thread_ts or (lead.thread_ts if same else "")
    if event.kind in ("missed_call", "caller_sms", "team_reply"):
        lead.last_event_at = _latest(lead.last_event_at, event.at)
    if event.kind == "missed_call":
        lead.calls += 1
        lead.first_call_at = lead.first_call_at or event.at
        lead.last_call_at = _latest(lead.last_call_at, event.at)
    elif event.kind == "caller_sms":
        lead.texts_in += 1
    elif event.kind == "team_reply":
        lead.team_replies += 1
        lead.first_reply_at = lead.first_reply_at or event.at
        if lead.status == "new":
            _move(lead, "contacted", event.by or AUTOMATIC, event.at)
    elif event.kind == "answer" and event.answer[0]:
        lead.answers[event.answer[0]] = event.answer[1]
    elif event.kind == "voicemail":
        lead.voicemail_url = event.recording_url or lead.voicemail_url
        lead.voicemail_transcript = event.transcript or (
            lead.voicemail_transcript if event.recording_url in ("", lead.voicemail_url) else "")
    elif event.kind == "status" and not check_move(lead.status, event.status):
        _move(lead, event.status, event.by or AUTOMATIC, event.at)
    if event.text and event.kind in SAID_KINDS:
        who = "caller" if event.kind == "caller_sms" else (event.by or AUTOMATIC)
        kind = "voicemail_transcript" if event.kind == "voicemail" else SAID_KINDS[event.kind]
        lead.transcript.append(Said(at=event.at, who=who, kind=kind, text=event.text))
        lead.transcript.sort(key=lambda said: said.at)
        del lead.transcript[:-TRANSCRIPT_KEPT]
    return lead


# Events whose words the lead's transcript keeps, and how it names them.
SAID_KINDS = {"caller_sms": "caller_text", "team_reply": "team_reply", "voicemail": "voicemail_transcript"}


def without_old_words(lead: Lead, since: datetime) -> Lead:
    """The lead with its transcript cut to what was said since `since` (the retention)."""
    kept = [said for said in lead.transcript if said.at >= since]
    return lead if len(kept) == len(lead.transcript) else replace(lead, transcript=kept)


def _move(lead: Lead, status: str, by: str, at: datetime) -> None:
    lead.history.append(StatusChange(old=lead.status, new=status, by=by, at=at))
    lead.status = status  # type: ignore[assignment]  # checked against STATUSES by the caller


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at > current else current


def lead_fields(lead: Lead) -> dict[str, Any]:
    """The lead as a dict of its fields, history entries as dicts: what dataclasses.asdict
    gives, without its deep copy of every value (all but the history and answers are
    immutable), which took a few percent of the CPU a missed call costs."""
    data = dict(vars(lead))
    data["history"] = [dict(vars(change)) for change in lead.history]
    data["answers"] = dict(lead.answers)
    data["transcript"] = [dict(vars(said)) for said in lead.transcript]
    data["applied"] = list(lead.applied) if lead.applied is not None else None
    return data


def _snapshot(lead: Lead) -> dict[str, Any]:
    data = lead_fields(lead)
    for volatile in ("updated_at", "version", "last_event_at", "applied", "keyed_until"):
        data.pop(volatile)
    return data


# --- the CRM webhook payload ----------------------------------------------------------

PAYLOAD_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def thread_link(channel: str, thread_ts: str) -> str:
    """A link that opens the Slack thread for anyone in the workspace."""
    if not channel or not thread_ts:
        return ""
    return f"https://slack.com/archives/{channel}/p{thread_ts.replace('.', '')}"


def lead_document(lead: Lead) -> dict[str, Any]:
    """The lead as JSON-ready data (the `lead` object of the webhook, see docs/crm-webhook.schema.json)."""
    return {
        "id": lead.id,
        "phone": lead.phone,
        "name": lead.name,
        "line": lead.line,
        "line_name": lead.line_name,
        "status": lead.status,
        "origin": lead.origin,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "first_call_at": _iso(lead.first_call_at),
        "last_call_at": _iso(lead.last_call_at),
        "calls": lead.calls,
        "texts_in": lead.texts_in,
        "team_replies": lead.team_replies,
        "first_reply_at": _iso(lead.first_reply_at),
        "slack": {
            "channel": lead.channel,
            "thread_ts": lead.thread_ts,
            "link": thread_link(lead.channel, lead.thread_ts),
        },
        "status_history": [
            {"from": c.old, "to": c.new, "by": c.by, "at": c.at.isoformat()}
            for c in lead.history
        ],
        "answers": dict(lead.answers),
        "voicemail": {"url": lead.voicemail_url, "transcript": lead.voicemail_transcript},
        "transcript": [{"at": said.at.isoformat(), "from": said.who, "kind": said.kind, "text": said.text}
                       for said in lead.transcript],
        "version": lead.version,
    }


def webhook_payload(
    lead: Lead, changes: list[str], *, business: str, cause: EventKind
) -> dict[str, Any]:
    """What the CRM receives when a lead is created or updated (`cause`: the event's kind)."""
    created = lead.version == 1
    return {
        "schema_version": PAYLOAD_VERSION,
        "event": "lead.created" if created else "lead.updated",
        "delivery_id": f"{lead.id}.{lead.version}",
        "cause": cause,
        "occurred_at": lead.updated_at.isoformat(),
        "business": business,
        "changes": changes,
        "lead": lead_document(lead),
    }


def in_period(lead: Lead, since: datetime | None) -> bool:
    """True when the lead was active at or after `since` (None: any time)."""
    return since is None or (lead.last_event_at or lead.created_at) >= since


def period_start(text: str, now: datetime) -> datetime | None:
    """The start of an export period: "7d", "24h", "2w", "all" (None); ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in ("", "all"):
        return None
    units = {"h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = cleaned[:-1], cleaned[-1:]
    if unit not in units or not (number.isascii() and number.isdigit()) or int(number) == 0:
        raise ValueError(f'"{text}" is not a period: use e.g. 7d, 24h, 4w or all')
    return now - timedelta(seconds=int(number) * units[unit])
