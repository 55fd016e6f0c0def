"""Qualification questions at the edges: after a team reply, and the questions held for quiet
hours (PRODUCT §2.6, §2.7). A caller's text starts or answers them in its story
(workflows/mirror.py)."""

from __future__ import annotations

import logging

from bot.services import Services
from bot.store.steps import RedisSteps
from workflows import qualify
from workflows.conversation import Conversation
from workflows.jobs import QualifyAskJob

log = logging.getLogger(__name__)


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
