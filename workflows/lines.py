"""The business lines: what the lines file describes, as plain frozen values.

`bot.settings` parses and validates the YAML into these; every workflow reads them.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Detection = Literal["dial", "forwarded"]
OptOutScope = Literal["line", "account"]

DEFAULT_BUSINESS_HOURS_TEMPLATE = (
    "Hi, this is {business}. Sorry we missed your call - what can we help with?"
)
DEFAULT_AFTER_HOURS_TEMPLATE = (
    "Hi, this is {business}. We're closed now but saw your call. "
    "Book here: {booking_url} or text us what you need and we'll follow up first thing."
)
DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING = (
    "Hi, this is {business}. We're closed now but saw your call. "
    "Text us what you need and we'll follow up first thing."
)
OPT_OUT_FOOTER = " Reply STOP to opt out."


@dataclass(frozen=True)
class Shift:
    """One opening interval of a day, in minutes since local midnight (end may be 1440)."""

    start: int
    end: int


@dataclass(frozen=True)
class WeeklyHours:
    """Opening hours per weekday (0 = Monday). A weekday that is absent is closed.

    `exceptions` replace the weekday's hours on one date: () for a holiday closure, or the
    special hours of that day (e.g. Christmas Eve 08:00-12:00).
    """

    days: dict[int, tuple[Shift, ...]] = field(default_factory=dict)
    exceptions: dict[date, tuple[Shift, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class QuietHours:
    """A daily window without automatic texts, in minutes since local midnight.

    `start > end` wraps past midnight (21:00-08:00 is start=1260, end=480).
    """

    start: int
    end: int


# No automatic texts other than the text-back itself between 21:00 and 08:00 (PRODUCT §2.7).
DEFAULT_QUIET_HOURS = QuietHours(start=21 * 60, end=8 * 60)


@dataclass(frozen=True)
class Templates:
    business_hours: str = DEFAULT_BUSINESS_HOURS_TEMPLATE
    after_hours: str = DEFAULT_AFTER_HOURS_TEMPLATE


@dataclass(frozen=True)
class Person:
    """Someone who can be paged: a Slack user and, optionally, a phone for SMS and calls."""

    user: str  # Slack user id
    phone: str = ""  # E.164; "" when paged in Slack only


@dataclass(frozen=True)
class OnCall:
    """Who is paged for urgent threads (PRODUCT §2.5): one person, or a weekly rotation."""

    people: tuple[Person, ...]  # one person, or the rotation in order
    handover_day: int = 0  # rotation: weekday the next person takes over (0 = Monday)
    handover_minute: int = 8 * 60  # rotation: local time of the handover
    starts: date | None = None  # rotation: a day in the first handover week of people[0]
    backup: Person | None = None  # None: the next person in the rotation, if any
    call: bool = False  # also ring the phone with a spoken summary
    escalate_after: int = 300  # seconds without "I'm on it" before the backup is paged

    @property
    def user(self) -> str:
        """The first person's Slack id (the only one without a rotation)."""
        return self.people[0].user


@dataclass(frozen=True)
class Urgency:
    """The line's changes to its vertical's urgent phrases, and its own safety texts."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    safety_texts: tuple[tuple[str, str], ...] = ()  # (hazard, text): replaces the default wording


QuestionKind = Literal["text", "zip", "yes_no", "choice"]


@dataclass(frozen=True)
class Question:
    """A qualification question texted to a caller; `label` names the answer on the card and lead."""

    label: str
    ask: str
    kind: QuestionKind = "text"
    choices: tuple[str, ...] = ()  # kind "choice": the accepted answers


@dataclass(frozen=True)
class Line:
    """One Twilio number, its Slack channel and how it behaves."""

    number: str  # E.164
    channel: str  # Slack channel id
    business: str  # business name used in templates (line override or file default)
    timezone: str = "UTC"  # IANA name, validated at load
    forward_to: tuple[str, ...] = ()
    detection: Detection = "dial"
    hours: WeeklyHours | None = None  # None: open 24/7
    booking_url: str = ""
    vertical: str = "general"
    templates: Templates = Templates()
    oncall: OnCall | None = None
    urgency: Urgency = Urgency()
    reminders: tuple[int, ...] = (300, 900, 3600)  # seconds
    cooldown: int = 4 * 3600  # seconds
    ring_timeout: int = 20  # seconds the staff phones ring before the call counts as missed
    ring_after_hours: bool = False  # False: a call outside hours goes straight to missed
    opt_out_footer: bool = True  # first text to a number says how to opt out
    allow_international: bool = False  # auto-texts to numbers in other countries
    questions: tuple[Question, ...] = ()  # qualification questions; () asks none
    digest: tuple[int, int] | None = (0, 8 * 60)  # weekday and local minute of the weekly digest; None: off
    crm_webhook: str = ""  # this line's lead webhook URL; "" uses the install's (TEXTBACK_CRM_WEBHOOK_URL)
    voicemail: bool = False  # after the greeting the caller may leave a message, posted in the thread
    transcribe: bool = False  # Twilio transcribes voicemail (paid, recordings up to 2 minutes)
    lookup: bool = False  # ask Twilio Lookup for the line type before the text-back (paid)
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS  # None: follow-ups at any hour
    name: str = ""  # a label for the line in Slack, e.g. "Acme North"

    @property
    def label(self) -> str:
        return self.name or self.business


@dataclass(frozen=True)
class Config:
    """The whole lines file."""

    business: str
    lines: tuple[Line, ...]
    admins: tuple[str, ...] = ()  # Slack user ids allowed to change settings
    # "account": a STOP on any line stops every line's texts to that number.
    opt_out_scope: OptOutScope = "line"

    def line_for_number(self, number: str) -> Line | None:
        return next((ln for ln in self.lines if ln.number == number), None)

    def line_for_channel(self, channel: str) -> Line | None:
        return next((ln for ln in self.lines if ln.channel == channel), None)
