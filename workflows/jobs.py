"""Every kind of durable job, typed: one dataclass per kind, one table of kinds, one codec.

A job is recorded in Redis as its kind and a JSON object (the wire form below, unchanged from
the untyped days, so jobs recorded by an older instance still run). Only this module turns
that object into fields; the rest of the code sees the dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Union

from workflows.conversation import SharedFile

WIRE = "wire"  # field metadata: the JSON key when it differs from the field name


class JobDecodeError(ValueError):
    """A recorded job that cannot be read back: unknown kind, missing or malformed field."""


@dataclass(frozen=True)
class Retry:
    """How a failing job of a kind is retried: the first tries soon after (`fast_s`), then
    back-off doubling from the engine's first interval up to `cap_s`; given up
    `give_up_after_s` after it was recorded (or first due), or never (None). A job that waits
    only for Slack to come back waits `slack_outage_s` instead, when that is longer. A kind may
    set its own as `RETRY`."""

    give_up_after_s: float | None = 15 * 60  # by then the caller has moved on
    cap_s: float = 300.0
    # A missed call during a Slack outage still needs its thread: the team must see it when
    # Slack is back, however late (its text-back went out from the webhook already).
    slack_outage_s: float = 24 * 3600
    # Most failures are blips (a 500, a dropped connection): try again within seconds.
    fast_s: tuple[float, ...] = (1.0, 3.0)

    def delay_s(self, attempts: int, first_s: float) -> float:
        """The wait before retry `attempts` (1 for the first), before jitter: `fast_s` (never
        longer than `first_s`), then doubling from `first_s`, at most `cap_s`."""
        if attempts <= len(self.fast_s):
            return min(self.fast_s[attempts - 1], first_s, self.cap_s)
        return min(first_s * 2.0 ** (attempts - 1 - len(self.fast_s)), self.cap_s)

    def gives_up(self, age_s: float, *, waiting_for_slack: bool) -> bool:
        """Whether a job failing `age_s` after it was recorded (or first due) is given up."""
        if self.give_up_after_s is None:
            return False
        horizon = max(self.give_up_after_s, self.slack_outage_s) if waiting_for_slack else self.give_up_after_s
        return age_s >= horizon


def retry_policy(job_type: type[Any] | None) -> Retry:
    """The retry policy of a job kind (the default for a kind nobody registered)."""
    policy = getattr(job_type, "RETRY", None)
    return policy if isinstance(policy, Retry) else Retry()


# --- the webhook jobs: recorded at the door, run as soon as possible ---------------------------


@dataclass(frozen=True)
class MissedCallJob:
    """Nobody answered (or the line forwards): text the caller back and open the thread."""

    KIND: ClassVar[str] = "missed_call"
    call_sid: str
    line: str
    caller: str = field(metadata={WIRE: "from"})
    at: datetime
    caller_name: str = ""
    screened: bool = False  # a staff phone answered, nobody pressed 1: missed by screening


@dataclass(frozen=True)
class CallerSmsJob:
    """A caller texted a line: mirror it into the thread, in the order the texts arrived."""

    KIND: ClassVar[str] = "caller_sms"
    sid: str
    line: str
    caller: str = field(metadata={WIRE: "from"})
    body: str
    at: datetime
    media: tuple[str, ...] = ()
    opt_out_type: str = ""
    seq: int = 0  # the job's number in this caller's sequence, given by the queue
    media_types: tuple[str, ...] = ()  # MediaContentType{N}, one per `media` URL


@dataclass(frozen=True)
class TeamReplyJob:
    """A person replied in a caller's thread (or with `/textback reply`): text the caller."""

    KIND: ClassVar[str] = "team_reply"
    channel: str
    thread: str
    ts: str
    user: str
    text: str
    at: datetime
    files: tuple[SharedFile, ...] = ()


@dataclass(frozen=True)
class CallbackOutcomeJob:
    """A call back from the business number ended: its outcome, for the caller's thread."""

    KIND: ClassVar[str] = "callback_outcome"
    conv: str
    user: str
    status: str
    seconds: int = 0


@dataclass(frozen=True)
class DeliveryJob:
    """Twilio's delivery report for one of our texts."""

    KIND: ClassVar[str] = "delivery"
    sid: str
    status: str
    error_code: int | None = None


@dataclass(frozen=True)
class CardActionJob:
    """A button pressed (or a snooze picked) on a thread card."""

    KIND: ClassVar[str] = "card_action"
    action: str
    user: str
    channel: str
    conv: str
    at: datetime
    ts: str = ""
    choice: str = ""


@dataclass(frozen=True)
class VoicemailJob:
    """A voicemail recording is ready: post it in the caller's thread."""

    KIND: ClassVar[str] = "voicemail"
    line: str
    caller: str = field(metadata={WIRE: "from"})
    call_sid: str
    recording_sid: str
    url: str
    at: datetime
    duration: int = 0


@dataclass(frozen=True)
class VoicemailTranscriptJob:
    """A voicemail's transcript is ready (or failed): post its text."""

    KIND: ClassVar[str] = "voicemail_transcript"
    line: str
    caller: str = field(metadata={WIRE: "from"})
    call_sid: str
    recording_sid: str
    url: str
    at: datetime
    text: str = ""
    status: str = ""


@dataclass(frozen=True)
class CrmDeliveryJob:
    """Send a lead's queued CRM deliveries, in order, until its outbox is empty."""

    KIND: ClassVar[str] = "crm_delivery"
    # A CRM down for a weekend gets everything on Monday, in order.
    RETRY: ClassVar[Retry] = Retry(give_up_after_s=None, cap_s=600.0)
    lead: str


# --- the timed jobs: due at a time, then run like the others ------------------------------------


@dataclass(frozen=True)
class ReminderJob:
    """Rung `index` of a waiting conversation's reminder ladder; `since` names the episode."""

    KIND: ClassVar[str] = "reminder"
    conv: str
    index: int
    since: str


@dataclass(frozen=True)
class PageJob:
    """Round `round` of paging the on-call person about an urgent conversation."""

    KIND: ClassVar[str] = "page"
    conv: str
    round: int
    since: str


@dataclass(frozen=True)
class SnoozeEndJob:
    """A snoozed conversation wakes up and its reminders start again."""

    KIND: ClassVar[str] = "snooze_end"
    conv: str
    since: str
    until: str


@dataclass(frozen=True)
class QualifyAskJob:
    """A qualifying question held for quiet hours, sent when they end."""

    KIND: ClassVar[str] = "qualify_ask"
    conv: str
    text: str
    state: str


@dataclass(frozen=True)
class DigestJob:
    """A line's weekly digest."""

    KIND: ClassVar[str] = "digest"
    line: str


Job = Union[
    MissedCallJob, CallerSmsJob, TeamReplyJob, DeliveryJob, CardActionJob, VoicemailJob, VoicemailTranscriptJob,
    CrmDeliveryJob, ReminderJob, PageJob, SnoozeEndJob, QualifyAskJob, DigestJob, CallbackOutcomeJob,
]
TimedJob = Union[ReminderJob, PageJob, SnoozeEndJob, QualifyAskJob, DigestJob]

KINDS: dict[str, type[Any]] = {cls.KIND: cls for cls in typing.get_args(Job)}


def encode(job: Any) -> tuple[str, dict[str, Any]]:
    """The kind and the JSON-ready wire object of `job`."""
    wire: dict[str, Any] = {}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v for v in value]
        wire[f.metadata.get(WIRE, f.name)] = value
    return type(job).KIND, wire


def decode(kind: str, wire: Mapping[str, Any], kinds: Mapping[str, type[Any]] = KINDS) -> Any:
    """The job of `kind` recorded as `wire`; keys it does not know are ignored."""
    cls = kinds.get(kind)
    if cls is None:
        raise JobDecodeError(f"no job kind {kind!r}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f.metadata.get(WIRE, f.name)
        if key not in wire:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise JobDecodeError(f"{kind} job without {key!r}")
            continue
        values[f.name] = _read(_hints(cls)[f.name], wire[key], f"{kind}.{key}")
    return cls(**values)


def decode_record(cls: Any, wire: Any, where: str) -> Any:
    """One record inside a job (a file of a reply), its fields read like a job's."""
    if not isinstance(wire, Mapping):
        raise JobDecodeError(f"{where}: {wire!r} is not an object")
    hints = _hints(cls)
    try:
        return cls(**{f.name: _read(hints[f.name], wire[f.name], f"{where}.{f.name}") for f in dataclasses.fields(cls)})
    except KeyError as exc:
        raise JobDecodeError(f"{where}: no {exc}") from exc


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _read(hint: Any, value: Any, where: str) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType):  # `int | None`
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if not isinstance(value, bool):
                raise TypeError(value)  # "false" or 0 would read as a surprise either way
            return value
        if hint is datetime:
            return datetime.fromisoformat(str(value))
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
        if typing.get_origin(hint) is tuple:
            item = args[0] if args else str
            if dataclasses.is_dataclass(item):  # a tuple of records (a reply's files)
                return tuple(decode_record(item, v, where) for v in value)
            return tuple(str(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise JobDecodeError(f"{where}: {value!r} is not a {hint}") from exc
    raise JobDecodeError(f"{where}: no reader for {hint}")
