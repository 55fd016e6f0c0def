"""The weekly digest in each line's channel (PRODUCT §2.6): what textback recovered this week.

Figures come per local day (missed calls, text-backs, caller texts, first team replies and
how long they took) and leads by status; everything here is pure and clock-free.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.durations import format_wait

__all__ = ["DayFigures", "Digest", "WeekFigures", "bars", "next_digest_at", "summarize", "week_of", "weekly_digest"]

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BAR = "\u2587"  # ▇
BAR_WIDTH = 12  # the busiest day's bar; short enough for a phone's width


@dataclass(frozen=True)
class DayFigures:
    """One local day of one line."""

    day: date
    missed: int = 0
    texted: int = 0  # text-backs sent
    not_texted: int = 0  # text-backs held back by a guard
    texts_in: int = 0
    replied: int = 0  # conversations that got their first team reply that day
    reply_seconds: tuple[float, ...] = ()  # how long each of those first replies took
    answered: int = 0  # team replies texted (every one, not only the first)
    reply_to_textback: int = 0  # caller texts after their text-back (STOP, START, HELP aside)
    # For the recovery figure (workflows/recovery.py): per figure, the callers (lead ids) it
    # counted that day, and how many of its events had no caller to tell apart (a withheld
    # number, or a count from before callers were recorded).
    callers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unnamed: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WeekFigures:
    start: date
    end: date  # inclusive
    missed: int
    texted: int
    not_texted: int
    texts_in: int
    replied: int
    median_reply_s: float | None
    best: DayFigures | None
    worst: DayFigures | None
    leads: dict[str, int] = field(default_factory=dict)
    days: tuple[DayFigures, ...] = ()


@dataclass(frozen=True)
class Digest:
    """The weekly message: the title, the one sentence an owner reads (what it earned), the week
    as a bar per day, then the details."""

    title: str
    headline: str
    chart: tuple[str, ...]
    details: tuple[str, ...]


def week_of(now: datetime, tz: str) -> tuple[date, date]:
    """The last full Monday-Sunday week before `now`'s local date."""
    today = now.astimezone(ZoneInfo(tz)).date()
    this_monday = today - timedelta(days=today.weekday())
    start = this_monday - timedelta(days=7)
    return start, start + timedelta(days=6)


def _rate(d: DayFigures) -> float:
    return min(d.replied, d.missed) / d.missed if d.missed else 0.0


def summarize(days: Sequence[DayFigures], leads: dict[str, int] | None = None) -> WeekFigures:
    """Totals, the median first-reply time, and the best and worst day by callers answered."""
    ordered = sorted(days, key=lambda d: d.day)
    busy = [d for d in ordered if d.missed]
    replies = [s for d in ordered for s in d.reply_seconds]
    # Best: the highest share of missed calls answered (then the most calls); worst the reverse.
    best = max(busy, key=lambda d: (_rate(d), d.missed), default=None)
    worst = min(busy, key=lambda d: (_rate(d), -d.missed), default=None)
    if best is not None and worst is not None and best.day == worst.day:
        worst = None
    return WeekFigures(
        start=ordered[0].day if ordered else date.min,
        end=ordered[-1].day if ordered else date.min,
        missed=sum(d.missed for d in ordered),
        texted=sum(d.texted for d in ordered),
        not_texted=sum(d.not_texted for d in ordered),
        texts_in=sum(d.texts_in for d in ordered),
        replied=sum(d.replied for d in ordered),
        median_reply_s=statistics.median(replies) if replies else None,
        best=best,
        worst=worst,
        leads=dict(leads or {}),
        days=tuple(ordered),
    )


def _day_label(d: DayFigures) -> str:
    answered = min(d.replied, d.missed)
    return f"{DAY_NAMES[d.day.weekday()]} {d.day.strftime('%b')} {d.day.day} ({answered} of {d.missed} answered)"


def bars(days: Sequence[DayFigures]) -> tuple[str, ...]:
    """Missed calls per day as text bars, e.g. "Tue ▇▇▇▇ 5": the busiest day is BAR_WIDTH long,
    any day with a call at least one block."""
    top = max((d.missed for d in days), default=0)
    out = []
    for d in days:
        width = -(-d.missed * BAR_WIDTH // top) if top else 0  # rounded up
        out.append(f"{DAY_NAMES[d.day.weekday()]} {BAR * width + ' ' if width else ''}{d.missed}")
    return tuple(out)


def weekly_digest(week: WeekFigures, label: str, headline: str, answered: str, statuses: Sequence[str]) -> Digest:
    """The message for `week`: `headline` is what it earned (workflows/recovery.py), `answered`
    its "answered by the team" part, e.g. "5 of 9 missed callers"."""
    span = f"{week.start.strftime('%a %b')} {week.start.day} - {week.end.strftime('%a %b')} {week.end.day}"
    title = f"Weekly report for {label}, {span}"
    if not week.missed and not week.texts_in:
        return Digest(title, "No missed calls or texts this week.", (), ())
    calls = f"Calls: {week.missed} missed, {week.texted} texted back"
    if week.not_texted:
        calls += f", {week.not_texted} not texted (opted out, landline, withheld...)"
    median = format_wait(week.median_reply_s) if week.median_reply_s is not None else "no replies yet"
    details = [calls, f"Texts from callers: {week.texts_in}",
               f"Answered by the team: {answered}; median first reply {median}"]
    counted = Counter(week.leads)
    if counted:
        details.append("New leads: " + ", ".join(f"{counted[s]} {s}" for s in statuses if counted.get(s)))
    if week.best is not None:
        best = f"Best day: {_day_label(week.best)}"
        if week.worst is not None:
            best += f"; worst: {_day_label(week.worst)}"
        details.append(best)
    return Digest(title, headline, bars(week.days), tuple(details))


def next_digest_at(now: datetime, tz: str, weekday: int, minute: int) -> datetime:
    """The next local `weekday` at `minute` after `now` (the wall time, across DST)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    if at <= local:
        at = datetime.combine(day + timedelta(days=7), time(minute // 60, minute % 60), tzinfo=zone)
    return at
