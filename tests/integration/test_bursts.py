"""A caller (or a bot) sending dozens of texts a minute does not flood Slack, and nothing is lost."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, parents
from workflows.bursts import INBOUND_PER_MINUTE, batch_lines


async def test_a_flood_of_texts_is_grouped_and_nothing_is_lost(rig: Rig) -> None:
    rig.services.burst_flush_s = 0.5
    for i in range(40):
        await rig.caller_texts(CALLER, LINE, f"auto-reply number {i:02d}")
    await rig.settle()
    [parent] = parents(rig)
    posts = [blocks_text(m) for m in rig.slack.thread(CHANNEL, parent["ts"])]
    singles = [p for p in posts if p.count("auto-reply number") == 1 and "more texts" not in p]
    grouped = [p for p in posts if "more texts from the caller" in p]
    assert len(singles) == INBOUND_PER_MINUTE, "past the rate, texts are not posted one by one"
    # How many grouped posts depends on how the flushes fall during the burst; far fewer than 30.
    assert 1 <= len(grouped) <= 10
    everything = "\n".join(posts)
    for i in range(40):
        assert f"auto-reply number {i:02d}" in everything
    order = [everything.index(f"number {i:02d}") for i in range(40)]
    assert order == sorted(order)
    assert rig.twilio.messages == [], "a flood never triggers automatic replies"


async def test_stop_inside_a_flood_still_opts_out(rig: Rig) -> None:
    rig.services.burst_flush_s = 0.05
    for i in range(15):
        await rig.caller_texts(CALLER, LINE, f"spam {i}")
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    assert await rig.services.flags.suppression(LINE, CALLER) != ""


async def test_a_held_burst_left_by_a_dead_instance_is_flushed_by_the_next_one(rig: Rig) -> None:
    """An armed flush whose claim expired (its instance died) is re-armed by the next text."""
    rig.services.burst_flush_s = 0.05
    for i in range(INBOUND_PER_MINUTE):
        await rig.caller_texts(CALLER, LINE, f"ok {i}")
    await rig.settle()
    conv_id = (await rig.services.redis.client.get(f"tb:open:{LINE}:{CALLER}")).decode()
    await rig.services.bursts.hold(conv_id, "held by an instance that died")  # no flush armed
    await rig.caller_texts(CALLER, LINE, "one more")
    await rig.settle()
    everything = "\n".join(blocks_text(m) for m in rig.slack.messages_in(CHANNEL))
    assert "held by an instance that died" in everything and "one more" in everything


def test_batches_respect_slack_section_limits() -> None:
    posts = batch_lines(["x" * 1000] * 9)
    assert len(posts) >= 3 and all(len(p) <= 2800 for p in posts)
    assert sum(p.count("•") for p in posts) == 9
