"""The weekly digest: figures for a seeded week, posted once on Monday morning (§2.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.handlers.digest import job_id, post_digest
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CHANNEL, LINE, TZ, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.steps import slash
from workflows.digest import DayFigures, bars, next_digest_at, summarize, weekly_digest
from workflows.jobs import DigestJob
from workflows.leads import STATUSES

MON = date(2026, 11, 9)


def test_summary_of_a_seeded_week() -> None:
    days = [
        DayFigures(MON, missed=4, texted=4, replied=4, reply_seconds=(60, 120, 300, 600)),
        DayFigures(MON + timedelta(days=1), missed=3, texted=2, not_texted=1, texts_in=5, replied=1,
                   reply_seconds=(1800,)),
        DayFigures(MON + timedelta(days=2)),
        DayFigures(MON + timedelta(days=5), missed=2, texted=2, replied=0),
    ]
    week = summarize(days, leads={"new": 3, "booked": 2, "contacted": 4})
    assert (week.missed, week.texted, week.not_texted, week.texts_in, week.replied) == (9, 8, 1, 5, 5)
    assert week.median_reply_s == 300
    assert week.best is not None and week.best.day == MON
    assert week.worst is not None and week.worst.day == MON + timedelta(days=5)
    digest = weekly_digest(week, "Acme Plumbing", "8 missed callers, 8 texted back, 3 replied, 2 booked",
                           "5 of 8 missed callers", STATUSES)
    assert digest.title == "Weekly report for Acme Plumbing, Mon Nov 9 - Sat Nov 14"
    assert digest.headline == "8 missed callers, 8 texted back, 3 replied, 2 booked"
    assert digest.chart == ("Mon ▇▇▇▇▇▇▇▇▇▇▇▇ 4", "Tue ▇▇▇▇▇▇▇▇▇ 3", "Wed 0", "Sat ▇▇▇▇▇▇ 2")
    assert digest.details == (
        "Calls: 9 missed, 8 texted back, 1 not texted (opted out, landline, withheld...)",
        "Texts from callers: 5",
        "Answered by the team: 5 of 8 missed callers; median first reply 5m",
        "New leads: 3 new, 4 contacted, 2 booked",
        "Best day: Mon Nov 9 (4 of 4 answered); worst: Sat Nov 14 (0 of 2 answered)",
    )


def test_a_days_bar_is_its_share_of_the_busiest_day_and_any_call_shows() -> None:
    days = [DayFigures(MON, missed=24), DayFigures(MON + timedelta(days=1), missed=1),
            DayFigures(MON + timedelta(days=2), missed=12)]
    assert bars(days) == ("Mon ▇▇▇▇▇▇▇▇▇▇▇▇ 24", "Tue ▇ 1", "Wed ▇▇▇▇▇▇ 12")
    assert bars([DayFigures(MON)]) == ("Mon 0",)


def test_a_quiet_week_says_so() -> None:
    week = summarize([DayFigures(MON + timedelta(days=i)) for i in range(7)])
    digest = weekly_digest(week, "Acme", "0 missed callers", "0 of 0", STATUSES)
    assert digest.headline == "No missed calls or texts this week." and digest.chart == digest.details == ()


def test_next_digest_is_the_local_monday_morning_across_dst() -> None:
    # DST ends Sunday 2026-11-01 in Chicago: Monday 08:00 local is 14:00 UTC, no longer 13:00.
    before = datetime(2026, 10, 30, 12, 0, tzinfo=TZ)
    at = next_digest_at(before, "America/Chicago", 0, 8 * 60)
    assert at.astimezone(TZ) == datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
    assert at.utcoffset() == timedelta(hours=-6)
    assert next_digest_at(at, "America/Chicago", 0, 8 * 60).astimezone(TZ).date() == date(2026, 11, 9)


@pytest.fixture
async def valued(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """The test lines with an average job value on line A."""
    async with rig_for(line_a_with("    average_job_value: 370\n"), redis_url, clock, tmp_path) as r:
        yield r


async def _week_of_traffic(rig: Rig, clock: FakeClock) -> None:
    """Five callers missed (one twice), two answered, one replying to its text-back, one booked."""
    async def call(caller: str, when: datetime) -> str:
        clock.set(when)
        await rig.missed_call(caller, LINE)
        await rig.settle()
        return [m for m in rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")][-1]["ts"]

    async def reply(thread: str, when: datetime) -> None:
        clock.set(when)
        await rig.team_replies(CHANNEL, thread, "Hi! How can we help?")
        await rig.settle()

    tue = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)
    a = await call("+15125550301", tue)
    b = await call("+15125550302", tue + timedelta(minutes=1))
    await call("+15125550303", tue + timedelta(minutes=2))
    await reply(a, tue + timedelta(minutes=4))
    await reply(b, tue + timedelta(minutes=11))
    wed = datetime(2026, 11, 11, 9, 0, tzinfo=TZ)
    await call("+15125550304", wed)
    await call("+15125550305", wed + timedelta(minutes=5))
    clock.set(wed + timedelta(minutes=6))
    await rig.caller_texts("+15125550304", LINE, "hello?")
    await rig.settle()
    await call("+15125550304", wed + timedelta(hours=1))  # the same caller again: no second text
    await slash(rig, "lead (512) 555-0301 booked")


def _digests(rig: Rig) -> list[dict[str, object]]:
    return [m for m in rig.slack.messages if "Weekly report" in m["text"] and m["channel"] == CHANNEL]


async def test_digest_after_a_week_of_real_traffic(rig: Rig, clock: FakeClock) -> None:
    await _week_of_traffic(rig, clock)
    clock.set(datetime(2026, 11, 16, 7, 59, tzinfo=TZ))
    await rig.fire_due()
    assert not _digests(rig)
    # Line B is in New York: its Monday 08:00 came an hour earlier, and its week was quiet.
    [other] = [m for m in rig.slack.messages if "Weekly report" in m["text"]]
    assert "Bolt Electric" in other["text"] and "No missed calls or texts" in str(other["blocks"])
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=TZ))
    await rig.fire_due()
    [digest] = _digests(rig)
    assert digest["channel"] == CHANNEL and not digest.get("thread_ts")
    assert digest["text"] == ("Weekly report for Acme Plumbing, Mon Nov 9 - Sun Nov 15: "
                              "5 missed callers, 5 texted back, 1 replied, 1 booked")
    head, chart, details = (b["text"]["text"] for b in digest["blocks"])  # type: ignore[index]
    assert head == (":bar_chart: *Weekly report for Acme Plumbing, Mon Nov 9 - Sun Nov 15*\n"
                    "*5 missed callers, 5 texted back, 1 replied, 1 booked*")
    assert chart == ("Missed calls by day\n```Mon 0\nTue ▇▇▇▇▇▇▇▇▇▇▇▇ 3\nWed ▇▇▇▇▇▇▇▇▇▇▇▇ 3\nThu 0\nFri 0\n"
                     "Sat 0\nSun 0```")
    assert details.split("\n") == [
        "• Calls: 6 missed, 5 texted back",
        "• Texts from callers: 1",
        "• Answered by the team: 2 of 5 missed callers; median first reply 7m",
        "• New leads: 3 new, 1 contacted, 1 booked",
        "• Best day: Tue Nov 10 (2 of 3 answered); worst: Wed Nov 11 (0 of 3 answered)",
    ]
    # The next one is pending for the Monday after, and a re-run of this one posts nothing.
    due = await rig.services.jobs.deadlines.due_at(job_id(LINE))
    assert due is not None and due.astimezone(TZ) == datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    await post_digest(rig.services, job_id(LINE), DigestJob(line=LINE))
    assert len(_digests(rig)) == 1


async def test_the_digest_says_what_the_booked_work_is_worth_with_an_average_job_value(
    valued: Rig, clock: FakeClock
) -> None:
    await _week_of_traffic(valued, clock)
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=TZ))
    await valued.fire_due()
    [digest] = _digests(valued)
    assert digest["text"].endswith("5 missed callers, 5 texted back, 1 replied, 1 booked: about $370 of work")
