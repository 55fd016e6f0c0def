"""`/textback hours`: show, set per weekday with split shifts and closed days, set the timezone."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CHANNEL_B, LINE, LINE_B
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, slash
from workflows.lines import Shift


async def shifts(rig: Rig, day: int, number: str = LINE) -> list[tuple[int, int]]:
    line = await rig.services.lines.line_for_number(number)
    assert line is not None and line.hours is not None
    return [(s.start, s.end) for s in line.hours.days.get(day, ())]


async def test_hours_shows_each_day_the_timezone_and_whether_open(rig: Rig) -> None:
    text = said(await slash(rig, "hours"))
    assert "*Hours* (open now)" in text and "*Timezone:* America/Chicago" in text
    assert "*`Fri`:* 08:00-17:00 · _lines file_" in text and "*`Sun`:* closed" in text
    assert "/textback hours mon 08:00-17:00" in text


async def test_split_shifts_are_saved_and_announced(rig: Rig) -> None:
    reply = said(await slash(rig, "hours mon 08:00-12:00,13:00-17:00"))
    assert "*hours (Mon)*: 08:00-17:00 → 08:00-12:00, 13:00-17:00" in reply
    assert await shifts(rig, 0) == [(480, 720), (780, 1020)]
    [notice] = await announcements(rig)
    assert f"<@{ADMIN}> changed textback settings for *Acme Plumbing*" in notice
    assert "08:00-17:00 → 08:00-12:00, 13:00-17:00" in notice


async def test_forgiving_times_and_day_names(rig: Rig) -> None:
    await slash(rig, "hours Monday: 9am - 5pm")
    assert await shifts(rig, 0) == [(540, 1020)]
    await slash(rig, "hours tues 9:30 am to 12 pm, 1pm-6pm")
    assert await shifts(rig, 1) == [(570, 720), (780, 1080)]


async def test_closed_days_and_day_ranges(rig: Rig) -> None:
    await slash(rig, "hours sat 9am-1pm")
    assert await shifts(rig, 5) == [(540, 780)]
    reply = said(await slash(rig, "hours sat closed"))
    assert "09:00-13:00 → closed" in reply and await shifts(rig, 5) == []
    await slash(rig, "hours mon-fri 07:00-15:00")
    for day in range(5):
        assert await shifts(rig, day) == [(420, 900)]
    await slash(rig, "hours weekend 10:00-14:00")
    assert await shifts(rig, 6) == [(600, 840)]


async def test_setting_the_same_hours_changes_nothing(rig: Rig) -> None:
    reply = said(await slash(rig, "hours sun closed"))
    assert "No change" in reply
    assert await announcements(rig) == []
    assert await rig.services.redis.client.keys("tb:linecfg:*") == []


async def test_a_line_open_around_the_clock_keeps_other_days_open(rig: Rig) -> None:
    await slash(rig, "hours sun closed", channel=CHANNEL_B)
    assert await shifts(rig, 6, LINE_B) == []
    assert await shifts(rig, 2, LINE_B) == [(0, 1440)]
    text = said(await slash(rig, "hours", channel=CHANNEL_B))
    assert "*`Wed`:* open 24 hours · _default_" in text and "*`Sun`:* closed · _Slack (set by" in text


async def test_timezone_is_set_with_forgiving_names(rig: Rig) -> None:
    reply = said(await slash(rig, "hours tz America/Denver"))
    assert "*timezone*: America/Chicago → America/Denver" in reply
    await slash(rig, "hours timezone new york")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.timezone == "America/New_York"
    await slash(rig, "hours tz pacific")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.timezone == "America/Los_Angeles"


async def test_bad_timezone_names_the_closest(rig: Rig) -> None:
    reply = said(await slash(rig, "hours tz America/Chicgo"))
    assert ':warning: unknown timezone "America/Chicgo" (did you mean "America/Chicago"?' in reply
    assert "Example: `/textback hours tz America/Chicago`" in reply


async def test_bad_hours_say_what_to_write(rig: Rig) -> None:
    nine_to_five = said(await slash(rig, "hours mon 9-5"))
    assert 'did you mean "09:00-17:00"?' in nine_to_five and "Example: `/textback hours mon" in nine_to_five
    overlap = said(await slash(rig, "hours mon 08:00-12:00,11:00-17:00"))
    assert "overlap" in overlap
    bad_time = said(await slash(rig, "hours mon 25:00-26:00"))
    assert "not a time of day" in bad_time
    bad_day = said(await slash(rig, "hours mnday 9am-5pm"))
    assert '"mnday" is not a day' in bad_day and "mon-fri" in bad_day
    no_hours = said(await slash(rig, "hours fri"))
    assert "say the hours for Fri" in no_hours and "/textback hours fri closed" in no_hours
    assert await shifts(rig, 0) == [(480, 1020)]
    assert await announcements(rig) == []


async def test_the_effective_line_carries_the_new_hours(rig: Rig) -> None:
    await slash(rig, "hours wed 10:00-11:00")
    line = await rig.services.lines.line_for_channel(rig.settings.config.lines[0].channel)
    assert line is not None and line.hours is not None and line.hours.days[2] == (Shift(600, 660),)
