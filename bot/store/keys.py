"""Every Redis key the bot uses, in one place.

All keys start with `tb:` so a shared Redis can be inspected (`SCAN MATCH tb:*`) and so
tests can tell our keys from anyone else's.
"""

from __future__ import annotations

PREFIX = "tb:"

# How long an idempotency claim is remembered. Twilio retries within seconds and Slack
# within five minutes; a week also covers replays by hand from either console.
CLAIM_TTL_S = 7 * 24 * 3600

# Outbound SMS -> thread mapping, for status callbacks (they stop within a few days).
OUTBOUND_TTL_S = 7 * 24 * 3600


def claim(kind: str, key: str) -> str:
    """A delivery already handled (CallSid, MessageSid, event id, team message)."""
    return f"{PREFIX}seen:{kind}:{key}"


def open_conversation(line: str, caller: str) -> str:
    """Points at the id of the caller's open conversation on a line."""
    return f"{PREFIX}open:{line}:{caller}"


def conversation(conv_id: str) -> str:
    """The conversation record (JSON)."""
    return f"{PREFIX}conv:{conv_id}"


def thread(channel: str, thread_id: str) -> str:
    """Slack thread -> conversation id."""
    return f"{PREFIX}thread:{channel}:{thread_id}"


def cooldown(line: str, caller: str) -> str:
    """Present while a caller must not get a second automatic text."""
    return f"{PREFIX}cooldown:{line}:{caller}"


def texted(line: str, caller: str) -> str:
    """Present once a line has texted a number (the first text carries opt-out wording)."""
    return f"{PREFIX}texted:{line}:{caller}"


def outbound(sid: str) -> str:
    """Outbound SMS sid -> conversation and team message."""
    return f"{PREFIX}out:{sid}"


def conversation_lock(line: str, caller: str) -> str:
    """Cross-instance lock that keeps one conversation's events in order."""
    return f"{PREFIX}lock:conv:{line}:{caller}"


def opted_out(line: str) -> str:
    """Set of numbers that replied STOP to this line (kept even when Twilio also blocks them)."""
    return f"{PREFIX}optout:{line}"


def blocked(line: str) -> str:
    """Set of numbers the team blocked on this line."""
    return f"{PREFIX}blocked:{line}"


# Landlines learned from delivery errors; a property of the number, so account-wide.
LANDLINES = f"{PREFIX}landlines"


def inbound_rate(line: str, caller: str, minute: int) -> str:
    """Caller texts counted in one minute (flood control)."""
    return f"{PREFIX}inrate:{line}:{caller}:{minute}"


def held(conv_id: str) -> str:
    """Caller texts held back during a burst, waiting to be posted together."""
    return f"{PREFIX}held:{conv_id}"


# The durable job stream (bot/jobs.py).
JOBS = f"{PREFIX}jobs"


def job_steps(job_id: str) -> str:
    """The step log of one job: effects already done and their results."""
    return f"{PREFIX}steps:{job_id}"


def line_settings(number: str) -> str:
    """Hash of a line's settings changed from Slack: field -> JSON {value, by, at}.

    Kept without a TTL: these override the lines file until changed again.
    """
    return f"{PREFIX}linecfg:{number}"


# Bumped on every Slack settings change, so each instance notices with one GET and reloads.
LINE_SETTINGS_VERSION = f"{PREFIX}linecfg-version"


def text_sequence(line: str, caller: str) -> str:
    """Numbers a caller's texts in arrival order (taken when the webhook is recorded)."""
    return f"{PREFIX}seq:{line}:{caller}"


def text_turn(line: str, caller: str) -> str:
    """The number of the caller's last text already shown in the thread."""
    return f"{PREFIX}turn:{line}:{caller}"
