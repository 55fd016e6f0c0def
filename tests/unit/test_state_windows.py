"""The stricter state windows for automatic follow-ups (workflows/state_windows.py) and their
meeting with the line's quiet hours (workflows/quiet_hours.follow_up_at), pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import geocoder

from workflows.lines import DEFAULT_QUIET_HOURS
from workflows.quiet_hours import follow_up_at
from workflows.state_windows import AREA_CODES, STATE_WINDOWS, state_window

EAST, CENTRAL = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
MIAMI, TULSA, BALTIMORE, HARTFORD, AUSTIN = (
    "+13055550123", "+19185550123", "+14105550123", "+18605550123", "+15125550123")
MINNEAPOLIS = "+16125550123"  # Minnesota: no row here, the line's quiet hours alone


def when(caller: str, at: datetime, tz: str, *, quiet: bool = True) -> tuple[datetime, str]:
    window = DEFAULT_QUIET_HOURS if quiet else None
    return follow_up_at(at, window, caller=caller, caller_tz=tz, line_tz="America/Chicago")


def test_a_florida_follow_up_due_at_8_30_pm_goes_at_8_am_the_next_day() -> None:
    at, why = when(MIAMI, datetime(2026, 11, 10, 20, 30, tzinfo=EAST), "America/New_York")
    assert at == datetime(2026, 11, 11, 8, 0, tzinfo=EAST)
    assert why == "Florida allows automatic texts 8 AM-8 PM"


def test_texas_on_a_sunday_at_10_am_waits_until_noon() -> None:
    sunday = datetime(2026, 11, 15, 10, 0, tzinfo=CENTRAL)
    at, why = when(AUSTIN, sunday, "America/Chicago")
    assert at == datetime(2026, 11, 15, 12, 0, tzinfo=CENTRAL)
    assert why == "Texas allows automatic texts 9 AM-9 PM (Sundays from noon)"
    saturday = datetime(2026, 11, 14, 10, 0, tzinfo=CENTRAL)
    assert when(AUSTIN, saturday, "America/Chicago") == (saturday, "")


def test_texas_saturday_night_waits_for_sunday_noon_not_the_morning() -> None:
    at, _ = when(AUSTIN, datetime(2026, 11, 14, 21, 30, tzinfo=CENTRAL), "America/Chicago")
    assert at == datetime(2026, 11, 15, 12, 0, tzinfo=CENTRAL)


@pytest.mark.parametrize(
    ("caller", "tz", "local", "expected"),
    [
        (TULSA, "America/Chicago", (20, 0), (11, 8, 0)),  # closes at 8 PM sharp
        (BALTIMORE, "America/New_York", (20, 15), (11, 8, 0)),
        (HARTFORD, "America/New_York", (8, 30), (10, 9, 0)),  # the line allows 8, Connecticut 9
        (HARTFORD, "America/New_York", (19, 59), None),
        (MINNEAPOLIS, "America/Chicago", (20, 30), None),
        (MINNEAPOLIS, "America/Chicago", (7, 30), (10, 8, 0)),
    ],
)
def test_the_stricter_rule_wins(
    caller: str, tz: str, local: tuple[int, int], expected: tuple[int, int, int] | None
) -> None:
    now = datetime(2026, 11, 10, *local, tzinfo=ZoneInfo(tz))
    at, _ = when(caller, now, tz)
    assert at == (now if expected is None else datetime(2026, 11, expected[0], *expected[1:], tzinfo=ZoneInfo(tz)))


def test_a_state_window_holds_even_with_quiet_hours_off() -> None:
    at, why = when(MIAMI, datetime(2026, 11, 10, 23, 0, tzinfo=EAST), "America/New_York", quiet=False)
    assert at == datetime(2026, 11, 11, 8, 0, tzinfo=EAST) and why.startswith("Florida")
    assert when(MINNEAPOLIS, datetime(2026, 11, 10, 23, 0, tzinfo=CENTRAL), "America/Chicago", quiet=False)[1] == ""


def test_only_us_numbers_of_those_states_have_a_window() -> None:
    assert state_window(MIAMI) is STATE_WINDOWS["FL"]
    assert state_window(MINNEAPOLIS) is None
    assert state_window("+443055550123") is None  # a UK number with the same digits
    assert state_window("305") is None


def _state_of_area_code(code: str) -> set[str]:
    """The states libphonenumber's geocoder names for numbers in this area code."""
    names = {w.state: key for key, w in STATE_WINDOWS.items()}
    found: set[str] = set()
    for exchange in ("234", "321", "456", "555", "789", "200", "300", "400", "500", "600", "700", "800", "900"):
        number = phonenumbers.parse(f"+1{code}{exchange}0123")
        if not phonenumbers.is_valid_number(number):
            continue
        place = geocoder.description_for_number(number, "en")
        found |= {key for name, key in names.items() if place == name or place.endswith(f", {key}")}
    return found


def test_the_area_codes_are_those_libphonenumber_places_in_each_state() -> None:
    placed = {code: _state_of_area_code(code) for code in (str(n) for n in range(200, 1000))}
    assert {code: states for code, states in placed.items() if states} == {
        code: {state} for code, state in AREA_CODES.items()}
