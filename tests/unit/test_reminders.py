"""The reminder ladder: due times in open time only, around nights, weekends, lunch and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.lines import Shift, WeeklyHours
from workflows.reminders import Step, add_open_time, ladder, pending, step_kind

CHICAGO = "America/Chicago"
TZ = ZoneInfo(CHICAGO)
LADDER = (300, 900, 3600)  # 5m, 15m, 60m
# Mon-Thu 08:00-17:00; Friday closes for lunch; weekend closed.
WEEK = WeeklyHours(
    days={**{d: (Shift(480, 1020),) for d in range(4)}, 4: (Shift(480, 720), Shift(780, 1020))}
)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def dues(waiting_since: datetime, *, hours: WeeklyHours | None = WEEK, urgent: bool = False) -> list[datetime]:
    steps = ladder(LADDER, hours=hours, tz=CHICAGO, waiting_since=waiting_since, urgent=urgent)
    return [s.due for s in steps]


def test_in_business_hours_the_ladder_is_plain_offsets() -> None:
    # Tuesday 10:15.
    assert dues(at(11, 10, 10, 15)) == [at(11, 10, 10, 20), at(11, 10, 10, 30), at(11, 10, 11, 15)]


def test_step_kinds_and_their_order() -> None:
    steps = ladder((60, 120, 180, 240), hours=None, tz=CHICAGO, waiting_since=at(11, 10, 10))
    assert [s.kind for s in steps] == ["thread_reminder", "mention", "dm_oncall", "dm_oncall"]
    assert [s.index for s in steps] == [0, 1, 2, 3]
    assert step_kind(7) == "dm_oncall"


def test_across_a_closed_night_the_ladder_resumes_at_opening() -> None:
    # Tuesday 16:58: two open minutes left today, the rest from Wednesday 08:00.
    assert dues(at(11, 10, 16, 58)) == [at(11, 11, 8, 3), at(11, 11, 8, 13), at(11, 11, 8, 58)]


def test_a_thread_opened_after_hours_waits_for_opening() -> None:
    assert dues(at(11, 10, 19, 40)) == [at(11, 11, 8, 5), at(11, 11, 8, 15), at(11, 11, 9)]


def test_across_a_weekend() -> None:
    # Friday 16:50: the first step still fits on Friday, the rest go to Monday.
    assert dues(at(11, 13, 16, 50)) == [at(11, 13, 16, 55), at(11, 16, 8, 5), at(11, 16, 8, 50)]
    # Saturday: nothing until Monday.
    assert dues(at(11, 14, 11)) == [at(11, 16, 8, 5), at(11, 16, 8, 15), at(11, 16, 9)]


def test_split_shift_lunch_gap_is_not_counted() -> None:
    # Friday 11:57: three open minutes before lunch, the hour 12:00-13:00 is skipped.
    assert dues(at(11, 13, 11, 57)) == [at(11, 13, 13, 2), at(11, 13, 13, 12), at(11, 13, 13, 57)]


def test_urgent_counts_wall_time_at_two_in_the_morning() -> None:
    assert dues(at(11, 11, 2), urgent=True) == [at(11, 11, 2, 5), at(11, 11, 2, 15), at(11, 11, 3)]


def test_urgent_ignores_a_line_that_never_opens() -> None:
    assert dues(at(11, 11, 2), hours=WeeklyHours(), urgent=True)[0] == at(11, 11, 2, 5)


def test_a_line_that_never_opens_gets_no_reminders() -> None:
    assert dues(at(11, 11, 2), hours=WeeklyHours()) == []


def test_no_hours_means_open_around_the_clock() -> None:
    assert dues(at(11, 14, 23, 58), hours=None) == [at(11, 15, 0, 3), at(11, 15, 0, 13), at(11, 15, 0, 58)]


def test_ends_exactly_at_closing_time() -> None:
    assert add_open_time(WEEK, CHICAGO, at(11, 10, 16, 55), 300) == at(11, 10, 17)


def test_shift_to_midnight_runs_on_into_the_next_days_shift() -> None:
    night = WeeklyHours(days={5: (Shift(1080, 1440),), 6: (Shift(0, 360),)})
    assert add_open_time(night, CHICAGO, at(11, 14, 23, 50), 1800) == at(11, 15, 0, 20)


def test_dst_spring_forward_counts_real_minutes() -> None:
    # Sunday 8 March 2026, 02:00 CST jumps to 03:00 CDT; an all-night line open 00:00-06:00.
    night = WeeklyHours(days={6: (Shift(0, 360),)})
    due = add_open_time(night, CHICAGO, at(3, 8, 1, 30), 3600)
    assert due == at(3, 8, 3, 30)
    assert due is not None and due - at(3, 8, 1, 30) == timedelta(hours=1)


def test_dst_spring_forward_weekend_opens_at_local_eight() -> None:
    # Friday 16:30 CST; Monday opens at 08:00 CDT, which is 13:00 UTC, not 14:00.
    due = add_open_time(WEEK, CHICAGO, at(3, 6, 16, 30), 3600)
    assert due == at(3, 9, 8, 30)
    assert due is not None and due.astimezone(UTC) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)


def test_dst_fall_back_counts_the_repeated_hour() -> None:
    # Sunday 1 November 2026, 02:00 CDT falls back to 01:00 CST.
    night = WeeklyHours(days={6: (Shift(0, 360),)})
    due = add_open_time(night, CHICAGO, at(11, 1, 0, 30), 2 * 3600)
    # The second 01:30 of the night (CST): one wall-clock hour later than a naive count.
    assert due == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    local = due.astimezone(TZ)
    assert (local.hour, local.minute, local.fold) == (1, 30, 1)


def test_shorter_delay_after_a_longer_one_keeps_the_order() -> None:
    steps = ladder((900, 300), hours=None, tz=CHICAGO, waiting_since=at(11, 10, 10))
    assert [s.due for s in steps] == [at(11, 10, 10, 15), at(11, 10, 10, 15)]


def test_empty_ladder_has_no_steps() -> None:
    assert ladder((), hours=WEEK, tz=CHICAGO, waiting_since=at(11, 10, 10)) == []


@pytest.mark.parametrize(
    ("now", "indexes"),
    [
        (at(11, 10, 10, 16), [0, 1, 2]),
        (at(11, 10, 10, 20), [0, 1, 2]),  # step 0 due now: still to fire
        (at(11, 10, 10, 45), [1, 2]),  # after an outage: only the latest overdue, then the rest
        (at(11, 10, 13), [2]),
    ],
)
def test_pending_keeps_only_the_latest_overdue_step(now: datetime, indexes: list[int]) -> None:
    steps = ladder(LADDER, hours=WEEK, tz=CHICAGO, waiting_since=at(11, 10, 10, 15))
    assert [s.index for s in pending(steps, now)] == indexes


def test_step_is_a_plain_value() -> None:
    assert Step(0, "thread_reminder", at(11, 10, 10)) == Step(0, "thread_reminder", at(11, 10, 10))
