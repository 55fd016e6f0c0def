"""The weekly digest: figures for a seeded week, posted once on Monday morning (§2.6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.handlers.digest import job_id, post_digest
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CHANNEL, LINE, TZ
from workflows.digest import DayFigures, digest_text, next_digest_at, summarize
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
    text = digest_text(week, "Acme Plumbing", STATUSES)
    assert text.splitlines() == [
        "Weekly report for Acme Plumbing, Mon Nov 9 - Sat Nov 14",
        "Missed calls: 9 (8 texted back, 1 not texted (opted out, landline, withheld number...))",
        "Texts from callers: 5",
        "Callers answered by the team: 5",
        "Median time to first reply: 5m",
        "Leads: 3 new, 4 contacted, 2 booked",
        "Best day: Mon Nov 9 (4 of 4 answered); worst day: Sat Nov 14 (0 of 2 answered)",
    ]


def test_a_quiet_week_says_so() -> None:
    week = summarize([DayFigures(MON + timedelta(days=i)) for i in range(7)])
    assert digest_text(week, "Acme", STATUSES).endswith("No missed calls or texts this week.")


def test_next_digest_is_the_local_monday_morning_across_dst() -> None:
    # DST ends Sunday 2026-11-01 in Chicago: Monday 08:00 local is 14:00 UTC, no longer 13:00.
    before = datetime(2026, 10, 30, 12, 0, tzinfo=TZ)
    at = next_digest_at(before, "America/Chicago", 0, 8 * 60)
    assert at.astimezone(TZ) == datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
    assert at.utcoffset() == timedelta(hours=-6)
    assert next_digest_at(at, "America/Chicago", 0, 8 * 60).astimezone(TZ).date() == date(2026, 11, 9)


async def test_digest_after_a_week_of_real_traffic(rig: Rig, clock: FakeClock) -> None:
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

    clock.set(datetime(2026, 11, 16, 7, 59, tzinfo=TZ))
    await rig.fire_due()
    assert not [m for m in rig.slack.messages if "Weekly report" in m["text"] and m["channel"] == CHANNEL]
    # Line B is in New York: its Monday 08:00 came an hour earlier, and its week was quiet.
    [other] = [m for m in rig.slack.messages if "Weekly report" in m["text"]]
    assert "Bolt Electric" in other["text"] and "No missed calls or texts" in str(other["blocks"])
    clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=TZ))
    await rig.fire_due()
    [digest] = [m for m in rig.slack.messages if "Weekly report" in m["text"] and m["channel"] == CHANNEL]
    assert digest["channel"] == CHANNEL and not digest.get("thread_ts")
    body = digest["blocks"][0]["text"]["text"]
    assert "Weekly report for Acme Plumbing, Mon Nov 9 - Sun Nov 15" in body
    assert "Missed calls: 5 (5 texted back)" in body and "Texts from callers: 1" in body
    assert "Callers answered by the team: 2" in body and "Median time to first reply: 7m" in body
    assert "Leads: 3 new, 2 contacted" in body
    assert "Best day: Tue Nov 10 (2 of 3 answered); worst day: Wed Nov 11 (0 of 2 answered)" in body
    # The next one is pending for the Monday after, and a re-run of this one posts nothing.
    due = await rig.services.jobs.deadlines.due_at(job_id(LINE))
    assert due is not None and due.astimezone(TZ) == datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    await post_digest(rig.services, job_id(LINE), DigestJob(line=LINE))
    assert len([m for m in rig.slack.messages if "Weekly report" in m["text"] and m["channel"] == CHANNEL]) == 1
