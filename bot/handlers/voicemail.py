"""Voicemail (PRODUCT §2.1 item 2): the recording into the caller's thread, its transcript after.

Twilio's recording callback can come before the missed-call job has opened the thread;
the job then waits its turn (RetryLater) instead of opening a second thread, for as long as
a Slack outage keeps that thread from being posted. The audio is
copied into the thread with Slack's external upload, since a Twilio recording URL needs
the account's credentials to play. A transcript goes through urgent matching like a text.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.handlers.outcomes import ServiceOutcomes
from bot.phones import caller_from, mask
from bot.services import Services
from bot.slack.gateway import is_transient
from bot.store.conversations import RedisSteps
from bot.twilio.media import on_twilio_api
from workflows.conversation import Conversation, Entry
from workflows.follow_through import caller_wrote
from workflows.jobs import VoicemailJob, VoicemailTranscriptJob
from workflows.lines import Line
from workflows.missed_call import waits_for_slack
from workflows.outcomes import lead_event, record_lead_safely
from workflows.ports import RetryLater, SlackUnavailable
from workflows.texting import once, post_once

log = logging.getLogger(__name__)

MAX_AUDIO_BYTES = 20 * 1024 * 1024  # two minutes of MP3 is about 2 MB
FETCH_TIMEOUT_S = 15.0
# The missed-call job opens the thread within seconds; past this, something else is wrong.
THREAD_WAIT = timedelta(minutes=10)


async def _conversation(svc: Services, job: VoicemailJob | VoicemailTranscriptJob) -> tuple[Line, Conversation] | None:
    line = await svc.lines.line_for_number(job.line)
    if line is None:
        log.error("voicemail for a line that is no longer configured; dropped")
        return None
    caller = caller_from(job.caller, "", line.number)
    conv = await svc.store.open_for(line.number, caller.number)
    if conv is not None and not conv.thread_id and waits_for_slack(conv):
        # Slack is down: the thread comes when it is back, and the voicemail with it.
        raise SlackUnavailable("voicemail waits for the missed call's thread (Slack unavailable)")
    if conv is None or not conv.thread_id:
        if svc.clock.now() - job.at < THREAD_WAIT:
            raise RetryLater("voicemail waits for the missed call's thread")
        log.error("voicemail from %s: no thread to post it in; dropped", mask(caller.number))
        return None
    return line, conv


def recording_media_url(url: str, *, api_url: str) -> str | None:
    """The recording's MP3 URL, only on Twilio's API host (or the configured stand-in/staging host).

    The fetch carries the account's credentials, so it goes over https only. Plain http is
    allowed for one case: the configured API is itself http on a loopback address (the local
    stand-ins of the tests and the demo), where nothing crosses a network.
    """
    if not on_twilio_api(url, api_url=api_url) or "/Recordings/" not in urlsplit(url).path:
        return None
    return url if url.endswith(".mp3") else url + ".mp3"


async def fetch_recording(svc: Services, url: str) -> bytes | None:
    """The recording's audio, or None when it cannot be fetched (the thread then says so)."""
    media = recording_media_url(url, api_url=svc.settings.twilio_api_url)
    if media is None:
        log.warning("voicemail recording URL is not Twilio's over https; not fetched")
        return None
    auth = aiohttp.BasicAuth(svc.settings.twilio_account_sid, svc.settings.twilio_auth_token)
    try:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(media, auth=auth) as resp:
            if resp.status >= 500:
                raise RetryLater(f"recording fetch: HTTP {resp.status}")
            if resp.status != 200:
                log.warning("voicemail recording fetch refused: HTTP %d", resp.status)
                return None
            audio = await resp.content.read(MAX_AUDIO_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RetryLater(f"recording fetch: {exc!r}") from exc
    return audio if 0 < len(audio) <= MAX_AUDIO_BYTES else None


async def voicemail(svc: Services, job_id: str, job: VoicemailJob) -> None:
    found = await _conversation(svc, job)
    if found is None:
        return
    line, conv = found
    steps = RedisSteps(svc.redis.client, job_id)
    now = svc.clock.now()
    uploaded = await steps.get("upload")
    if uploaded is None:
        audio = await fetch_recording(svc, job.url)
        uploaded = "no"
        if audio is not None:
            uploaded = "yes" if await _upload(svc, conv, audio, job.recording_sid) else "no"
        await steps.put("upload", uploaded)
    seconds = job.duration
    text = f"Voicemail, {seconds} s" + (" (transcript to follow)" if line.transcribe else "")
    if uploaded != "yes":
        text += ": the recording could not be copied here; it is in the Twilio console under Recordings"
    await post_once(steps, "note", svc.chat, conv, Entry("system", text + ".", at=now, icon="studio_microphone"), now)
    event = lead_event("voicemail", job_id, conv, now, recording_url=job.url)
    await record_lead_safely(job_id, event, outcomes=ServiceOutcomes(svc))


async def _upload(svc: Services, conv: Conversation, audio: bytes, recording_sid: str) -> bool:
    try:
        await svc.slack.files_upload_v2(
            channel=conv.channel, thread_ts=conv.thread_id, content=audio,
            filename=f"voicemail-{recording_sid or 'call'}.mp3",
            title=f"Voicemail from {conv.caller.display}",
        )
    except SlackApiError as exc:
        if is_transient(exc):
            raise SlackUnavailable(f"voicemail upload: HTTP {exc.response.status_code}") from exc
        log.warning("voicemail upload refused: %s", exc.response.get("error"))
        return False
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackUnavailable(f"voicemail upload: {exc!r}") from exc
    await svc.jobs.slack_answered()
    return True


async def voicemail_transcript(svc: Services, job_id: str, job: VoicemailTranscriptJob) -> None:
    found = await _conversation(svc, job)
    if found is None:
        return
    line, conv = found
    steps = RedisSteps(svc.redis.client, job_id)
    now = svc.clock.now()
    text = job.text.strip()
    if job.status != "completed" or not text:
        note = Entry("system", "The voicemail could not be transcribed; listen to the recording.", at=now,
                     icon="studio_microphone")
        await post_once(steps, "note", svc.chat, conv, note, now)
        return
    entry = Entry("caller", f"(voicemail transcript) {text}", at=now)
    await post_once(steps, "transcript", svc.chat, conv, entry, now)
    event = lead_event("voicemail", job_id, conv, now, recording_url=job.url, transcript=text)
    await once(steps, "lead", lambda: record_lead_safely(job_id, event, outcomes=ServiceOutcomes(svc)))
    # Words from the caller, as a text's are: urgent words page on-call, the ladder restarts.
    await caller_wrote(
        conv, line, text, at=now, store=svc.store, locks=svc.locks, chat=svc.chat, sms=svc.sms, flags=svc.flags,
        deadlines=svc.jobs.deadlines, steps=steps.part("urgent"), now=svc.clock.now(),
    )

