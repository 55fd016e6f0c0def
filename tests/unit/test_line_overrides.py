"""The pure merge of Slack settings onto a line from the lines file."""

from __future__ import annotations

import pytest

from workflows.line_overrides import (
    apply_overrides,
    canonical,
    is_default,
    parse_timezone,
    show,
)
from workflows.lines import Line, Shift, WeeklyHours

BASE = Line(number="+15125550100", channel="C0LINEA001", business="Acme",
            hours=WeeklyHours(days={0: (Shift(480, 1020),)}))


def test_overrides_replace_only_their_fields() -> None:
    line, problems = apply_overrides(BASE, {"hours.tue": "09:00-12:00", "cooldown": "30m", "timezone": "America/Denver"})
    assert problems == {}
    assert line.hours is not None and line.hours.days == {0: (Shift(480, 1020),), 1: (Shift(540, 720),)}
    assert (line.cooldown, line.timezone, line.reminders) == (1800, "America/Denver", BASE.reminders)
    assert BASE.cooldown == 4 * 3600, "the file's line is left as it was"


def test_a_stored_value_that_no_longer_parses_is_skipped_not_fatal() -> None:
    line, problems = apply_overrides(BASE, {"cooldown": "soon", "templates.after_hours": "Hi {nope}", "colour": "red"})
    assert line == BASE
    assert set(problems) == {"cooldown", "templates.after_hours", "colour"}


def test_canonical_forms_are_what_the_lines_file_would_say() -> None:
    assert canonical(BASE, "hours.mon", "9am - 5pm, 6pm-8pm") == "09:00-17:00,18:00-20:00"
    assert canonical(BASE, "hours.sat", "off") == "closed"
    assert canonical(BASE, "reminders", "[5m, 15m, 60m]") == "5m,15m,1h"
    assert canonical(BASE, "cooldown", "90 minutes") == "1h30m"
    with pytest.raises(ValueError, match="no booking_url"):
        canonical(BASE, "templates.after_hours", "Book: {booking_url}")
    with pytest.raises(ValueError, match="no unit"):
        canonical(BASE, "cooldown", "30")


@pytest.mark.parametrize(("said", "zone"), [("america/chicago", "America/Chicago"), ("Chicago", "America/Chicago"),
                                            ("new york", "America/New_York"), ("central", "America/Chicago"),
                                            ("UTC", "UTC")])
def test_timezones_people_write(said: str, zone: str) -> None:
    assert parse_timezone(said) == zone


def test_show_and_defaults() -> None:
    always_open = Line(number="+15125550200", channel="C0LINEB001", business="Bolt")
    assert show(always_open, "hours.wed") == "open 24 hours" and is_default(always_open, "hours.wed")
    assert show(BASE, "hours.sun") == "closed" and not is_default(BASE, "hours.sun")
    assert show(BASE, "reminders") == "5m, 15m, 1h" and is_default(BASE, "reminders")
