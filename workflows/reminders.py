"""The reminder ladder on an unanswered thread (PRODUCT §2.4): when each step is due.

Each delay of the line's ladder counts from when the caller started waiting, in open time
only: after hours the ladder pauses and goes on at opening time, so a text at 16:58 with a
5-minute step is reminded at 08:03 the next open day, not at 17:03 to an empty shop. An
urgent thread counts wall time around the clock. Pure and clock-free: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from workflows.lines import DAY_MINUTES, WeeklyHours, next_open, shifts_on

__all__ = ["STEP_KINDS", "Step", "add_open_time", "ladder", "pending", "step_kind"]

StepKind = Literal["thread_reminder", "mention", "dm_oncall"]
# Step 0 reminds in the thread, 1 mentions the claimer (or @here), 2 and later DM on-call.
STEP_KINDS: tuple[StepKind, ...] = ("thread_reminder", "mention", "dm_oncall")


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: its position, what it does, and when it is due."""

    index: int
    kind: StepKind
    due: datetime


def step_kind(index: int) -> StepKind:
    """What step `index` does; steps past the last kind repeat it."""
    return STEP_KINDS[min(index, len(STEP_KINDS) - 1)]


def _open_until(hours: WeeklyHours, tz: str, at: datetime) -> datetime:
    """The end of the shift open at `at` (which must be open)."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    shift = next(s for s in shifts_on(hours, local.date()) if s.start <= minute < s.end)
    return _instant(local.date(), shift.end, zone)


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The instant of a wall-clock time (1440 is the next midnight).

    Of the two readings DST can give (a skipped or a repeated hour) the later is taken, so a
    shift end never comes before the opening it belongs to and the count always moves on.
    """
    if minutes >= DAY_MINUTES:
        day, minutes = day + timedelta(days=1), minutes - DAY_MINUTES
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return max(wall.astimezone(UTC), wall.replace(fold=1).astimezone(UTC))


def add_open_time(hours: WeeklyHours | None, tz: str, start: datetime, seconds: float) -> datetime | None:
    """The instant at which `seconds` of open time have passed since `start`; None if it never opens."""
    # In UTC: adding to a zoned datetime would add wall time and get DST days wrong.
    cursor, left = start.astimezone(UTC), timedelta(seconds=seconds)
    if hours is None:
        return cursor + left
    while True:
        found = next_open(hours, tz, cursor)
        if found is None:
            return None
        opened = found.astimezone(UTC)
        closes = _open_until(hours, tz, opened)
        if opened + left <= closes:
            return opened + left
        left -= closes - opened
        cursor = closes


def ladder(
    delays: Sequence[int], *, hours: WeeklyHours | None, tz: str, waiting_since: datetime, urgent: bool = False
) -> list[Step]:
    """Every step with its due time; a step that would never come (never open) is left out.

    Delays count from `waiting_since`. A delay shorter than the one before it is raised to
    it, so the steps keep their order whatever the operator typed.
    """
    steps: list[Step] = []
    longest = 0
    for index, delay in enumerate(delays):
        longest = max(longest, delay)
        due = add_open_time(None if urgent else hours, tz, waiting_since, longest)
        if due is not None:
            steps.append(Step(index, step_kind(index), due))
    return steps


def pending(steps: Sequence[Step], now: datetime) -> list[Step]:
    """The steps still to fire at `now`: all later ones, plus the latest one already due.

    After an outage several steps can be overdue; only the most advanced is worth sending,
    not a burst of three reminders at once.
    """
    overdue = [s for s in steps if s.due <= now]
    return overdue[-1:] + [s for s in steps if s.due > now]
