"""Qualification at the edges: a question held for the caller's quiet hours, sent when they
end (PRODUCT §2.6). The questions themselves start and go on in the caller-text story
(workflows/mirror.py) and end in the team-reply story."""

from __future__ import annotations

from bot.services import Services
from bot.store.conversations import RedisSteps
from workflows import qualify
from workflows.jobs import QualifyAskJob


async def ask_held(svc: Services, job_id: str, job: QualifyAskJob) -> None:
    conv = await svc.store.get(job.conv)
    line = await svc.lines.line_for_number(conv.line) if conv is not None else None
    await qualify.send_held(
        job.conv, job.text, job.state, line=line, store=svc.store, sms=svc.sms, flags=svc.flags,
        chat=svc.chat, steps=RedisSteps(svc.redis.client, f"{job_id}@{job.state}"), now=svc.clock.now(),
    )
