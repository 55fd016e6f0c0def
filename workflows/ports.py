"""Ports: the small interfaces through which workflows talk to the world.

The edges (`bot/`) implement them with Twilio, Slack and Redis; tests may pass fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from workflows.conversation import Conversation, Entry, MediaItem, Moved, SharedFile, SmsResult
from workflows.jobs import TimedJob
from workflows.leads import LeadEvent


class SmsSender(Protocol):
    """Sends one SMS through the carrier."""

    async def send_sms(self, *, to: str, from_: str, body: str, media: Sequence[str] = ()) -> SmsResult:
        """Send `body` (and the pictures at `media`, as one MMS) to `to` from the line number
        `from_`; never raises for carrier errors."""
        ...

    async def find_sent(
        self, *, to: str, from_: str, body: str, since: datetime, media: int = 0
    ) -> SmsResult | None:
        """A message with this body (and `media` pictures) already sent to `to` since `since`,
        if the carrier has one."""
        ...


class CallerMedia(Protocol):
    """Copies a caller's MMS attachments from the carrier into their thread."""

    async def copy_to_thread(self, conv: Conversation, item: MediaItem, *, filename: str) -> Moved:
        """Download `item` and upload it into the conversation's thread as a file."""
        ...


class TeamMedia(Protocol):
    """Puts a picture a team member posted where the carrier can fetch it, for a while."""

    async def publish(self, file: SharedFile, *, now: datetime) -> Moved:
        """Fetch `file` from the chat and serve it at a short-lived, unguessable URL (`Moved.url`)."""
        ...


class ThreadChat(Protocol):
    """The team's chat: one thread per conversation."""

    async def open_thread(self, conv: Conversation) -> str | None:
        """Post the parent card; return its thread id, or None when the chat refused."""
        ...

    async def refresh_card(self, conv: Conversation) -> None:
        """Re-render the parent card from the conversation's current state."""
        ...

    async def post_entry(self, conv: Conversation, entry: Entry, *, key: str = "") -> str | None:
        """Post one line into the conversation's thread, tagged with `key`; return its id."""
        ...

    async def find_post(self, conv: Conversation, key: str, since: datetime) -> str | None:
        """The id of a post tagged `key` made since `since` (the thread parent: "thread:<id>")."""
        ...

    async def tell_user(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees in `channel`."""
        ...

    async def react(self, channel: str, message_id: str, name: str) -> None:
        """Add a reaction to a message."""
        ...

    async def mark_reply(self, conv: Conversation, message_id: str, result: SmsResult) -> None:
        """Show on the team member's message whether the SMS went out."""
        ...


class ConversationStore(Protocol):
    """Durable state of conversations and the idempotency claims."""

    async def open_or_get(self, conv: Conversation) -> tuple[Conversation, bool]:
        """Return the caller's open conversation on that line, or store `conv`; True if new."""
        ...

    async def save(self, conv: Conversation) -> None:
        """Persist the conversation's mutable fields."""
        ...

    async def get(self, conv_id: str) -> Conversation | None:
        """Load a conversation by id."""
        ...

    async def by_thread(self, channel: str, thread_id: str) -> Conversation | None:
        """Find the conversation a chat thread belongs to."""
        ...

    async def wait_turn(self, line: str, caller: str, seq: int, timeout: float) -> bool:
        """Wait until the caller's text number `seq` is handled; False after `timeout` s."""
        ...

    async def finish_turn(self, line: str, caller: str, seq: int) -> None:
        """Record the caller's text number `seq` as handled."""
        ...

    async def record_outbound(self, sid: str, conv: Conversation, message_id: str | None) -> None:
        """Remember which thread and team message an outbound SMS belongs to."""
        ...

    async def outbound(self, sid: str) -> tuple[Conversation, str] | None:
        """The conversation and team message id ("" for automatic texts) of an outbound SMS."""
        ...

    async def keep_early_report(self, sid: str, status: str, error_code: int | None) -> None:
        """Keep a failed delivery report of an SMS not recorded yet (its job waits for Slack)."""
        ...

    async def early_report(self, sid: str) -> tuple[str, int | None] | None:
        """The status and error code kept by `keep_early_report`, if any."""
        ...


class ConversationLocks(Protocol):
    """Serialises work on one conversation so its thread keeps the order of events."""

    def hold(self, line: str, caller: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation of `caller` on `line` for the duration of the block."""
        ...


class CallerFlags(Protocol):
    """Lasting facts about a number: opted out, blocked, landline, an opt-out to decide on."""

    async def suppression(self, line: str, caller: str, *, automatic: bool = True) -> str:
        """Why no text may go to `caller` from `line`, or "" when texts are allowed; an
        undecided opt-out holds only automatic texts."""
        ...

    async def is_opted_out(self, line: str, caller: str) -> bool:
        """Whether `caller` opted out of texts from `line`."""
        ...

    async def set_opted_out(self, line: str, caller: str, opted_out: bool) -> None:
        """Record STOP (True) or START (False); either settles an undecided opt-out."""
        ...

    async def hold_for_decision(self, line: str, caller: str, asked_at: datetime) -> None:
        """Hold automatic texts to `caller` until someone decides whether their text was an opt-out."""
        ...

    async def take_decision(self, line: str, caller: str) -> datetime | None:
        """Release the hold; when the undecided text came in, or None when it was decided already."""
        ...

    async def learned_opt_out(self, line: str, caller: str, error_code: int) -> None:
        """The carrier refused a text because the number opted out (21610): opted out on `line`,
        and written to the consent log (by "carrier")."""
        ...

    async def remember_language(self, line: str, caller: str, spanish: bool) -> None:
        """Note whether the caller's last text to `line` was Spanish (for its Spanish text-backs)."""
        ...

    async def mark_landline(self, caller: str) -> None:
        """Remember a number that cannot receive texts."""
        ...

    async def claim_help_reply(self, line: str, caller: str, *, now: datetime, window_s: int, owner: str) -> bool:
        """True when `owner` may send the HELP reply (none sent from `line` within `window_s`)."""
        ...


@dataclass(frozen=True)
class ConsentEvent:
    """One entry of the consent log: what a caller asked about their texts, or a decision on it."""

    at: datetime
    line: str  # the line's E.164 number
    caller: str  # E.164
    event: str  # opt_out, opt_in, help, opt_out_unclear, decided_opt_out, decided_not_opt_out
    how: str  # keyword, phrase, twilio, carrier error 21610, slack
    message: str = ""  # the caller's text, as written
    by: str = ""  # who decided: "caller", "carrier", or the Slack user id
    reply: str = ""  # the text sent back, if any


class ConsentLog(Protocol):
    """The consent log, kept for good: every opt-out, opt-in, HELP and decision."""

    async def record(self, event: ConsentEvent) -> None:
        """Append one event."""
        ...


class LineTypes(Protocol):
    """The carrier's word on what kind of line a number is (Twilio Lookup), cached."""

    async def line_type(self, number: str) -> str | None:
        """ "mobile", "landline", "fixedVoip"...; None when unknown (the lookup failed or timed out)."""
        ...


class BurstStore(Protocol):
    """Counts caller texts per minute and keeps the ones held back during a burst."""

    async def count_inbound(self, line: str, caller: str, minute: int) -> int:
        """Count one more text in this minute; return the minute's total."""
        ...

    async def hold(self, conv_id: str, text: str) -> int:
        """Keep a text to post later; return how many are held now."""
        ...

    async def take_held(self, conv_id: str) -> list[str]:
        """Remove and return the held texts, oldest first."""
        ...

    async def arm_flush(self, conv_id: str) -> bool:
        """Claim the job of posting this conversation's held texts; False if already claimed."""
        ...

    async def disarm_flush(self, conv_id: str) -> None:
        """Release the claim, so texts held from now on arm a new flush."""
        ...


class RetryLater(Exception):
    """A transient failure (rate limit, 5xx, timeout): run the job again later."""


class SlackUnavailable(RetryLater):
    """Slack did not take a call (5xx, 429, refused, timed out): the job waits for Slack, for
    as long as an outage may last (`Retry.slack_outage_s`), and runs as soon as Slack answers."""


@dataclass(frozen=True)
class TextbackAsk:
    """What the one step deciding a missed call's text-back is told (PRODUCT §4)."""

    owner: str  # the call's id: a re-run of its own step finds its own claims
    line: str
    caller: str
    cooldown_s: int
    reason: str  # why no text, judged before Redis (the call itself, the carrier lookup); "" if none
    cooldown_reason: str  # what the plan says when the cooldown window is taken
    first_body: str  # the text when it is the caller's first from this line (opt-out footer)
    later_body: str
    # The same in Spanish, for a caller whose last text was Spanish ("": the line has none).
    first_body_es: str = ""
    later_body_es: str = ""


class TextbackRecord(Protocol):
    """A missed call's text-back decided in the webhook: the checks, the cooldown claim, the
    plan in the step log (the call's claim) and the job's record in one step; then the send's
    answer, which lets the job run."""

    async def decide(self, ask: TextbackAsk, *, job_id: str, job: object, now: datetime,
                     recover_at: datetime) -> tuple[bool, str, str] | None:
        """(send, body, reason), with the job recorded under `job_id`: at once when no text is
        due, else due at `recover_at` unless `answered` comes first. None: recorded before."""
        ...

    async def answered(self, job_id: str, step: str, record: str) -> None:
        """Log the send's outcome as `step` and run the job now."""
        ...

    async def plan(self, ask: TextbackAsk) -> tuple[bool, str, str]:
        """The same decision for a job recorded without one (by an older version)."""
        ...


class StepLog(Protocol):
    """What a job already did, so a re-run after a crash repeats no effect."""

    async def get(self, name: str) -> str | None:
        """The recorded result of step `name`, or None if it has not happened."""
        ...

    async def put(self, name: str, value: str) -> None:
        """Record step `name` as done with `value`: durable when this returns, ahead of any
        effect it guards (with the marks `later` kept back)."""
        ...

    def later(self, name: str, value: str) -> None:
        """Record step `name` with `value` in the log's next `put` (read back at once): for a
        mark whose loss is harmless, a re-run finding the effect again by itself."""
        ...

    def key(self, name: str) -> str:
        """A name for step `name` unique across jobs, to tag its effect with."""
        ...

    def part(self, name: str) -> StepLog:
        """The step log of a part of the job with its own steps (its urgent page, its question)."""
        ...


class Clock(Protocol):
    """The app's clock: the edges read wall time only through it (bot/app.py's SystemClock), so
    tests move a fake one; a story reads it again after waiting (a turn, a lock)."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@dataclass(frozen=True)
class Figures:
    """What one finished job adds to its line's figures for the day (digest, stats, /metrics)."""

    line: str
    at: datetime
    counted: tuple[str, ...]  # of: missed, texted, not_texted, texts_in, replied, answered, reply_to_textback
    no_text: str = ""  # a missed call that got no text-back: why (a repeat in the cooldown too)
    reply_seconds: float | None = None  # "replied": how long the caller waited for it
    # Whose event it was (the caller's lead id; "" when the number is withheld or invalid): the
    # recovery figure counts callers, not events (workflows/recovery.py).
    caller: str = ""


class Outcomes(Protocol):
    """What finished jobs add up to: the line's figures, and the caller's lead (and so the CRM)."""

    async def count(self, figures: Figures) -> None:
        """Add one job's figures to its line's day, in the line's own calendar."""
        ...

    async def record_lead(self, event: LeadEvent) -> None:
        """Apply `event` to the caller's lead once; a change is queued for the CRM webhook."""
        ...


class BurstFlush(Protocol):
    """Posts the texts held back in a caller's burst together, once it has had a moment to end."""

    def flush_later(self, conv_id: str) -> None:
        """Arrange for this conversation's held texts to be posted a few seconds from now."""
        ...


@dataclass(frozen=True)
class Deadline:
    """One timed job: fire `job` at `due` (jobs with the same id replace each other)."""

    job_id: str
    due: datetime
    job: TimedJob


class Deadlines(Protocol):
    """Timed work kept in Redis and fired once by whichever instance leads (reminders, pages)."""

    async def schedule(
        self, job_id: str, due: datetime, job: TimedJob, *, group: str = ""
    ) -> None:
        """Create or move job `job_id` to fire at `due`; `group` lets a set be cancelled together."""
        ...

    async def cancel_group(self, group: str) -> int:
        """Forget every pending job of `group`; how many there were."""
        ...

    async def replace_group(self, group: str, jobs: Sequence[Deadline]) -> None:
        """Forget every pending job of `group` and schedule `jobs` in it, as one change."""
        ...


class Pager(Protocol):
    """Reaches a person directly: a Slack DM, and a phone call when configured."""

    async def dm(self, user: str, text: str, conv: Conversation) -> str | None:
        """A direct message of plain `text` (escaped by the pager) linking to the thread; its id or None."""
        ...

    async def call(self, *, to: str, from_: str, say: str) -> str | None:
        """Ring `to` from the line and speak `say`; the call id, or None when refused."""
        ...
