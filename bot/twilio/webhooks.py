"""Twilio webhook routes: verify the signature, parse, hand to a workflow, answer TwiML."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from bot import phones
from bot.services import SERVICES, Services
from bot.twilio import signature, twiml
from workflows.bursts import flush_held
from workflows.conversation import Caller
from workflows.delivery import DeliveryReport, handle_delivery_report
from workflows.lines import Line
from workflows.mirror import InboundSms, handle_caller_sms
from workflows.missed_call import (
    MissedCall,
    dial_means_missed,
    handle_missed_call,
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


def caller_of(params: MultiDictProxy[str], line: Line) -> Caller:
    """The caller as Twilio reported it (withheld IDs and short codes classified)."""
    raw = params.get("From", "").strip()
    kind = phones.classify_caller(raw)
    number = (phones.normalize(raw) or raw) if kind == "ok" else raw
    display = phones.display(number) if kind == "ok" else (raw or "unknown caller")
    if kind == "withheld":
        display = "withheld number"
    abroad = kind == "ok" and phones.country_code(number) != phones.country_code(line.number)
    name = params.get("CallerName", "").strip()
    return Caller(number=number, display=display, kind=kind, name=name, international=abroad)


def line_of(svc: Services, params: MultiDictProxy[str]) -> Line | None:
    to = phones.normalize(params.get("To", "")) or params.get("To", "")
    return svc.settings.config.line_for_number(to)


async def voice(request: web.Request, svc: Services, params: MultiDictProxy[str]) -> web.Response:
    """Incoming call: ring the staff phones, or count it as missed straight away."""
    line = line_of(svc, params)
    if line is None:
        log.warning("call to a number with no line configured")
        return xml(twiml.not_configured())
    now = svc.clock.now()
    if skip_ringing(line, now):
        await start_missed_call(svc, line, params)
        return xml(twiml.missed(line.business))
    action = f"{svc.settings.public_url}/twilio/voice/dial-status?line={quote(line.number)}"
    return xml(twiml.ring(line.forward_to, timeout=line.ring_timeout, action=action))


async def dial_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """The staff phones stopped ringing: missed unless someone picked up."""
    line = line_of(svc, params)
    if line is None:
        return xml(twiml.hang_up())
    if not dial_means_missed(params.get("DialCallStatus", "")):
        return xml(twiml.hang_up())
    await start_missed_call(svc, line, params)
    return xml(twiml.missed(line.business))


async def start_missed_call(svc: Services, line: Line, params: MultiDictProxy[str]) -> None:
    """Claim the CallSid (Twilio retries) and start the text-back without waiting for it."""
    call_sid = params.get("CallSid", "")
    if not call_sid or not await svc.store.claim("missed", call_sid):
        return
    call = MissedCall(call_id=call_sid, line=line, caller=caller_of(params, line), at=svc.clock.now())
    svc.tasks.spawn(
        handle_missed_call(
            call, store=svc.store, sms=svc.sms, chat=svc.chat, locks=svc.locks, flags=svc.flags,
            now=call.at,
        ),
        name=f"missed:{call_sid}",
    )


async def recording(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """Voicemail callbacks: accepted and acknowledged (voicemail posting comes later)."""
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
    line = line_of(svc, params)
    sid = params.get("MessageSid", "")
    if line is None or not sid:
        return xml(twiml.empty())
    if await svc.store.claim("sms", sid):
        msg = InboundSms(
            message_id=sid,
            line=line,
            caller=caller_of(params, line),
            body=params.get("Body", ""),
            media=media_of(params),
            at=svc.clock.now(),
            opt_out_type=params.get("OptOutType", ""),
        )
        svc.tasks.spawn(mirror_caller_sms(svc, msg), name=f"sms:{sid}")
    return xml(twiml.empty())


async def mirror_caller_sms(svc: Services, msg: InboundSms) -> None:
    """Mirror one caller text; the first text held in a burst arms the grouped post."""
    conv, outcome = await handle_caller_sms(
        msg, store=svc.store, chat=svc.chat, locks=svc.locks, flags=svc.flags, sms=svc.sms,
        bursts=svc.bursts,
    )
    if outcome == "hold_first":
        svc.tasks.spawn(flush_burst_later(svc, conv.id), name=f"burst:{conv.id}")


async def flush_burst_later(svc: Services, conv_id: str) -> None:
    await asyncio.sleep(svc.burst_flush_s)
    await flush_held(
        conv_id, store=svc.store, bursts=svc.bursts, chat=svc.chat, locks=svc.locks, now=svc.clock.now()
    )


async def sms_status(
    request: web.Request, svc: Services, params: MultiDictProxy[str]
) -> web.Response:
    """Delivery reports for our outbound SMS: shown on the team member's message."""
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status and await svc.store.claim("status", f"{sid}:{status}"):
        code = params.get("ErrorCode", "")
        report = DeliveryReport(sid=sid, status=status, error_code=int(code) if code.isdigit() else None)
        svc.tasks.spawn(handle_delivery_report(report, store=svc.store, chat=svc.chat, flags=svc.flags), name=f"dlr:{sid}")
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/twilio/voice", signed(voice)),
        web.post("/twilio/voice/dial-status", signed(dial_status)),
        web.post("/twilio/voice/recording", signed(recording)),
        web.post("/twilio/sms", signed(sms)),
        web.post("/twilio/sms/status", signed(sms_status)),
    ]
