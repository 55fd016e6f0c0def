"""The lead keeps the conversation: caller texts, team replies and voicemail transcripts, with
time and author, in order; bounded, and cut to the retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflows.leads import (
    TRANSCRIPT_KEPT,
    LeadEvent,
    apply_event,
    lead_document,
    without_old_words,
)
from workflows.leads_csv import csv_row

T0 = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
LINE, CALLER = "+15125550100", "+15125550123"


def event(kind: str, minutes: int, text: str = "", **kw: str) -> LeadEvent:
    return LeadEvent(kind=kind, event_id=f"{kind}:{minutes}", line=LINE, phone=CALLER,  # type: ignore[arg-type]
                     at=T0 + timedelta(minutes=minutes), text=text, **kw)


def test_what_was_said_is_kept_in_order_with_who_said_it() -> None:
    lead, _ = apply_event(None, event("missed_call", 0))
    lead, changed = apply_event(lead, event("team_reply", 5, "On our way", by="U0DANA0001"))
    assert "transcript" in changed
    lead, _ = apply_event(lead, event("caller_sms", 2, "The sink is leaking"))  # arrived late, said earlier
    lead, _ = apply_event(lead, event("voicemail", 9, "Call me back please", recording_url="https://x/RE1",
                                      transcript="Call me back please"))
    assert [(s.who, s.kind, s.text) for s in lead.transcript] == [
        ("caller", "caller_text", "The sink is leaking"),
        ("U0DANA0001", "team_reply", "On our way"),
        ("textback", "voicemail_transcript", "Call me back please"),
    ]
    doc = lead_document(lead)["transcript"]
    assert doc[0] == {"at": (T0 + timedelta(minutes=2)).isoformat(), "from": "caller", "kind": "caller_text",
                      "text": "The sink is leaking"}
    row = dict(zip(("transcript",), csv_row(lead)[-1:], strict=True))
    assert row["transcript"].splitlines()[1].endswith("U0DANA0001: On our way")


def test_a_status_change_or_a_call_adds_no_words() -> None:
    lead, _ = apply_event(None, event("missed_call", 0))
    lead, _ = apply_event(lead, event("status", 1, status="booked", by="U1"))
    assert lead.transcript == []


def test_bounded_and_cut_to_the_retention() -> None:
    lead, _ = apply_event(None, event("missed_call", 0))
    for i in range(TRANSCRIPT_KEPT + 5):
        lead, _ = apply_event(lead, event("caller_sms", i + 1, f"text {i}"))
    assert len(lead.transcript) == TRANSCRIPT_KEPT and lead.transcript[-1].text == f"text {TRANSCRIPT_KEPT + 4}"
    recent = without_old_words(lead, T0 + timedelta(minutes=TRANSCRIPT_KEPT))
    assert [s.text for s in recent.transcript] == [f"text {i}" for i in range(TRANSCRIPT_KEPT - 1, TRANSCRIPT_KEPT + 5)]
