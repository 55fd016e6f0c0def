"""The leads export: one CSV row per lead, free text guarded against spreadsheet formulas
(what `/textback leads export` uploads and `textback leads export` writes)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from workflows.leads import Lead, thread_link


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


CSV_COLUMNS = (
    "lead_id",
    "phone",
    "name",
    "line",
    "line_name",
    "status",
    "origin",
    "created_at",
    "first_call_at",
    "last_call_at",
    "last_contact_at",
    "calls",
    "texts_in",
    "team_replies",
    "first_reply_at",
    "minutes_to_first_reply",
    "slack_thread",
    "status_history",
    "answers",
    "voicemail",
    "voicemail_transcript",
    "transcript",
)
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _history_text(lead: Lead) -> str:
    return "; ".join(
        f"{c.old}->{c.new} by {c.by} at {c.at.isoformat()}" for c in lead.history
    )


def csv_row(lead: Lead) -> list[str]:
    """One lead as a CSV row in CSV_COLUMNS order; free text guarded against spreadsheet formulas."""
    to_reply = ""
    if lead.first_reply_at is not None:
        to_reply = f"{(lead.first_reply_at - lead.created_at).total_seconds() / 60:.1f}"
    values = {
        "lead_id": lead.id,
        "phone": lead.phone,  # E.164 from the carrier, "+" and digits only: not a formula
        "name": _safe_cell(lead.name),
        "line": lead.line,
        "line_name": _safe_cell(lead.line_name),
        "status": lead.status,
        "origin": lead.origin,
        "created_at": lead.created_at.isoformat(),
        "first_call_at": _iso(lead.first_call_at),
        "last_call_at": _iso(lead.last_call_at),
        "last_contact_at": _iso(lead.last_event_at or lead.created_at),
        "calls": str(lead.calls),
        "texts_in": str(lead.texts_in),
        "team_replies": str(lead.team_replies),
        "first_reply_at": _iso(lead.first_reply_at),
        "minutes_to_first_reply": to_reply,
        "slack_thread": thread_link(lead.channel, lead.thread_ts),
        "status_history": _safe_cell(_history_text(lead)),
        "answers": _safe_cell("; ".join(f"{k}: {v}" for k, v in lead.answers.items())),
        "voicemail": lead.voicemail_url,
        "voicemail_transcript": _safe_cell(lead.voicemail_transcript),
        "transcript": _safe_cell("\n".join(f"{said.at.isoformat(timespec='minutes')} {said.who}: {said.text}"
                                           for said in lead.transcript)),
    }
    return [values[c] for c in CSV_COLUMNS]


def csv_text(leads: list[Lead]) -> str:
    """The export: a header row, then one row per lead (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(lead) for lead in leads)
    return out.getvalue()


def export_filename(line: str, now: datetime) -> str:
    return f"textback-leads-{line.lstrip('+')}-{now:%Y-%m-%d}.csv"
