"""Who is on call now: one person, or a weekly rotation with a handover time (PRODUCT §2.5).

The rotation counts handovers since the one in the week of `starts`: before the first
handover people[0] is on call, after it people[1], and so on around the list. Handover is
a local wall time in the line's timezone, so it stays at "Monday 08:00" across DST.
Pure and clock-free: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.lines import OnCall, Person

__all__ = ["OnDuty", "on_duty"]


@dataclass(frozen=True)
class OnDuty:
    """The person paged first, and the one paged when they do not acknowledge."""

    primary: Person
    backup: Person | None


def _rotation_index(oncall: OnCall, tz: str, now: datetime) -> int:
    if len(oncall.people) < 2 or oncall.starts is None:
        return 0
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    # The handover instant of the `starts` week: people[0] takes over then.
    first_day = oncall.starts - timedelta(days=(oncall.starts.weekday() - oncall.handover_day) % 7)
    handover = time(oncall.handover_minute // 60, oncall.handover_minute % 60)
    first = datetime.combine(first_day, handover, tzinfo=zone)
    # Whole weeks of wall time since the first handover; before it, the week before counts as -1.
    days = (local.date() - first_day).days
    weeks = days // 7
    this_week = datetime.combine(first_day + timedelta(weeks=weeks), handover, tzinfo=zone)
    if local < this_week:
        weeks -= 1
    if local < first:
        # Before the rotation starts people[0] is on call: a rotation is not applied backwards.
        return 0
    return weeks % len(oncall.people)


def on_duty(oncall: OnCall | None, tz: str, now: datetime) -> OnDuty | None:
    """Who to page at `now`; None when the line has nobody on call."""
    if oncall is None or not oncall.people:
        return None
    index = _rotation_index(oncall, tz, now)
    primary = oncall.people[index]
    backup = oncall.backup
    if backup is None and len(oncall.people) > 1:
        backup = oncall.people[(index + 1) % len(oncall.people)]
    if backup is not None and backup.user == primary.user:
        backup = None
    return OnDuty(primary, backup)
