"""The conversation with one caller on one line, and the lines posted into its thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Origin = Literal["missed_call", "texted_in", "texted_out"]  # texted_out: the team texted first
# "sent": Twilio accepted it; "undelivered": accepted, then its delivery report said it never arrived.
TextbackState = Literal["pending", "sent", "failed", "undelivered", "suppressed", "none"]
Speaker = Literal["caller", "team", "system"]
CallerKind = Literal["ok", "withheld", "short_code", "invalid"]


@dataclass(frozen=True)
class Caller:
    """Who called or texted, as the edge parsed it."""

    number: str  # E.164, or the raw From value when it is not a number
    display: str  # formatted for people, e.g. "(512) 555-0123"
    kind: CallerKind = "ok"
    name: str = ""  # CNAM when the carrier gives one
    international: bool = False  # in another country than the line's number


@dataclass(frozen=True)
class MediaItem:
    """One attachment of a caller's MMS, as Twilio announced it."""

    url: str
    content_type: str


@dataclass(frozen=True)
class SharedFile:
    """A file a team member posted with a thread reply, as Slack described it."""

    id: str
    name: str
    mimetype: str
    size: int
    url: str  # Slack's `url_private`: readable with the bot token only ("" when Slack gave none)


@dataclass(frozen=True)
class Moved:
    """What came of moving one file across (a download, then an upload or a shelf)."""

    ok: bool
    reason: str = ""  # why not, in words for the thread
    transient: bool = False  # worth trying again with the job (5xx, timeout)
    url: str = ""  # a picture put where the carrier can fetch it: its address


@dataclass(frozen=True)
class SmsResult:
    """What the carrier said about one outbound SMS."""

    ok: bool
    sid: str | None = None
    error_code: int | None = None
    error: str | None = None
    transient: bool = False  # worth trying again later (rate limit, 5xx, timeout)
    ambiguous: bool = False  # the message may have been created despite the error

    @property
    def reason(self) -> str:
        """A short human reason for a refusal."""
        if self.ok:
            return ""
        return CARRIER_REASONS.get(self.error_code or 0, self.error or "the carrier refused it")


CARRIER_REASONS = {
    21610: "the caller has opted out (replied STOP)",
    21211: "the caller's number is not a valid phone number",
    21614: "the caller's number cannot receive texts (landline)",
    30006: "the caller's number cannot receive texts (landline or unreachable carrier)",
    30007: "the carrier filtered the message as spam",
    30003: "the caller's phone is unreachable",
    30005: "the caller's number is unknown to the carrier",
    # The sender, not the caller: US carriers block texts from unregistered business numbers
    # (PROTOCOLS 2.3; docs/deploy.md step 4). Nothing reaches anyone until it is registered.
    30034: "your number isn't registered for business texting (A2P 10DLC): run textback doctor",
    30032: "your toll-free number isn't verified for business texting: run textback doctor",
}


@dataclass
class Conversation:
    """One caller on one line: a Slack thread and what happened in it."""

    line: str  # the line's E.164 number
    caller: Caller
    channel: str
    opened_at: datetime
    origin: Origin
    in_hours: bool
    line_label: str = ""
    id: str = ""  # assigned by the store when the conversation opens
    thread_id: str | None = None
    status: Literal["open", "resolved"] = "open"
    textback: TextbackState = "none"
    textback_detail: str = ""  # the text sent, or why none was sent
    calls: int = 0
    texts_in: int = 0
    last_event_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One line in a thread: who speaks and what."""

    speaker: Speaker
    text: str  # plain text as the speaker wrote it; the chat edge escapes it
    media: tuple[str, ...] = ()  # links shown under the text
    at: datetime | None = None
    icon: str = ""  # a short emoji hint for system lines
    # Slack user ids to notify ("here" for everyone in the channel); system lines only.
    mentions: tuple[str, ...] = ()
    # (label, action id) buttons under a system line, pressed for this conversation.
    buttons: tuple[tuple[str, str], ...] = ()
    attachments: int = 0  # files that follow in the thread (a caller's photos)
