"""The message jobs: each typed job becomes its story's input, the story gets its ports, and runs.

The stories themselves (what happens, in which order) are in workflows/: a missed call in
workflows/missed_call.py, a caller's text and a team reply in workflows/mirror.py. Webhooks
and Slack listeners only record jobs; these handlers run them, on whichever instance picks
the job up, as often as it takes to finish. The table of kinds is bot/handlers/table.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.handlers.media import ShelfMedia, ThreadMedia
from bot.handlers.outcomes import ServiceOutcomes
from bot.phones import caller_from, timezone_of
from bot.services import Services
from bot.slack.blocks import to_plain_text
from bot.store.conversations import RedisSteps
from bot.work.engine import steps_at_delivery
from workflows.bursts import flush_held
from workflows.conversation import MediaItem
from workflows.delivery import FAILED_STATUSES, UNREGISTERED_SENDER_CODES, DeliveryReport, handle_delivery_report
from workflows.jobs import CallerSmsJob, DeliveryJob, MissedCallJob, TeamReplyJob
from workflows.lines import Line
from workflows.mirror import InboundSms, TeamReply, caller_text_story, team_reply_story
from workflows.missed_call import MissedCall, missed_call_story
from workflows.staff_texts import paging_now, staff_member, staff_text_story

log = logging.getLogger(__name__)


async def _line(svc: Services, number: str) -> Line | None:
    line = await svc.lines.line_for_number(number)
    if line is None:
        log.error("job for a line that is no longer configured; dropped")
    return line


async def missed_call(svc: Services, job_id: str, job: MissedCallJob) -> None:
    line = await _line(svc, job.line)
    if line is None:
        return
    call = MissedCall(
        call_id=job.call_sid, line=line, caller=caller_from(job.caller, job.caller_name, line.number), at=job.at,
        screened=job.screened,
    )
    await missed_call_story(
        call, job_id=job_id, store=svc.store, chat=svc.chat, locks=svc.locks, flags=svc.flags,
        record=svc.textbacks, lookup=svc.line_types,
        steps=RedisSteps(svc.redis.client, job_id, read=steps_at_delivery(job_id)),
        outcomes=ServiceOutcomes(svc), deadlines=svc.jobs.deadlines, now=call.at, sms=svc.sms,
    )


async def caller_sms(svc: Services, job_id: str, job: CallerSmsJob) -> None:
    line = await _line(svc, job.line)
    if line is None:
        return
    msg = InboundSms(
        message_id=job.sid, line=line, caller=caller_from(job.caller, "", line.number), body=job.body,
        media=media_items(job), at=job.at, opt_out_type=job.opt_out_type, seq=job.seq,
    )
    if await _from_staff(svc, job_id, msg):
        return
    await caller_text_story(
        msg, job_id=job_id, store=svc.store, chat=svc.chat, locks=svc.locks, flags=svc.flags, sms=svc.sms,
        bursts=svc.bursts, burst_flush=BurstTimer(svc), steps=RedisSteps(svc.redis.client, job_id),
        outcomes=ServiceOutcomes(svc), deadlines=svc.jobs.deadlines, clock=svc.clock,
        # Only the questions read it (quiet hours in the caller's own zone); it costs a lookup.
        caller_tz=timezone_of(msg.caller.number) if line.questions else None, consent=svc.consent,
        files=ThreadMedia(svc),
    )


async def _from_staff(svc: Services, job_id: str, msg: InboundSms) -> bool:
    """A staff or on-call phone answering a page: acknowledged or posted in the paged thread,
    never a caller thread of its own. False (a caller's text after all) when no page is open."""
    user = staff_member(msg.line, msg.caller.number)
    if user is None:
        return False
    since = msg.at - STAFF_PAGE_WINDOW
    conv = paging_now([c for c in await svc.store.opened_since({msg.line.number}, since)])
    if conv is None:
        return False
    await staff_text_story(conv, user, msg.body, store=svc.store, locks=svc.locks, chat=svc.chat,
                           deadlines=svc.jobs.deadlines, steps=RedisSteps(svc.redis.client, job_id), now=msg.at)
    # Its turn is taken: the next text from this phone must not wait for it.
    await svc.store.finish_turn(msg.line.number, msg.caller.number, msg.seq)
    return True


# A page older than this is not what a staff text answers.
STAFF_PAGE_WINDOW = timedelta(days=2)


def media_items(job: CallerSmsJob) -> tuple[MediaItem, ...]:
    """The text's attachments with their announced types (a job recorded before types were
    kept has none: its attachments are then shown as links)."""
    types = job.media_types + ("",) * (len(job.media) - len(job.media_types))
    return tuple(MediaItem(url, kind) for url, kind in zip(job.media, types, strict=False))


@dataclass(frozen=True)
class BurstTimer:
    """The `BurstFlush` port: a timer on this instance. If the instance dies first, the flush
    claim in Redis expires and the caller's next held text arms a new one."""

    svc: Services

    def flush_later(self, conv_id: str) -> None:
        self.svc.tasks.spawn(flush_burst_later(self.svc, conv_id), name=f"burst:{conv_id}")


async def flush_burst_later(svc: Services, conv_id: str) -> None:
    """Post a burst's held texts together once it has had a moment to finish."""
    await asyncio.sleep(svc.burst_flush_s)
    await flush_held(
        conv_id, store=svc.store, bursts=svc.bursts, chat=svc.chat, locks=svc.locks, now=svc.clock.now()
    )


async def team_reply(svc: Services, job_id: str, job: TeamReplyJob) -> None:
    reply = TeamReply(channel=job.channel, thread_id=job.thread, message_id=job.ts, user=job.user, raw_text=job.text,
                      files=job.files)

    async def to_plain(text: str) -> str:
        return await to_plain_text(
            text, resolve_user=svc.directory.user_name, resolve_channel=svc.directory.channel_name
        )

    outcome = await team_reply_story(
        reply, job_id=job_id, store=svc.store, sms=svc.sms, chat=svc.chat, to_plain=to_plain, flags=svc.flags,
        locks=svc.locks, steps=RedisSteps(svc.redis.client, job_id), outcomes=ServiceOutcomes(svc),
        deadlines=svc.jobs.deadlines, now=job.at, media=ShelfMedia(svc),
    )
    log.info("team reply %s: %s", reply.message_id, outcome)


async def delivery(svc: Services, job_id: str, job: DeliveryJob) -> None:
    report = DeliveryReport(sid=job.sid, status=job.status, error_code=job.error_code)
    outcome = await handle_delivery_report(report, store=svc.store, chat=svc.chat, flags=svc.flags)
    if job.status in FAILED_STATUSES:
        # Counted even for a text not (yet) known here: 30034/30032 mean the line's number is
        # not registered, and every text it sends is blocked.
        line = outcome.line or "unknown"
        svc.metrics.sms_undelivered.labels(line=line, code=str(job.error_code or "none")).inc()
        if job.error_code in UNREGISTERED_SENDER_CODES:
            log.warning("line %s: a text was blocked with error %s: the number is not registered for "
                        "business texting; run textback doctor", line, job.error_code)
