"""Missed call -> instant text-back -> Slack thread -> figures, lead, reminders (PRODUCT §2.1).

`missed_call_story` tells it in order; the rest of this module is its steps.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from workflows.conversation import Caller, Conversation, Entry, SmsResult, TextbackState
from workflows.conversation_state import WAITING
from workflows.delivery import early_report_shown
from workflows.durations import format_duration
from workflows.follow_through import mark_waiting, start_waiting
from workflows.lines import OPT_OUT_FOOTER, OPT_OUT_FOOTER_ES, Line, describe_next_open, hours_today, is_open
from workflows.outcomes import caller_key, lead_event, record_outcome
from workflows.ports import (
    CallerFlags,
    ConversationLocks,
    ConversationStore,
    Deadlines,
    Figures,
    LineTypes,
    Outcomes,
    SlackUnavailable,
    SmsSender,
    StepLog,
    TextbackAsk,
    TextbackRecord,
    ThreadChat,
)
from workflows.texting import (
    POST_LOOKBACK,
    answer_record,
    learn_from_refusal,
    lookup_guard,
    once,
    post_once,
    render,
    send_once,
    sending_mark,
    static_guard,
)

# DialCallStatus values that mean nobody picked up (PROTOCOLS 1.2).
MISSED_DIAL_STATUSES = frozenset({"no-answer", "busy", "failed", "canceled"})
# How the plan says a repeat call inside the cooldown gets no second text.
COOLDOWN_REASON = "already texted"
# The step log's name for the text-back.
TEXTBACK_STEP = "textback"
# A missed call's job waits this long for the webhook's send to be answered; after a crash in
# between it runs then, and asks Twilio whether the text went. Longer than any send may take.
RECOVER_AFTER = timedelta(seconds=30)
# When the job itself sends (an older version recorded it, or a crash), the card waits this
# long for the answer before it is posted showing the text-back as pending.
SHOW_SEND_WITHIN_S = 1.0


def dial_means_missed(dial_call_status: str) -> bool:
    """True when the staff phones did not take the call."""
    return dial_call_status.strip().lower() in MISSED_DIAL_STATUSES


# Twilio reports a leg answered by a person or by a staff phone's voicemail alike.
ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})
SCREENED_NOTE = ("A staff phone answered but nobody pressed 1 to take the call (declined, or its voicemail "
                 "picked up): counted as missed.")


def screened_out(dial_call_status: str, *, screening: bool, accepted: bool) -> bool:
    """True when Twilio says a staff phone answered, but screening says nobody took the call:
    with screening, a call is answered only when someone pressed 1 (our own record)."""
    return screening and dial_call_status.strip().lower() in ANSWERED_DIAL_STATUSES and not accepted


def skip_ringing(line: Line, now: datetime) -> bool:
    """True when a call should count as missed at once instead of ringing staff phones."""
    if line.detection == "forwarded" or not line.forward_to:
        return True
    return not line.ring_after_hours and not is_open(line.hours, line.timezone, now)


@dataclass(frozen=True)
class MissedCall:
    """A call nobody answered, as the voice webhook reported it."""

    call_id: str
    line: Line
    caller: Caller
    at: datetime
    screened: bool = False  # answered by a staff phone, but nobody pressed 1 (declined or voicemail)

    @property
    def conversation_id(self) -> str:
        """The id a conversation opened by this call gets: stable across re-runs of the job."""
        return "c" + self.call_id[-16:]


@dataclass(frozen=True)
class TextbackPlan:
    send: bool
    body: str = ""
    reason: str = ""  # why no text, when send is False


def textback_body(line: Line, *, now: datetime, first_text: bool, spanish: bool = False) -> str:
    """The business-hours or after-hours text, with placeholders filled ("" when `spanish` and
    the line has no Spanish one)."""
    open_now = is_open(line.hours, line.timezone, now)
    t = line.templates
    if spanish:
        template = t.business_hours_es if open_now else t.after_hours_es
        if not template:
            return ""
    else:
        template = t.business_hours if open_now else t.after_hours
    body = render(
        template,
        business=line.business,
        booking_url=line.booking_url,
        hours_today=hours_today(line.hours, line.timezone, now),
        next_open=describe_next_open(line.hours, line.timezone, now),
    )
    if first_text and line.opt_out_footer and "STOP" not in body.upper():
        body += OPT_OUT_FOOTER_ES if spanish else OPT_OUT_FOOTER
    return body


async def textback_ask(
    call: MissedCall, now: datetime, flags: CallerFlags, lookup: LineTypes | None
) -> TextbackAsk:
    """What the step deciding the text-back needs: what the call alone rules out, the carrier
    lookup's verdict (before the cooldown claim, so a landline does not use up the window; an
    unknown type lets the text go), and both texts (the footer goes on a caller's first)."""
    line, number = call.line, call.caller.number
    reason = static_guard(line, call.caller)
    if not reason and line.lookup and lookup is not None:
        # The paid lookup only for a caller no other guard stops (the step checks them again).
        reason = await flags.suppression(line.number, number) or lookup_guard(await lookup.line_type(number))
    return TextbackAsk(
        owner=call.call_id, line=line.number, caller=number, cooldown_s=max(1, line.cooldown), reason=reason,
        cooldown_reason=f"{COOLDOWN_REASON} within the {format_duration(line.cooldown)} cooldown",
        first_body=textback_body(line, now=now, first_text=True),
        later_body=textback_body(line, now=now, first_text=False),
        first_body_es=textback_body(line, now=now, first_text=True, spanish=True),
        later_body_es=textback_body(line, now=now, first_text=False, spanish=True),
    )


async def decide_in_webhook(
    call: MissedCall, job: object, *, job_id: str, record: TextbackRecord, flags: CallerFlags,
    lookup: LineTypes | None, now: datetime,
) -> TextbackPlan | None:
    """The webhook's part, before it answers Twilio: decide whether the caller gets a text and
    record the call's job, in one step (None: Twilio repeated a call already recorded). The
    text then goes from the webhook (`send_from_webhook`); the job does the Slack work."""
    ask = await textback_ask(call, now, flags, lookup)
    decided = await record.decide(ask, job_id=job_id, job=job, now=now, recover_at=now + RECOVER_AFTER)
    if decided is None:
        return None
    send, body, reason = decided
    return TextbackPlan(send=send, body=body, reason=reason)


async def send_from_webhook(
    call: MissedCall, plan: TextbackPlan, *, job_id: str, sms: SmsSender, record: TextbackRecord, now: datetime
) -> SmsResult:
    """Send the text-back, log its answer, and let the job run. A crash before the answer is
    logged leaves the plan without it: the job runs after RECOVER_AFTER and asks Twilio."""
    result = await sms.send_sms(to=call.caller.number, from_=call.line.number, body=plan.body)
    await record.answered(job_id, TEXTBACK_STEP, answer_record(result, now, held=True))
    return result


async def _plan_once(
    call: MissedCall, record: TextbackRecord, flags: CallerFlags, steps: StepLog, now: datetime,
    lookup: LineTypes | None,
) -> TextbackPlan:
    """The plan is decided once per job: usually in the webhook, which logged it. A job an
    older version recorded decides here; a re-run must not find its own cooldown and skip."""
    raw = await steps.get("plan")
    if raw is None:
        send, body, reason = await record.plan(await textback_ask(call, now, flags, lookup))
        plan = TextbackPlan(send=send, body=body, reason=reason)
        await steps.put("plan", json.dumps(asdict(plan)))
        return plan
    plan = TextbackPlan(**json.loads(raw))
    if plan.send and await steps.get(TEXTBACK_STEP) is None:
        # The webhook logs no "sending" mark: its plan to send, with no answer logged, says the
        # request may have left (the process died, or the send outlasted RECOVER_AFTER). Marked
        # as of the call, so the send looks in Twilio's Messages list before it texts.
        await steps.put(TEXTBACK_STEP, sending_mark(call.at))
    return plan


async def missed_call_story(
    call: MissedCall,
    *,
    job_id: str,
    store: ConversationStore,
    sms: SmsSender,
    chat: ThreadChat,
    locks: ConversationLocks,
    flags: CallerFlags,
    record: TextbackRecord,
    lookup: LineTypes | None,
    steps: StepLog,
    outcomes: Outcomes,
    deadlines: Deadlines,
    now: datetime,
) -> Conversation:
    """A missed call's job, in order: the text-back (usually sent by the webhook already, which
    logged it), open (or continue) the caller's thread and count the call, start the reminder
    ladder, then the day's figures and the lead. Safe to re-run: `steps` logs each effect."""
    plan = await _plan_once(call, record, flags, steps, now, lookup)
    conv = await _text_back_and_thread(
        call, plan, store=store, sms=sms, chat=chat, locks=locks, flags=flags, steps=steps, deadlines=deadlines,
        now=now,
    )
    lead = lead_event("missed_call", job_id, conv, call.at) if call.caller.kind == "ok" else None
    await record_outcome("missed call", job_id, missed_call_figures(call, plan, conv), lead,
                         steps=steps, outcomes=outcomes)
    return conv


def missed_call_figures(call: MissedCall, plan: TextbackPlan, conv: Conversation) -> Figures:
    """What a missed call adds to its line's day."""
    line, at, caller = call.line.number, call.at, caller_key(call.line.number, call.caller)
    if not plan.send:
        # A repeat inside the cooldown was texted the first time: it is no "not texted".
        counted = ("missed",) if plan.reason.startswith(COOLDOWN_REASON) else ("missed", "not_texted")
        return Figures(line, at, counted, no_text=plan.reason, caller=caller)
    # A text-back the carrier refused is neither texted nor "not texted" (no guard stopped it).
    return Figures(line, at, ("missed", "texted") if conv.textback == "sent" else ("missed",), caller=caller)


async def _text_back_and_thread(
    call: MissedCall,
    plan: TextbackPlan,
    *,
    store: ConversationStore,
    sms: SmsSender,
    chat: ThreadChat,
    locks: ConversationLocks,
    flags: CallerFlags,
    steps: StepLog,
    deadlines: Deadlines,
    now: datetime,
) -> Conversation:
    """Text the caller first (usually the webhook did, and logged it), then open or continue
    the Slack thread, show the text-back, and start the reminder ladder, under one hold of the
    conversation's lock."""
    sending: asyncio.Task[SmsResult] | None = None
    if plan.send:
        # The SMS request leaves before anything waits on Slack.
        sending = asyncio.create_task(
            send_once(steps, TEXTBACK_STEP, sms, to=call.caller.number, from_=call.line.number,
                      body=plan.body, now=now)
        )
    try:
        if sending is not None:
            await asyncio.wait([sending], timeout=SHOW_SEND_WITHIN_S)
        # Usually the SMS request was answered by now: the card is then posted showing it,
        # and needs no update afterwards (one Slack call fewer per missed call).
        known = _result_if_done(sending)
        async with locks.hold(call.line.number, call.caller.number):
            conv, card = await _open_for_call(call, plan, known, store=store, chat=chat, steps=steps, now=now)
            if sending is not None:
                result = await sending
                await learn_from_refusal(flags, call.line.number, call.caller.number, result.error_code)
                await _report_textback(conv, plan, result, card, store=store, chat=chat)
                if result.ok and result.sid and late_note(conv):
                    # Twilio may have reported it undelivered while the thread waited for Slack.
                    sid = result.sid
                    await once(steps, "early_report",
                               lambda: early_report_shown(sid, store=store, chat=chat, flags=flags))
            conv = await start_waiting(conv, call.line, at=call.at, store=store, locks=locks, deadlines=deadlines,
                                       held=True)
    finally:
        if sending is not None and not sending.done():
            await asyncio.wait([sending])  # a Slack failure must not orphan the SMS request
    return conv


def _result_if_done(sending: asyncio.Task[SmsResult] | None) -> SmsResult | None:
    if sending is None or not sending.done() or sending.cancelled() or sending.exception() is not None:
        return None
    return sending.result()


def _textback_shown(plan: TextbackPlan, result: SmsResult) -> tuple[TextbackState, str]:
    """What the card says about the text-back once its request was answered."""
    return ("sent", plan.body) if result.ok else ("failed", result.reason)


async def _open_for_call(
    call: MissedCall,
    plan: TextbackPlan,
    known: SmsResult | None,
    *,
    store: ConversationStore,
    chat: ThreadChat,
    steps: StepLog,
    now: datetime,
) -> tuple[Conversation, tuple[str, str] | None]:
    """The conversation, and the text-back state its card was just posted with (None when
    the card was already there, or was posted before the text-back's result was known)."""
    textback: TextbackState
    textback, detail = ("pending", "") if plan.send else ("suppressed", plan.reason)
    if plan.send and known is not None:
        textback, detail = _textback_shown(plan, known)
    fresh = Conversation(
        line=call.line.number,
        caller=call.caller,
        channel=call.line.channel,
        opened_at=now,
        origin="missed_call",
        in_hours=is_open(call.line.hours, call.line.timezone, now),
        line_label=call.line.label,
        textback=textback,
        textback_detail=detail,
        id=call.conversation_id,
        # Counted, its thread's opening attempt recorded and the caller waiting (as `mark_waiting`
        # marks it), as it is created: starting the ladder then has nothing to save.
        calls=1,
        last_event_at=now,
        extra={OPENING_SINCE: now.isoformat(), WAITING: call.at.isoformat()},
    )
    conv, created = await store.open_or_get(fresh)
    # Judged by id, not by "created just now": a re-run finds the conversation it opened.
    is_new = conv.id == fresh.id
    if not is_new and await steps.get("counted") is None:
        conv.calls += 1
        conv.last_event_at = now
        if call.caller.name and not conv.caller.name:
            conv.caller = call.caller
        mark_waiting(conv, call.at)  # saved with the count: its card no longer shows a snooze the call ended
        await store.save(conv)
        await steps.put("counted", "1")
    had_thread = bool(conv.thread_id)
    await ensure_thread(conv, store=store, chat=chat, now=now, first_attempt=created)
    card = (conv.textback, conv.textback_detail) if conv.thread_id and not had_thread else None
    if call.screened:
        entry = Entry("system", SCREENED_NOTE, at=now, icon="telephone_receiver")
        await post_once(steps, "entry:screened", chat, conv, entry, now)
    if not is_new:
        note = f"no second text: {plan.reason}" if not plan.send else "texting them again"
        entry = Entry("system", f"Called again; {note}.", at=now, icon="telephone_receiver")
        await post_once(steps, "entry:called_again", chat, conv, entry, now)
        if not plan.send:
            await chat.refresh_card(conv)  # the call count changed; a send refreshes it later
    elif not plan.send:
        entry = Entry("system", f"No text-back: {plan.reason}.", at=now)
        await post_once(steps, "entry:no_textback", chat, conv, entry, now)
    return conv, card


async def _report_textback(
    conv: Conversation,
    plan: TextbackPlan,
    result: SmsResult,
    card: tuple[str, str] | None,
    *,
    store: ConversationStore,
    chat: ThreadChat,
) -> None:
    """Show the text-back's result on the card: the text sent, or why it failed. No thread line
    says it again (jobs of the previous version logged one as "entry:textback"; a re-run of such
    a job posts none, and the card it refreshes says as much). A card posted with the result
    already on it is left alone."""
    conv.textback, conv.textback_detail = _textback_shown(plan, result)
    if result.ok and result.sid:
        await store.record_outbound(result.sid, conv, None)  # its delivery report finds the thread
    if card != (conv.textback, conv.textback_detail):  # else the record and the card already say so
        await store.save(conv)
        await chat.refresh_card(conv)


# When a thread's opening was first attempted: a later attempt looks for its card from then.
OPENING_SINCE = "opening_since"
# Set when Slack was unavailable as the thread was to be opened: the card, posted once Slack
# is back, says it is late. Cleared when the card turns out to have been posted after all.
POSTED_LATE = "posted_late"
LATE_NOTE = "posted late: Slack was unavailable"


def waits_for_slack(conv: Conversation) -> bool:
    """True while the conversation's thread is not posted because Slack was unavailable."""
    return not conv.thread_id and POSTED_LATE in conv.extra


def late_note(conv: Conversation) -> str:
    """What the card says when it was posted only after Slack came back ("" when on time)."""
    return LATE_NOTE if conv.extra.get(POSTED_LATE) else ""


async def ensure_thread(
    conv: Conversation, *, store: ConversationStore, chat: ThreadChat, now: datetime, first_attempt: bool = False
) -> None:
    """Open the conversation's thread if it has none yet (also after an earlier chat failure).

    The attempt is recorded first, so a process killed after Slack took the post but before
    the thread was saved is found in the channel on the next attempt, not posted twice.
    `first_attempt`: the record was created just now with the attempt in it (nothing to find).
    Slack being unavailable is recorded too, so the card posted later says it is late.
    """
    if conv.thread_id:
        return
    try:
        await _open_thread(conv, store=store, chat=chat, now=now, first_attempt=first_attempt)
    except SlackUnavailable:
        if POSTED_LATE not in conv.extra:
            conv.extra[POSTED_LATE] = "slack"
            await store.save(conv)
        raise


async def _open_thread(
    conv: Conversation, *, store: ConversationStore, chat: ThreadChat, now: datetime, first_attempt: bool
) -> None:
    opening = conv.extra.get(OPENING_SINCE)
    if opening and not first_attempt:
        since = datetime.fromisoformat(opening) - POST_LOOKBACK
        conv.thread_id = await chat.find_post(conv, f"thread:{conv.id}", since)
        if conv.thread_id:
            conv.extra.pop(POSTED_LATE, None)  # Slack took the card in time; only its answer was lost
    if not conv.thread_id:
        if not first_attempt:
            conv.extra[OPENING_SINCE] = now.isoformat()
            await store.save(conv)
        conv.thread_id = await chat.open_thread(conv)
    if conv.thread_id:
        await store.save(conv)


def greeting_text(line: Line, now: datetime, *, texted: bool) -> str:
    """What the caller hears after a missed call: the line's greeting for whether a text-back
    is being sent, its placeholders filled as in the texts."""
    return render(
        line.greeting.texted if texted else line.greeting.not_texted,
        business=line.business, booking_url=line.booking_url,
        hours_today=hours_today(line.hours, line.timezone, now),
        next_open=describe_next_open(line.hours, line.timezone, now) or "",
    )
