"""The App Home tab, published when someone opens it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.steps import slash

USER = "U0HOME0001"


@pytest.fixture
async def valued(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The test lines with an average job value on line A."""
    async with rig_for(line_a_with("    average_job_value: 370\n"), redis_url, clock, tmp_path) as r:
        yield r


def _texts(view: dict[str, Any]) -> str:
    out: list[str] = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields") or []]
        out += [e.get("text", "") for e in block.get("elements") or []]
    return "\n".join(out)


async def _open_home(rig: Rig) -> dict[str, Any]:
    status, _ = await rig.slack_event({"type": "app_home_opened", "user": USER, "channel": "D0HOME0001",
                                       "tab": "home", "event_ts": "1.0"})
    assert status == 200
    await rig.settle()
    return rig.slack.views[USER]


async def test_home_shows_each_lines_figures_and_open_threads(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call("+15125550124", LINE)
    await rig.settle()
    view = await _open_home(rig)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    text = _texts(view)
    assert "*Acme Plumbing* · (512) 555-0100" in text and "*Bolt Electric* · (512) 555-0200" in text
    earned = "• What it earned: *2* missed callers, *2* texted back, *0* replied, *0* answered by the team, *0* booked"
    assert f"*Today*\n{earned}\n• Missed calls: *2*" in text and f"*This week*\n{earned}\n• Missed calls: *2*" in text
    assert "*Open threads (2)*" in text
    assert f"https://{rig.slack.domain}.slack.com/archives/{CHANNEL}/p" in text and "|(512) 555-0123>" in text
    assert "*Open threads (0)*\nNone" in text  # line B
    for block in view["blocks"]:
        for part in [block.get("text") or {}, *(block.get("fields") or [])]:
            assert len(part.get("text", "")) <= 3000


async def test_home_counts_today_apart_from_the_week(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)  # Tuesday
    await rig.settle()
    clock.advance(days=1)
    view = _texts(await _open_home(rig))
    assert "*Today*\n• What it earned: *0* missed callers" in view and "\n• Missed calls: *0*" in view
    assert "*This week*\n• What it earned: *1* missed caller, *1* texted back" in view
    assert "*Bolt Electric*" in view  # both lines are listed


async def test_home_shows_what_it_earned_this_week_with_the_work_value(valued: Rig, clock: FakeClock) -> None:
    await valued.missed_call(CALLER, LINE)  # Tuesday
    await valued.settle()
    clock.advance(minutes=2)
    await valued.caller_texts(CALLER, LINE, "Water heater is leaking")
    await valued.settle()
    lead = await valued.services.leads.get(LINE, CALLER)
    assert lead is not None
    await valued.team_replies(CHANNEL, lead.thread_ts, "A tech can be there by 11:30")
    await valued.settle()
    await slash(valued, "lead (512) 555-0123 booked")
    clock.advance(days=1)
    view = _texts(await _open_home(valued))
    assert ("*This week*\n• What it earned: *1* missed caller, *1* texted back, *1* replied, "
            "*1* answered by the team, *1* booked: about *$370* of work") in view
    assert "*Today*\n• What it earned: *0* missed callers, *0* texted back, *0* replied, *0* answered by the " \
           "team, *0* booked: about *$0* of work" in view
