"""The lines file's shape as pydantic models, with checks whose messages say how to fix things.

The value checks themselves are in `bot.lines.values`.
"""

from __future__ import annotations

import difflib
import itertools
from typing import Annotated, Any

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

from bot.lines.values import (
    _MISSING_HINTS,
    DETECTIONS,
    OPT_OUT_SCOPES,
    VERTICALS,
    AnyPhone,
    Channel,
    DateText,
    Duration,
    Name,
    Phone,
    Quiet,
    Shifts,
    Template,
    UserId,
    Weekday,
    _choice,
    _contact,
    _digest_at,
    _handover,
    _job_value,
    _kind,
    _list,
    _name,
    _ring_timeout,
    _starts,
    _text,
    _url,
    _user_id,
)
from workflows.durations import DEFAULT_RETENTION_DAYS, format_duration, parse_retention
from workflows.lines import DEFAULT_QUIET_HOURS
from workflows.timezones import parse_timezone

__all__ = ["VERTICALS", "FileModel", "LineModel", "TemplatesModel", "known_keys_hint", "problem_text"]

JobValue = Annotated[float, BeforeValidator(_job_value)]


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplatesModel(_Strict):
    business_hours: Template | None = None
    after_hours: Template | None = None
    business_hours_es: Template | None = None
    after_hours_es: Template | None = None


class GreetingModel(_Strict):
    texted: Template | None = None
    not_texted: Template | None = None

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

class OptOutModel(_Strict):
    """The line's own opt-out phrases (counted as clear requests) and built-in ones it drops."""

    add: Annotated[list[Annotated[str, BeforeValidator(_text(str))]], BeforeValidator(_list)] = Field(
        default_factory=list
    )
    remove: Annotated[list[Annotated[str, BeforeValidator(_text(str))]], BeforeValidator(_list)] = Field(
        default_factory=list
    )


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
    timezone: Annotated[str, BeforeValidator(_text(parse_timezone))] = "UTC"
    hours: dict[Weekday, Shifts] | None = None
    booking_url: Annotated[str, BeforeValidator(_text(_url))] = ""
    vertical: Annotated[str, BeforeValidator(_text(_choice(VERTICALS, "vertical")))] = "general"
    templates: TemplatesModel = TemplatesModel()
    greeting: GreetingModel = GreetingModel()
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
    screen: StrictBool | None = None  # default: on for detection: dial lines
    staff: Annotated[list[Annotated[PersonModel, BeforeValidator(_person)]], BeforeValidator(_list)] = Field(default_factory=list)
    transcribe: StrictBool = False
    lookup: StrictBool = False
    quiet_hours: Quiet = DEFAULT_QUIET_HOURS
    name: Annotated[str, BeforeValidator(_text(str))] = ""
    business: Name | None = None
    # Dated exceptions to `hours`: whole days closed, and days with their own hours.
    closed: Annotated[list[DateText], BeforeValidator(_list)] = Field(default_factory=list)
    special_hours: dict[DateText, Shifts] = Field(default_factory=dict)
    # What a booked job is worth on average: the digest turns booked callers into an amount.
    average_job_value: JobValue | None = None
    opt_out: OptOutModel = OptOutModel()
    # A phone or email the HELP reply names, so a caller can reach a person.
    contact: Annotated[str, BeforeValidator(_text(_contact))] = ""

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
    retention: Annotated[int | None, BeforeValidator(parse_retention)] = DEFAULT_RETENTION_DAYS
    average_job_value: JobValue | None = None  # every line's, unless a line sets its own


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
