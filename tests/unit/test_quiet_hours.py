"""Quiet hours for automatic texts other than the text-back: a pure policy, on a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import phones
from bot.settings import ConfigError, parse_config
from standins.clock import FakeClock
from tests.conftest import CONFIG_YAML
from workflows.lines import DEFAULT_QUIET_HOURS, QuietHours
from workflows.quiet_hours import (
    format_quiet_hours,
    is_quiet,
    parse_quiet_hours,
    quiet_ends,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")


def at(hour: int, minute: int = 0, zone: ZoneInfo = CHICAGO, day: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=zone)


def test_default_window_is_21_to_08() -> None:
    assert DEFAULT_QUIET_HOURS == QuietHours(21 * 60, 8 * 60)
    assert format_quiet_hours(DEFAULT_QUIET_HOURS) == "21:00-08:00"
    assert parse_config(CONFIG_YAML, "t.yml").lines[0].quiet_hours == DEFAULT_QUIET_HOURS


@pytest.mark.parametrize(
    ("when", "quiet"),
    [
        (at(20, 59), False),
        (at(21, 0), True),
        (at(23, 30), True),
        (at(0, 0), True),
        (at(7, 59), True),
        (at(8, 0), False),
        (at(12, 0), False),
    ],
)
def test_is_quiet_in_the_line_zone_when_the_caller_zone_is_unknown(when: datetime, quiet: bool) -> None:
    assert is_quiet(when, DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago") is quiet


def test_the_callers_own_zone_wins_over_the_lines() -> None:
    # 20:30 in Chicago is 21:30 in New York: quiet for a New York caller, not for a local one.
    now = at(20, 30)
    assert not is_quiet(now, DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago")
    assert is_quiet(now, DEFAULT_QUIET_HOURS, caller_tz="America/New_York", line_tz="America/Chicago")
    # 08:30 in Chicago is 06:30 in Los Angeles: still quiet there.
    morning = at(8, 30)
    assert not is_quiet(morning, DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago")
    assert is_quiet(morning, DEFAULT_QUIET_HOURS, caller_tz="America/Los_Angeles", line_tz="America/Chicago")


def test_the_edge_finds_the_callers_zone_from_the_area_code() -> None:
    caller_tz = phones.timezone_of("+12125550123")  # a Manhattan number
    assert caller_tz == "America/New_York"
    assert is_quiet(at(20, 30), DEFAULT_QUIET_HOURS, caller_tz=caller_tz, line_tz="America/Chicago")


def test_quiet_ends_at_the_next_morning_with_a_fake_clock() -> None:
    clock = FakeClock(at(22, 15))
    ends = quiet_ends(clock.now(), DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago")
    assert ends == at(8, 0, day=11)
    clock.advance(hours=3)  # 01:15, after midnight: the same morning
    assert quiet_ends(clock.now(), DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago") == at(8, 0, day=11)
    clock.set(at(8, 0, day=11))
    assert quiet_ends(clock.now(), DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago") == clock.now()
    assert not is_quiet(clock.now(), DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago")


def test_quiet_ends_in_the_callers_zone_and_keeps_the_clocks_zone() -> None:
    now = datetime(2026, 11, 11, 3, 0, tzinfo=ZoneInfo("UTC"))  # 22:00 in New York
    ends = quiet_ends(now, DEFAULT_QUIET_HOURS, caller_tz="America/New_York", line_tz="America/Chicago")
    assert ends == datetime(2026, 11, 11, 8, 0, tzinfo=NEW_YORK) and ends.tzinfo == now.tzinfo


def test_quiet_ends_across_a_daylight_saving_change() -> None:
    # The night clocks go back (Nov 1, 2026): 10 hours of wall time until 08:00, 11 real ones.
    now = datetime(2026, 10, 31, 22, 0, tzinfo=CHICAGO)
    ends = quiet_ends(now, DEFAULT_QUIET_HOURS, caller_tz=None, line_tz="America/Chicago")
    assert ends == datetime(2026, 11, 1, 8, 0, tzinfo=CHICAGO)
    utc = ZoneInfo("UTC")
    assert ends.astimezone(utc) - now.astimezone(utc) == timedelta(hours=11)


def test_a_daytime_window_and_off() -> None:
    lunch = parse_quiet_hours("12:00-13:30")
    assert lunch == QuietHours(720, 810)
    assert is_quiet(at(12, 45), lunch, caller_tz=None, line_tz="America/Chicago")
    assert not is_quiet(at(13, 30), lunch, caller_tz=None, line_tz="America/Chicago")
    assert quiet_ends(at(12, 45), lunch, caller_tz=None, line_tz="America/Chicago") == at(13, 30)
    for off in ("off", "OFF", "none", "false"):
        assert parse_quiet_hours(off) is None
    assert not is_quiet(at(23, 0), None, caller_tz=None, line_tz="America/Chicago")
    assert quiet_ends(at(23, 0), None, caller_tz=None, line_tz="America/Chicago") == at(23, 0)


def with_quiet(value: str) -> str:
    return CONFIG_YAML.replace("    vertical: plumbing\n", f"    vertical: plumbing\n    quiet_hours: {value}\n", 1)


def test_quiet_hours_in_the_lines_file() -> None:
    assert parse_config(with_quiet('"22:30-07:00"'), "t.yml").lines[0].quiet_hours == QuietHours(1350, 420)
    assert parse_config(with_quiet("21:00-08:00"), "t.yml").lines[0].quiet_hours == DEFAULT_QUIET_HOURS
    assert parse_config(with_quiet("off"), "t.yml").lines[0].quiet_hours is None  # YAML's `off` is false
    assert parse_config(with_quiet("false"), "t.yml").lines[0].quiet_hours is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("25:00-08:00", '"25:00" is not a time of day'),
        ("21:00", '"21:00" is not a window'),
        ("21:00-21:00", "starts and ends at the same time"),
        ("9pm-8am", '"9pm" is not a time'),
    ],
)
def test_quiet_hours_mistakes_are_named(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(with_quiet(value), "t.yml")
    assert any("lines[0].quiet_hours" in e and problem in e for e in err.value.errors), err.value.errors


def test_a_time_with_digits_int_cannot_read_is_refused_in_our_words() -> None:
    with pytest.raises(ValueError, match="is not a time"):
        parse_quiet_hours("2¹:00-08:00")
