"""Holidays and special hours: dated exceptions to the weekly hours, from the lines file and from Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.lines.file import ConfigError
from bot.settings import parse_config
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL_B, CLOSED_TIME, LINE, LINE_B, OPEN_TIME, TZ
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, MEMBER, slash
from workflows.lines import (
    Shift,
    WeeklyHours,
    describe_next_open,
    hours_today,
    is_open,
    next_open,
    parse_shifts,
)
from workflows.reminders import ladder

WEEKDAYS = {d: (Shift(8 * 60, 17 * 60),) for d in range(5)}
# Wednesday Nov 11 closed; Thursday Nov 12 only 08:00-12:00.
HOLIDAYS = WeeklyHours(days=WEEKDAYS, exceptions={date(2026, 11, 11): (), date(2026, 11, 12): parse_shifts("08:00-12:00")})
TZNAME = "America/Chicago"


def test_a_closed_date_is_closed_and_skipped_by_next_open() -> None:
    wednesday_10 = datetime(2026, 11, 11, 10, 0, tzinfo=TZ)
    assert not is_open(HOLIDAYS, TZNAME, wednesday_10)
    assert hours_today(HOLIDAYS, TZNAME, wednesday_10) == "closed today"
    assert next_open(HOLIDAYS, TZNAME, CLOSED_TIME) == datetime(2026, 11, 12, 8, 0, tzinfo=TZ)
    assert describe_next_open(HOLIDAYS, TZNAME, CLOSED_TIME) == "Thursday at 8:00 AM"


def test_special_hours_replace_the_weekday() -> None:
    thursday = datetime(2026, 11, 12, 13, 0, tzinfo=TZ)
    assert not is_open(HOLIDAYS, TZNAME, thursday)
    assert is_open(HOLIDAYS, TZNAME, datetime(2026, 11, 12, 11, 59, tzinfo=TZ))
    assert hours_today(HOLIDAYS, TZNAME, thursday) == "8:00 AM-12:00 PM"
    assert next_open(HOLIDAYS, TZNAME, thursday) == datetime(2026, 11, 13, 8, 0, tzinfo=TZ)


def test_the_reminder_ladder_waits_over_a_holiday() -> None:
    late = datetime(2026, 11, 10, 16, 58, tzinfo=TZ)
    steps = ladder((300, 900), hours=HOLIDAYS, tz=TZNAME, waiting_since=late)
    assert steps[0].due == datetime(2026, 11, 12, 8, 3, tzinfo=TZ)
    assert steps[1].due == datetime(2026, 11, 12, 8, 13, tzinfo=TZ)


BASE = """business: Acme
lines:
  - number: "+15125550100"
    channel: C0123456789
    detection: forwarded
"""


def test_lines_file_closed_and_special_hours() -> None:
    config = parse_config(BASE + '    hours: {mon: "08:00-17:00"}\n    closed: [2026-12-25]\n'
                          '    special_hours: {2026-12-24: "08:00-12:00"}\n', "t.yml")
    hours = config.lines[0].hours
    assert hours is not None and hours.exceptions == {date(2026, 12, 25): (), date(2026, 12, 24): (Shift(480, 720),)}
    # No weekly hours means open around the clock, except on the closed date.
    always = parse_config(BASE + "    closed: 2026-12-25\n", "t.yml").lines[0].hours
    assert always is not None and is_open(always, "UTC", datetime(2026, 12, 24, 3, 0, tzinfo=UTC))
    assert not is_open(always, "UTC", datetime(2026, 12, 25, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    closed: [2026-13-01]\n", 't.yml:6: lines[0].closed[0]: "2026-13-01" is not a date: write YYYY-MM-DD'),
        ('    special_hours: {Dec 24: "08:00-12:00"}\n', 't.yml:6: lines[0].special_hours.Dec 24: "Dec 24" is not a date'),
        ('    special_hours: {2026-12-24: "noon"}\n', 't.yml:6: lines[0].special_hours.2026-12-24: "noon" is not a time'),
        ('    closed: [2026-12-24]\n    special_hours: {2026-12-24: "08:00-12:00"}\n',
         "t.yml:7: lines[0].special_hours.2026-12-24: 2026-12-24 is also under closed"),
    ],
)
def test_lines_file_mistakes_name_file_line_and_field(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + extra, "t.yml")
    assert any(e.startswith(message) for e in caught.value.errors), caught.value.errors


async def test_hours_closed_open_list_and_remove_from_slack(rig: Rig) -> None:
    done = said(await slash(rig, "hours closed 2026-12-25"))
    assert "*holidays and special hours*: none → 2026-12-25 closed" in done
    await slash(rig, "hours open 2026-12-24 8am-12pm")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.hours is not None
    assert line.hours.exceptions == {date(2026, 12, 24): (Shift(480, 720),), date(2026, 12, 25): ()}
    assert line.hours.days[0] == (Shift(480, 1020),)  # the weekly hours stay
    listing = said(await slash(rig, "hours holidays", user=MEMBER))
    assert "• Thu Dec 24, 2026 (2026-12-24): 08:00-12:00" in listing and "(2026-12-25): closed" in listing
    assert f"_Slack (set by <@{ADMIN}> on Nov 10, 2026)_" in listing
    assert "*Holidays and special hours*" in said(await slash(rig, "status", user=MEMBER))
    assert "No change" in said(await slash(rig, "hours closed 2026-12-25"))
    await slash(rig, "hours closed remove 2026-12-25")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.hours is not None and list(line.hours.exceptions) == [date(2026, 12, 24)]
    assert len(await announcements(rig)) == 3
    other = await rig.services.lines.line_for_number(LINE_B)
    assert other is not None and other.hours is None and await announcements(rig, CHANNEL_B) == []


async def test_a_closure_today_makes_a_missed_call_after_hours(rig: Rig) -> None:
    assert OPEN_TIME.date() == date(2026, 11, 10)
    await slash(rig, "hours closed 2026-11-10")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert "We're closed now" in sms["body"]


async def test_holiday_mistakes_and_refusals(rig: Rig) -> None:
    bad = said(await slash(rig, "hours closed 12/25"))
    assert '"12/25" is not a date: write YYYY-MM-DD' in bad and "Example: `/textback hours closed 2026-12-25`" in bad
    assert "is in the past" in said(await slash(rig, "hours closed 2026-01-01"))
    assert "say the hours of that day" in said(await slash(rig, "hours open 2026-12-24"))
    assert "a closed day has no hours" in said(await slash(rig, "hours closed 2026-12-24 08:00-12:00"))
    assert "say which date" in said(await slash(rig, "hours closed"))
    assert "has no closure" in said(await slash(rig, "hours closed remove 2026-12-31"))
    assert "No holidays or special hours ahead" in said(await slash(rig, "hours holidays", user=MEMBER))
    refused = said(await slash(rig, "hours closed 2026-12-25", user=MEMBER))
    assert "Only workspace admins and owners" in refused
    assert await announcements(rig) == []
