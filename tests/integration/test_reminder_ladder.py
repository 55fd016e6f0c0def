"""The reminder ladder as one due job at its next rung (§2.4): what the older version recorded
(one job per rung) still runs, an outage sends only the latest rung, and a rung that fires
while the ladder restarts does not undo the restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, LINE
from tests.integration.follow_through_rig import ALICE, TUESDAY_10, at, ft_rig, missed_call_at
from tests.integration.saw import button_value, containing, dm_opened_for, parent
from workflows.conversation_state import WAITING, remind_group
from workflows.follow_through import start_waiting
from workflows.jobs import ReminderJob
from workflows.ports import Deadline

__all__ = ["ft_rig"]


async def test_starting_the_wait_schedules_one_job_at_the_first_rung(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv = button_value(parent(ft_rig), "tb_resolve")
    due = {m.decode() for m in await ft_rig.services.redis.client.zrange("tb:due", 0, -1)}
    assert {job for job in due if job.startswith("remind:")} == {remind_group(conv)}
    assert await ft_rig.services.jobs.deadlines.due_at(remind_group(conv)) == TUESDAY_10 + timedelta(minutes=5)


async def test_rungs_the_older_version_scheduled_one_job_each_still_fire(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    conv = await ft_rig.services.store.get(conv_id)
    assert conv is not None
    since = conv.extra[WAITING]
    # What the older version left in Redis: the group's three jobs, one per rung.
    old = [Deadline(f"remind:{conv_id}:{i}", TUESDAY_10 + timedelta(minutes=m), ReminderJob(conv_id, i, since))
           for i, m in enumerate((5, 15, 60))]
    await ft_rig.services.jobs.deadlines.replace_group(remind_group(conv_id), old)

    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=5))
    assert len(containing(ft_rig, "No reply yet")) == 1
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=15))
    assert len(containing(ft_rig, "Still no reply")) == 1
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=60))
    assert dm_opened_for(ft_rig) == [ALICE] and len(containing(ft_rig, "direct message")) == 1
    assert await at(ft_rig, clock, TUESDAY_10 + timedelta(hours=5)) == 0


async def test_an_older_rung_and_the_ladder_job_at_the_same_rung_post_once(ft_rig: Rig, clock: FakeClock) -> None:
    # A job the older version started and this one ran again: both ladders, the same episode.
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    conv = await ft_rig.services.store.get(conv_id)
    assert conv is not None
    job = ReminderJob(conv_id, 0, conv.extra[WAITING])
    await ft_rig.services.jobs.deadlines.schedule(f"remind:{conv_id}:0", TUESDAY_10 + timedelta(minutes=5), job,
                                                  group=remind_group(conv_id))
    assert await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=5)) == 2
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_after_an_outage_only_the_latest_rung_is_sent_and_the_ladder_goes_on(
    ft_rig: Rig, clock: FakeClock
) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=20))  # nothing moved at 10:05 or 10:15
    assert containing(ft_rig, "No reply yet") == []
    assert len(containing(ft_rig, "Still no reply")) == 1
    assert ft_rig.services.metrics.reminders_sent._value.get() == 1
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=60))
    assert dm_opened_for(ft_rig) == [ALICE]


async def test_a_rung_firing_while_the_ladder_restarts_leaves_the_new_ladder(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    clock.set(TUESDAY_10 + timedelta(minutes=5))
    assert await ft_rig.services.jobs.timer.move_due() == 1  # the first rung is in the stream...
    deadlines = ft_rig.services.jobs.deadlines
    restarted = ReminderJob(conv_id, 0, (TUESDAY_10 + timedelta(minutes=5)).isoformat())
    await deadlines.schedule(remind_group(conv_id), TUESDAY_10 + timedelta(minutes=10), restarted,
                             group=remind_group(conv_id))  # ...when a caller's text restarts the ladder
    await ft_rig.settle()
    assert len(containing(ft_rig, "No reply yet")) == 1
    assert await deadlines.due_at(remind_group(conv_id)) == TUESDAY_10 + timedelta(minutes=10), \
        "the rung that ran did not put the old ladder's next rung in place of the new ladder"


async def test_a_text_from_the_caller_moves_the_ladders_one_job(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    clock.set(TUESDAY_10 + timedelta(minutes=3))
    await ft_rig.caller_texts(CALLER, LINE, "Hello?")
    await ft_rig.settle()
    assert await ft_rig.services.jobs.deadlines.due_at(remind_group(conv_id)) == TUESDAY_10 + timedelta(minutes=8)
    assert await ft_rig.services.redis.client.smembers(f"tb:jobgroup:{remind_group(conv_id)}") == {
        remind_group(conv_id).encode()}


async def test_a_caller_holding_the_lock_starts_the_wait_without_taking_it_again(
    ft_rig: Rig, clock: FakeClock
) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    svc = ft_rig.services
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    line = await svc.lines.line_for_number(LINE)
    assert line is not None
    later = TUESDAY_10 + timedelta(minutes=30)
    async with asyncio.timeout(10), svc.locks.hold(LINE, CALLER):
        conv = await svc.store.get(conv_id)
        assert conv is not None
        await start_waiting(conv, line, at=later, store=svc.store, locks=svc.locks,
                            deadlines=svc.jobs.deadlines, held=True)
    saved = await svc.store.get(conv_id)
    assert saved is not None and saved.extra[WAITING] == later.isoformat()
    assert await svc.jobs.deadlines.due_at(remind_group(conv_id)) == later + timedelta(minutes=5)
