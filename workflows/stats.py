"""Simple figures for a line over a period, from its stored conversations (`/textback stats`, App Home).

Pure and clock-free: the caller passes the conversations and the period's start.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from workflows.conversation import Conversation

__all__ = ["FIRST_REPLY_AT", "LineStats", "format_minutes", "line_stats"]

FIRST_REPLY_AT = "first_reply_at"  # Conversation.extra: when the team first texted the caller back


@dataclass(frozen=True)
class LineStats:
    """What happened on a line since `since`."""

    conversations: int
    missed_calls: int  # every missed call, repeats in the same thread included
    texted: int  # conversations that got the automatic text-back
    texts_in: int  # caller texts
    replied: int  # conversations the team texted back
    open_threads: int  # of those conversations, not resolved yet
    median_first_reply_s: float | None  # opened -> first team text, over those replied


def line_stats(conversations: Iterable[Conversation], line: str, since: datetime) -> LineStats:
    """The figures for conversations on `line` opened at or after `since`."""
    found = [c for c in conversations if c.line == line and c.opened_at >= since]
    waits = [
        (datetime.fromisoformat(c.extra[FIRST_REPLY_AT]) - c.opened_at).total_seconds()
        for c in found
        if FIRST_REPLY_AT in c.extra
    ]
    return LineStats(
        conversations=len(found),
        missed_calls=sum(c.calls for c in found),
        texted=sum(1 for c in found if c.textback == "sent"),
        texts_in=sum(c.texts_in for c in found),
        replied=len(waits),
        open_threads=sum(1 for c in found if c.status != "resolved"),
        median_first_reply_s=statistics.median(waits) if waits else None,
    )


def format_minutes(seconds: float | None) -> str:
    """ "4 min", "1 h 05 min", "under a minute", or "no replies yet"."""
    if seconds is None:
        return "no replies yet"
    if seconds < 60:
        return "under a minute"
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
