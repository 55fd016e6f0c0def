"""Twilio's door: verify a webhook's signature, parse it, record its job, answer TwiML.

Everything Twilio's requests and our answers look like is here: the X-Twilio-Signature check
(and `compute`, which signs requests in tests, the demo and the benchmarks), the routes, and
the TwiML documents the voice routes answer with.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from bot import phones
from bot.services import SERVICES, Services
from bot.store import keys
from workflows.jobs import (
    CallerSmsJob,
    DeliveryJob,
    MissedCallJob,
    VoicemailJob,
    VoicemailTranscriptJob,
)
from workflows.lines import Line
from workflows.missed_call import (
    MissedCall,
    TextbackPlan,
    decide_in_webhook,
    dial_means_missed,
    greeting_text,
    screened_out,
    send_from_webhook,
    skip_ringing,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, Services, MultiDictProxy[str]], Awaitable[web.Response]]
Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _multidict(params: Params | None) -> Any:
    """Params in a shape RequestValidator reads: anything with `getall` keeps repeated names."""
    if params is None:
        return MultiDict()
    if hasattr(params, "getall") or hasattr(params, "getlist"):
        # aiohttp's MultiDictProxy (and Flask/Django multidicts) already carry every value.
        return params
    items = params.items() if isinstance(params, Mapping) else params
    return MultiDict(items)


def compute(url: str, params: Params, auth_token: str) -> str:
    """The signature Twilio sends for a POST of `params` to `url` (PROTOCOLS 3.1)."""
    return str(RequestValidator(auth_token).compute_signature(url, _multidict(params)))


def verify(url: str, params: Params | str | None, signature: str | None, auth_token: str) -> bool:
    """Constant-time check of a webhook's signature against the URL Twilio requested.

    twilio-python's validator is used as is: it signs every distinct value of repeated
    parameters and accepts the URL with or without the default port, since Twilio's own
    signing is inconsistent about it. A `str` body is a JSON webhook (`bodySHA256=`).
    """
    if not signature or not auth_token:
        return False
    body = params if isinstance(params, str) else _multidict(params)
    return bool(RequestValidator(auth_token).validate(url, body, signature))


def public_request_url(public_url: str, raw_path: str) -> str:
    """The URL Twilio requested: behind Fly's proxy `request.url` says http, so never use it."""
    return public_url.rstrip("/") + raw_path


FORM = "application/x-www-form-urlencoded"
SMALL_INT = re.compile(r"[0-9]{1,9}")  # every count, duration and error code Twilio sends
UTF8_NAMES = ("utf-8", "utf8", "us-ascii", "ascii")  # ASCII is UTF-8's subset


def read_form(content_type: str, charset: str | None, body: bytes) -> MultiDictProxy[str] | None:
    """The form Twilio posted, or None for anything else (multipart, another charset, bytes
    that are not UTF-8): every value a str, and no parser that can raise on what a stranger sends.

    Twilio posts urlencoded UTF-8 only, so a body in any other shape is refused before its
    signature is checked.
    """
    if content_type != FORM or (charset is not None and charset.lower() not in UTF8_NAMES):
        return None
    try:
        # As aiohttp's request.post() reads a form, but strict about UTF-8.
        pairs = parse_qsl(body.rstrip().decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return None
    return MultiDictProxy(MultiDict(pairs))


def ascii_int(value: str) -> int | None:
    """`value` as an int when it is 1-9 ASCII digits, else None. Not `str.isdigit()`: it says
    yes to "²", which `int()` refuses, and `int()` refuses more than 4,300 digits too."""
    return int(value) if SMALL_INT.fullmatch(value) else None


def signed(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Refuse (403, no side effect) any request whose X-Twilio-Signature does not match."""

    async def route(request: web.Request) -> web.Response:
        svc = request.app[SERVICES]
        params = read_form(request.content_type, request.charset, await request.read())
        if params is None:
            log.warning("refused %s: not a UTF-8 urlencoded form", request.path)
            return web.Response(status=400)
        url = public_request_url(svc.settings.public_url, request.raw_path)
        token = svc.settings.twilio_auth_token
        if not verify(url, params, request.headers.get("X-Twilio-Signature"), token):
            log.warning("refused %s: bad or missing Twilio signature", request.path)
            return web.Response(status=403)
        account = params.get("AccountSid")
        if account and account != svc.settings.twilio_account_sid:
            log.warning("refused %s: request for another Twilio account", request.path)
            return web.Response(status=403)
        return await handler(request, svc, params)

    return route


def first(route: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A voice webhook goes before jobs on this instance (the fast lane): the caller waits on
    the line for its answer, and a missed call's text-back leaves right after it."""

    async def in_lane(request: web.Request) -> web.Response:
        lane, key = request.app[SERVICES].jobs.lane, f"webhook:{id(request)}"
        lane.enter(key)
        try:
            return await route(request)
        finally:
            lane.leave(key)

    return in_lane


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


NOT_CONFIGURED = "Sorry, this number is not set up yet. Goodbye."


def ring(numbers: Sequence[str], *, timeout: int, action: str, screen_url: str = "") -> str:
    """Ring the staff phones at once; Twilio then reports the outcome to `action`. With
    `screen_url`, a phone that answers first hears who is calling and must press 1 (PROTOCOLS
    1.3); the caller keeps hearing ringing meanwhile (answerOnBridge)."""
    resp = VoiceResponse()
    dial = resp.dial(timeout=timeout, action=action, method="POST", answer_on_bridge=True)
    for number in numbers:
        if screen_url:
            dial.number(number, url=screen_url, method="POST")
        else:
            dial.number(number)
    return str(resp)


# After the greeting, on lines that take messages: "Or…" follows "we just sent you a text".
VOICEMAIL_PROMPT = {True: "Or leave a message after the tone.", False: "Please leave a message after the tone."}
VOICEMAIL_MAX_S = 120  # Twilio transcribes recordings up to 2 minutes


def missed(greeting: str, *, texted: bool = True, voicemail_url: str = "", transcribe: bool = False) -> str:
    """The caller hears the line's greeting (which says a text is on its way only when
    `texted`), and may leave a message.

    `voicemail_url` is the recording route with its query; `kind=` tells its three callbacks apart.
    """
    if not voicemail_url:
        return _greeting_only(greeting)
    resp = VoiceResponse()
    resp.say(f"{greeting} {VOICEMAIL_PROMPT[texted]}")
    extra = {"transcribe": True, "transcribe_callback": f"{voicemail_url}&kind=transcript"} if transcribe else {}
    resp.record(
        action=f"{voicemail_url}&kind=done", method="POST", max_length=VOICEMAIL_MAX_S, timeout=5, play_beep=True,
        trim="trim-silence", recording_status_callback=f"{voicemail_url}&kind=status",
        recording_status_callback_event="completed absent", **extra,
    )
    # An empty recording does not request `action`: Twilio runs the next verb.
    resp.hangup()
    return str(resp)


# TwiML is built with the twilio library's XML tree, a tenth of a millisecond a time. A line's
# greeting repeats, so that answer is built once; one with a voicemail URL names the caller,
# and is neither repeated nor kept.
@lru_cache(maxsize=256)
def _greeting_only(greeting: str) -> str:
    resp = VoiceResponse()
    resp.say(greeting)
    resp.hangup()
    return str(resp)


@cache
def hang_up() -> str:
    resp = VoiceResponse()
    resp.hangup()
    return str(resp)


@cache
def not_configured() -> str:
    resp = VoiceResponse()
    resp.say(NOT_CONFIGURED)
    resp.hangup()
    return str(resp)


@cache
def empty() -> str:
    """An empty response: for SMS it sends nothing back (we send through REST)."""
    return str(VoiceResponse())


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
        return xml(not_configured())
    now = svc.clock.now()
    if skip_ringing(line, now):
        texted = await start_missed_call(svc, line, params)
        return xml(missed_answer(svc, line, params, texted=texted))
    action = f"{svc.settings.public_url}/twilio/voice/dial-status?line={quote(line.number)}"
    screen_url = ""
    if line.screen:
        query = urlencode({"parent": params.get("CallSid", ""), "line": line.number, "from": params.get("From", "")})
        screen_url = f"{svc.settings.public_url}/twilio/voice/screen?{query}"
    return xml(ring(line.forward_to, timeout=line.ring_timeout, action=action, screen_url=screen_url))


async def dial_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """The staff phones stopped ringing: missed unless someone picked up."""
    line = await line_of(svc, params)
    if line is None:
        return xml(hang_up())
    status = params.get("DialCallStatus", "")
    screened = False
    if not dial_means_missed(status):
        # Twilio says "completed" for a voicemail or a decline too: with screening, answered
        # means someone pressed 1 (our record), not the status alone.
        accepted = line.screen and bool(await svc.redis.client.exists(keys.screen_accepted(params.get("CallSid", ""))))
        screened = screened_out(status, screening=line.screen, accepted=accepted)
        if not screened:
            return xml(hang_up())
    texted = await start_missed_call(svc, line, params, screened=screened)
    return xml(missed_answer(svc, line, params, texted=texted))


def missed_answer(svc: Services, line: Line, params: MultiDictProxy[str], *, texted: bool) -> str:
    """The greeting (true to whether a text-back is being sent), and the voicemail prompt on
    lines that take messages."""
    greeting = greeting_text(line, svc.clock.now(), texted=texted)
    if not line.voicemail:
        return missed(greeting, texted=texted)
    # The line and caller travel in the (signed) callback URL: recording callbacks may not
    # carry From and To.
    query = urlencode({"line": line.number, "from": params.get("From", "")})
    url = f"{svc.settings.public_url}/twilio/voice/recording?{query}"
    return missed(greeting, texted=texted, voicemail_url=url, transcribe=line.transcribe)


async def start_missed_call(svc: Services, line: Line, params: MultiDictProxy[str], *, screened: bool = False) -> bool:
    """Decide the text-back and record the call's job in one step (once per CallSid: Twilio
    retries), before answering; the text leaves right after the answer, from this instance.
    True when a text-back is being sent (False too for a retry of a call already decided: the
    greeting then promises nothing)."""
    call_sid = params.get("CallSid", "")
    if not call_sid:
        return False
    started, now = time.perf_counter(), svc.clock.now()
    job = MissedCallJob(call_sid=call_sid, line=line.number, caller=params.get("From", ""),
                        caller_name=params.get("CallerName", ""), at=now, screened=screened)
    # The job shows the caller in Slack; deciding the text needs only the number and its kind.
    caller = phones.caller_from(job.caller, job.caller_name, line.number, shown=False)
    call = MissedCall(call_id=call_sid, line=line, caller=caller, at=now)
    job_id = keys.missed_call_job(call_sid)
    plan = await decide_in_webhook(call, job, job_id=job_id, record=svc.textbacks, flags=svc.flags,
                                  lookup=svc.line_types, now=now)
    if plan is None or not plan.send:
        return False
    svc.jobs.lane.enter(job_id)  # jobs on this instance wait for the text-back (bounded)
    svc.tasks.spawn(_text_back(svc, call, plan, job_id, started), name=f"textback:{call_sid}")
    return True


async def _text_back(svc: Services, call: MissedCall, plan: TextbackPlan, job_id: str, started: float) -> None:
    try:
        result = await send_from_webhook(call, plan, job_id=job_id, sms=svc.sms, record=svc.textbacks, now=call.at)
    finally:
        svc.jobs.lane.leave(job_id)
        held = svc.textbacks.take_held(job_id)
        svc.textbacks.forget(job_id)
    if held is not None:  # the call's job (thread, card, lead) runs here, now, not via the stream
        svc.jobs.run_held(job_id, held.kind, held.args, gen=held.gen, born_ms=held.born_ms, steps=held.steps)
    if result.ok:  # for /metrics: from the missed call's webhook to the SMS accepted
        svc.metrics.textback_latency.observe(time.perf_counter() - started)


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
        return xml(hang_up())
    call_sid, recording_sid = params.get("CallSid", ""), params.get("RecordingSid", "")
    url, now = params.get("RecordingUrl", ""), svc.clock.now()
    if kind == "status" and params.get("RecordingStatus") == "completed" and url:
        duration = params.get("RecordingDuration", "0")
        job = VoicemailJob(line=line.number, caller=caller, call_sid=call_sid, recording_sid=recording_sid,
                           url=url, at=now, duration=ascii_int(duration) or 0)
        await svc.jobs.enqueue(job, claim=keys.claim("voicemail", recording_sid or call_sid))
    elif kind == "transcript" and params.get("TranscriptionStatus") in ("completed", "failed"):
        transcript = VoicemailTranscriptJob(
            line=line.number, caller=caller, call_sid=call_sid, recording_sid=recording_sid, url=url, at=now,
            text=params.get("TranscriptionText", ""), status=params.get("TranscriptionStatus", ""),
        )
        claim = keys.claim("transcript", params.get("TranscriptionSid", "") or recording_sid or call_sid)
        await svc.jobs.enqueue(transcript, claim=claim)
    return xml(hang_up())


def media_of(params: MultiDictProxy[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The MMS attachments: their URLs and, one for each, the content type Twilio announced."""
    count = min(ascii_int(params.get("NumMedia", "")) or 0, 10)
    found = [(params.get(f"MediaUrl{i}", ""), params.get(f"MediaContentType{i}", "")) for i in range(count)]
    found = [(url, kind) for url, kind in found if url]
    return tuple(url for url, _ in found), tuple(kind for _, kind in found)


async def sms(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """A caller texted a line: mirror it into Slack. Nothing is texted back automatically."""
    line = await line_of(svc, params)
    sid = params.get("MessageSid", "")
    if line is None or not sid:
        return xml(empty())
    urls, types = media_of(params)
    job = CallerSmsJob(sid=sid, line=line.number, caller=params.get("From", ""), body=params.get("Body", ""),
                       media=urls, media_types=types, opt_out_type=params.get("OptOutType", ""), at=svc.clock.now())
    # The same caller key the job will use (withheld and invalid IDs stay as sent).
    caller = phones.caller_from(params.get("From", ""), "", line.number).number
    retention = svc.settings.config.retention_days
    await svc.jobs.enqueue(
        job, claim=keys.claim("sms", sid), sequence=keys.text_sequence(line.number, caller),
        sequence_ttl_s=retention * 86400 if retention else None,
    )
    return xml(empty())


async def sms_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """Delivery reports for our outbound SMS: shown on the team member's message."""
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status:
        code = params.get("ErrorCode", "")
        report = DeliveryJob(sid=sid, status=status, error_code=ascii_int(code))
        await svc.jobs.enqueue(report, claim=keys.claim("status", f"{sid}:{status}"))
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/twilio/voice", first(signed(voice))),
        web.post("/twilio/voice/dial-status", first(signed(dial_status))),
        web.post("/twilio/voice/recording", signed(recording)),
        web.post("/twilio/sms", signed(sms)),
        web.post("/twilio/sms/status", signed(sms_status)),
    ]
