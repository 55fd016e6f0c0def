"""Background work: a drain waits for it, and names what it had to cancel."""

from __future__ import annotations

import asyncio

from bot.work.background import Background


async def test_a_drain_waits_for_work_that_finishes() -> None:
    tasks = Background()
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0)
        done.set()

    tasks.spawn(work(), name="short")
    await tasks.drain(timeout=5)
    assert done.is_set() and tasks.cancelled == []


async def test_a_drain_names_the_work_it_had_to_cancel() -> None:
    """What the test rigs check after each test: work left running is reported, not hidden."""
    tasks = Background()
    forever = tasks.spawn(asyncio.Event().wait(), name="never-ends")
    await tasks.drain(timeout=0.01)
    assert tasks.cancelled == ["never-ends"]
    await asyncio.wait({forever}, timeout=5)
    assert forever.cancelled()
