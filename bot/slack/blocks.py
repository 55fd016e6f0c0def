"""Block Kit for the thread: the parent card and the lines posted under it.

Everything a caller controls (their text, their CNAM name, media names) goes through
`escape` and into `verbatim` mrkdwn, so it can never mention anyone or form a link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.mrkdwn import escape
from workflows.conversation import Conversation, Entry

Block = dict[str, Any]

TEXTBACK_LABELS = {
    "pending": ":hourglass_flowing_sand: sending text-back",
    "sent": ":white_check_mark: text-back sent",
    "failed": ":warning: text-back failed",
    "suppressed": ":no_entry_sign: no text-back",
    "none": ":speech_balloon: no text-back needed",
}


def local_time(at: datetime | None, tz: str) -> str:
    """`10:42 AM` in the business's timezone (`Tue 10:42 AM` when not today is unknown)."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(tz)).strftime("%a %b %-d, %-I:%M %p")


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def caller_title(conv: Conversation) -> str:
    """`(512) 555-0123 (Jane Doe)`, escaped."""
    title = escape(conv.caller.display)
    if conv.caller.name:
        title += f" ({escape(conv.caller.name)})"
    return title


def card(conv: Conversation, tz: str) -> tuple[str, list[Block]]:
    """The parent message: fallback text and blocks."""
    verb = "Missed call" if conv.origin == "missed_call" else "Text"
    icon = ":telephone_receiver:" if conv.origin == "missed_call" else ":incoming_envelope:"
    title = f"{icon} *{verb} from {caller_title(conv)}*"
    when = local_time(conv.opened_at, tz)
    hours = "business hours" if conv.in_hours else "after hours"
    status = TEXTBACK_LABELS[conv.textback]
    if conv.textback_detail and conv.textback in ("suppressed", "failed"):
        status += f": {escape(conv.textback_detail)}"
    facts = [f"*{escape(conv.line_label)}*", when, hours]
    if conv.calls > 1:
        facts.append(f"{conv.calls} calls")
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(title)},
        {"type": "context", "elements": [_mrkdwn(" · ".join(facts))]},
        {"type": "context", "elements": [_mrkdwn(status)]},
    ]
    fallback = f"{verb} from {escape(conv.caller.display)} on {escape(conv.line_label)}"
    return fallback, blocks


def entry(e: Entry, conv: Conversation, tz: str) -> tuple[str, list[Block]]:
    """One thread line: who speaks, when, and the escaped text."""
    when = local_time(e.at, tz).rsplit(", ", 1)[-1] if e.at else ""
    if e.speaker == "caller":
        who = f":bust_in_silhouette: *Caller* {escape(conv.caller.display)}"
        body = escape(e.text) if e.text else "_(no text)_"
        blocks: list[Block] = [
            {"type": "context", "elements": [_mrkdwn(f"{who} · {when}")]},
            {"type": "section", "text": _mrkdwn(body)},
        ]
        links = [f"<{escape(url)}|attachment {i}>" for i, url in enumerate(e.media, 1)]
        if links:
            blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(links))]})
        return f"Caller: {escape(e.text)}"[:3000], blocks
    icon = f":{e.icon}: " if e.icon else ""
    text = f"{icon}{escape(e.text)}"
    return escape(e.text)[:3000], [{"type": "context", "elements": [_mrkdwn(text[:3000])]}]
