"""The two-way mirror: caller SMS into the thread, team replies out as SMS (PRODUCT §2.2-2.3).

Two stories, each told in order by one function: `caller_text_story` and `team_reply_story`;
the rest of this module is their steps.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from workflows.bursts import hold_if_flooding
from workflows.consent import CallerRequest, act_on_request
from workflows.conversation import Caller, Conversation, Entry, MediaItem, SharedFile
from workflows.follow_through import caller_wrote, stop_waiting
from workflows.language import language_of
from workflows.lines import Line, is_open
from workflows.media import copy_caller_media, mms_refusal, plan_mms, publish_pictures
from workflows.missed_call import ensure_thread
from workflows.outcomes import (
    caller_text_figures,
    lead_event,
    record_lead_safely,
    record_outcome,
    team_reply_figures,
)
from workflows.ports import (
    BurstFlush,
    BurstStore,
    CallerFlags,
    CallerMedia,
    Clock,
    ConsentLog,
    ConversationLocks,
    ConversationStore,
    Deadlines,
    Outcomes,
    RetryLater,
    SmsSender,
    StepLog,
    TeamMedia,
    ThreadChat,
)
from workflows.qualify import end_for_human, may_answer, on_caller_text
from workflows.texting import (
    SMS_MAX_CHARS,
    compliance_of,
    learn_from_refusal,
    once,
    post_once,
    send_once,
)

log = logging.getLogger(__name__)

DEFAULT_NOTE_PREFIXES = ("note:", "//")
REFUSAL_HINT = "Your message stays in the thread; nothing was texted."


def static_guard_reason(conv: Conversation) -> str:
    """Why a team reply cannot be texted at all (withheld or invalid caller ID)."""
    if conv.caller.kind != "ok":
        return "this caller's number cannot receive texts"
    return ""


@dataclass(frozen=True)
class InboundSms:
    """A text from a caller to one of our lines."""

    message_id: str
    line: Line
    caller: Caller
    body: str
    media: tuple[MediaItem, ...]
    at: datetime
    opt_out_type: str = ""  # Twilio's Advanced Opt-Out verdict, when it ran
    seq: int = 0  # arrival number among this caller's texts (0: unordered)


async def caller_text_story(
    msg: InboundSms,
    *,
    job_id: str,
    store: ConversationStore,
    chat: ThreadChat,
    locks: ConversationLocks,
    flags: CallerFlags,
    sms: SmsSender,
    bursts: BurstStore,
    burst_flush: BurstFlush,
    steps: StepLog,
    outcomes: Outcomes,
    deadlines: Deadlines,
    clock: Clock,
    caller_tz: str | None,
    consent: ConsentLog,
    files: CallerMedia,
) -> Conversation:
    """A caller's text, in order: show it in their thread, count it, record the lead; unless it
    is a STOP, START or HELP keyword, page on urgent words and restart the reminder ladder;
    take it as the start of the questions or an answer (a bare "yes" too); a burst's held
    texts are posted later.

    `caller_tz` is the caller's own timezone, when their number gives one (quiet hours).
    """
    conv, shown = await _mirror_text(
        msg, store=store, chat=chat, locks=locks, flags=flags, sms=sms, bursts=bursts, steps=steps, now=clock.now(),
        consent=consent, files=files,
    )
    lead = lead_event("caller_sms", job_id, conv, msg.at, text=msg.body) if msg.caller.kind == "ok" else None
    keyword = compliance_of(msg.body, msg.opt_out_type, msg.line)
    templates = msg.line.templates
    if (templates.business_hours_es or templates.after_hours_es) and keyword is None and msg.caller.kind == "ok":
        # The line texts Spanish speakers in Spanish: its next text-back reads this.
        await flags.remember_language(msg.line.number, msg.caller.number, language_of(msg.body) == "es")
    figures = caller_text_figures(conv, msg.at, keyword=keyword is not None)
    await record_outcome("caller text", job_id, figures, lead, steps=steps, outcomes=outcomes)
    # STOP, START and HELP are about the texts, not a request: nobody waits. A possible opt-out
    # does start the ladder: someone has to decide on it.
    if keyword in (None, "maybe_opt_out"):
        await caller_wrote(conv, msg.line, msg.body, at=msg.at, store=store, locks=locks, chat=chat, sms=sms,
                           flags=flags, deadlines=deadlines, steps=steps.part("urgent"), now=clock.now())
    if msg.line.questions and may_answer(keyword, msg.body):
        outcome, plan = await on_caller_text(
            conv, msg.line, msg.body, store=store, locks=locks, sms=sms, flags=flags, chat=chat, deadlines=deadlines,
            steps=steps.part("qualify"), now=clock.now(), caller_tz=caller_tz,
        )
        log.info("qualification after %s: %s", job_id, outcome)
        if plan is not None and plan.answer is not None:
            answer = lead_event("answer", f"{job_id}:answer", conv, msg.at, answer=plan.answer)
            await record_lead_safely(job_id, answer, outcomes=outcomes)
    if shown == "hold_first":
        burst_flush.flush_later(conv.id)
    return conv


async def _mirror_text(
    msg: InboundSms,
    *,
    store: ConversationStore,
    chat: ThreadChat,
    locks: ConversationLocks,
    flags: CallerFlags,
    sms: SmsSender,
    bursts: BurstStore,
    steps: StepLog,
    files: CallerMedia,
    now: datetime,
    consent: ConsentLog,
) -> tuple[Conversation, str]:
    """Mirror a caller's text into their open thread, opening a "texted in" thread if needed;
    its attachments follow it as files, before the caller's next text.

    Past the burst rate the text is held and shown with the others of the burst; the
    outcome "hold_first" says this text armed the flush.

    STOP/START/HELP and opt-outs in the caller's own words are mirrored too (nothing a caller
    writes is lost) and acted on (workflows/consent.py); they are the only texts that may get
    an automatic reply: HELP, and an opt-out the carrier did not already confirm.
    """
    fresh = Conversation(
        line=msg.line.number,
        caller=msg.caller,
        channel=msg.line.channel,
        opened_at=msg.at,
        origin="texted_in",
        in_hours=is_open(msg.line.hours, msg.line.timezone, msg.at),
        line_label=msg.line.label,
    )
    fresh.id = "t" + msg.message_id[-16:]  # stable across re-runs of this job
    keyword = compliance_of(msg.body, msg.opt_out_type, msg.line)
    await _wait_for_turn(msg, store=store, now=now)
    async with locks.hold(msg.line.number, msg.caller.number):
        conv, _ = await store.open_or_get(fresh)
        outcome = await steps.get("burst")
        if outcome is None:
            conv.texts_in += 1
            conv.last_event_at = msg.at
            await store.save(conv)
            outcome = await hold_if_flooding(conv, msg.body, len(msg.media), bursts=bursts, now=msg.at)
            await steps.put("burst", outcome)
        if outcome != "post":
            await store.finish_turn(msg.line.number, msg.caller.number, msg.seq)
        await ensure_thread(conv, store=store, chat=chat, now=now)
        if outcome == "post":
            entry = Entry("caller", msg.body, at=msg.at, attachments=len(msg.media))
            await post_once(steps, "entry:caller", chat, conv, entry, now)
        await copy_caller_media(conv, msg.media, message_id=msg.message_id, arrived=msg.at, files=files, chat=chat,
                                steps=steps, now=now)
        if outcome == "post":
            await store.finish_turn(msg.line.number, msg.caller.number, msg.seq)
        if keyword is not None:
            req = CallerRequest(keyword, msg.message_id, msg.line, msg.caller, msg.body, msg.at, msg.opt_out_type)
            await act_on_request(req, conv, flags=flags, sms=sms, chat=chat, steps=steps, consent=consent)
    return conv, outcome


# How long a text waits for an earlier one still being retried before it is shown anyway.
ORDER_WAIT = timedelta(minutes=2)
# How long a text waits in place for the one before it, before retrying later.
TURN_WAIT_S = 10.0


async def _wait_for_turn(msg: InboundSms, *, store: ConversationStore, now: datetime) -> None:
    """Keep a caller's texts in order even when an earlier one is being retried.

    Waits briefly (outside the conversation lock, which the earlier text needs) and hands
    the job back for a later retry only when the earlier text is stuck.
    """
    if msg.seq <= 1 or now - msg.at > ORDER_WAIT:
        return
    if not await store.wait_turn(msg.line.number, msg.caller.number, msg.seq - 1, TURN_WAIT_S):
        raise RetryLater(f"text {msg.seq} waits for text {msg.seq - 1}")


@dataclass(frozen=True)
class TeamReply:
    """A message a person wrote in a Slack thread."""

    channel: str
    thread_id: str
    message_id: str
    user: str
    raw_text: str
    files: tuple[SharedFile, ...] = ()  # pictures (or other files) posted with it


ReplyOutcome = Literal["not_ours", "note", "empty", "sent", "refused"]


def is_internal_note(raw_text: str, prefixes: Sequence[str] = DEFAULT_NOTE_PREFIXES) -> bool:
    """A reply starting with a note prefix stays in Slack."""
    head = raw_text.lstrip().lower()
    # An empty prefix would turn every reply into a note and silence the channel.
    return any(head.startswith(p.strip().lower()) for p in prefixes if p.strip())


async def team_reply_story(
    reply: TeamReply,
    *,
    job_id: str,
    store: ConversationStore,
    sms: SmsSender,
    chat: ThreadChat,
    to_plain: Callable[[str], Awaitable[str]],
    flags: CallerFlags,
    locks: ConversationLocks,
    steps: StepLog,
    outcomes: Outcomes,
    deadlines: Deadlines,
    now: datetime,
    media: TeamMedia,
) -> ReplyOutcome:
    """A person's reply in a caller's thread, in order: text it to the caller (its pictures as
    one MMS); once it went out, time a first reply, record the lead, end the questions and the
    reminder ladder, refresh the card."""
    outcome, sent = await _send_reply(reply, store=store, sms=sms, chat=chat, to_plain=to_plain, flags=flags,
                                steps=steps, now=now, media=media)
    if outcome != "sent":
        return outcome
    conv = await store.by_thread(reply.channel, reply.thread_id)  # as the reply saved it
    if conv is None:
        return outcome
    lead = lead_event("team_reply", job_id, conv, now, by=reply.user, text=sent)
    await record_outcome("team reply", job_id, team_reply_figures(conv, now), lead, steps=steps, outcomes=outcomes)
    # A person answered the caller: the questions and the reminders stop.
    await end_for_human(conv, store=store, locks=locks, deadlines=deadlines)
    conv = await stop_waiting(conv, store=store, locks=locks, deadlines=deadlines)
    await chat.refresh_card(conv)
    return outcome


async def _send_reply(
    reply: TeamReply,
    *,
    store: ConversationStore,
    sms: SmsSender,
    chat: ThreadChat,
    to_plain: Callable[[str], Awaitable[str]],
    flags: CallerFlags,
    steps: StepLog,
    now: datetime,
    media: TeamMedia,
) -> tuple[ReplyOutcome, str]:
    """Send a human's thread reply to the caller as SMS (MMS with its pictures), exactly once;
    the outcome, and the text as sent."""
    found = await store.by_thread(reply.channel, reply.thread_id)
    if found is None:
        return "not_ours", ""
    conv = found
    if is_internal_note(reply.raw_text):
        return "note", ""
    text = (await to_plain(reply.raw_text)).strip()
    if not text and not reply.files:
        return "empty", ""
    # Refused whole rather than cut or split: separate texts can arrive out of order, and the
    # writer knows best where to break. (Twilio refuses over SMS_MAX_CHARS: error 21617.)
    too_long = len(text) > SMS_MAX_CHARS and (
        f"it is {len(text):,} characters, over the {SMS_MAX_CHARS:,} one text can carry: "
        "shorten it, or send it as two replies")
    # A person's own reply goes out while an opt-out is undecided: they have the card in front
    # of them, and may be asking the caller what they meant.
    blocked = too_long or static_guard_reason(conv) or await flags.suppression(
        conv.line, conv.caller.number, automatic=False)
    if blocked:
        await once(steps, "told", lambda: chat.tell_user(
            conv.channel, reply.user, f"Not sent to the caller: {blocked}. {REFUSAL_HINT}"))
        await chat.react(conv.channel, reply.message_id, "no_entry_sign")
        return "refused", text
    urls = await _pictures_of(reply, conv, media=media, chat=chat, steps=steps, now=now)
    if not text and not urls:
        await chat.react(conv.channel, reply.message_id, "no_entry_sign")
        return "refused", text
    result = await send_once(steps, "reply", sms, to=conv.caller.number, from_=conv.line, body=text, now=now,
                             media=urls)
    await learn_from_refusal(flags, conv.line, conv.caller.number, result.error_code)
    if result.sid:
        # Recorded first: Twilio's delivery report may arrive before Slack answers.
        await store.record_outbound(result.sid, conv, reply.message_id)
    await once(steps, "marked", lambda: chat.mark_reply(conv, reply.message_id, result))
    if not result.ok:
        return "refused", text
    # Read again just before writing: a button pressed while the SMS was sending (a claim,
    # "I'm on it") must not be overwritten by this copy from before it.
    conv = await store.get(conv.id) or conv
    if "first_reply_at" not in conv.extra:
        conv.extra["first_reply_at"] = now.isoformat()
        conv.extra["first_reply_by"] = reply.user
    conv.last_event_at = now
    await store.save(conv)
    return "sent", text


async def _pictures_of(
    reply: TeamReply, conv: Conversation, *, media: TeamMedia, chat: ThreadChat, steps: StepLog, now: datetime,
) -> tuple[str, ...]:
    """The URLs of the reply's pictures for the MMS; every file left out is named in one warning
    in the thread (the text, if any, still goes)."""
    if not reply.files:
        return ()
    plan = plan_mms(reply.files, mms_refusal(conv.line, conv.caller.number))
    urls, failed = await publish_pictures(plan.pictures, media=media, steps=steps, now=now)
    warnings = [*plan.warnings, *failed]
    if warnings:
        text = "Not texted to the caller: " + "; ".join(warnings) + "."
        await post_once(steps, "media:warning", chat, conv, Entry("system", text, at=now, icon="warning"), now)
    return urls
