"""A Slack outage loses nothing: the text-backs go out during it, and once Slack is back every
missed call gets its thread (marked posted late), every caller text and voicemail its post,
each once; the jobs waiting for Slack run as soon as a Slack call succeeds again."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.work import engine
from standins.clock import FakeClock
from standins.rig import ACCOUNT_SID, Rig, new_sid
from tests.conftest import LINE, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.saw import blocks_text, parents

CALLERS = ("+15125550131", "+15125550132", "+15125550133")
LATE = "posted late: Slack was unavailable"
MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
async def vm_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(line_a_with("    voicemail: true\n"), redis_url, clock, tmp_path) as r:
        yield r


def cards_of(rig: Rig, caller_digits: str) -> list[dict]:
    """The cards naming a caller (by the last four digits shown on them)."""
    return [m for m in parents(rig) if caller_digits in blocks_text(m)]


async def pass_time_failing(rig: Rig, clock: FakeClock, until: datetime) -> int:
    """Move the fake clock to `until`, running each retry when due (all failing meanwhile);
    how many retries ran."""
    ran = 0
    while True:
        await rig.settle()
        due = await rig.services.jobs.next_retry()
        if due is None or due >= until.timestamp():
            break
        clock.set(datetime.fromtimestamp(due, UTC) + MICROSECOND)
        ran += await rig.fire_due()
    clock.set(until)
    return ran


async def leave_voicemail(rig: Rig, call_sid: str, twiml: str) -> None:
    """Twilio's callback for a finished recording, to the path our <Record> gave it."""
    match = re.search(r'recordingStatusCallback="([^"]+)"', twiml)
    assert match is not None, twiml
    path = unescape(match.group(1)).removeprefix("https://textback.example.test")
    recording_sid = new_sid("RE")
    params = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": recording_sid,
              "RecordingUrl": rig.twilio.recording_url(recording_sid), "RecordingStatus": "completed",
              "RecordingDuration": "21", "RecordingSource": "RecordVerb"}
    status, _ = await rig.twilio_post(path, params)
    assert status == 200


async def test_a_two_hour_slack_outage_loses_no_missed_call_text_or_voicemail(
    vm_rig: Rig, clock: FakeClock
) -> None:
    rig = vm_rig
    rig.slack.go_down(status=503)
    outage_ends = clock.now() + timedelta(hours=2)
    for n, caller in enumerate(CALLERS):
        call_sid, _, status, twiml = await rig.missed_call(caller, LINE)
        assert status == 200
        if n == 0:
            await leave_voicemail(rig, call_sid, twiml)
        if n == 1:
            await rig.caller_texts(caller, LINE, "is anyone there? the tank is leaking")
        await pass_time_failing(rig, clock, clock.now() + timedelta(minutes=20))
    # During the outage: every caller was texted back at once, and nothing reached Slack.
    assert [len(rig.twilio.messages_to(c)) for c in CALLERS] == [1, 1, 1]
    assert rig.slack.messages == [] and rig.slack.files == []
    await pass_time_failing(rig, clock, outage_ends)
    assert rig.slack.messages == [], "Slack was down all along"

    rig.slack.come_back()
    await rig.retry_waiting()
    for caller in CALLERS:
        [card] = cards_of(rig, caller[-4:])
        assert LATE in blocks_text(card), blocks_text(card)
    assert [len(rig.twilio.messages_to(c)) for c in CALLERS] == [1, 1, 1], "no second text-back"
    [voicemail_card] = cards_of(rig, CALLERS[0][-4:])
    # When the call was, in the line's timezone: two hours before the card (OPEN_TIME).
    assert f"{LATE}; the call came in Tue Nov 10, 10:15 AM" in blocks_text(voicemail_card)
    voicemail_thread = [blocks_text(m) for m in rig.slack.thread(voicemail_card["channel"], voicemail_card["ts"])]
    assert sum("Voicemail, 21 s" in t for t in voicemail_thread) == 1
    assert len(rig.slack.files) == 1 and rig.slack.files[0]["thread_ts"] == voicemail_card["ts"]
    [texted_card] = cards_of(rig, CALLERS[1][-4:])
    texted_thread = [blocks_text(m) for m in rig.slack.thread(texted_card["channel"], texted_card["ts"])]
    assert sum("the tank is leaking" in t for t in texted_thread) == 1

    # Slack is back: the next missed call's card is posted on time, and says nothing of lateness.
    await rig.missed_call("+15125550139", LINE)
    await rig.settle()
    [on_time] = cards_of(rig, "0139")
    assert LATE not in blocks_text(on_time)


async def test_jobs_waiting_for_slack_run_as_soon_as_a_slack_call_succeeds(
    rig: Rig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two missed calls wait minutes for their next try after a Slack outage; the first call to
    Slack that succeeds (a new caller's thread) lets them run at once, without time passing."""
    rig.services.jobs.retry_idle_ms = 10_000  # production's back-off: waits grow to minutes
    # No jitter: with it, seven short draws in a row could leave the next try under 30 s away.
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: 1.0)
    rig.slack.go_down(status=503)
    for caller in CALLERS[:2]:
        await rig.missed_call(caller, LINE)
    await pass_time_failing(rig, clock, clock.now() + timedelta(minutes=4))
    due = await rig.services.jobs.next_retry()
    assert due is not None and due > clock.now().timestamp() + 30, "a long back-off is under way"
    assert parents(rig) == []

    rig.slack.come_back()
    await rig.missed_call(CALLERS[2], LINE)  # its job's Slack calls succeed at once
    await rig.settle()  # the clock stays where it is: only jobs due now may run
    assert [len(cards_of(rig, c[-4:])) for c in CALLERS] == [1, 1, 1]
    assert await rig.services.jobs.next_retry() is None
