"""The one table of job kinds: which handler runs each typed job, as soon as possible or when due.

Adding a kind is a dataclass in workflows/jobs.py, a handler here or beside its flow in
bot/handlers/, and one row below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from bot.handlers import callback, digest, follow_through, messages, qualify, voicemail
from bot.services import Services
from workflows import jobs

JobHandler = Callable[[Services, str, Any], Awaitable[None]]

# Run as soon as possible (recorded by webhooks, Slack listeners, a lead's change).
QUEUED: dict[type[Any], JobHandler] = {
    jobs.MissedCallJob: messages.missed_call,
    jobs.CallerSmsJob: messages.caller_sms,
    jobs.TeamReplyJob: messages.team_reply,
    jobs.DeliveryJob: messages.delivery,
    jobs.CardActionJob: follow_through.card_action,
    jobs.VoicemailJob: voicemail.voicemail,
    jobs.VoicemailTranscriptJob: voicemail.voicemail_transcript,
    jobs.CrmDeliveryJob: lambda svc, job_id, job: svc.crm.send_outbox(job),  # bot/crm/webhook.py
    jobs.CallbackOutcomeJob: callback.callback_outcome,
}

# Scheduled for a due time, then run like the others.
TIMED: dict[type[Any], JobHandler] = {
    jobs.ReminderJob: follow_through.reminder,
    jobs.PageJob: follow_through.page,
    jobs.SnoozeEndJob: follow_through.snooze_end,
    jobs.QualifyAskJob: qualify.ask_held,
    jobs.DigestJob: digest.post_digest,
}


def register_all(svc: Services) -> None:
    """Attach every job kind to the app's engine; adopt what an older version left waiting."""
    for job_type, handler in {**QUEUED, **TIMED}.items():
        svc.jobs.register(job_type, partial(handler, svc))
    svc.tasks.spawn(digest.ensure_all(svc), name="digests")
    svc.tasks.spawn(_adopt_older(svc), name="adopt")


async def _adopt_older(svc: Services) -> None:
    await svc.jobs.timer.adopt_older()
    await svc.crm.adopt_older(svc.jobs.deadlines, svc.clock.now())
