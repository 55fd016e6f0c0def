"""The App Home tab, published when someone opens it."""

from __future__ import annotations

from typing import Any

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE

USER = "U0HOME0001"


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
    assert "*Today*\n• Missed calls: *2*" in text and "*This week*\n• Missed calls: *2*" in text
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
    assert "*Today*\n• Missed calls: *0*" in view and "*This week*\n• Missed calls: *1*" in view
    assert "*Bolt Electric*" in view  # both lines are listed
