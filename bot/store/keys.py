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


def staff_phone(user: str) -> str:
    """The phone a Slack user set for call backs (`/textback phone`): workspace-wide."""
    return f"{PREFIX}staffphone:{user}"


def screen_accepted(parent_call_sid: str) -> str:
    """Present once a staff phone pressed 1 to take the call (call screening)."""
    return f"{PREFIX}accepted:{parent_call_sid}"


# Screening acceptances outlive any call; the dial's outcome arrives within hours at most.
SCREEN_TTL_S = 24 * 3600


def spanish(line: str, caller: str) -> str:
    """Present while the caller's last text to the line was in Spanish."""
    return f"{PREFIX}es:{line}:{caller}"


def cooldown(line: str, caller: str) -> str:
    """Present while a caller must not get a second automatic text."""
    return f"{PREFIX}cooldown:{line}:{caller}"


def texted(line: str, caller: str) -> str:
    """Present once a line has texted a number (the first text carries opt-out wording)."""
    return f"{PREFIX}texted:{line}:{caller}"


def outbound(sid: str) -> str:
    """Outbound SMS sid -> conversation and team message."""
    return f"{PREFIX}out:{sid}"


def early_report(sid: str) -> str:
    """A failed delivery report that came before its text was recorded (EARLY_REPORT_TTL_S)."""
    return f"{PREFIX}dlr:{sid}"


# Longer than a missed call's job may wait for Slack (a day), so the late card still hears it.
EARLY_REPORT_TTL_S = 2 * 24 * 3600


def conversation_lock(line: str, caller: str) -> str:
    """Cross-instance lock that keeps one conversation's events in order."""
    return f"{PREFIX}lock:conv:{line}:{caller}"


def opted_out(line: str) -> str:
    """Set of numbers that replied STOP to this line (kept even when Twilio also blocks them)."""
    return f"{PREFIX}optout:{line}"


def opt_out_pending(line: str) -> str:
    """Numbers whose text may have been an opt-out, scored by when it came in, until someone in
    the channel decides: checked with the opt-outs, so none gets an automatic text meanwhile."""
    return f"{PREFIX}optout?:{line}"


# Every consent event (opt-out, opt-in, HELP, decisions), oldest first: a stream kept on
# purpose without a length cap or an expiry, whatever the retention, and kept by `forget`: it
# is what answers an auditor or a carrier complaint.
CONSENT_LOG = f"{PREFIX}consent"


def blocked(line: str) -> str:
    """Set of numbers the team blocked on this line."""
    return f"{PREFIX}blocked:{line}"


# Landlines learned from delivery errors; a property of the number, so account-wide.
LANDLINES = f"{PREFIX}landlines"

# How long a carrier lookup's answer is trusted: numbers move between carriers and line types
# (ported landlines become mobiles), and each lookup is paid.
LINE_TYPE_TTL_S = 30 * 24 * 3600


def line_type(number: str) -> str:
    """Cached Twilio Lookup answer for a number: its line type ("" when the carrier gave none)."""
    return f"{PREFIX}linetype:{number}"


def help_replied(line: str, caller: str) -> str:
    """When a line last sent its HELP reply to a caller (JSON: at, owner), for the rate limit."""
    return f"{PREFIX}helped:{line}:{caller}"


def inbound_rate(line: str, caller: str, minute: int) -> str:
    """Caller texts counted in one minute (flood control)."""
    return f"{PREFIX}inrate:{line}:{caller}:{minute}"


def held(conv_id: str) -> str:
    """Caller texts held back during a burst, waiting to be posted together."""
    return f"{PREFIX}held:{conv_id}"


# The durable job stream (bot/work/engine.py): the one runner of every job.
JOBS = f"{PREFIX}jobs"
# The newest job failures (JSON: at, kind, job, error), for `textback status`.
JOB_ERRORS = f"{PREFIX}job-errors"


def job_running(job_id: str) -> str:
    """Held (with a TTL) by the worker running a job, so no job runs twice at once."""
    return f"{PREFIX}running:{job_id}"


# A missed call's job id: its webhook decides the text-back and records the job under it.
MISSED_CALL_JOB_PREFIX = "missed:"


def missed_call_job(call_sid: str) -> str:
    return MISSED_CALL_JOB_PREFIX + call_sid


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

# Hash of lines linked from Slack (`/textback setup`): number -> JSON {value: channel, by, at}.
# Kept without a TTL, like the settings: the link lasts until changed.
SLACK_LINES = f"{PREFIX}slack-lines"


def text_sequence(line: str, caller: str) -> str:
    """Numbers a caller's texts in arrival order (taken when the webhook is recorded)."""
    return f"{PREFIX}seq:{line}:{caller}"


def text_turn(line: str, caller: str) -> str:
    """The number of the caller's last text already shown in the thread."""
    return f"{PREFIX}turn:{line}:{caller}"


# The engine's due set (bot/work/deadlines.py): ids of jobs waiting for a time (a reminder, a
# retry), scored by due time in epoch seconds of the app clock, so tests move a fake clock.
DUE = f"{PREFIX}due"
# Jobs moved into the stream by an older version's leader and not yet done: put back in DUE at
# start (bot/work/engine.py), then gone.
OLD_IN_FLIGHT = f"{PREFIX}inflight"
# Pub/sub channel (bot/work/timer.py): a job was scheduled, the message its due time (app clock,
# epoch s), so a timer asleep until later looks again.
# Channels are shared by every database of a server: a stray message only costs a look.
DUE_WAKE = f"{PREFIX}wake:due"
# Lua scripts build job and group keys from these prefixes (one Redis, never a cluster).
DUE_JOB_PREFIX = f"{PREFIX}job:"
DUE_GROUP_PREFIX = f"{PREFIX}jobgroup:"
# Hash: id -> generation of each job waiting in DUE for its retry because Slack was unavailable.
# When a call to Slack succeeds again, one Lua step (bot/work/engine.py) makes them all due now.
# Apart from the groups above: a retried reminder keeps its conversation's group (to be
# cancelled with it), and the generation keeps a job scheduled anew since from being hurried.
SLACK_WAITING = f"{PREFIX}slackwait"


def due_job(job_id: str) -> str:
    """A job with an id, until its run is done: kind, JSON args, group, generation, attempts, born."""
    return f"{DUE_JOB_PREFIX}{job_id}"


def due_group(group: str) -> str:
    """Set of pending job ids of one group (e.g. a conversation's reminders), to cancel together."""
    return f"{DUE_GROUP_PREFIX}{group}"


def fired(job_id: str) -> str:
    """Present once a job's effect happened; a re-run after a crash finds it and does nothing."""
    return f"{PREFIX}fired:{job_id}"


# Leads (bot/store/leads.py) and their CRM webhook deliveries (bot/crm/webhook.py). Kept
# without a TTL: a lead is the business's record of a customer (`textback forget` deletes it).
def lead(line: str, caller: str) -> str:
    """The lead record (JSON) of a caller on a line."""
    return f"{PREFIX}lead:{line}:{caller}"


def leads_of(line: str) -> str:
    """Sorted set of a line's lead callers, scored by their last call or text (epoch seconds)."""
    return f"{PREFIX}leads:{line}"


def lead_event(event_id: str) -> str:
    """Written by older versions once an event (a job, a status command) was applied to its
    lead; read for the events they may have applied (leads now name the events they took)."""
    return f"{PREFIX}leadev:{event_id}"


def crm_outbox(lead_id: str) -> str:
    """List of a lead's webhook deliveries not yet accepted, oldest first (sent in order)."""
    return f"{PREFIX}crm:outbox:{lead_id}"


# Lead ids with deliveries waiting, as an older version kept them (epoch s): adopted at start
# by the engine's CRM jobs (bot/crm/webhook.py), then gone.
OLD_CRM_DUE = f"{PREFIX}crm:due"


def crm_job(lead_id: str) -> str:
    """The id of a lead's CRM sending job in the engine: one per lead while it has deliveries."""
    return f"crm:{lead_id}"


def daily(line: str, day: str) -> str:
    """Hash: a line's figures for one local day (missed, texted, not_texted, texts_in, replied)."""
    return f"{PREFIX}daily:{line}:{day}"


def reply_times(line: str, day: str) -> str:
    """List: seconds to the first team reply of conversations answered that day."""
    return f"{PREFIX}replytimes:{line}:{day}"


# A picture served to Twilio for an outgoing MMS lives this much past its validity (which the
# app's clock judges), then Redis drops it: the TTL only collects garbage.
SERVED_MEDIA_GRACE_S = 10 * 60


def served_media(token: str) -> str:
    """A picture served at /media/<token>: its type, the end of its validity, and its bytes."""
    return f"{PREFIX}media:{token}"
