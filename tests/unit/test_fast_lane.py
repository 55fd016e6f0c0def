"""The fast lane: jobs wait while voice webhooks and text-backs are in hand, but never long."""

from __future__ import annotations

import asyncio

from bot.work.engine import FastLane


async def waiting_jobs(lane: FastLane, count: int) -> None:
    """Until `count` jobs wait in the lane (the event loop runs them meanwhile)."""
    async with asyncio.timeout(5):
        while lane.waiting != count:
            await asyncio.sleep(0)


async def test_a_job_waits_until_the_text_back_left() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    order: list[str] = []

    async def job() -> None:
        await lane.wait_clear()
        order.append("slack work")

    waiting = asyncio.create_task(job())
    await waiting_jobs(lane, 1)
    assert order == [] and not waiting.done(), "the job waits while CA1's text-back is in hand"
    order.append("text-back")
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 5)
    assert order == ["text-back", "slack work"]


async def test_the_wait_is_bounded_by_patience() -> None:
    lane = FastLane(patience_s=0.01, entry_ttl_s=60.0)
    lane.enter("CA1")
    await asyncio.wait_for(lane.wait_clear(), 5)
    assert lane.busy(), "gave up waiting, though the entry is still there"


async def test_an_entry_nobody_removes_expires() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=0.01)
    lane.enter("CA1")
    await asyncio.wait_for(lane.wait_clear(), 5)
    assert not lane.busy(), "the entry expired; the job did not wait for its patience"


async def test_entries_arriving_later_do_not_hold_a_job_that_is_already_waiting() -> None:
    """Under a steady stream of calls the lane is never empty: waiting must not last for ever."""
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    waiting = asyncio.create_task(lane.wait_clear())
    await waiting_jobs(lane, 1)
    lane.enter("CA2")  # a later call
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 5)
    assert lane.busy(), "CA2 is still in hand, and the job went anyway"


async def test_no_job_waits_when_the_lane_is_empty() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    lane.leave("CA1")
    await asyncio.wait_for(lane.wait_clear(), 5)
    assert lane.waiting == 0 and not lane.busy()


async def test_each_leave_frees_only_the_jobs_it_was_the_last_entry_for() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    first = asyncio.create_task(lane.wait_clear())  # waits for CA1
    await waiting_jobs(lane, 1)
    lane.enter("CA2")
    second = asyncio.create_task(lane.wait_clear())  # waits for CA1 and CA2
    await waiting_jobs(lane, 2)
    lane.leave("CA2")
    lane.leave("CA1")
    await asyncio.wait_for(first, 5)
    await asyncio.wait_for(second, 5)
    assert lane.waiting == 0 and lane.asleep == 0


async def test_a_job_waits_on_for_an_older_entry_after_a_newer_one_left() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    lane.enter("CA2")
    waiting = asyncio.create_task(lane.wait_clear())
    await waiting_jobs(lane, 1)
    lane.leave("CA2")
    assert lane.asleep == 1 and lane.waiting == 1, "woken though CA1 is still in hand"
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 5)


async def test_an_entry_entered_again_counts_as_new() -> None:
    lane = FastLane(patience_s=60.0, entry_ttl_s=60.0)
    lane.enter("CA1")
    lane.enter("CA2")
    lane.enter("CA1")  # CA1 again: it is now the newest
    waiting = asyncio.create_task(lane.wait_clear())
    await waiting_jobs(lane, 1)
    lane.leave("CA2")
    assert lane.asleep == 1, "woken though CA1 is still in hand"
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 5)
