"""Settings changed from Slack, laid over a line as the lines file describes it.

Overrides are stored as the text an operator would write in the lines file ("08:00-17:00",
"4h", "5m,15m,1h") and parsed here with the parsers the file goes through, so a value set
from Slack can never mean something the file could not say.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import replace

from workflows.durations import format_duration, parse_duration_with_unit
from workflows.lines import (
    DEFAULT_AFTER_HOURS_TEMPLATE,
    DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING,
    DEFAULT_BUSINESS_HOURS_TEMPLATE,
    Greeting,
    Line,
    Shift,
    WeeklyHours,
    format_shift_hhmm,
    parse_shifts,
)
from workflows.override_fields import (
    EXCEPTIONS_FIELD,
    ONCALL_FIELDS,
    OPT_OUT_FIELDS,
    URGENT_FIELDS,
    apply_extra,
    canonical_extra,
    is_default_extra,
    show_extra,
)
from workflows.texting import validate_template
from workflows.timezones import parse_timezone

__all__ = [
    "DAY_KEYS",
    "FIELDS",
    "GREETING_FIELDS",
    "TEMPLATE_NAMES",
    "apply_overrides",
    "canonical",
    "is_default",
    "parse_duration_with_unit",
    "parse_reminders",
    "parse_timezone",
    "show",
]

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TEMPLATE_NAMES = ("business_hours", "after_hours")
GREETING_FIELDS = ("greeting.texted", "greeting.not_texted")
FIELDS = (
    "timezone",
    *(f"hours.{day}" for day in DAY_KEYS),
    EXCEPTIONS_FIELD,  # after the weekdays: dated exceptions sit on top of them
    *(f"templates.{name}" for name in TEMPLATE_NAMES),
    *GREETING_FIELDS,
    "screen",
    "cooldown",
    "reminders",
    *URGENT_FIELDS,
    *OPT_OUT_FIELDS,
    *ONCALL_FIELDS,  # oncall.people first: the others change the person set there
)
_EXTRA = frozenset((EXCEPTIONS_FIELD, *URGENT_FIELDS, *OPT_OUT_FIELDS, *ONCALL_FIELDS))
ALL_DAY: tuple[Shift, ...] = (Shift(0, 24 * 60),)
REMINDERS_EXAMPLE = 'e.g. "5m 15m 60m", or "off"'
def parse_reminders(text: str) -> tuple[int, ...]:
    """Reminder delays from "5m 15m 60m", "5m, 15m, 60m", "[5m, 15m, 60m]" or "off"."""
    cleaned = text.strip().strip("[]").replace(",", " ")
    # "5 min 15 min" is two reminders, not four words: keep each number with its unit.
    cleaned = re.sub(r"(\d+)\s+(?=[a-zA-Z])", r"\1", cleaned)
    if cleaned.lower() in ("off", "none", "no", ""):
        return ()
    values = tuple(parse_duration_with_unit(part) for part in cleaned.split())
    if any(v <= 0 for v in values):
        raise ValueError(f"each reminder must be after the call, {REMINDERS_EXAMPLE}")
    for earlier, later in itertools.pairwise(values):
        if later <= earlier:
            raise ValueError(
                f"reminders must go up, {REMINDERS_EXAMPLE}: "
                f"{format_duration(later)} comes after {format_duration(earlier)}"
            )
    return values


def _on_off(text: str) -> str:
    word = text.strip().lower()
    if word in ("on", "yes", "true", "1"):
        return "on"
    if word in ("off", "no", "false", "0"):
        return "off"
    raise ValueError(f'"{text.strip()}" is neither on nor off')


def _shifts_text(shifts: tuple[Shift, ...]) -> str:
    return ",".join(format_shift_hhmm(s) for s in shifts) if shifts else "closed"


def canonical(line: Line, field: str, text: str) -> str:
    """Check `text` for `field` of `line` and return the form to store; ValueError says why not."""
    if field == "timezone":
        return parse_timezone(text)
    if field in _EXTRA:
        return canonical_extra(line, field, text)
    if field.startswith("hours.") and field[6:] in DAY_KEYS:
        return _shifts_text(parse_shifts(text))
    if (field.startswith("templates.") and field[10:] in TEMPLATE_NAMES) or field in GREETING_FIELDS:
        validate_template(text)
        if "{booking_url}" in text and not line.booking_url:
            raise ValueError("uses {booking_url} but this line has no booking_url: add one in the lines file, or leave it out")
        return text
    if field == "screen":
        return _on_off(text)
    if field == "cooldown":
        return format_duration(parse_duration_with_unit(text))
    if field == "reminders":
        return ",".join(format_duration(v) for v in parse_reminders(text))
    raise ValueError(f'"{field}" cannot be changed from Slack (known: {", ".join(FIELDS)})')


def _with_day(hours: WeeklyHours | None, day: int, shifts: tuple[Shift, ...]) -> WeeklyHours:
    # No hours at all means open 24/7, so the other days stay open around the clock.
    days: dict[int, tuple[Shift, ...]] = dict(hours.days) if hours is not None else dict.fromkeys(range(7), ALL_DAY)
    if shifts:
        days[day] = shifts
    else:
        days.pop(day, None)
    return WeeklyHours(days=days, exceptions=dict(hours.exceptions) if hours is not None else {})


def _apply_one(line: Line, field: str, value: str) -> Line:
    if field == "timezone":
        return replace(line, timezone=parse_timezone(value))
    if field in _EXTRA:
        return apply_extra(line, field, value)
    if field.startswith("hours."):
        return replace(line, hours=_with_day(line.hours, DAY_KEYS.index(field[6:]), parse_shifts(value)))
    if field.startswith("templates."):
        validate_template(value)
        return replace(line, templates=replace(line.templates, **{field[10:]: value}))
    if field in GREETING_FIELDS:
        validate_template(value)
        return replace(line, greeting=replace(line.greeting, **{field[9:]: value}))
    if field == "screen":
        return replace(line, screen=_on_off(value) == "on")
    if field == "cooldown":
        return replace(line, cooldown=parse_duration_with_unit(value))
    if field == "reminders":
        return replace(line, reminders=parse_reminders(value))
    raise ValueError(f'"{field}" cannot be changed from Slack')


def apply_overrides(line: Line, overrides: Mapping[str, str]) -> tuple[Line, dict[str, str]]:
    """The effective line, and {field: problem} for stored values that no longer parse (skipped)."""
    problems: dict[str, str] = {}
    # FIELDS order, so the timezone lands before anything that might read it.
    for field in sorted(overrides, key=lambda f: FIELDS.index(f) if f in FIELDS else len(FIELDS)):
        try:
            line = _apply_one(line, field, overrides[field])
        except (ValueError, TypeError) as exc:
            # A bad stored value must not take the line down: the file's value stays.
            problems[field] = str(exc)
    return line, problems


def show(line: Line, field: str) -> str:
    """A setting's value as people read it in Slack."""
    if field in _EXTRA:
        return show_extra(line, field)
    if field.startswith("hours."):
        if line.hours is None:
            return "open 24 hours"
        shifts = line.hours.days.get(DAY_KEYS.index(field[6:]), ())
        return "open 24 hours" if shifts == ALL_DAY else _shifts_text(shifts).replace(",", ", ")
    if field.startswith("templates."):
        return str(getattr(line.templates, field[10:]))
    if field in GREETING_FIELDS:
        return str(getattr(line.greeting, field[9:]))
    if field == "cooldown":
        return format_duration(line.cooldown)
    if field == "reminders":
        return ", ".join(format_duration(v) for v in line.reminders) or "off"
    value = getattr(line, field)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value) if value not in (None, "") else "not set"


def is_default(line: Line, field: str) -> bool:
    """Whether the line (as the file gave it) holds the built-in value for `field`."""
    if field in _EXTRA:
        return is_default_extra(line, field)
    if field.startswith("hours."):
        return line.hours is None
    if field == "templates.business_hours":
        return line.templates.business_hours == DEFAULT_BUSINESS_HOURS_TEMPLATE
    if field == "templates.after_hours":
        return line.templates.after_hours in (DEFAULT_AFTER_HOURS_TEMPLATE, DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING)
    if field in GREETING_FIELDS:
        return str(getattr(line.greeting, field[9:])) == str(getattr(Greeting(), field[9:]))
    blank = Line(number=line.number, channel=line.channel, business=line.business)
    return bool(getattr(line, field) == getattr(blank, field))
