"""What it earned: the recovery figure's definitions, on a line's days as the daily store reads them."""

from __future__ import annotations

from datetime import date, timedelta

from workflows.digest import DayFigures
from workflows.recovery import Recovery, earned_sentence, money, recovery, work_value

MON = date(2026, 11, 9)


def day(offset: int, **callers: set[str]) -> DayFigures:
    return DayFigures(MON + timedelta(days=offset), callers={k: frozenset(v) for k, v in callers.items()})


def test_callers_count_once_however_often_they_called_or_texted() -> None:
    days = [
        day(0, missed={"a", "b"}, texted={"a", "b"}, reply_to_textback={"a"}),
        day(1, missed={"a"}, reply_to_textback={"a"}),  # a again: a repeat in the cooldown, a second text
        day(2, missed={"c"}, texted={"c"}, answered={"c"}),
    ]
    assert recovery(days, booked=set()) == Recovery(missed=3, texted=3, replied=1, answered=1, booked=0)


def test_each_step_counts_only_the_missed_callers_of_the_period() -> None:
    # "x" texted in without a missed call: answered and booked, but no missed caller of this period.
    days = [day(0, missed={"a"}, texted={"a"}, answered={"a", "x"}, reply_to_textback={"x"})]
    assert recovery(days, booked={"a", "x"}) == Recovery(missed=1, texted=1, replied=0, answered=1, booked=1)


def test_a_reply_counts_only_from_a_caller_texted_back_in_the_period() -> None:
    # "b" got its text-back the week before and replies after this week's repeat call (cooldown).
    days = [day(0, missed={"a", "b"}, texted={"a"}, reply_to_textback={"a", "b"})]
    assert recovery(days, booked=()).replied == 1


def test_missed_calls_without_a_caller_each_count_as_one_and_go_no_further() -> None:
    withheld = DayFigures(MON, callers={"missed": frozenset({"a"})}, unnamed={"missed": 2})
    assert recovery([withheld], booked=()) == Recovery(missed=3)


def test_the_sentence_ends_after_booked_without_a_job_value() -> None:
    found = Recovery(missed=37, texted=29, replied=18, answered=20, booked=11)
    assert earned_sentence(found, None) == "37 missed callers, 29 texted back, 18 replied, 11 booked"
    assert earned_sentence(found, 370) == "37 missed callers, 29 texted back, 18 replied, 11 booked: about $4,070 of work"
    assert earned_sentence(Recovery(missed=1, texted=1), None).startswith("1 missed caller, 1 texted back")


def test_the_work_value_is_booked_callers_times_the_average_job() -> None:
    assert work_value(Recovery(booked=3), 249.5) == 748.5 and work_value(Recovery(booked=3), None) is None
    assert money(748.5) == "$748" and money(1234567) == "$1,234,567"
