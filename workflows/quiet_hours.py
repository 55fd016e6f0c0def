"""Quiet hours: when automatic texts other than the text-back itself must wait (PRODUCT §2.7).

The immediate text-back answers a call the caller just made, so it is never held. Later
automatic texts (reminder follow-ups, qualification questions) are: by default none between
21:00 and 08:00 in the caller's local time when their number tells it, else in the line's.
The edge finds the caller's zone (from the area code) and passes it in; nothing here reads
the clock. A caller in a state with a narrower window (workflows/state_windows.py) gets the
stricter of the two: `follow_up_at`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.lines import QuietHours
from workflows.state_windows import StateWindow, state_window

__all__ = [
    "OFF_WORDS", "follow_up_at", "format_quiet_hours", "is_quiet", "parse_quiet_hours", "quiet_ends", "zone_for",
]

# What turns quiet hours off in the lines file (YAML's `off` arrives as "False").
OFF_WORDS = frozenset({"off", "none", "no", "false", "never"})
DAY = 24 * 60


def _minutes(text: str) -> int:
    hh, sep, mm = text.strip().partition(":")
    if not sep or not (hh.isascii() and hh.isdigit()) or not (mm.isascii() and mm.isdigit()) or len(mm) != 2:
        raise ValueError(f'"{text.strip()}" is not a time: write it like 21:00')
    hours, minutes = int(hh), int(mm)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f'"{text.strip()}" is not a time of day (00:00-23:59)')
    return hours * 60 + minutes


def parse_quiet_hours(text: str) -> QuietHours | None:
    """ "21:00-08:00" -> the window; "off" -> None. ValueError says how to write it."""
    cleaned = text.strip()
    if cleaned.lower() in OFF_WORDS:
        return None
    start, sep, end = cleaned.partition("-")
    if not sep:
        raise ValueError(f'"{cleaned}" is not a window: write it like "21:00-08:00", or off')
    window = QuietHours(start=_minutes(start), end=_minutes(end))
    if window.start == window.end:
        raise ValueError(f'"{cleaned}" starts and ends at the same time: write e.g. "21:00-08:00", or off')
    return window


def format_quiet_hours(window: QuietHours | None) -> str:
    """ "21:00-08:00", or "off"."""
    if window is None:
        return "off"
    return f"{window.start // 60:02d}:{window.start % 60:02d}-{window.end // 60:02d}:{window.end % 60:02d}"


def zone_for(caller_tz: str | None, line_tz: str) -> str:
    """The caller's own zone when known, else the line's."""
    return caller_tz or line_tz


def _inside(minute: int, window: QuietHours) -> bool:
    if window.start < window.end:
        return window.start <= minute < window.end
    return minute >= window.start or minute < window.end


def is_quiet(now: datetime, window: QuietHours | None, *, caller_tz: str | None, line_tz: str) -> bool:
    """True when an automatic text at `now` would land inside the quiet window."""
    if window is None:
        return False
    local = now.astimezone(ZoneInfo(zone_for(caller_tz, line_tz)))
    return _inside(local.hour * 60 + local.minute, window)


def quiet_ends(now: datetime, window: QuietHours | None, *, caller_tz: str | None, line_tz: str) -> datetime:
    """When a text held at `now` may go: the end of the current quiet window, or `now` itself."""
    if not is_quiet(now, window, caller_tz=caller_tz, line_tz=line_tz):
        return now
    assert window is not None  # is_quiet is False without a window
    zone = ZoneInfo(zone_for(caller_tz, line_tz))
    local = now.astimezone(zone)
    day = local.date()
    if window.start > window.end and local.hour * 60 + local.minute >= window.start:
        day += timedelta(days=1)  # the evening part: the window ends tomorrow morning
    end = datetime.combine(day, time(window.end // 60, window.end % 60), tzinfo=zone)
    # In `now`'s zone; an end inside a DST gap (02:30 on spring-forward day) comes out as
    # the real instant an hour later, which is still after the window.
    return end.astimezone(now.tzinfo)


def _state_opens(at: datetime, window: StateWindow, zone: ZoneInfo) -> datetime:
    """`at` when the state's window is open then, else when it opens next."""
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    day = local.date()
    if minute >= window.closes:
        day += timedelta(days=1)
    elif minute >= window.opens_on(day.weekday()):
        return at
    opens = window.opens_on(day.weekday())
    return datetime.combine(day, time(opens // 60, opens % 60), tzinfo=zone).astimezone(at.tzinfo)


def follow_up_at(
    now: datetime, window: QuietHours | None, *, caller: str, caller_tz: str | None, line_tz: str
) -> tuple[datetime, str]:
    """When an automatic follow-up to `caller` may go (`now` when it may at once), and what
    held it: the line's quiet hours or the caller's state window, whichever is stricter."""
    state = state_window(caller)
    zone = ZoneInfo(zone_for(caller_tz, line_tz))
    at, why = now, ""
    for _ in range(4):  # each step moves to a time the other rule may still refuse
        moved = False
        later = quiet_ends(at, window, caller_tz=caller_tz, line_tz=line_tz)
        if later > at:
            at, why, moved = later, "the caller's quiet hours", True
        if state is not None:
            later = _state_opens(at, state, zone)
            if later > at:
                at, why, moved = later, state.describe(), True
        if not moved:
            break
    return at, why
