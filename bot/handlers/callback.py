"""Call back from the business number: the card's "Call back" button (a card action job) rings
the presser's phone from the line's number and bridges them to the caller; the bridge's
outcome comes back to `/twilio/voice/callback` and is posted by `callback_outcome`."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from bot import phones
from bot.handlers.outcomes import ServiceOutcomes
from bot.services import Services
from bot.store import keys
from bot.store.conversations import RedisSteps
from workflows.callback import BLOCKED, NO_PHONE, callback_outcome_story, staff_phone
from workflows.conversation import Conversation, Entry
from workflows.jobs import CallbackOutcomeJob
from workflows.lines import Line
from workflows.paging import spoken
from workflows.texting import once

RING_CALLER_S = 30  # how long the caller's phone rings once the staff member answered


async def own_phone(svc: Services, user: str) -> str | None:
    raw = await svc.redis.client.get(keys.staff_phone(user))
    return raw.decode() if isinstance(raw, bytes) else raw


def bridge_twiml(line: Line, conv: Conversation, user: str, outcome_url: str) -> str:
    """What the staff member hears on answering, then the caller's phone rings with the line's
    number as caller ID; the dial's outcome goes to `outcome_url`."""
    resp = VoiceResponse()
    who = spoken(conv.caller.display, conv.caller.number)
    resp.say(f"Connecting you to {who} for {line.business}.")
    dial = resp.dial(caller_id=line.number, timeout=RING_CALLER_S, action=outcome_url, method="POST")
    dial.number(conv.caller.number)
    return str(resp)


async def call_back(svc: Services, conv: Conversation, line: Line, user: str, *, job_id: str, now: datetime) -> str:
    """Ring `user`'s phone and bridge them to the caller (once per press); what to tell them."""
    if conv.caller.kind != "ok":
        return "This caller's number is withheld or invalid: there is nothing to call back."
    if await svc.flags.is_blocked(line.number, conv.caller.number):
        return BLOCKED
    phone = staff_phone(user, await own_phone(svc, user), line)
    if phone is None:
        return NO_PHONE
    query = urlencode({"conv": conv.id, "by": user})
    twiml = bridge_twiml(line, conv, user, f"{svc.settings.public_url}/twilio/voice/callback?{query}")
    steps = RedisSteps(svc.redis.client, job_id)
    # Once per press: a re-run finds the call it placed. (A crash between placing it and this
    # record rings the phone a second time: better than no call back.)
    sid = await steps.get("call")
    if sid is None:
        sid = await svc.pager.place(to=phone, from_=line.number, twiml=twiml) or ""
        await steps.put("call", sid)
    if not sid:
        return f"Twilio refused the call to your phone ({phones.mask(phone)}); nothing was dialled."
    entry = Entry("system", f"is calling {conv.caller.display} back from the business number.", at=now,
                  icon="telephone_receiver", mentions=(user,))
    await once(steps, "noted", lambda: _post(svc, conv, entry))
    return f"Calling your phone ({phones.mask(phone)}) now: answer it to be connected to {conv.caller.display}."


async def _post(svc: Services, conv: Conversation, entry: Entry) -> str:
    return await svc.chat.post_entry(conv, entry) or ""


async def callback_outcome(svc: Services, job_id: str, job: CallbackOutcomeJob) -> None:
    conv = await svc.store.get(job.conv)
    if conv is None:
        return
    await callback_outcome_story(
        conv, job.user, job.status, job.seconds, job_id=job_id, store=svc.store, chat=svc.chat, locks=svc.locks,
        steps=RedisSteps(svc.redis.client, job_id), outcomes=ServiceOutcomes(svc), deadlines=svc.jobs.deadlines,
        now=svc.clock.now(),
    )
