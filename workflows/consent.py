"""Consent: acting on what a caller asks about their texts, and deciding unclear opt-outs.

A caller's STOP, START, HELP or opt-out in their own words (workflows/opt_out.py) is acted on
while their conversation is held, and every one of them, like each decision on an unclear
one, is written to the consent log (`ConsentLog`): when, which line, the message, who decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.conversation import Caller, Conversation, Entry
from workflows.language import language_of
from workflows.lines import Line
from workflows.ports import CallerFlags, ConsentEvent, ConsentLog, SmsSender, StepLog, ThreadChat
from workflows.texting import (
    CONFIRM_WITHIN,
    CONFIRMED_NOTE,
    HELP_LIMITED_NOTE,
    HELP_REPLY_WINDOW_S,
    KEYWORD_NOTES,
    PHRASE_OPT_OUT_NOTE,
    Keyword,
    carrier_answered,
    help_text,
    keyword_of,
    once,
    opt_out_confirmation,
    post_once,
    send_once,
)

__all__ = ["DECIDE_BUTTONS", "OPT_OUT_NO", "OPT_OUT_YES", "CallerRequest", "act_on_request", "decide_opt_out"]

OPT_OUT_YES, OPT_OUT_NO = "tb_optout_yes", "tb_optout_no"
DECIDE_BUTTONS = (("Opt out", OPT_OUT_YES), ("Not an opt-out", OPT_OUT_NO))


@dataclass(frozen=True)
class CallerRequest:
    """A caller's text that asks something about their texts."""

    keyword: Keyword
    message_id: str
    line: Line
    caller: Caller
    body: str
    at: datetime
    opt_out_type: str = ""


def _how(req: CallerRequest) -> str:
    if req.opt_out_type.strip():
        return "twilio"
    return "keyword" if keyword_of(req.body) is not None else "phrase"


async def act_on_request(
    req: CallerRequest, conv: Conversation, *, flags: CallerFlags, sms: SmsSender, chat: ThreadChat,
    steps: StepLog, consent: ConsentLog,
) -> None:
    """Honour the request, say so in the thread, and log it (each once across re-runs)."""
    if req.keyword == "help":
        text, reply = await _help(req, flags=flags, sms=sms, steps=steps)
    elif req.keyword == "maybe_opt_out":
        await flags.hold_for_decision(req.line.number, req.caller.number, req.at)
        text, reply = KEYWORD_NOTES["maybe_opt_out"], ""
    else:
        text, reply = await _opt_out_or_in(req, flags=flags, sms=sms, steps=steps)
    event = "opt_out_unclear" if req.keyword == "maybe_opt_out" else req.keyword
    logged = ConsentEvent(at=req.at, line=req.line.number, caller=req.caller.number, event=event, how=_how(req),
                          message=req.body, by="caller", reply=reply)
    await once(steps, "consent", lambda: consent.record(logged))
    buttons = DECIDE_BUTTONS if req.keyword == "maybe_opt_out" else ()
    note = Entry("system", text, at=req.at, icon="information_source", buttons=buttons)
    await post_once(steps, "entry:keyword", chat, conv, note, req.at)


async def _help(req: CallerRequest, *, flags: CallerFlags, sms: SmsSender, steps: StepLog) -> tuple[str, str]:
    line, caller = req.line, req.caller
    if req.opt_out_type.upper() == "HELP" or caller.kind != "ok":
        # With Advanced Opt-Out, Twilio has already sent the operator's help text.
        return KEYWORD_NOTES["help"], ""
    if not await flags.claim_help_reply(
        line.number, caller.number, now=req.at, window_s=HELP_REPLY_WINDOW_S, owner=req.message_id
    ):
        return HELP_LIMITED_NOTE, ""  # a HELP loop (or an auto-responder) gets one reply, not one each
    body = help_text(line, language_of(req.body))
    await send_once(steps, "help", sms, to=caller.number, from_=line.number, body=body, now=req.at)
    return KEYWORD_NOTES["help"], body


async def _opt_out_or_in(
    req: CallerRequest, *, flags: CallerFlags, sms: SmsSender, steps: StepLog
) -> tuple[str, str]:
    line, caller = req.line, req.caller
    if req.keyword == "opt_in":
        await flags.set_opted_out(line.number, caller.number, False)
        return KEYWORD_NOTES["opt_in"], ""
    # Read before it changes, and kept for re-runs: only a new opt-out is confirmed, once.
    was = await steps.get("was_opted_out")
    if was is None:
        was = "1" if await flags.is_opted_out(line.number, caller.number) else "0"
        await steps.put("was_opted_out", was)
    await flags.set_opted_out(line.number, caller.number, True)
    ours = _how(req) == "phrase" or not carrier_answered(req.body, req.opt_out_type)
    text = PHRASE_OPT_OUT_NOTE if _how(req) == "phrase" else KEYWORD_NOTES["opt_out"]
    if not ours or was == "1" or caller.kind != "ok":
        return text, ""
    body = opt_out_confirmation(line, language_of(req.body))
    result = await send_once(steps, "confirm", sms, to=caller.number, from_=line.number, body=body, now=req.at)
    return (text + CONFIRMED_NOTE, body) if result.ok else (text, "")


async def decide_opt_out(
    conv: Conversation, line: Line, user: str, opt_out: bool, *, flags: CallerFlags,
    sms: SmsSender, chat: ThreadChat, consent: ConsentLog, now: datetime,
) -> str:
    """A person's answer on the "looks like an opt-out" card; returns what to tell them.

    The first answer counts; later presses are told it was decided. "Opt out" within
    CONFIRM_WITHIN of the caller's text also sends the one confirmation text.
    """
    caller = conv.caller.number
    asked_at = await flags.take_decision(line.number, caller)
    if asked_at is None:
        return "Already decided: nothing changed. The thread says who decided."
    reply, late = "", now - asked_at > CONFIRM_WITHIN
    if opt_out:
        await flags.set_opted_out(line.number, caller, True)
        if not late and conv.caller.kind == "ok":
            result = await sms.send_sms(to=caller, from_=line.number, body=opt_out_confirmation(line))
            reply = opt_out_confirmation(line) if result.ok else ""
    event = "decided_opt_out" if opt_out else "decided_not_opt_out"
    await consent.record(ConsentEvent(at=now, line=line.number, caller=caller, event=event, how="slack", by=user,
                                      reply=reply))
    await chat.post_entry(conv, Entry("system", _decided(opt_out, reply, late), at=now, icon="information_source",
                                      mentions=(user,)))
    return "Opted out: no texts will go to this caller." if opt_out else "Noted: not an opt-out."


def _decided(opt_out: bool, reply: str, late: bool) -> str:
    if not opt_out:
        return "decided this was not an opt-out: automatic texts to this number are allowed again."
    said = "decided this was an opt-out: no texts will be sent to this number."
    if reply:
        return said + CONFIRMED_NOTE
    return said + (" No confirmation text: over 5 minutes have passed since the request." if late else "")
