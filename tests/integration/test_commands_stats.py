"""`/textback stats [period]`: figures from the stored conversations."""

from __future__ import annotations

from datetime import datetime, timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CHANNEL_B, LINE, LINE_B
from tests.integration.saw import said
from tests.integration.steps import MEMBER, slash
from workflows.conversation import Caller, Conversation
from workflows.stats import format_minutes, line_stats

OTHER = "+15125550124"


async def _busy_morning(rig: Rig, clock: FakeClock) -> None:
    """Two missed calls on line A (one answered after 4 minutes and resolved), one call on line B."""
    for caller in (CALLER, OTHER):
        await rig.missed_call(caller, LINE)
    await rig.missed_call(CALLER, LINE_B)
    await rig.settle()
    card = next(m for m in rig.slack.messages_in(CHANNEL) if "555-0123" in m["text"] and not m.get("thread_ts"))
    clock.advance(minutes=4)
    await rig.team_replies(CHANNEL, card["ts"], "On our way")
    await rig.caller_texts(OTHER, LINE, "Is anyone there?")
    await rig.settle()
    await slash(rig, "resolve (512) 555-0123")


async def test_stats_counts_the_lines_conversations(rig: Rig, clock: FakeClock) -> None:
    await _busy_morning(rig, clock)
    text = said(await slash(rig, "stats", user=MEMBER))
    assert "*Acme Plumbing, in the last 7d*" in text
    # Two callers missed and texted back; OTHER texted after its text-back; CALLER was answered.
    assert ("• What it earned: *2* missed callers, *2* texted back, *1* replied, *1* answered by the team, "
            "*0* booked") in text
    assert "• Missed calls: *2*" in text and "• Texted back automatically: *2*" in text
    assert "• Caller texts: *1*" in text and "• Answered by the team: *1* of 2 conversation(s)" in text
    assert "• Still open: *1*" in text and "• Median time to the first team reply: *4 min*" in text
    other = said(await slash(rig, "stats 30d", channel=CHANNEL_B, user=MEMBER))
    assert "*Bolt Electric, in the last 30d*" in other and "• Missed calls: *1*" in other
    assert "*no replies yet*" in other


async def test_stats_period_leaves_out_older_conversations(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(days=10)
    recent = said(await slash(rig, "stats 7d"))
    assert "• Missed calls: *0*" in recent and "• What it earned: *0* missed callers" in recent
    assert "• What it earned: *1* missed caller" in said(await slash(rig, "stats 30d"))
    assert "• Missed calls: *1*" in said(await slash(rig, "stats 30d"))
    assert "• Missed calls: *1*" in said(await slash(rig, "stats all"))


async def test_stats_counts_each_caller_once_and_the_booked_ones(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(hours=5)  # past the cooldown: texted again, still one caller
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call(OTHER, LINE)
    await rig.settle()
    await slash(rig, "lead (512) 555-0123 booked")
    text = said(await slash(rig, "stats 24h", user=MEMBER))
    assert "• What it earned: *2* missed callers, *2* texted back, *0* replied, *0* answered by the team, " \
           "*1* booked" in text
    assert "• Missed calls: *3*" in text  # events, as before


async def test_stats_bad_period(rig: Rig) -> None:
    bad = said(await slash(rig, "stats lately"))
    assert '"lately" is not a period' in bad and "Example: `/textback stats 30d`" in bad


def test_median_and_formatting() -> None:
    start = datetime(2026, 11, 10, 9, 0).astimezone()

    def conv(minutes: float | None) -> Conversation:
        c = Conversation(line=LINE, caller=Caller(CALLER, "(512) 555-0123"), channel=CHANNEL, opened_at=start,
                         origin="missed_call", in_hours=True, calls=1)
        if minutes is not None:
            c.extra["first_reply_at"] = (start + timedelta(minutes=minutes)).isoformat()
        return c

    stats = line_stats([conv(2), conv(10), conv(90), conv(None)], LINE, start)
    assert stats.replied == 3 and stats.median_first_reply_s == 600 and stats.missed_calls == 4
    assert format_minutes(stats.median_first_reply_s) == "10 min"
    assert format_minutes(5400) == "1 h 30 min" and format_minutes(30) == "under a minute"
    assert line_stats([conv(2)], LINE_B, start).conversations == 0
