"""Job kinds: rebuild a workflow's input from the recorded job and run it with its step log.

Webhooks and Slack listeners only record jobs (`Intake`); these handlers do the work, on
whichever instance picks the job up, as often as it takes to finish.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot.handlers import follow_through, outcomes, qualify, voicemail
from bot.metrics import TextbackTimer, job_recorded_at
from bot.phones import caller_from
from bot.services import Services
from bot.slack.mrkdwn import to_plain_text
from bot.work.queue import RedisSteps
from workflows.bursts import flush_held
from workflows.delivery import DeliveryReport, handle_delivery_report
from workflows.lines import Line
from workflows.mirror import InboundSms, TeamReply, handle_caller_sms, handle_team_reply
from workflows.missed_call import MissedCall, handle_missed_call

log = logging.getLogger(__name__)


async def _line(svc: Services, number: str) -> Line | None:
    line = await svc.lines.line_for_number(number)
    if line is None:
        log.error("job for a line that is no longer configured; dropped")
    return line


async def missed_call(svc: Services, job_id: str, args: dict[str, Any]) -> None:
    line = await _line(svc, args["line"])
    if line is None:
        return
    call = MissedCall(
        call_id=args["call_sid"],
        line=line,
        caller=caller_from(args["from"], args.get("caller_name", ""), line.number),
        at=datetime.fromisoformat(args["at"]),
    )
    # Times the text-back from the moment the missed call was recorded (for /metrics).
    timed_sms = TextbackTimer(svc.sms, svc.metrics, job_recorded_at(job_id))
    lane = svc.lane.for_call(call.call_id)
    steps = RedisSteps(svc.redis.client, job_id)
    try:
        conv = await handle_missed_call(
            call, store=svc.store, sms=timed_sms, chat=svc.chat, locks=svc.locks, flags=svc.flags,
            steps=steps, now=call.at, lookup=svc.line_types, lane=lane,
        )
    finally:
        lane.leave()  # also when the job failed before its text-back
    await outcomes.missed_call(svc, job_id, steps, call, conv)
    await follow_through.after_missed_call(svc, line, conv, call.at)


async def caller_sms(svc: Services, job_id: str, args: dict[str, Any]) -> None:
    line = await _line(svc, args["line"])
    if line is None:
        return
    msg = InboundSms(
        message_id=args["sid"],
        line=line,
        caller=caller_from(args["from"], "", line.number),
        body=args["body"],
        media=tuple(args.get("media", ())),
        at=datetime.fromisoformat(args["at"]),
        opt_out_type=args.get("opt_out_type", ""),
        seq=int(args.get("seq", 0)),
    )
    steps = RedisSteps(svc.redis.client, job_id)
    conv, outcome = await handle_caller_sms(
        msg, store=svc.store, chat=svc.chat, locks=svc.locks, flags=svc.flags, sms=svc.sms,
        bursts=svc.bursts, steps=steps, now=svc.clock.now(),
    )
    await outcomes.caller_sms(svc, job_id, steps, msg, conv)
    await follow_through.after_caller_sms(svc, job_id, msg, conv)
    await qualify.after_caller_sms(svc, job_id, msg, conv)
    if outcome == "hold_first":
        svc.tasks.spawn(flush_burst_later(svc, conv.id), name=f"burst:{conv.id}")


async def flush_burst_later(svc: Services, conv_id: str) -> None:
    """Post a burst's held texts together once it has had a moment to finish."""
    await asyncio.sleep(svc.burst_flush_s)
    await flush_held(
        conv_id, store=svc.store, bursts=svc.bursts, chat=svc.chat, locks=svc.locks, now=svc.clock.now()
    )


async def team_reply(svc: Services, job_id: str, args: dict[str, Any]) -> None:
    reply = TeamReply(
        channel=args["channel"], thread_id=args["thread"], message_id=args["ts"], user=args["user"],
        raw_text=args["text"],
    )

    async def to_plain(text: str) -> str:
        return await to_plain_text(
            text, resolve_user=svc.directory.user_name, resolve_channel=svc.directory.channel_name
        )

    steps = RedisSteps(svc.redis.client, job_id)
    outcome = await handle_team_reply(
        reply, store=svc.store, sms=svc.sms, chat=svc.chat, to_plain=to_plain, flags=svc.flags,
        steps=steps, now=datetime.fromisoformat(args["at"]),
    )
    log.info("team reply %s: %s", reply.message_id, outcome)
    if outcome != "sent":
        return
    conv = await svc.store.by_thread(reply.channel, reply.thread_id)
    if conv is None:
        return
    await outcomes.team_reply(svc, job_id, steps, args, conv)
    # A person answered the caller: the questions and the reminders stop.
    await qualify.after_team_reply(svc, conv)
    await follow_through.after_team_reply(svc, conv)


async def delivery(svc: Services, job_id: str, args: dict[str, Any]) -> None:
    report = DeliveryReport(sid=args["sid"], status=args["status"], error_code=args.get("error_code"))
    await handle_delivery_report(report, store=svc.store, chat=svc.chat, flags=svc.flags)


HANDLERS = {
    "missed_call": missed_call,
    "caller_sms": caller_sms,
    "team_reply": team_reply,
    "delivery": delivery,
    "card_action": lambda svc, job_id, args: follow_through.card_action(svc, job_id, args),
    "voicemail": lambda svc, job_id, args: voicemail.voicemail(svc, job_id, args),
    "voicemail_transcript": lambda svc, job_id, args: voicemail.voicemail_transcript(svc, job_id, args),
}


def register_all(svc: Services) -> None:
    """Attach every job kind to the app's queue."""
    for kind, handler in HANDLERS.items():
        run = handler if kind == "missed_call" else _after_textbacks(handler)
        svc.jobs.register(kind, functools.partial(run, svc))


JobHandler = Callable[[Services, str, dict[str, Any]], Awaitable[None]]


def _after_textbacks(handler: JobHandler) -> JobHandler:
    """Other job kinds start once this instance has no text-back in hand (at most 1 s later)."""

    async def run(svc: Services, job_id: str, args: dict[str, Any]) -> None:
        await svc.lane.wait_clear()
        await handler(svc, job_id, args)

    return run
