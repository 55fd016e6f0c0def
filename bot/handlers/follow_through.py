"""Follow-through at the edges: what the scheduler fires (reminders, pages, snooze ends) and
the card's buttons (PRODUCT §2.4, §2.5). What a call or a text starts (the reminder ladder,
urgent paging) is part of its story in workflows/.

Reminders and pages are `Deadlines` jobs; each fired job has its own step log, named by
the job and the episode it belongs to, so a job run again after a crash repeats nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from bot.handlers.callback import call_back
from bot.services import Services
from bot.slack.blocks import local_time
from bot.slack.commands.permissions import Permissions
from bot.store.conversations import RedisSteps
from workflows import card_actions, paging
from workflows import follow_through as ft
from workflows.consent import OPT_OUT_NO, OPT_OUT_YES, decide_opt_out
from workflows.conversation import Conversation, Entry
from workflows.conversation_state import RESOLVED_BY, remind_group
from workflows.jobs import CardActionJob, PageJob, ReminderJob, SnoozeEndJob
from workflows.lines import Line, next_open
from workflows.ports import Deadline

log = logging.getLogger(__name__)


# --- fired by the scheduler --------------------------------------------------------------------


def _steps(svc: Services, job_id: str, since: str) -> RedisSteps:
    # The same job id comes back when a ladder restarts; the episode keeps their logs apart.
    return RedisSteps(svc.redis.client, f"{job_id}@{since}")


async def reminder(svc: Services, job_id: str, job: ReminderJob) -> None:
    if job_id == remind_group(job.conv):
        outcome = await _ladder(svc, job_id, job)
    else:  # a rung an older version scheduled as a job of its own: the next rung has its own too
        outcome = await ft.fire_reminder(
            job.conv, job.index, job.since, line_of=svc.lines.line_for_number, store=svc.store,
            chat=svc.chat, pager=svc.pager, steps=_steps(svc, job_id, job.since), now=svc.clock.now(),
        )
    log.info("reminder %s: %s", job_id, outcome)
    if outcome not in ("stale", "superseded"):
        svc.metrics.reminder_sent()


async def _ladder(svc: Services, job_id: str, job: ReminderJob) -> ft.ReminderOutcome:
    deadlines = svc.jobs.deadlines

    def steps_of(index: int) -> RedisSteps:
        # Named as when each rung was a job of its own (`remind:<conv>:<index>`), so a rung
        # an older version scheduled and this job's same rung share one log and post once.
        return _steps(svc, f"{job_id}:{index}", job.since)

    async def then(following: Deadline) -> bool:
        # Not over a restart, a stop or a snooze that replaced or removed this job meanwhile.
        return await deadlines.advance(job, following, group=remind_group(job.conv))

    async def older(index: int) -> bool:
        # Pending or running: a job the older version recorded for this rung and episode. Both
        # run at the same time, so the step log they share could not keep the post single.
        found = await deadlines.recorded(f"{job_id}:{index}")
        return isinstance(found, ReminderJob) and found.since == job.since

    return await ft.fire_ladder(
        job.conv, job.index, job.since, line_of=svc.lines.line_for_number, store=svc.store, chat=svc.chat,
        pager=svc.pager, steps_of=steps_of, then=then, older=older, now=svc.clock.now(),
    )


async def page(svc: Services, job_id: str, job: PageJob) -> None:
    outcome, vias = await paging.fire_page(
        job.conv, job.round, job.since, line_of=svc.lines.line_for_number, store=svc.store,
        chat=svc.chat, pager=svc.pager, sms=svc.sms, deadlines=svc.jobs.deadlines,
        steps=_steps(svc, job_id, job.since), now=svc.clock.now(),
    )
    log.info("page %s: %s", job_id, outcome)
    for via in vias:
        svc.metrics.page_sent(via)


async def snooze_end(svc: Services, job_id: str, job: SnoozeEndJob) -> None:
    await ft.wake(
        job.conv, job.since, job.until, line_of=svc.lines.line_for_number, store=svc.store,
        locks=svc.locks, deadlines=svc.jobs.deadlines,
    )


# --- the card's buttons ------------------------------------------------------------------------

SNOOZE_HOUR = timedelta(hours=1)


def _snooze_until(action: str, line: Line, now: datetime) -> tuple[datetime, str]:
    """When a snooze ends, and how to say it."""
    if action == "tb_snooze_open":
        opens = next_open(line.hours, line.timezone, now + timedelta(minutes=1))
        if opens is not None and opens > now + timedelta(minutes=1):
            return opens, f"opening time ({local_time(opens, line.timezone)})"
        # Open now, or never: tomorrow at this time is the useful reading.
        until = now + timedelta(days=1)
        return until, local_time(until, line.timezone)
    until = now + SNOOZE_HOUR
    return until, local_time(until, line.timezone)


def _snooze_pick(choice: str, line: Line, now: datetime) -> tuple[datetime, str] | None:
    """The snooze picked from the card's menu: 2 or 4 hours, tomorrow 9 AM, next Monday 9 AM."""
    if choice in ("2h", "4h"):
        until = now + timedelta(hours=int(choice[0]))
        return until, local_time(until, line.timezone)
    local = now.astimezone(ZoneInfo(line.timezone))
    if choice == "tomorrow":
        days = 1
    elif choice == "monday":
        days = (7 - local.weekday()) % 7 or 7
    else:
        return None
    day = local.date() + timedelta(days=days)
    until = datetime.combine(day, time(9, 0), tzinfo=ZoneInfo(line.timezone))
    return until, local_time(until, line.timezone)


async def _block(svc: Services, conv: Conversation, line: Line, user: str, now: datetime) -> str:
    """The card's Block button: allowed to those who may change settings, as `/textback block` is."""
    if not await Permissions(svc.slack, svc.lines.admins, now=monotonic).can_change(user):
        return "Only workspace admins and owners (or the lines file's admins) can block numbers; nothing changed."
    if conv.caller.kind != "ok":
        return "This caller's number is withheld or not a phone number, so there is nothing to block."
    shown = conv.caller.display
    if await svc.flags.is_blocked(line.number, conv.caller.number):
        return f"{shown} is already blocked on this line."
    await svc.flags.set_blocked(line.number, conv.caller.number, True)
    note = Entry("system", "blocked this number: no more automatic texts to it from this line.", at=now,
                 icon="no_entry_sign", mentions=(user,))
    await svc.chat.post_entry(conv, note)
    return f"Blocked {shown}: calls from it still get a thread but no automatic text. Undo with /textback unblock."


async def card_action(svc: Services, job_id: str, job: CardActionJob) -> None:
    """A button pressed on a thread card; the presser is told the result privately."""
    action, user, channel = job.action, job.user, job.channel
    conv = await svc.store.get(job.conv)
    now = svc.clock.now()
    if conv is None:
        await svc.chat.tell_user(channel, user, "This card belongs to a conversation that no longer exists.")
        return
    line = await svc.lines.line_for_number(conv.line)
    if line is None:
        await svc.chat.tell_user(channel, user, "This card's line is no longer configured; nothing changed.")
        return
    deadlines = svc.jobs.deadlines
    if action in (OPT_OUT_YES, OPT_OUT_NO):
        # Anyone in the channel, resolved or not: the caller's wish outlives the conversation.
        said = await decide_opt_out(conv, line, user, action == OPT_OUT_YES, flags=svc.flags, sms=svc.sms,
                                    chat=svc.chat, consent=svc.consent, now=now)
        await svc.chat.tell_user(channel, user, said)
        return
    if conv.status == "resolved" and action not in ("tb_resolve", "tb_callback"):
        who = conv.extra.get(RESOLVED_BY, "")
        await svc.chat.tell_user(
            channel, user, f"This conversation was already resolved{f' by <@{who}>' if who else ''}; nothing changed."
        )
        return
    if action == "tb_ack":
        _, said = await card_actions.acknowledge(conv, user, store=svc.store, locks=svc.locks, chat=svc.chat,
                                       deadlines=deadlines, now=now)
    elif action == "tb_claim":
        _, said = await card_actions.claim(conv, user, store=svc.store, locks=svc.locks, chat=svc.chat, now=now)
    elif action == "tb_resolve":
        _, said = await card_actions.resolve(conv, user, store=svc.store, locks=svc.locks, chat=svc.chat,
                                   deadlines=deadlines, now=now)
    elif action in ("tb_snooze_1h", "tb_snooze_open", "tb_snooze_pick"):
        picked = _snooze_pick(job.choice, line, now) if action == "tb_snooze_pick" else None
        if action == "tb_snooze_pick" and picked is None:
            await svc.chat.tell_user(channel, user, "That snooze choice is not known; nothing changed.")
            return
        until, label = picked or _snooze_until(action, line, now)
        _, said = await card_actions.snooze(conv, user, until, store=svc.store, locks=svc.locks, chat=svc.chat,
                                  deadlines=deadlines, now=now, label=label)
    elif action == "tb_block":
        said = await _block(svc, conv, line, user, now)
    elif action == "tb_callback":
        said = await call_back(svc, conv, line, user, job_id=job_id, now=now)
    else:
        log.warning("unknown card action %s", action)
        return
    await svc.chat.tell_user(channel, user, said)


__all__ = ["card_action", "page", "reminder", "snooze_end"]
