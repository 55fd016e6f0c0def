"""Opening hours and durations: parsing what operators type, and open/next-open across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from workflows.durations import format_duration, parse_duration
from workflows.lines import (
    Shift,
    WeeklyHours,
    describe_next_open,
    hours_today,
    is_open,
    next_open,
    parse_shifts,
    parse_weekday,
)

CHICAGO = "America/Chicago"
TZ = ZoneInfo(CHICAGO)
NINE_TO_FIVE = (Shift(540, 1020),)
WEEKDAYS_8_TO_5 = WeeklyHours(days={d: (Shift(480, 1020),) for d in range(5)})
SPLIT = WeeklyHours(days={d: (Shift(480, 720), Shift(780, 1020)) for d in range(5)})


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "shifts"),
    [
        ("08:00-17:00", (Shift(480, 1020),)),
        ("08:00-12:00,13:00-17:00", (Shift(480, 720), Shift(780, 1020))),
        ("13:00-17:00, 08:00-12:00", (Shift(480, 720), Shift(780, 1020))),
        ("9am-5pm", NINE_TO_FIVE),
        ("9-17", NINE_TO_FIVE),
        ("9:30am - 5:30 pm", (Shift(570, 1050),)),
        ("9 a.m. to 5 p.m.", NINE_TO_FIVE),
        ("8.00-17.00", (Shift(480, 1020),)),
        ("0800-1700", (Shift(480, 1020),)),
        ("12pm-12am", (Shift(720, 1440),)),
        ("18:00-00:00", (Shift(1080, 1440),)),
        ("closed", ()),
        ("Closed", ()),
        ("", ()),
        ("24h", (Shift(0, 1440),)),
        ("00:00-24:00", (Shift(0, 1440),)),
        # Back-to-back shifts are one opening.
        ("08:00-12:00,12:00-17:00", (Shift(480, 1020),)),
    ],
)
def test_parse_shifts_accepts_the_usual_forms(text: str, shifts: tuple[Shift, ...]) -> None:
    assert parse_shifts(text) == shifts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00-26:00", 'hour 25 is not a time of day: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        ("09:75-17:00", 'minute 75 is not a time of day: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        (
            "17:00-08:00",
            ('"17:00-08:00" runs past midnight: split a night shift across days, '
            'e.g. fri: "17:00-24:00" and sat: "00:00-08:00"'),
        ),
        (
            "9-5",
            ('"9-5" ends before it starts (did you mean "09:00-17:00"?): split a night shift across days, '
            'e.g. fri: "17:00-24:00" and sat: "00:00-08:00"'),
        ),
        (
            "08:00-12:00,11:00-17:00",
            'shifts "08:00-12:00" and "11:00-17:00" overlap: list each time once, e.g. "08:00-12:00,13:00-17:00"',
        ),
        ("banana", '"banana" is not a time range: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        ("08:00", '"08:00" is not a time range: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        ("noon-5pm", '"noon" is not a time of day: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        (
            "13pm-5pm",
            '"13pm" is not a time of day: with am/pm the hour is 1-12; or use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"',
        ),
        ("08:00-08:00", '"08:00-08:00" opens and closes at the same time: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
    ],
)
def test_parse_shifts_rejects_with_an_example(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_shifts(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "day"),
    [("mon", 0), ("Monday", 0), ("Mon.", 0), ("tue", 1), ("tues", 1), ("Tu", 1), ("wed", 2), ("weds", 2),
     ("thu", 3), ("thurs", 3), ("Thursday", 3), ("fri", 4), ("sat", 5), ("SUN", 6), ("sunday", 6)],
)
def test_parse_weekday(text: str, day: int) -> None:
    assert parse_weekday(text) == day


@pytest.mark.parametrize("text", ["t", "s", "funday", "", "monday2"])
def test_parse_weekday_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a weekday: use mon, tue, wed, thu, fri, sat or sun"):
        parse_weekday(text)


def test_no_hours_means_always_open() -> None:
    now = at(2026, 11, 14, 3)  # a Saturday, 3 AM
    assert is_open(None, CHICAGO, now)
    assert hours_today(None, CHICAGO, now) == "open 24 hours"
    assert next_open(None, CHICAGO, now) == now
    assert describe_next_open(None, CHICAGO, now) == "now"


def test_empty_hours_mean_never_open() -> None:
    never = WeeklyHours(days={})
    now = at(2026, 11, 10, 10)
    assert not is_open(never, CHICAGO, now)
    assert hours_today(never, CHICAGO, now) == "closed today"
    assert next_open(never, CHICAGO, now) is None
    assert describe_next_open(never, CHICAGO, now) == ""


def test_is_open_uses_the_line_timezone_whatever_zone_now_is_in() -> None:
    # 15:30 UTC on Tuesday 10 Nov 2026 is 9:30 in Chicago (CST, UTC-6).
    assert is_open(WEEKDAYS_8_TO_5, CHICAGO, datetime(2026, 11, 10, 15, 30, tzinfo=UTC))
    assert not is_open(WEEKDAYS_8_TO_5, CHICAGO, datetime(2026, 11, 10, 13, 30, tzinfo=UTC))
    # Opening is inclusive, closing exclusive.
    assert is_open(WEEKDAYS_8_TO_5, CHICAGO, at(2026, 11, 10, 8, 0))
    assert not is_open(WEEKDAYS_8_TO_5, CHICAGO, at(2026, 11, 10, 17, 0))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(WEEKDAYS_8_TO_5, CHICAGO, datetime(2026, 11, 10, 10))


def test_split_shifts() -> None:
    lunch = at(2026, 11, 10, 12, 30)
    assert not is_open(SPLIT, CHICAGO, lunch)
    assert is_open(SPLIT, CHICAGO, at(2026, 11, 10, 13, 0))
    assert hours_today(SPLIT, CHICAGO, lunch) == "8:00 AM-12:00 PM, 1:00 PM-5:00 PM"
    assert describe_next_open(SPLIT, CHICAGO, lunch) == "today at 1:00 PM"
    assert next_open(SPLIT, CHICAGO, lunch) == at(2026, 11, 10, 13, 0)


def test_hours_today_and_closed_days() -> None:
    assert hours_today(WEEKDAYS_8_TO_5, CHICAGO, at(2026, 11, 10, 20)) == "8:00 AM-5:00 PM"
    assert hours_today(WEEKDAYS_8_TO_5, CHICAGO, at(2026, 11, 14, 10)) == "closed today"
    all_day = WeeklyHours(days={1: (Shift(0, 1440),)})
    assert hours_today(all_day, CHICAGO, at(2026, 11, 10, 3)) == "open 24 hours"
    assert is_open(all_day, CHICAGO, at(2026, 11, 10, 23, 59))


@pytest.mark.parametrize(
    ("now", "described"),
    [
        (at(2026, 11, 10, 10, 15), "now"),
        (at(2026, 11, 10, 6, 0), "today at 8:00 AM"),
        (at(2026, 11, 10, 19, 40), "tomorrow at 8:00 AM"),
        (at(2026, 11, 13, 17, 30), "Monday at 8:00 AM"),  # Friday evening
        (at(2026, 11, 14, 9, 0), "Monday at 8:00 AM"),  # Saturday
        (at(2026, 11, 15, 22, 0), "tomorrow at 8:00 AM"),  # Sunday night
    ],
)
def test_describe_next_open_across_a_weekend(now: datetime, described: str) -> None:
    assert describe_next_open(WEEKDAYS_8_TO_5, CHICAGO, now) == described


def test_next_open_across_a_weekend_is_monday_morning() -> None:
    assert next_open(WEEKDAYS_8_TO_5, CHICAGO, at(2026, 11, 13, 17, 30)) == at(2026, 11, 16, 8, 0)


def test_next_open_a_week_away_names_the_date() -> None:
    mondays = WeeklyHours(days={0: (Shift(480, 1020),)})
    now = at(2026, 11, 9, 18, 0)  # Monday after closing
    assert next_open(mondays, CHICAGO, now) == at(2026, 11, 16, 8, 0)
    assert describe_next_open(mondays, CHICAGO, now) == "Monday, November 16 at 8:00 AM"


def test_next_open_across_spring_forward_keeps_the_wall_clock() -> None:
    # DST starts Sunday 8 March 2026: Monday's 8:00 is CDT (UTC-5), Friday's was CST (UTC-6).
    friday_evening = at(2026, 3, 6, 18, 0)
    monday = next_open(WEEKDAYS_8_TO_5, CHICAGO, friday_evening)
    assert monday is not None
    assert monday.astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert describe_next_open(WEEKDAYS_8_TO_5, CHICAGO, friday_evening) == "Monday at 8:00 AM"
    assert is_open(WEEKDAYS_8_TO_5, CHICAGO, datetime(2026, 3, 9, 13, 30, tzinfo=UTC))
    assert not is_open(WEEKDAYS_8_TO_5, CHICAGO, datetime(2026, 3, 6, 13, 30, tzinfo=UTC))


def test_next_open_inside_the_skipped_hour_lands_after_the_jump() -> None:
    # 02:30 does not exist on 8 March 2026 in Chicago; the line opens when clocks read 03:30.
    early = WeeklyHours(days={6: (Shift(150, 300),)})
    opens = next_open(early, CHICAGO, at(2026, 3, 8, 1, 0))
    assert opens is not None
    assert opens.astimezone(UTC) == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)
    assert describe_next_open(early, CHICAGO, at(2026, 3, 8, 1, 0)) == "today at 3:30 AM"


def test_fall_back_day_follows_the_wall_clock() -> None:
    # DST ends Sunday 1 November 2026: 8:00 that day is CST (UTC-6).
    sundays = WeeklyHours(days={6: (Shift(480, 1020),)})
    saturday = at(2026, 10, 31, 12, 0)
    opens = next_open(sundays, CHICAGO, saturday)
    assert opens is not None
    assert opens.astimezone(UTC) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert describe_next_open(sundays, CHICAGO, saturday) == "tomorrow at 8:00 AM"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("90s", 90), ("2h", 7200), ("1h30m", 5400), ("1h 30m", 5400), ("300", 300), (300, 300),
     ("15 min", 900), ("2 hours", 7200), ("0", 0)],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes later", "m5", "1.5h", "-5m", "5d", "1m1m"])
def test_parse_duration_rejects_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r'use a number with s, m or h, e.g. "90s", "5m", "1h30m"'):
        parse_duration(text)


def test_parse_duration_rejects_booleans_and_negatives() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is negative"):
        parse_duration(-5)


@pytest.mark.parametrize(("seconds", "text"), [(14400, "4h"), (5400, "1h30m"), (90, "90s"), (300, "5m"), (0, "0s"), (3605, "1h5s")])
def test_format_duration_reads_back(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["²", "5²", "1¹m"])
def test_digits_int_cannot_read_are_refused_in_our_words(text: str) -> None:
    """`²` passes `str.isdigit()`; the refusal must be ours, with the example, not int()'s."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
