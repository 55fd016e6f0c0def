"""The settings changed from Slack that are lists or people: urgent and opt-out phrases, on call,
dated hours.

Stored, like every override, as text ("mold, gas smell", "U0123456789 +15125550181",
"2026-12-24 08:00-12:00; 2026-12-25 closed"), parsed back here. The Slack edge turns
mentions and phone numbers into ids and E.164 before anything reaches this module.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from workflows.durations import format_duration, parse_duration
from workflows.keywords import words
from workflows.lines import Line, OnCall, Person, Shift, WeeklyHours, format_shift_hhmm, parse_shifts

__all__ = [
    "EXCEPTIONS_FIELD",
    "EXTRA_FIELDS",
    "ONCALL_FIELDS",
    "OPT_OUT_FIELDS",
    "URGENT_FIELDS",
    "apply_extra",
    "canonical_extra",
    "format_exceptions",
    "format_phrases",
    "is_default_extra",
    "parse_date",
    "parse_exceptions",
    "parse_person",
    "parse_phrases",
    "show_extra",
    "with_exceptions",
]

URGENT_FIELDS = ("urgent.add", "urgent.remove")
OPT_OUT_FIELDS = ("opt_out.add", "opt_out.remove")
ONCALL_FIELDS = ("oncall.people", "oncall.backup", "oncall.call", "oncall.escalate_after")
EXCEPTIONS_FIELD = "hours.exceptions"
EXTRA_FIELDS = (EXCEPTIONS_FIELD, *URGENT_FIELDS, *OPT_OUT_FIELDS, *ONCALL_FIELDS)
ALL_DAY: tuple[Shift, ...] = (Shift(0, 24 * 60),)
MAX_PHRASE = 60
_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ON, _OFF = frozenset({"on", "yes", "true", "1"}), frozenset({"off", "no", "false", "0"})
_NOBODY = frozenset({"", "none", "nobody", "-"})


# --- urgent phrases ---------------------------------------------------------------------


def _phrase(text: str) -> str:
    cleaned = " ".join(text.strip().strip("\"'“”").lower().split())
    if not words(cleaned):
        raise ValueError(f'"{text.strip()}" has no words to match: write a phrase like "gas smell"')
    if len(cleaned) > MAX_PHRASE:
        raise ValueError(f"a phrase of {len(cleaned)} characters will never match: keep it under {MAX_PHRASE}")
    return cleaned


def parse_phrases(text: str) -> tuple[str, ...]:
    """Phrases from "mold, gas smell" ("none" or "" for none), lowercase, each once."""
    if text.strip().lower() in _NOBODY:
        return ()
    return tuple(dict.fromkeys(_phrase(part) for part in text.split(",") if part.strip()))


def format_phrases(phrases: tuple[str, ...]) -> str:
    return ", ".join(phrases)


# --- on call ------------------------------------------------------------------------------


def parse_person(text: str) -> Person | None:
    """ "U0123456789 +15125550181" or "U0123456789"; "none" is nobody."""
    parts = text.split()
    if not parts or parts[0].lower() in _NOBODY:
        return None
    if not _USER.fullmatch(parts[0]) or len(parts) > 2:
        raise ValueError(f'"{text}" is not a Slack user with an optional phone')
    if len(parts) == 2 and not _E164.fullmatch(parts[1]):
        raise ValueError(f'"{parts[1]}" is not a phone number in E.164, e.g. +15125550181')
    return Person(user=parts[0], phone=parts[1] if len(parts) == 2 else "")


def _format_person(person: Person | None) -> str:
    return "none" if person is None else f"{person.user} {person.phone}".strip()


def _switch(text: str) -> bool:
    word = text.strip().lower()
    if word in _ON | _OFF:
        return word in _ON
    raise ValueError(f'"{text.strip()}" is not on or off')


def _escalation(text: str) -> int:
    if text.strip().isascii() and text.strip().isdigit():
        raise ValueError(f'{text.strip()} has no unit: write "{text.strip()}m" for minutes')
    seconds = parse_duration(text)
    if not 30 <= seconds <= 4 * 3600:
        raise ValueError(f"{format_duration(seconds)} is out of range: use 30s-4h (default 5m)")
    return seconds


def _needs_oncall(line: Line) -> OnCall:
    if line.oncall is None:
        raise ValueError("nobody is on call for this line yet: set someone first")
    return line.oncall


# --- dated exceptions to the opening hours ---------------------------------------------------


def parse_date(text: str) -> date:
    """A date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'"{text.strip()}" is not a date: write YYYY-MM-DD, e.g. 2026-12-25') from None


def parse_exceptions(text: str) -> dict[date, tuple[Shift, ...]]:
    """ "2026-12-24 08:00-12:00; 2026-12-25 closed" -> {date: shifts}; "none" is none."""
    found: dict[date, tuple[Shift, ...]] = {}
    if text.strip().lower() in _NOBODY:
        return found
    for part in text.split(";"):
        if not part.strip():
            continue
        day, _, hours = part.strip().partition(" ")
        found[parse_date(day)] = parse_shifts(hours or "closed")
    return dict(sorted(found.items()))


def format_exceptions(exceptions: dict[date, tuple[Shift, ...]]) -> str:
    def shown(shifts: tuple[Shift, ...]) -> str:
        return ",".join(format_shift_hhmm(s) for s in shifts) if shifts else "closed"

    return "; ".join(f"{day.isoformat()} {shown(shifts)}" for day, shifts in sorted(exceptions.items())) or "none"


def with_exceptions(hours: WeeklyHours | None, exceptions: dict[date, tuple[Shift, ...]]) -> WeeklyHours | None:
    """The hours with these dated exceptions; open-24/7 lines get every weekday all day."""
    if hours is None and not exceptions:
        return None
    days = dict(hours.days) if hours is not None else dict.fromkeys(range(7), ALL_DAY)
    return WeeklyHours(days=days, exceptions=dict(exceptions))


# --- the field dispatch used by line_overrides -------------------------------------------------


def canonical_extra(line: Line, field: str, text: str) -> str:
    """The form to store for one of EXTRA_FIELDS; ValueError says why not."""
    if field in URGENT_FIELDS or field in OPT_OUT_FIELDS:
        return format_phrases(parse_phrases(text))
    if field in ("oncall.people", "oncall.backup"):
        person = parse_person(text)
        if person is None and field == "oncall.people":
            raise ValueError("say who is on call")
        return _format_person(person)
    if field == "oncall.call":
        return "on" if _switch(text) else "off"
    if field == "oncall.escalate_after":
        return format_duration(_escalation(text))
    if field == EXCEPTIONS_FIELD:
        return format_exceptions(parse_exceptions(text))
    raise ValueError(f'"{field}" cannot be changed from Slack')


def apply_extra(line: Line, field: str, value: str) -> Line:
    """`line` with one of EXTRA_FIELDS set to its stored `value`."""
    if field == "urgent.add":
        return replace(line, urgency=replace(line.urgency, add=parse_phrases(value)))
    if field == "urgent.remove":
        return replace(line, urgency=replace(line.urgency, remove=parse_phrases(value)))
    if field == "opt_out.add":
        return replace(line, opt_out_words=replace(line.opt_out_words, add=parse_phrases(value)))
    if field == "opt_out.remove":
        return replace(line, opt_out_words=replace(line.opt_out_words, remove=parse_phrases(value)))
    if field == "oncall.people":
        person = parse_person(value)
        if person is None:
            raise ValueError("say who is on call")
        # One person set from Slack replaces a rotation: "who is on call" has one answer.
        base = line.oncall or OnCall(people=(person,))
        return replace(line, oncall=replace(base, people=(person,), starts=None))
    if field == "oncall.backup":
        return replace(line, oncall=replace(_needs_oncall(line), backup=parse_person(value)))
    if field == "oncall.call":
        return replace(line, oncall=replace(_needs_oncall(line), call=_switch(value)))
    if field == "oncall.escalate_after":
        return replace(line, oncall=replace(_needs_oncall(line), escalate_after=_escalation(value)))
    if field == EXCEPTIONS_FIELD:
        return replace(line, hours=with_exceptions(line.hours, parse_exceptions(value)))
    raise ValueError(f'"{field}" cannot be changed from Slack')


def show_extra(line: Line, field: str) -> str:
    """One of EXTRA_FIELDS as people read it in Slack (user ids stay ids: the edge mentions them)."""
    if field == "urgent.add":
        return format_phrases(line.urgency.add) or "none"
    if field == "urgent.remove":
        return format_phrases(line.urgency.remove) or "none"
    if field in OPT_OUT_FIELDS:
        return format_phrases(getattr(line.opt_out_words, field.split(".")[1])) or "none"
    if field == EXCEPTIONS_FIELD:
        return format_exceptions(line.hours.exceptions if line.hours else {})
    oncall = line.oncall
    if oncall is None:
        return "nobody"
    if field == "oncall.people":
        return ", ".join(_format_person(p) for p in oncall.people)
    if field == "oncall.backup":
        return _format_person(oncall.backup)
    if field == "oncall.call":
        return "on" if oncall.call else "off"
    return format_duration(oncall.escalate_after)


def is_default_extra(line: Line, field: str) -> bool:
    """Whether the line (as the file gave it) holds the built-in value for one of EXTRA_FIELDS."""
    if field in URGENT_FIELDS:
        return not getattr(line.urgency, field.split(".")[1])
    if field in OPT_OUT_FIELDS:
        return not getattr(line.opt_out_words, field.split(".")[1])
    if field == EXCEPTIONS_FIELD:
        return line.hours is None or not line.hours.exceptions
    return line.oncall is None
