"""Qualification questions by SMS (PRODUCT §2.6): asked one at a time after the caller's first
reply, only while no person has answered in the thread.

Each answer is parsed by its question's kind (free text, ZIP code, yes/no, a choice); a
bad answer is asked once more with a hint, and a second bad answer is kept as written,
marked unclear, so the flow never traps a caller. A person replying ends the flow. An
automatic question inside the caller's quiet hours, or outside their state's window for
automatic texts (workflows/state_windows.py), waits for the stricter of the two to allow it,
and is dropped if a person replied meanwhile.

The state lives in `Conversation.extra["qualify"]`: "" (not started), "ask:<i>:<retry>"
(waiting for the answer to question i), "done" or "ended". Answers are kept as
`extra["answer:<label>"]` so the card can show them without the line's settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from workflows.conversation import Conversation, Entry
from workflows.conversation_state import FIRST_REPLY_AT, update_locked
from workflows.jobs import QualifyAskJob
from workflows.lines import Line, Question
from workflows.ports import (
    CallerFlags,
    ConversationLocks,
    ConversationStore,
    Deadlines,
    SmsSender,
    StepLog,
    ThreadChat,
)
from workflows.quiet_hours import follow_up_at
from workflows.texting import Keyword, post_once, send_once

__all__ = [
    "PRESETS",
    "Plan",
    "answers_of",
    "end_for_human",
    "may_answer",
    "next_plan",
    "on_caller_text",
    "parse_answer",
    "send_held",
]

STATE = "qualify"
ANSWER = "answer:"
MAX_TEXT_ANSWER = 300

_ZIP = Question("ZIP code", "What's the ZIP code where you need us?", "zip")


def _q(label: str, ask: str, kind: str = "text", choices: tuple[str, ...] = ()) -> Question:
    return Question(label, ask, kind, choices)  # type: ignore[arg-type]  # kinds below are valid


PRESETS: dict[str, tuple[Question, ...]] = {
    "plumbing": (
        _q("Problem", "What's going on? (e.g. leak, clog, no hot water)"), _ZIP,
        _q("Leaking now", "Is water leaking right now? Reply Y or N.", "yes_no"),
    ),
    "hvac": (
        _q("System", "Is it your heating or your cooling? Reply HEAT or COOL.", "choice", ("heat", "cool")), _ZIP,
        _q("At risk", "Is anyone at risk without it (babies, elderly, medical needs)? Reply Y or N.", "yes_no"),
    ),
    "electrical": (
        _q("Problem", "What's the problem? (e.g. outlet, breaker, lights, new install)"), _ZIP,
        _q("Power out", "Is any part of the home without power? Reply Y or N.", "yes_no"),
    ),
    "roofing": (
        _q("Damage", "What's the damage? (e.g. leak, missing shingles, storm)"), _ZIP,
        _q("Leaking now", "Is water coming in right now? Reply Y or N.", "yes_no"),
    ),
    "pest_control": (_q("Pest", "What kind of pest is it? (e.g. ants, wasps, mice)"), _ZIP),
    "dental": (
        _q("Patient", "Are you a current patient? Reply Y or N.", "yes_no"),
        _q("Problem", "What's the problem? (e.g. toothache, broken tooth, cleaning)"),
    ),
    "medical_spa": (
        _q("Treatment", "Which treatment are you interested in?"),
        _q("Visited before", "Have you visited us before? Reply Y or N.", "yes_no"),
    ),
    "legal": (
        _q("Matter", "What is your matter about? (e.g. family, immigration, injury)"),
        _q("Deadline soon", "Do you have a court date or deadline in the next 7 days? Reply Y or N.", "yes_no"),
    ),
    "restaurant": (
        _q("Request", "Is this about a reservation, an order or catering? Reply RESERVATION, ORDER or CATERING.",
           "choice", ("reservation", "order", "catering")),
    ),
    "general": (_q("Request", "What can we help you with?"),),
}  # fmt: skip

_YES = frozenset({"yes", "y", "yeah", "yep", "yup", "ya", "sure", "correct", "si", "yes!"})
_NO = frozenset({"no", "n", "nope", "nah", "not"})


def parse_answer(question: Question, text: str) -> str | None:
    """The answer in a form a CRM can use, or None when it does not answer the question."""
    text = " ".join(text.split())
    if not text:
        return None
    if question.kind == "zip":
        found = re.search(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)", text)
        return found.group(1) if found else None
    words = re.findall(r"[a-z0-9]+", text.lower())
    if question.kind == "yes_no":
        if words and words[0] in _YES:
            return "yes"
        if words and words[0] in _NO:
            return "no"
        return None
    if question.kind == "choice":
        for i, choice in enumerate(question.choices, 1):
            if choice.lower() in words or (len(words) == 1 and words[0] == str(i)):
                return choice
        return None
    return text[:MAX_TEXT_ANSWER]


def _hint(question: Question) -> str:
    if question.kind == "zip":
        return "Sorry, I need a 5-digit ZIP code. " + question.ask
    if question.kind == "yes_no":
        return "Sorry, please reply Y or N. " + question.ask
    if question.kind == "choice":
        return f"Sorry, please reply with one of: {', '.join(c.upper() for c in question.choices)}."
    return "Sorry, I didn't get that. " + question.ask


@dataclass(frozen=True)
class Plan:
    """What one caller text leads to: an answer to record, a text to send, the new state."""

    state: str
    send: str = ""
    answer: tuple[str, str] | None = None

    def dumps(self) -> str:
        return json.dumps({"state": self.state, "send": self.send, "answer": self.answer})

    @classmethod
    def loads(cls, raw: str) -> Plan:
        data = json.loads(raw)
        return cls(data["state"], data["send"], tuple(data["answer"]) if data["answer"] else None)


def closing_text(business: str) -> str:
    return f"Thanks! Someone from {business} will text you back shortly."


def next_plan(questions: Sequence[Question], state: str, text: str, *, business: str) -> Plan:
    """The pure step of the flow: from the state before a caller's text to the one after it."""
    if not questions or state in ("done", "ended"):
        return Plan(state)
    if not state:
        return Plan("ask:0:0", send=questions[0].ask)
    _, index_text, retry_text = state.split(":")
    index, retry = int(index_text), int(retry_text)
    if index >= len(questions):
        return Plan("done")
    question = questions[index]
    value = parse_answer(question, text)
    if value is None and retry == 0:
        return Plan(f"ask:{index}:1", send=_hint(question))
    if value is None:
        value = " ".join(text.split())[:MAX_TEXT_ANSWER] + " (unclear)"
    answer = (question.label, value)
    if index + 1 < len(questions):
        return Plan(f"ask:{index + 1}:0", send=questions[index + 1].ask, answer=answer)
    return Plan("done", send=closing_text(business), answer=answer)


def may_answer(keyword: Keyword | None, text: str) -> bool:
    """Whether a caller's text may start the questions or answer one: STOP, START and HELP never do.

    A bare "yes" is also a carrier opt-in keyword, but to a yes/no question it is the answer:
    it is taken as one (opting in someone who never opted out changes nothing).
    """
    return keyword is None or (keyword == "opt_in" and text.strip(" .!").lower() == "yes")


def answers_of(conv: Conversation) -> list[tuple[str, str]]:
    """The answers given so far, in the order they were given."""
    return [(k.removeprefix(ANSWER), v) for k, v in conv.extra.items() if k.startswith(ANSWER)]


Outcome = Literal["off", "suppressed", "asked", "held", "answered", "finished"]


async def on_caller_text(
    conv: Conversation,
    line: Line,
    text: str,
    *,
    store: ConversationStore,
    locks: ConversationLocks,
    sms: SmsSender,
    flags: CallerFlags,
    chat: ThreadChat,
    deadlines: Deadlines,
    steps: StepLog,
    now: datetime,
    caller_tz: str | None,
) -> tuple[Outcome, Plan | None]:
    """Take a caller's text as the start of the flow or as an answer; ask the next question."""
    if not line.questions or conv.caller.kind != "ok":
        return "off", None
    if await flags.suppression(conv.line, conv.caller.number):
        return "suppressed", None
    raw = await steps.get("qualify")
    if raw is None:

        def change(c: Conversation) -> Plan:
            if c.status == "resolved" or FIRST_REPLY_AT in c.extra:
                c.extra[STATE] = c.extra.get(STATE) or "ended"
                return Plan(c.extra[STATE])
            plan = next_plan(line.questions, c.extra.get(STATE, ""), text, business=line.business)
            c.extra[STATE] = plan.state
            if plan.answer:
                c.extra[ANSWER + plan.answer[0]] = plan.answer[1]
            return plan

        conv, plan = await update_locked(conv, change, store=store, locks=locks)
        await steps.put("qualify", plan.dumps())
    else:
        plan = Plan.loads(raw)
    if plan.answer:
        await chat.refresh_card(conv)
    if not plan.send:
        return ("finished" if plan.state == "done" else "off"), plan
    until, why = follow_up_at(now, line.quiet_hours, caller=conv.caller.number, caller_tz=caller_tz,
                              line_tz=line.timezone)
    if until > now:
        job = QualifyAskJob(conv=conv.id, text=plan.send, state=plan.state)
        await deadlines.schedule(f"qualify:{conv.id}", until, job, group=f"qualify:{conv.id}")
        held = f"Next question held until {_caller_time(until, caller_tz or line.timezone)} ({why}): "
        note = Entry("system", held + "\u201c" + plan.send + "\u201d", at=now, icon="crescent_moon")
        await post_once(steps, "held", chat, conv, note, now)
        return "held", plan
    await _ask(conv, line, plan.send, sms=sms, chat=chat, steps=steps, now=now)
    return ("finished" if plan.state == "done" else "asked"), plan


def _caller_time(at: datetime, tz: str) -> str:
    """ "Wed 8:00 AM", in the caller's zone."""
    return at.astimezone(ZoneInfo(tz)).strftime("%a %-I:%M %p")


async def _ask(
    conv: Conversation, line: Line, text: str, *, sms: SmsSender, chat: ThreadChat, steps: StepLog, now: datetime
) -> None:
    result = await send_once(steps, "ask", sms, to=conv.caller.number, from_=line.number, body=text, now=now)
    shown = f"Asked the caller: {text}" if result.ok else f"Question not sent: {result.reason}."
    await post_once(steps, "asked", chat, conv, Entry("system", shown, at=now, icon="robot_face"), now)


async def send_held(
    conv_id: str,
    text: str,
    state: str,
    *,
    line: Line | None,
    store: ConversationStore,
    sms: SmsSender,
    flags: CallerFlags,
    chat: ThreadChat,
    steps: StepLog,
    now: datetime,
) -> bool:
    """A question held for quiet hours: sent now, unless a person replied or the flow moved on."""
    conv = await store.get(conv_id)
    if conv is None or line is None or conv.status == "resolved":
        return False
    if FIRST_REPLY_AT in conv.extra or conv.extra.get(STATE) != state:
        note = Entry("system", "Held question dropped: a person has replied.", at=now, icon="crescent_moon")
        await post_once(steps, "dropped", chat, conv, note, now)
        return False
    if await flags.suppression(conv.line, conv.caller.number):
        return False
    await _ask(conv, line, text, sms=sms, chat=chat, steps=steps, now=now)
    return True


async def end_for_human(
    conv: Conversation, *, store: ConversationStore, locks: ConversationLocks, deadlines: Deadlines
) -> None:
    """A person texted the caller: no more automatic questions in this conversation."""
    if conv.extra.get(STATE) in (None, "done", "ended"):
        return  # none were asked, or they are over already
    await deadlines.cancel_group(f"qualify:{conv.id}")

    def change(c: Conversation) -> None:
        if c.extra.get(STATE) not in ("done", "ended"):
            c.extra[STATE] = "ended"

    await update_locked(conv, change, store=store, locks=locks)
