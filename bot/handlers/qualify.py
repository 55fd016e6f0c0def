"""Qualification questions at the edges: after a caller's text, after a team reply, and the
questions held for quiet hours (PRODUCT §2.6, §2.7)."""

from __future__ import annotations

import logging

from bot.handlers.outcomes import ServiceOutcomes
from bot.phones import timezone_of
from bot.services import Services
from bot.store.steps import RedisSteps
from workflows import qualify
from workflows.compliance import keyword_of
from workflows.conversation import Conversation
from workflows.jobs import QualifyAskJob
from workflows.mirror import InboundSms
from workflows.outcomes import lead_event, record_lead_safely

log = logging.getLogger(__name__)


async def after_caller_sms(svc: Services, job_id: str, msg: InboundSms, conv: Conversation) -> None:
    """A caller's text starts the questions or answers one; STOP, START and HELP never do.

    A bare "yes" is also a carrier opt-in keyword, but to a yes/no question it is the answer:
    it is taken as one (opting in someone who never opted out changes nothing).
    """
    keyword = keyword_of(msg.body, msg.opt_out_type)
    is_yes = keyword == "opt_in" and msg.body.strip(" .!").lower() == "yes"
    if (keyword is not None and not is_yes) or not msg.line.questions:
        return
    outcome, plan = await qualify.on_caller_text(
        conv, msg.line, msg.body, store=svc.store, locks=svc.locks, sms=svc.sms, flags=svc.flags, chat=svc.chat,
        deadlines=svc.scheduler.deadlines, steps=RedisSteps(svc.redis.client, f"{job_id}:qualify"),
        now=svc.clock.now(), caller_tz=timezone_of(conv.caller.number),
    )
    log.info("qualification after %s: %s", job_id, outcome)
    if plan is not None and plan.answer is not None:
        event = lead_event("answer", f"{job_id}:answer", conv, msg.at, answer=plan.answer)
        await record_lead_safely(job_id, event, outcomes=ServiceOutcomes(svc))


async def after_team_reply(svc: Services, conv: Conversation) -> None:
    """A person texted the caller: the questions stop."""
    if conv.extra.get(qualify.STATE) not in (None, "done", "ended"):
        await qualify.end_for_human(conv, store=svc.store, locks=svc.locks, deadlines=svc.scheduler.deadlines)


async def ask_held(svc: Services, job_id: str, job: QualifyAskJob) -> None:
    conv = await svc.store.get(job.conv)
    line = await svc.lines.line_for_number(conv.line) if conv is not None else None
    await qualify.send_held(
        job.conv, job.text, job.state, line=line, store=svc.store, sms=svc.sms, flags=svc.flags,
        chat=svc.chat, steps=RedisSteps(svc.redis.client, f"{job_id}@{job.state}"), now=svc.clock.now(),
    )
