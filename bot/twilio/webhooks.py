"""Twilio webhook routes: verify the signature, parse, hand to a workflow, answer TwiML."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import MultiDictProxy

from bot import phones
from bot.services import SERVICES, Services
from bot.store import keys
from bot.twilio import signature, twiml
from workflows.jobs import CallerSmsJob, DeliveryJob, MissedCallJob, VoicemailJob, VoicemailTranscriptJob
from workflows.lines import Line
from workflows.missed_call import (
    dial_means_missed,
    skip_ringing,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, Services, MultiDictProxy[str]], Awaitable[web.Response]]


def signed(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Refuse (403, no side effect) any request whose X-Twilio-Signature does not match."""

    async def route(request: web.Request) -> web.Response:
        svc = request.app[SERVICES]
        try:
            # Twilio posts urlencoded forms, so every value is a str (files only come multipart).
            params = cast(MultiDictProxy[str], await request.post())
        except (UnicodeDecodeError, ValueError):
            log.warning("refused %s: unreadable form body", request.path)
            return web.Response(status=400)
        url = signature.public_request_url(svc.settings.public_url, request.raw_path)
        token = svc.settings.twilio_auth_token
        if not signature.verify(url, params, request.headers.get("X-Twilio-Signature"), token):
            log.warning("refused %s: bad or missing Twilio signature", request.path)
            return web.Response(status=403)
        account = params.get("AccountSid")
        if account and account != svc.settings.twilio_account_sid:
            log.warning("refused %s: request for another Twilio account", request.path)
            return web.Response(status=403)
        return await handler(request, svc, params)

    return route


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


async def line_of(svc: Services, params: MultiDictProxy[str]) -> Line | None:
    raw = params.get("To", "")
    to = phones.normalize(raw) or raw
    # Effective settings: the lines file with any changes made from Slack on top.
    return await svc.lines.line_for_number(to)


async def voice(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """Incoming call: ring the staff phones, or count it as missed straight away."""
    line = await line_of(svc, params)
    if line is None:
        log.warning("call to a number with no line configured")
        return xml(twiml.not_configured())
    now = svc.clock.now()
    if skip_ringing(line, now):
        await start_missed_call(svc, line, params)
        return xml(missed_answer(svc, line, params))
    action = f"{svc.settings.public_url}/twilio/voice/dial-status?line={quote(line.number)}"
    return xml(twiml.ring(line.forward_to, timeout=line.ring_timeout, action=action))


async def dial_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """The staff phones stopped ringing: missed unless someone picked up."""
    line = await line_of(svc, params)
    if line is None:
        return xml(twiml.hang_up())
    if not dial_means_missed(params.get("DialCallStatus", "")):
        return xml(twiml.hang_up())
    await start_missed_call(svc, line, params)
    return xml(missed_answer(svc, line, params))


def missed_answer(svc: Services, line: Line, params: MultiDictProxy[str]) -> str:
    """The greeting, and the voicemail prompt on lines that take messages."""
    if not line.voicemail:
        return twiml.missed(line.business)
    # The line and caller travel in the (signed) callback URL: recording callbacks may not
    # carry From and To.
    query = urlencode({"line": line.number, "from": params.get("From", "")})
    url = f"{svc.settings.public_url}/twilio/voice/recording?{query}"
    return twiml.missed(line.business, voicemail_url=url, transcribe=line.transcribe)


async def start_missed_call(svc: Services, line: Line, params: MultiDictProxy[str]) -> None:
    """Record the missed call as a job (once per CallSid: Twilio retries) before answering."""
    call_sid = params.get("CallSid", "")
    if not call_sid:
        return
    job = MissedCallJob(call_sid=call_sid, line=line.number, caller=params.get("From", ""),
                        caller_name=params.get("CallerName", ""), at=svc.clock.now())
    if await svc.jobs.enqueue(job, claim=keys.claim("missed", call_sid)):
        svc.lane.enter(call_sid)  # this instance's other work waits for the text-back


async def recording(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """The voicemail's three callbacks, told apart by `kind` in the URL we gave Twilio.

    `done` (the <Record> action) only ends the call; `status` (completed) posts the message;
    `transcript` posts its text when the line transcribes.
    """
    kind, line_number, caller = (request.query.get(k, "") for k in ("kind", "line", "from"))
    line = await svc.lines.line_for_number(line_number)
    if line is None or kind not in ("status", "transcript"):
        return xml(twiml.hang_up())
    call_sid, recording_sid = params.get("CallSid", ""), params.get("RecordingSid", "")
    url, now = params.get("RecordingUrl", ""), svc.clock.now()
    if kind == "status" and params.get("RecordingStatus") == "completed" and url:
        duration = params.get("RecordingDuration", "0")
        job = VoicemailJob(line=line.number, caller=caller, call_sid=call_sid, recording_sid=recording_sid,
                           url=url, at=now, duration=int(duration) if duration.isdigit() else 0)
        await svc.jobs.enqueue(job, claim=keys.claim("voicemail", recording_sid or call_sid))
    elif kind == "transcript" and params.get("TranscriptionStatus") in ("completed", "failed"):
        transcript = VoicemailTranscriptJob(
            line=line.number, caller=caller, call_sid=call_sid, recording_sid=recording_sid, url=url, at=now,
            text=params.get("TranscriptionText", ""), status=params.get("TranscriptionStatus", ""),
        )
        claim = keys.claim("transcript", params.get("TranscriptionSid", "") or recording_sid or call_sid)
        await svc.jobs.enqueue(transcript, claim=claim)
    return xml(twiml.hang_up())


def media_of(params: MultiDictProxy[str]) -> tuple[str, ...]:
    try:
        count = min(int(params.get("NumMedia", "0") or 0), 10)
    except ValueError:
        count = 0
    urls = (params.get(f"MediaUrl{i}", "") for i in range(count))
    return tuple(u for u in urls if u)


async def sms(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """A caller texted a line: mirror it into Slack. Nothing is texted back automatically."""
    line = await line_of(svc, params)
    sid = params.get("MessageSid", "")
    if line is None or not sid:
        return xml(twiml.empty())
    job = CallerSmsJob(sid=sid, line=line.number, caller=params.get("From", ""), body=params.get("Body", ""),
                       media=media_of(params), opt_out_type=params.get("OptOutType", ""), at=svc.clock.now())
    # The same caller key the job will use (withheld and invalid IDs stay as sent).
    caller = phones.caller_from(params.get("From", ""), "", line.number).number
    await svc.jobs.enqueue(
        job, claim=keys.claim("sms", sid), sequence=keys.text_sequence(line.number, caller)
    )
    return xml(twiml.empty())


async def sms_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """Delivery reports for our outbound SMS: shown on the team member's message."""
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status:
        code = params.get("ErrorCode", "")
        report = DeliveryJob(sid=sid, status=status, error_code=int(code) if code.isdigit() else None)
        await svc.jobs.enqueue(report, claim=keys.claim("status", f"{sid}:{status}"))
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/twilio/voice", signed(voice)),
        web.post("/twilio/voice/dial-status", signed(dial_status)),
        web.post("/twilio/voice/recording", signed(recording)),
        web.post("/twilio/sms", signed(sms)),
        web.post("/twilio/sms/status", signed(sms_status)),
    ]
