"""The business lines: what the lines file describes, as plain frozen values, and their hours.

`bot.settings` parses and validates the YAML into these; every workflow reads them.
The opening hours come with their questions ("open now?", "open when?", "what are today's
hours?") and the parser for what operators write ("9am-5pm", "closed"). Nothing here does
I/O, and nothing reads the clock: callers pass `now` (timezone-aware). Times are wall-clock
minutes in the line's IANA timezone, so DST changes move the instant, never the opening time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

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
# What a caller hears after a missed call: that a text is on its way only when one is.
DEFAULT_GREETING_TEXTED = (
    "Thanks for calling {business}. Sorry we missed your call. We just sent you a text message, "
    "so you can reply there and we'll get right back to you."
)
DEFAULT_GREETING_NOT_TEXTED = "Thanks for calling {business}. Sorry we missed your call. We'll get back to you as soon as we can."
OPT_OUT_FOOTER = " Reply STOP to opt out."
OPT_OUT_FOOTER_ES = " Responde STOP para no recibir más mensajes."


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
    # Used instead when the caller's last text to the line was in Spanish ("": none).
    business_hours_es: str = ""
    after_hours_es: str = ""


@dataclass(frozen=True)
class Greeting:
    """Spoken after a missed call: `texted` when a text-back is being sent, else `not_texted`
    (withheld number, opted out, blocked, landline, cooldown)."""

    texted: str = DEFAULT_GREETING_TEXTED
    not_texted: str = DEFAULT_GREETING_NOT_TEXTED


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


@dataclass(frozen=True)
class OptOutWords:
    """The line's changes to the opt-out phrases (workflows/opt_out.py): added ones count as clear."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


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
    greeting: Greeting = Greeting()
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
    # Call screening: a staff phone that answers hears who is calling and must press 1 to take
    # it, so a declined call or a staff voicemail counts as missed (detection: dial lines).
    screen: bool = True
    staff: tuple[Person, ...] = ()  # staff phones for call backs (and anyone on call)
    transcribe: bool = False  # Twilio transcribes voicemail (paid, recordings up to 2 minutes)
    lookup: bool = False  # ask Twilio Lookup for the line type before the text-back (paid)
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS  # None: follow-ups at any hour
    name: str = ""  # a label for the line in Slack, e.g. "Acme North"
    average_job_value: float | None = None  # what a booked job is worth on average; None: not said
    opt_out_words: OptOutWords = OptOutWords()
    contact: str = ""  # phone (E.164) or email named in the HELP reply; "" when not given

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
    # Days a conversation's records (thread link, state, the caller's counters) are kept after
    # its last activity; None: forever. Leads, opt-outs and blocks are kept regardless.
    retention_days: int | None = 180
    average_job_value: float | None = None  # for lines linked from Slack, as for the file's own

    def line_for_number(self, number: str) -> Line | None:
        return next((ln for ln in self.lines if ln.number == number), None)

    def line_for_channel(self, channel: str) -> Line | None:
        return next((ln for ln in self.lines if ln.channel == channel), None)


# --- Opening hours -------------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
SEARCH_DAYS = 14
HOURS_EXAMPLE = 'use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'
_SPLIT_EXAMPLE = 'e.g. "08:00-12:00,13:00-17:00"'

_CLOSED_WORDS = frozenset({"", "closed", "off", "none", "-"})
_ALL_DAY_WORDS = frozenset({"24h", "24 h", "24hrs", "24 hours", "24/7", "all day", "open 24h", "open 24 hours"})
_WEEKDAY_ALIASES = {"weds": 2, "thur": 3, "thurs": 3}
# "9", "09:30", "8.00", "0800", "9am", "9:30 pm", "9 a.m."
_TIME = re.compile(r"^(?P<h>\d{1,2})(?:[:.]?(?P<m>\d{2}))?\s*(?:(?P<ampm>[ap])\.?(?:m\.?)?)?$")
# Range separators people type: hyphen, en/em dash, "to".
_RANGE = re.compile(r"\s*(?:-|–|—|\bto\b)\s*")


def parse_weekday(text: str) -> int:
    """The weekday number (0 = Monday) for "mon", "Monday", "Tues", "thurs", "Fri."..."""
    word = str(text).strip().lower().rstrip(".")
    if word in _WEEKDAY_ALIASES:
        return _WEEKDAY_ALIASES[word]
    # Any prefix of at least two letters names exactly one day ("tu", "th", "sa", "su").
    matches = [i for i, name in enumerate(WEEKDAYS) if len(word) >= 2 and name.startswith(word)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f'"{text}" is not a weekday: use mon, tue, wed, thu, fri, sat or sun')


def _parse_time(text: str, *, is_end: bool) -> int:
    """Minutes since midnight for one side of a range; 24:00 (or a closing 00:00) is 1440."""
    match = _TIME.match(text.strip().lower())
    if not match:
        raise ValueError(f'"{text}" is not a time of day: {HOURS_EXAMPLE}')
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if minute > 59:
        raise ValueError(f"minute {match['m']} is not a time of day: {HOURS_EXAMPLE}")
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError(f'"{text}" is not a time of day: with am/pm the hour is 1-12; or {HOURS_EXAMPLE}')
        hour = hour % 12 + (12 if match["ampm"] == "p" else 0)
    elif hour > 24 or (hour == 24 and minute):
        raise ValueError(f"hour {hour} is not a time of day: {HOURS_EXAMPLE}")
    total = hour * 60 + minute
    if total == DAY_MINUTES and not is_end:
        raise ValueError(f'a shift cannot start at 24:00: {HOURS_EXAMPLE}')
    # "18:00-00:00" and "6pm-12am" mean "until midnight".
    return DAY_MINUTES if is_end and total == 0 else total


def _parse_range(part: str) -> Shift:
    """One "start-end" range, rejecting empty and overnight ones with a fix to copy."""
    sides = _RANGE.split(part.strip())
    if len(sides) != 2 or not all(sides):
        raise ValueError(f'"{part.strip()}" is not a time range: {HOURS_EXAMPLE}')
    start = _parse_time(sides[0], is_end=False)
    end = _parse_time(sides[1], is_end=True)
    if end == start:
        raise ValueError(f'"{part.strip()}" opens and closes at the same time: {HOURS_EXAMPLE}')
    if end < start:
        hint = ""
        # "9-5" almost always means 9am-5pm.
        if start < 720 and end + 720 > start and not re.search(r"[ap]", sides[1].lower()):
            hint = f' (did you mean "{format_hhmm(start)}-{format_hhmm(end + 720)}"?)'
        what = f"ends before it starts{hint}" if hint else "runs past midnight"
        raise ValueError(
            f'"{part.strip()}" {what}: split a night shift across days, '
            f'e.g. fri: "17:00-24:00" and sat: "00:00-08:00"'
        )
    return Shift(start, end)


def parse_shifts(text: str) -> tuple[Shift, ...]:
    """The shifts of one day from "08:00-17:00", "08:00-12:00,13:00-17:00", "9am-5pm", "closed"..."""
    cleaned = str(text).strip().lower()
    if cleaned in _CLOSED_WORDS:
        return ()
    if cleaned in _ALL_DAY_WORDS:
        return (Shift(0, DAY_MINUTES),)
    shifts = sorted((_parse_range(part) for part in re.split(r"[,;]", cleaned)), key=lambda s: s.start)
    merged: list[Shift] = []
    for shift in shifts:
        if merged and shift.start < merged[-1].end:
            raise ValueError(
                f'shifts "{format_shift_hhmm(merged[-1])}" and "{format_shift_hhmm(shift)}" overlap: '
                f"list each time once, {_SPLIT_EXAMPLE}"
            )
        if merged and shift.start == merged[-1].end:
            # Back-to-back shifts are one opening; keeping them apart would show a fake gap.
            merged[-1] = Shift(merged[-1].start, shift.end)
        else:
            merged.append(shift)
    return tuple(merged)


def format_hhmm(minutes: int) -> str:
    """24-hour "HH:MM" (1440 is "24:00"), the form the lines file uses."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_shift_hhmm(shift: Shift) -> str:
    """A shift as the lines file writes it, e.g. "08:00-17:00"."""
    return f"{format_hhmm(shift.start)}-{format_hhmm(shift.end)}"


def format_time(minutes: int) -> str:
    """12-hour clock for callers, e.g. "8:00 AM", "12:00 PM"; 1440 is midnight, "12:00 AM"."""
    hour, minute = divmod(minutes % DAY_MINUTES, 60)
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def format_shift(shift: Shift) -> str:
    """A shift for callers, e.g. "8:00 AM-5:00 PM"."""
    return f"{format_time(shift.start)}-{format_time(shift.end)}"


def _local(tz: str, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(tz))


def shifts_on(hours: WeeklyHours, day: date) -> tuple[Shift, ...]:
    """The shifts of one date: its dated exception (holiday, special hours) or its weekday's."""
    if day in hours.exceptions:
        return hours.exceptions[day]
    return hours.days.get(day.weekday(), ())



def is_open(hours: WeeklyHours | None, tz: str, now: datetime) -> bool:
    """Whether the line is open at `now`; no hours at all means open around the clock."""
    if hours is None:
        return True
    local = _local(tz, now)
    minute = local.hour * 60 + local.minute
    return any(s.start <= minute < s.end for s in shifts_on(hours, local.date()))


def hours_today(hours: WeeklyHours | None, tz: str, now: datetime) -> str:
    """Today's hours for a text: "8:00 AM-5:00 PM", "closed today" or "open 24 hours"."""
    if hours is None:
        return "open 24 hours"
    shifts = shifts_on(hours, _local(tz, now).date())
    if not shifts:
        return "closed today"
    if shifts == (Shift(0, DAY_MINUTES),):
        return "open 24 hours"
    return ", ".join(format_shift(s) for s in shifts)


def _wall_to_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The real instant of a wall-clock time; a time skipped by DST lands just after the jump."""
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    # Round-tripping through UTC turns a non-existent 02:30 into the 03:30 that follows it.
    return wall.astimezone(UTC).astimezone(zone)


def next_open(hours: WeeklyHours | None, tz: str, now: datetime) -> datetime | None:
    """When the line next opens (`now` if open), searching two weeks; None if it never opens."""
    if is_open(hours, tz, now):
        return now
    assert hours is not None  # None means always open, handled above
    zone = ZoneInfo(tz)
    today = _local(tz, now).date()
    for offset in range(SEARCH_DAYS + 1):
        day = today + timedelta(days=offset)
        for shift in shifts_on(hours, day):
            start = _wall_to_instant(day, shift.start, zone)
            if start > now:
                return start
    return None


def describe_next_open(hours: WeeklyHours | None, tz: str, now: datetime) -> str:
    """Next opening for a text: "now", "today at 1:00 PM", "tomorrow at 8:00 AM", "Monday at 8:00 AM"."""
    when = next_open(hours, tz, now)
    if when is None:
        return ""
    if when == now:
        return "now"
    local_now, local_when = _local(tz, now), _local(tz, when)
    clock = format_time(local_when.hour * 60 + local_when.minute)
    days = (local_when.date() - local_now.date()).days
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"{local_when.strftime('%A')} at {clock}"
    # A week or more away: a bare weekday would read as this week's.
    return f"{local_when.strftime('%A, %B')} {local_when.day} at {clock}"
