"""The voice routes around a call that are not the missed call itself: call screening's
whisper and its result (a staff phone must press 1), and a call back's outcome."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy
from twilio.twiml.voice_response import VoiceResponse

from bot import phones
from bot.services import Services
from bot.store import keys
from bot.twilio.webhooks import ascii_int, empty, hang_up, signed, xml
from workflows.jobs import CallbackOutcomeJob
from workflows.paging import spoken

SCREEN_DIGIT_WAIT_S = 6  # how long a staff phone has to press 1 after the whisper


def screen_whisper(business: str, caller: str, result_url: str) -> str:
    """What the staff phone hears on answering: who is calling; 1 takes the call, anything
    else (or nothing: a voicemail cannot press keys) hangs that leg up."""
    resp = VoiceResponse()
    gather = resp.gather(num_digits=1, timeout=SCREEN_DIGIT_WAIT_S, action=result_url, method="POST")
    gather.say(f"Call for {business} from {caller}. Press 1 to take it.")
    resp.hangup()
    return str(resp)


async def screen(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """A staff phone answered a screened call: tell them who calls, and wait for their 1."""
    parent, line_number, caller = (request.query.get(k, "") for k in ("parent", "line", "from"))
    line = await svc.lines.line_for_number(line_number)
    if line is None or not parent:
        return xml(hang_up())
    who = spoken(phones.display(caller), caller) if phones.normalize(caller) else "a withheld number"
    result = f"{svc.settings.public_url}/twilio/voice/screen/result?{urlencode({'parent': parent})}"
    return xml(screen_whisper(line.business, who, result))


async def screen_result(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """The staff phone's key: 1 records that a person took the call, and the legs are bridged
    (an empty response); anything else hangs that leg up."""
    parent = request.query.get("parent", "")
    if not parent or params.get("Digits", "").strip() != "1":
        return xml(hang_up())
    await svc.redis.client.set(keys.screen_accepted(parent), "1", ex=keys.SCREEN_TTL_S)
    return xml(empty())


async def callback(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """A call back's bridge ended (the Dial action of the staff member's call): record its
    outcome once per call for the caller's thread, and hang up."""
    conv, by = request.query.get("conv", ""), request.query.get("by", "")
    sid = params.get("CallSid", "")
    if conv and by and sid:
        job = CallbackOutcomeJob(conv=conv, user=by, status=params.get("DialCallStatus", ""),
                                 seconds=ascii_int(params.get("DialCallDuration", "")) or 0)
        await svc.jobs.enqueue(job, claim=keys.claim("callback", sid))
    return xml(hang_up())


def routes() -> list[web.RouteDef]:
    return [
        web.post("/twilio/voice/screen", signed(screen)),
        web.post("/twilio/voice/screen/result", signed(screen_result)),
        web.post("/twilio/voice/callback", signed(callback)),
    ]
