"""Opening hours: parse what operators write, and answer "open now?" and "open when?".

Pure and clock-free: callers pass `now` (timezone-aware). Times are wall-clock minutes in
the line's IANA timezone, so DST changes move the instant, never the opening time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.lines import Shift, WeeklyHours

__all__ = [
    "WEEKDAYS",
    "describe_next_open",
    "format_shift",
    "format_time",
    "hours_today",
    "is_open",
    "next_open",
    "parse_shifts",
    "parse_weekday",
    "shifts_on",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
SEARCH_DAYS = 14
EXAMPLE = 'use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'
_SPLIT_EXAMPLE = 'e.g. "08:00-12:00,13:00-17:00"'

_CLOSED_WORDS = frozenset({"", "closed", "off", "none", "-"})
_ALL_DAY_WORDS = frozenset({"24h", "24 h", "24hrs", "24 hours", "24/7", "all day", "open 24h", "open 24 hours"})
_WEEKDAY_ALIASES = {"weds": 2, "thur": 3, "thurs": 3}
# "9", "09:30", "8.00", "0800", "9am", "9:30 pm", "9 a.m."
_TIME = re.compile(r"^(?P<h>\d{1,2})(?:[:.]?(?P<m>\d{2}))?\s*(?:(?P<ampm>[ap])\.?(?:m\.?)?)?$")
# Range separators people type: hyphen, en/em dash, "to".
_RANGE = re.compile(r"\s*(?:-|–|—|\bto\b)\s*")


def parse_weekday(text: str) -> int:
    """The weekday number (0 = Monday) for "mon", "Monday", "Tues", "thurs", "Fri."..."""
    word = str(text).strip().lower().rstrip(".")
    if word in _WEEKDAY_ALIASES:
        return _WEEKDAY_ALIASES[word]
    # Any prefix of at least two letters names exactly one day ("tu", "th", "sa", "su").
    matches = [i for i, name in enumerate(WEEKDAYS) if len(word) >= 2 and name.startswith(word)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f'"{text}" is not a weekday: use mon, tue, wed, thu, fri, sat or sun')


def _parse_time(text: str, *, is_end: bool) -> int:
    """Minutes since midnight for one side of a range; 24:00 (or a closing 00:00) is 1440."""
    match = _TIME.match(text.strip().lower())
    if not match:
        raise ValueError(f'"{text}" is not a time of day: {EXAMPLE}')
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if minute > 59:
        raise ValueError(f"minute {match['m']} is not a time of day: {EXAMPLE}")
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError(f'"{text}" is not a time of day: with am/pm the hour is 1-12; or {EXAMPLE}')
        hour = hour % 12 + (12 if match["ampm"] == "p" else 0)
    elif hour > 24 or (hour == 24 and minute):
        raise ValueError(f"hour {hour} is not a time of day: {EXAMPLE}")
    total = hour * 60 + minute
    if total == DAY_MINUTES and not is_end:
        raise ValueError(f'a shift cannot start at 24:00: {EXAMPLE}')
    # "18:00-00:00" and "6pm-12am" mean "until midnight".
    return DAY_MINUTES if is_end and total == 0 else total


def _parse_range(part: str) -> Shift:
    """One "start-end" range, rejecting empty and overnight ones with a fix to copy."""
    sides = _RANGE.split(part.strip())
    if len(sides) != 2 or not all(sides):
        raise ValueError(f'"{part.strip()}" is not a time range: {EXAMPLE}')
    start = _parse_time(sides[0], is_end=False)
    end = _parse_time(sides[1], is_end=True)
    if end == start:
        raise ValueError(f'"{part.strip()}" opens and closes at the same time: {EXAMPLE}')
    if end < start:
        hint = ""
        # "9-5" almost always means 9am-5pm.
        if start < 720 and end + 720 > start and not re.search(r"[ap]", sides[1].lower()):
            hint = f' (did you mean "{format_hhmm(start)}-{format_hhmm(end + 720)}"?)'
        what = f"ends before it starts{hint}" if hint else "runs past midnight"
        raise ValueError(
            f'"{part.strip()}" {what}: split a night shift across days, '
            f'e.g. fri: "17:00-24:00" and sat: "00:00-08:00"'
        )
    return Shift(start, end)


def parse_shifts(text: str) -> tuple[Shift, ...]:
    """The shifts of one day from "08:00-17:00", "08:00-12:00,13:00-17:00", "9am-5pm", "closed"..."""
    cleaned = str(text).strip().lower()
    if cleaned in _CLOSED_WORDS:
        return ()
    if cleaned in _ALL_DAY_WORDS:
        return (Shift(0, DAY_MINUTES),)
    shifts = sorted((_parse_range(part) for part in re.split(r"[,;]", cleaned)), key=lambda s: s.start)
    merged: list[Shift] = []
    for shift in shifts:
        if merged and shift.start < merged[-1].end:
            raise ValueError(
                f'shifts "{format_shift_hhmm(merged[-1])}" and "{format_shift_hhmm(shift)}" overlap: '
                f"list each time once, {_SPLIT_EXAMPLE}"
            )
        if merged and shift.start == merged[-1].end:
            # Back-to-back shifts are one opening; keeping them apart would show a fake gap.
            merged[-1] = Shift(merged[-1].start, shift.end)
        else:
            merged.append(shift)
    return tuple(merged)


def format_hhmm(minutes: int) -> str:
    """24-hour "HH:MM" (1440 is "24:00"), the form the lines file uses."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_shift_hhmm(shift: Shift) -> str:
    """A shift as the lines file writes it, e.g. "08:00-17:00"."""
    return f"{format_hhmm(shift.start)}-{format_hhmm(shift.end)}"


def format_time(minutes: int) -> str:
    """12-hour clock for callers, e.g. "8:00 AM", "12:00 PM"; 1440 is midnight, "12:00 AM"."""
    hour, minute = divmod(minutes % DAY_MINUTES, 60)
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def format_shift(shift: Shift) -> str:
    """A shift for callers, e.g. "8:00 AM-5:00 PM"."""
    return f"{format_time(shift.start)}-{format_time(shift.end)}"


def _local(tz: str, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(tz))


def shifts_on(hours: WeeklyHours, day: date) -> tuple[Shift, ...]:
    """The shifts of one date: its dated exception (holiday, special hours) or its weekday's."""
    if day in hours.exceptions:
        return hours.exceptions[day]
    return hours.days.get(day.weekday(), ())



def is_open(hours: WeeklyHours | None, tz: str, now: datetime) -> bool:
    """Whether the line is open at `now`; no hours at all means open around the clock."""
    if hours is None:
        return True
    local = _local(tz, now)
    minute = local.hour * 60 + local.minute
    return any(s.start <= minute < s.end for s in shifts_on(hours, local.date()))


def hours_today(hours: WeeklyHours | None, tz: str, now: datetime) -> str:
    """Today's hours for a text: "8:00 AM-5:00 PM", "closed today" or "open 24 hours"."""
    if hours is None:
        return "open 24 hours"
    shifts = shifts_on(hours, _local(tz, now).date())
    if not shifts:
        return "closed today"
    if shifts == (Shift(0, DAY_MINUTES),):
        return "open 24 hours"
    return ", ".join(format_shift(s) for s in shifts)


def _wall_to_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The real instant of a wall-clock time; a time skipped by DST lands just after the jump."""
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    # Round-tripping through UTC turns a non-existent 02:30 into the 03:30 that follows it.
    return wall.astimezone(UTC).astimezone(zone)


def next_open(hours: WeeklyHours | None, tz: str, now: datetime) -> datetime | None:
    """When the line next opens (`now` if open), searching two weeks; None if it never opens."""
    if is_open(hours, tz, now):
        return now
    assert hours is not None  # None means always open, handled above
    zone = ZoneInfo(tz)
    today = _local(tz, now).date()
    for offset in range(SEARCH_DAYS + 1):
        day = today + timedelta(days=offset)
        for shift in shifts_on(hours, day):
            start = _wall_to_instant(day, shift.start, zone)
            if start > now:
                return start
    return None


def describe_next_open(hours: WeeklyHours | None, tz: str, now: datetime) -> str:
    """Next opening for a text: "now", "today at 1:00 PM", "tomorrow at 8:00 AM", "Monday at 8:00 AM"."""
    when = next_open(hours, tz, now)
    if when is None:
        return ""
    if when == now:
        return "now"
    local_now, local_when = _local(tz, now), _local(tz, when)
    clock = format_time(local_when.hour * 60 + local_when.minute)
    days = (local_when.date() - local_now.date()).days
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"{local_when.strftime('%A')} at {clock}"
    # A week or more away: a bare weekday would read as this week's.
    return f"{local_when.strftime('%A, %B')} {local_when.day} at {clock}"
