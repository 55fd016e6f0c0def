"""The text-back's fast lane: other work waits while a text-back is in hand, but never long."""

from __future__ import annotations

import asyncio
import time

from bot.work.engine import FastLane


async def test_other_work_waits_until_the_text_back_left() -> None:
    lane = FastLane(patience_s=5.0, entry_ttl_s=5.0)
    lane.enter("CA1")
    order: list[str] = []

    async def other_job() -> None:
        await lane.wait_clear()
        order.append("slack work")

    waiting = asyncio.create_task(other_job())
    await asyncio.sleep(0.05)
    assert order == [], "the Slack work waits while CA1's text-back is in hand"
    order.append("text-back")
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 1.0)
    assert order == ["text-back", "slack work"]


async def test_the_wait_is_bounded_by_patience() -> None:
    lane = FastLane(patience_s=0.1, entry_ttl_s=10.0)
    lane.enter("CA1")
    started = time.monotonic()
    await lane.wait_clear()
    assert 0.09 <= time.monotonic() - started < 1.0 and lane.busy(), "gave up waiting; the entry stays"


async def test_an_entry_nobody_removes_expires() -> None:
    """A call recorded here but run by another instance never leaves this lane: it expires."""
    lane = FastLane(patience_s=5.0, entry_ttl_s=0.1)
    lane.enter("CA-elsewhere")
    started = time.monotonic()
    await lane.wait_clear()
    assert time.monotonic() - started < 1.0 and not lane.busy()


async def test_a_call_lane_lets_its_own_text_back_go_then_waits_for_the_others() -> None:
    lane = FastLane(patience_s=5.0, entry_ttl_s=5.0)
    mine, other = lane.for_call("CA1"), lane.for_call("CA2")
    sent = asyncio.get_running_loop().create_future()

    async def send() -> None:
        await sent

    sending = asyncio.create_task(send())  # type: ignore[var-annotated]
    after = asyncio.create_task(mine.after_send(sending))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not after.done(), "waits for its own SMS request first"
    sent.set_result(None)
    await asyncio.sleep(0.05)
    assert not after.done() and lane.busy(), "then for CA2's text-back, still in hand"
    other.leave()
    await asyncio.wait_for(after, 1.0)
    assert not lane.busy()


async def test_calls_arriving_later_do_not_hold_work_that_is_already_waiting() -> None:
    """Under a steady stream of calls the lane is never empty: waiting must not last for ever."""
    lane = FastLane(patience_s=5.0, entry_ttl_s=5.0)
    lane.enter("CA1")
    done = asyncio.Event()

    async def other_job() -> None:
        await lane.wait_clear()
        done.set()

    waiting = asyncio.create_task(other_job())
    await asyncio.sleep(0.02)
    lane.enter("CA2")  # a later call
    lane.leave("CA1")
    await asyncio.wait_for(waiting, 1.0)
    assert done.is_set() and lane.busy(), "went once CA1 left, while CA2 is still in hand"
