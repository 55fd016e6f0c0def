"""The lines file's values: each check turns what YAML gave into a value, or raises a
ValueError whose message says how to write it (used by the models in `bot.lines.schema`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from pydantic import BeforeValidator

from workflows.durations import format_duration, parse_duration, parse_duration_with_unit
from workflows.lines import QuietHours, parse_shifts, parse_weekday
from workflows.quiet_hours import parse_quiet_hours
from workflows.texting import validate_template

VERTICALS = (
    "plumbing", "hvac", "electrical", "roofing", "pest_control",
    "dental", "medical_spa", "legal", "restaurant", "general",
)
DETECTIONS = ("dial", "forwarded")
OPT_OUT_SCOPES = ("line", "account")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{8,}")
_USER = re.compile(r"[UW][A-Z0-9]{8,}")
# Said when a required key is missing, so the message shows what to write.
_MISSING_HINTS = {
    "business": "the business name used in texts, e.g. business: Acme Plumbing",
    "lines": 'at least one line, e.g. lines: [{number: "+15125550100", channel: C0123456789}]',
    "number": 'the Twilio number in E.164, e.g. number: "+15125550100"',
    "channel": "the Slack channel id, e.g. channel: C0123456789",
}


def _kind(value: Any) -> str:
    """What YAML gave, in the operator's words."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'"{value}"'
    return type(value).__name__


def _text(check: Callable[[str], Any]) -> Callable[[Any], Any]:
    """Run `check` on text only, so a list or mapping gets a plain "expected text" message."""

    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {_kind(value)}")
        return check(value.strip())

    return validate


def _normalise(value: str) -> str | None:
    """E.164 for a valid number written any usual way (US by default), else None."""
    try:
        parsed = phonenumbers.parse(value, "US")
    except NumberParseException:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164) if phonenumbers.is_valid_number(parsed) else None


def _e164(value: str) -> str:
    """The line's own number, exactly as Twilio sends it in `To`: E.164 only."""
    normal = _normalise(value)
    if normal is not None and normal == value:
        return value
    if normal is not None:
        raise ValueError(f'"{value}" is not in E.164 form (write "{normal}")')
    raise ValueError(f'"{value}" is not a valid phone number (use E.164, e.g. "+15125550100")')


def _any_phone(value: str) -> str:
    """A staff phone in E.164, also accepting "(512) 555-0111" and "512-555-0111"."""
    normal = _normalise(value)
    if normal is None:
        raise ValueError(f'"{value}" is not a valid phone number (use E.164, e.g. "+15125550111")')
    return normal


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def _contact(value: str) -> str:
    """The HELP reply's contact: an email address, or a phone written any usual way, shown as
    callers read it ("(512) 555-0100")."""
    if "@" in value:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f'"{value}" is not an email address (e.g. "office@acme.example")')
        return value
    normal = _normalise(value)
    if normal is None:
        raise ValueError(f'"{value}" is neither a phone number nor an email address '
                         '(e.g. "+15125550100" or "office@acme.example")')
    from bot.phones import display

    return display(normal)


def _pattern(pattern: re.Pattern[str], what: str, example: str, where: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f'"{value}" is not a {what} (use the id, e.g. {example}: {where})')
        return value

    return check


def _choice(options: tuple[str, ...], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        cleaned = value.lower()
        if cleaned in options:
            return cleaned
        close = difflib.get_close_matches(cleaned, options, n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise ValueError(f'unknown {what} "{value}" ({hint}use one of: {", ".join(options)})')

    return check


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f'"{value}" is not a web address (use a full URL, e.g. "https://acme.example/book")')
    return value


def _name(value: str) -> str:
    if not value:
        raise ValueError("is empty: write a name, e.g. Acme Plumbing")
    return value


def _template(value: str) -> str:
    validate_template(value)
    return value


def _ring_timeout(value: Any) -> int:
    seconds = parse_duration(value)
    if not 5 <= seconds <= 60:
        raise ValueError(
            f"{format_duration(seconds)} is out of range: use 5-60 seconds (default 20); "
            "longer lets a staff phone's voicemail answer the call"
        )
    return seconds


# An average job above this is a typo (an extra zero or two), not a service call.
MAX_JOB_VALUE = 1_000_000


def _job_value(value: Any) -> float:
    """`average_job_value`: an amount in the business's currency, e.g. 350, 349.50 or "$1,200"."""
    amount = value
    if isinstance(value, str):
        cleaned = value.strip().removeprefix("$").replace(",", "").strip()
        try:
            amount = float(cleaned)
        except ValueError:
            raise ValueError(f'"{value}" is not an amount: write a number, e.g. average_job_value: 350') from None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ValueError(f"expected an amount, e.g. average_job_value: 350, got {_kind(value)}")
    if not 0 < amount <= MAX_JOB_VALUE:
        raise ValueError(f"{value} is out of range: use an amount above 0 and up to {MAX_JOB_VALUE:,}")
    return float(amount)


def _list(value: Any) -> Any:
    """A single value where a list is expected counts as a one-item list."""
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def _shifts(value: Any) -> Any:
    return _text(parse_shifts)(value)


Phone = Annotated[str, BeforeValidator(_text(_e164))]
AnyPhone = Annotated[str, BeforeValidator(_text(_any_phone))]
Channel = Annotated[
    str, BeforeValidator(_text(_pattern(_CHANNEL, "Slack channel id", "C0123456789", "channel details → About tab")))
]
_user_id = _text(_pattern(_USER, "Slack user id", "U0123456789", "profile → ⋮ → Copy member ID"))
UserId = Annotated[str, BeforeValidator(_user_id)]
Duration = Annotated[int, BeforeValidator(parse_duration_with_unit)]
Weekday = Annotated[int, BeforeValidator(_text(parse_weekday))]
Shifts = Annotated[tuple, BeforeValidator(_shifts)]  # type: ignore[type-arg]  # a tuple of Shift
Name = Annotated[str, BeforeValidator(_text(_name))]
Template = Annotated[str, BeforeValidator(_text(_template))]
Quiet = Annotated[QuietHours | None, BeforeValidator(_text(parse_quiet_hours))]


def _handover(value: str) -> tuple[int, int]:
    """ "mon 08:00" -> (weekday, minute of day)."""
    parts = value.split()
    if len(parts) != 2:
        raise ValueError(f'"{value}" is not a handover time: write a weekday and a time, e.g. "mon 08:00"')
    day = parse_weekday(parts[0])
    try:
        (shift,) = parse_shifts(f"{parts[1]}-23:59")
    except ValueError:
        raise ValueError(f'"{parts[1]}" is not a time of day: write e.g. "mon 08:00" or "fri 5pm"') from None
    return day, shift.start


def _iso_date(example: str) -> Callable[[str], str]:
    """A date written YYYY-MM-DD, kept as text (YAML's own dates are read back as written)."""

    def check(value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f'"{value}" is not a date: write YYYY-MM-DD, e.g. {example}') from None
        return value

    return check


_date_text = _iso_date("2026-12-25")  # a closure or special day
_starts = _iso_date("2026-11-23")  # the first week of an on-call rotation
DateText = Annotated[str, BeforeValidator(_text(_date_text))]


def _digest_at(value: str) -> tuple[int, int] | None:
    """ "mon 08:00" (the default), or off."""
    if value.strip().lower() in ("off", "none", "false"):
        return None
    try:
        return _handover(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a weekly time: write a weekday and a time, e.g. "mon 08:00", or off') from None
