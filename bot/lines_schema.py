"""The lines file's shape as pydantic models, with checks whose messages say how to fix things."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from workflows.durations import format_duration, parse_duration
from workflows.hours import parse_shifts, parse_weekday
from workflows.lines import DEFAULT_QUIET_HOURS, QuietHours
from workflows.quiet_hours import parse_quiet_hours
from workflows.templates import validate_template

__all__ = ["VERTICALS", "FileModel", "LineModel", "TemplatesModel", "known_keys_hint", "problem_text"]

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


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones() | {"UTC"}}


def _timezone(value: str) -> str:
    zones = _zones()
    if value in zones.values():
        return value
    if value.lower() in zones:
        # Case slips ("america/chicago") have exactly one meaning: take the canonical name.
        return zones[value.lower()]
    close = [zones[z] for z in difflib.get_close_matches(value.lower(), zones, n=1, cutoff=0.8)]
    if close:
        raise ValueError(f'unknown timezone "{value}" (did you mean "{close[0]}"?)')
    raise ValueError(f'unknown timezone "{value}" (use an IANA name, e.g. "America/Chicago")')


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
def _duration_with_unit(value: Any) -> int:
    # A bare 5 could mean minutes or seconds; guessing wrong gives 5-second reminders.
    if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError(f'{value} has no unit: write "{value}m" for minutes or "{value}s" for seconds')
    return parse_duration(value)


Duration = Annotated[int, BeforeValidator(_duration_with_unit)]
Weekday = Annotated[int, BeforeValidator(_text(parse_weekday))]
Shifts = Annotated[tuple, BeforeValidator(_shifts)]  # type: ignore[type-arg]  # a tuple of Shift
Name = Annotated[str, BeforeValidator(_text(_name))]
Template = Annotated[str, BeforeValidator(_text(_template))]
Quiet = Annotated[QuietHours | None, BeforeValidator(_text(parse_quiet_hours))]


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplatesModel(_Strict):
    business_hours: Template | None = None
    after_hours: Template | None = None


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


def _date_text(value: str) -> str:
    """A date written YYYY-MM-DD, kept as text (YAML's own dates are read back as written)."""
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a date: write YYYY-MM-DD, e.g. 2026-12-25') from None
    return value


DateText = Annotated[str, BeforeValidator(_text(_date_text))]


def _starts(value: str) -> str:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a date: write YYYY-MM-DD, e.g. 2026-11-23') from None
    return value


def _person(value: Any) -> Any:
    """A bare user id is a person without a phone."""
    return {"user": value} if isinstance(value, str) else value


class PersonModel(_Strict):
    user: UserId
    phone: AnyPhone = ""


Pageable = Annotated[PersonModel, BeforeValidator(_person)]


class OnCallModel(_Strict):
    people: Annotated[list[Pageable], BeforeValidator(_list)] = Field(min_length=1)
    handover: Annotated[tuple[int, int], BeforeValidator(_text(_handover))] = (0, 8 * 60)
    starts: Annotated[str, BeforeValidator(_text(_starts))] | None = None
    backup: Pageable | None = None
    call: StrictBool = False
    escalate_after: Duration = 300

    @field_validator("escalate_after")
    @classmethod
    def _sensible_escalation(cls, value: int) -> int:
        if not 30 <= value <= 4 * 3600:
            raise ValueError(f"{format_duration(value)} is out of range: use 30s-4h (default 5m)")
        return value

    @model_validator(mode="after")
    def _rotation_needs_start(self) -> OnCallModel:
        if len(self.people) > 1 and self.starts is None:
            raise ValueError(
                "a rotation needs starts: a day in the week the first person is on call, e.g. starts: 2026-11-23"
            )
        return self


def _oncall(value: Any) -> Any:
    """`oncall: U0123456789` is the short form of one person."""
    # Checked here, so a wrong id is reported at `oncall:` where it was written.
    return {"people": [_user_id(value)]} if isinstance(value, str) else value


class UrgencyModel(_Strict):
    add: Annotated[list[Annotated[str, BeforeValidator(_text(str))]], BeforeValidator(_list)] = Field(
        default_factory=list
    )
    remove: Annotated[list[Annotated[str, BeforeValidator(_text(str))]], BeforeValidator(_list)] = Field(
        default_factory=list
    )
    safety_texts: dict[str, Annotated[str, BeforeValidator(_text(str))]] = Field(default_factory=dict)

    @field_validator("safety_texts")
    @classmethod
    def _known_hazards(cls, value: dict[str, str]) -> dict[str, str]:
        from workflows.keywords import SAFETY_SMS

        for hazard, text in value.items():
            if hazard not in SAFETY_SMS:
                raise ValueError(f'"{hazard}" is not a hazard: use one of {", ".join(SAFETY_SMS)}')
            if not text.strip():
                raise ValueError(f"the safety text for {hazard} is empty")
        return value


def _digest_at(value: str) -> tuple[int, int] | None:
    """ "mon 08:00" (the default), or off."""
    if value.strip().lower() in ("off", "none", "false"):
        return None
    try:
        return _handover(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a weekly time: write a weekday and a time, e.g. "mon 08:00", or off') from None


QUESTION_KINDS = ("text", "zip", "yes_no", "choice")


class QuestionModel(_Strict):
    label: Annotated[str, BeforeValidator(_text(_name))]
    ask: Annotated[str, BeforeValidator(_text(_name))]
    type: Annotated[str, BeforeValidator(_text(_choice(QUESTION_KINDS, "question type")))] = "text"
    choices: Annotated[list[Annotated[str, BeforeValidator(_text(str))]], BeforeValidator(_list)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _choices_fit_the_type(self) -> QuestionModel:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError('a "choice" question needs at least two choices, e.g. choices: [heat, cool]')
        if self.type != "choice" and self.choices:
            raise ValueError(f'choices only go with type: choice (this question is type: {self.type})')
        if len(self.ask) > 300:
            raise ValueError("the question is longer than 300 characters: keep it to one short text")
        return self


def _questions(value: Any) -> Any:
    """A list of questions; `preset` was replaced by the vertical's before this runs, `off` means none."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none"):
        return []
    if isinstance(value, str):
        raise ValueError(f'"{value}" is not a question list: write questions: preset, off, or a list of '
                         '{label: ..., ask: ...} items')
    return value


def _preset_questions(vertical: Any) -> list[dict[str, Any]]:
    from workflows.qualify import PRESETS

    preset = PRESETS.get(vertical if isinstance(vertical, str) else "general", PRESETS["general"])
    return [{"label": q.label, "ask": q.ask, "type": q.kind, "choices": list(q.choices)} for q in preset]


class LineModel(_Strict):
    number: Phone
    channel: Channel
    forward_to: Annotated[list[AnyPhone], BeforeValidator(_list)] = Field(default_factory=list)
    detection: Annotated[str, BeforeValidator(_text(_choice(DETECTIONS, "detection")))] = "dial"
    timezone: Annotated[str, BeforeValidator(_text(_timezone))] = "UTC"
    hours: dict[Weekday, Shifts] | None = None
    booking_url: Annotated[str, BeforeValidator(_text(_url))] = ""
    vertical: Annotated[str, BeforeValidator(_text(_choice(VERTICALS, "vertical")))] = "general"
    templates: TemplatesModel = TemplatesModel()
    oncall: Annotated[OnCallModel, BeforeValidator(_oncall)] | None = None
    urgent: UrgencyModel = UrgencyModel()
    reminders: Annotated[list[Duration], BeforeValidator(_list)] = Field(default_factory=lambda: [300, 900, 3600])
    cooldown: Duration = 4 * 3600
    ring_timeout: Annotated[int, BeforeValidator(_ring_timeout)] = 20
    ring_after_hours: StrictBool = False
    opt_out_footer: StrictBool = True
    allow_international: StrictBool = False
    questions: Annotated[list[QuestionModel], BeforeValidator(_questions)] = Field(default_factory=list)
    crm_webhook: Annotated[str, BeforeValidator(_text(_url))] = ""
    digest: Annotated[tuple[int, int] | None, BeforeValidator(_text(_digest_at))] = (0, 8 * 60)
    voicemail: StrictBool = False
    transcribe: StrictBool = False
    lookup: StrictBool = False
    quiet_hours: Quiet = DEFAULT_QUIET_HOURS
    name: Annotated[str, BeforeValidator(_text(str))] = ""
    business: Name | None = None
    # Dated exceptions to `hours`: whole days closed, and days with their own hours.
    closed: Annotated[list[DateText], BeforeValidator(_list)] = Field(default_factory=list)
    special_hours: dict[DateText, Shifts] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        """`questions: preset` is the vertical's list."""
        if isinstance(data, dict) and str(data.get("questions", "")).strip().lower() == "preset":
            return {**data, "questions": _preset_questions(data.get("vertical", "general"))}
        return data

    @field_validator("hours", mode="before")
    @classmethod
    def _hours_given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError('is empty: leave "hours" out for open 24/7, or write hours: {} for always closed')
        return value

    @field_validator("reminders")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if any(v <= 0 for v in value):
            raise ValueError('each reminder must be after the call, e.g. [5m, 15m, 60m]')
        for earlier, later in itertools.pairwise(value):
            if later <= earlier:
                raise ValueError(
                    f"must go up, e.g. [5m, 15m, 60m]: {format_duration(later)} comes after {format_duration(earlier)}"
                )
        return value


class FileModel(_Strict):
    business: Name
    lines: list[Any] = Field(min_length=1)
    admins: Annotated[list[UserId], BeforeValidator(_list)] = Field(default_factory=list)
    opt_out_scope: Annotated[str, BeforeValidator(_text(_choice(OPT_OUT_SCOPES, "opt_out_scope")))] = "line"


def known_keys_hint(key: str, model: type[BaseModel]) -> str:
    """ "did you mean "x"? known keys: ..." for an unknown key."""
    known = list(model.model_fields)
    close = difflib.get_close_matches(key.lower(), known, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f"{hint}known keys: {', '.join(known)}"


def problem_text(err: ErrorDetails) -> str:
    """pydantic's error in words an operator acts on."""
    kind, value = err["type"], err.get("input")
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    if kind == "missing":
        name = str(err["loc"][-1]) if err["loc"] else ""
        return f"missing: add {_MISSING_HINTS.get(name, name)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_kind(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, e.g. [a, b], got {_kind(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected keys and values, got {_kind(value)}"
    if kind == "too_short":
        return "needs at least one entry"
    if kind == "string_type":
        return f"expected text, got {_kind(value)}"
    return err["msg"]
