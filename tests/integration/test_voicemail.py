"""Voicemail: the <Record> after the greeting, the recording in the thread, the transcript
after it, urgent matching on the transcript, and the lead keeps both (§2.1 item 2, §2.6)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import ACCOUNT_SID, Rig, new_sid
from tests.conftest import CALLER, CHANNEL, LINE, LINE_B, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.saw import reply_blocks

ONCALL = "U0ONCALL01"
CONFIG = line_a_with(f"""\
    voicemail: true
    transcribe: true
    oncall: {ONCALL}
""")


@pytest.fixture
async def vm_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(CONFIG, redis_url, clock, tmp_path) as r:
        yield r


def callback_paths(twiml: str) -> dict[str, str]:
    """kind -> the path and query Twilio will POST to, read from the <Record> we answered."""
    found = {}
    for attr in ("action", "recordingStatusCallback", "transcribeCallback"):
        match = re.search(rf'{attr}="([^"]+)"', twiml)
        if match:
            url = unescape(match.group(1))
            found[url.rsplit("kind=", 1)[1]] = url.removeprefix("https://textback.example.test")
    return found


async def leave_voicemail(rig: Rig, *, transcript: str | None, seconds: int = 34) -> tuple[str, dict[str, str]]:
    call_sid, _, status, twiml = await rig.missed_call(CALLER, LINE)
    assert status == 200
    paths = callback_paths(twiml)
    recording_sid = new_sid("RE")
    url = rig.twilio.recording_url(recording_sid)
    common = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": recording_sid, "RecordingUrl": url}
    await rig.twilio_post(paths["done"], {**common, "RecordingDuration": str(seconds), "Digits": "hangup"})
    await rig.twilio_post(paths["status"], {**common, "RecordingStatus": "completed",
                                            "RecordingDuration": str(seconds), "RecordingSource": "RecordVerb"})
    if transcript is not None:
        await rig.twilio_post(paths["transcript"], {**common, "TranscriptionSid": new_sid("TR"),
                                                    "TranscriptionStatus": "completed",
                                                    "TranscriptionText": transcript})
    await rig.retry_waiting()  # a recording that came before the thread waits for it
    return call_sid, paths


async def test_greeting_offers_voicemail_and_every_callback_is_signed_back_to_us(vm_rig: Rig) -> None:
    _, _, status, twiml = await vm_rig.missed_call(CALLER, LINE)
    assert status == 200 and "<Record" in twiml and "leave a message after the tone" in twiml
    assert 'maxLength="120"' in twiml and twiml.rstrip().endswith("<Hangup /></Response>")
    paths = callback_paths(twiml)
    assert set(paths) == {"done", "status", "transcript"}
    assert all(p.startswith("/twilio/voice/recording?") and "line=%2B15125550100" in p for p in paths.values())


async def test_a_line_without_voicemail_just_hangs_up(vm_rig: Rig) -> None:
    _, _, _, twiml = await vm_rig.missed_call(CALLER, LINE_B)
    assert "<Record" not in twiml and "<Hangup" in twiml


async def test_recording_is_uploaded_into_the_thread_then_the_transcript_follows(vm_rig: Rig) -> None:
    await leave_voicemail(vm_rig, transcript="Hi it's Jo, the kitchen tap drips, call me back <!here>")
    [upload] = vm_rig.slack.files
    assert upload["channel_id"] == CHANNEL and upload["thread_ts"]
    assert upload["content"].startswith(b"ID3") and upload["name"].endswith(".mp3")
    texts = reply_blocks(vm_rig)
    assert any("Voicemail, 34 s (transcript to follow)." in t for t in texts)
    [transcript] = [t for t in texts if "voicemail transcript" in t]
    assert "kitchen tap drips" in transcript and "&lt;!here&gt;" in transcript and "<!here>" not in transcript
    fetched = [r for r in vm_rig.twilio.requests if r.method == "FetchRecordingMedia"]
    assert len(fetched) == 1 and fetched[0].status == 200, "fetched once, with the account's credentials"
    lead = await vm_rig.services.leads.get(LINE, CALLER)
    assert lead is not None and lead.voicemail_url.endswith(upload["name"].removeprefix("voicemail-").removesuffix(".mp3"))
    assert "kitchen tap drips" in lead.voicemail_transcript


async def test_an_urgent_transcript_pages_the_on_call_person(vm_rig: Rig) -> None:
    await leave_voicemail(vm_rig, transcript="There is a burst pipe in the basement, please hurry")
    await vm_rig.fire_due()
    assert any("Urgent: the caller wrote" in t for t in reply_blocks(vm_rig))
    assert [r.params["users"] for r in vm_rig.slack.requests if r.method == "conversations.open"] == [ONCALL]


async def test_retried_callbacks_post_once(vm_rig: Rig) -> None:
    call_sid, paths = await leave_voicemail(vm_rig, transcript=None)
    # Twilio retries the status callback with the same RecordingSid.
    [upload] = vm_rig.slack.files
    sid = upload["name"].removeprefix("voicemail-").removesuffix(".mp3")
    params = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": sid,
              "RecordingUrl": vm_rig.twilio.recording_url(sid), "RecordingStatus": "completed",
              "RecordingDuration": "34"}
    await vm_rig.twilio_post(paths["status"], params)
    await vm_rig.settle()
    assert len(vm_rig.slack.files) == 1
    assert sum("Voicemail, 34 s" in t for t in reply_blocks(vm_rig)) == 1


async def test_a_recording_that_cannot_be_fetched_still_says_there_is_a_voicemail(vm_rig: Rig) -> None:
    call_sid, _, _, twiml = await vm_rig.missed_call(CALLER, LINE)
    paths = callback_paths(twiml)
    params = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": "RE" + "9" * 32,
              "RecordingUrl": "https://evil.example/Recordings/RE1", "RecordingStatus": "completed",
              "RecordingDuration": "12"}
    await vm_rig.twilio_post(paths["status"], params)
    await vm_rig.retry_waiting()
    assert vm_rig.slack.files == []
    assert not [r for r in vm_rig.twilio.requests if r.method == "FetchRecordingMedia"]
    assert any("could not be copied here" in t for t in reply_blocks(vm_rig))


async def test_unsigned_or_forged_recording_callbacks_are_refused(vm_rig: Rig) -> None:
    query = urlencode({"line": LINE, "from": CALLER, "kind": "status"})
    params = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid("CA"), "RecordingSid": new_sid("RE"),
              "RecordingUrl": vm_rig.twilio.recording_url(), "RecordingStatus": "completed"}
    status, _ = await vm_rig.twilio_post(f"/twilio/voice/recording?{query}", params, sign=False)
    assert status == 403
    status, _ = await vm_rig.twilio_post(f"/twilio/voice/recording?{query}", params, token="wrong-token")
    assert status == 403
    await vm_rig.settle()
    assert vm_rig.slack.files == [] and vm_rig.slack.messages == []


async def test_a_failed_transcription_is_said_in_the_thread(vm_rig: Rig) -> None:
    call_sid, paths = await leave_voicemail(vm_rig, transcript=None)
    params = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": new_sid("RE"),
              "TranscriptionSid": new_sid("TR"), "TranscriptionStatus": "failed", "TranscriptionText": ""}
    await vm_rig.twilio_post(paths["transcript"], params)
    await vm_rig.settle()
    assert any("could not be transcribed" in t for t in reply_blocks(vm_rig))
