"""Qualification questions by SMS: the whole flow with bad answers, a person taking over,
quiet hours, opt-out, and the answers on the card and the lead (§2.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.saw import card_text, parent, texts_to
from workflows.lines import Question
from workflows.qualify import PRESETS, next_plan, parse_answer

CONFIG = line_a_with("    questions: preset\n")
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=TZ)
ZIP = Question("ZIP code", "ZIP?", "zip")
YES_NO = Question("Leaking now", "Leaking? Y or N", "yes_no")
CHOICE = Question("System", "HEAT or COOL?", "choice", ("heat", "cool"))


@pytest.fixture
async def q_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    clock.set(NOON)
    async with rig_for(CONFIG, redis_url, clock, tmp_path) as r:
        yield r


async def say(rig: Rig, text: str) -> None:
    await rig.caller_texts(CALLER, LINE, text)
    await rig.settle()


# --- parsing, pure ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "text", "value"),
    [
        (ZIP, "78701", "78701"), (ZIP, "it's 78701-1234 thanks", "78701"), (ZIP, "austin", None),
        (ZIP, "123456", None), (YES_NO, "Yes!", "yes"), (YES_NO, "nope, it stopped", "no"),
        (YES_NO, "maybe", None), (YES_NO, "yesterday", None), (CHOICE, "the HEAT is out", "heat"),
        (CHOICE, "2", "cool"), (CHOICE, "furnace", None), (PRESETS["general"][0], "  a   leak ", "a leak"),
    ],
)  # fmt: skip
def test_answers_are_parsed_by_kind(question: Question, text: str, value: str | None) -> None:
    assert parse_answer(question, text) == value


@given(st.text(max_size=400))
def test_any_text_moves_the_flow_on_within_two_tries(text: str) -> None:
    """No caller text can trap the flow: a question is asked at most twice."""
    questions = (ZIP, YES_NO)
    state, sent = "ask:0:0", 0
    for _ in range(6):
        plan = next_plan(questions, state, text, business="Acme")
        sent += bool(plan.send)
        state = plan.state
        if state == "done":
            break
    assert state == "done" and sent <= 4


# --- the flow, end to end -------------------------------------------------------------------


async def test_full_flow_with_one_bad_answer(q_rig: Rig) -> None:
    await q_rig.missed_call(CALLER, LINE)
    await q_rig.settle()
    await say(q_rig, "Hi, my kitchen sink is clogged")
    assert texts_to(q_rig)[-1] == PRESETS["plumbing"][0].ask, "the first reply starts the questions"
    await say(q_rig, "Kitchen sink clogged and smells")
    assert texts_to(q_rig)[-1] == PRESETS["plumbing"][1].ask
    await say(q_rig, "downtown austin")
    assert texts_to(q_rig)[-1].startswith("Sorry, I need a 5-digit ZIP code.")
    await say(q_rig, "78704")
    assert texts_to(q_rig)[-1] == PRESETS["plumbing"][2].ask
    await say(q_rig, "Yes!")
    assert texts_to(q_rig)[-1] == "Thanks! Someone from Acme Plumbing will text you back shortly."
    asked = len(texts_to(q_rig))
    await say(q_rig, "ok thanks")
    assert len(texts_to(q_rig)) == asked, "the flow is over: no more automatic texts"
    card = card_text(q_rig)
    assert "*ZIP code:* 78704" in card and "*Leaking now:* yes" in card and "Kitchen sink clogged" in card
    lead = await q_rig.services.leads.get(LINE, CALLER)
    assert lead is not None and lead.answers == {
        "Problem": "Kitchen sink clogged and smells", "ZIP code": "78704", "Leaking now": "yes"}
    thread = [str(m["blocks"]) for m in q_rig.slack.messages if m.get("thread_ts")]
    assert sum("Asked the caller:" in t for t in thread) == 5


async def test_two_bad_answers_keep_the_text_and_move_on(q_rig: Rig) -> None:
    await say(q_rig, "hello")
    await say(q_rig, "a leak")
    await say(q_rig, "near the park")
    await say(q_rig, "by the river")
    assert texts_to(q_rig)[-1] == PRESETS["plumbing"][2].ask
    lead = await q_rig.services.leads.get(LINE, CALLER)
    assert lead is not None and lead.answers["ZIP code"] == "by the river (unclear)"


async def test_a_team_reply_ends_the_questions(q_rig: Rig) -> None:
    await say(q_rig, "hello")
    card = parent(q_rig)
    await q_rig.team_replies(CHANNEL, card["ts"], "Hi, Dana here, I'll call you in 5 min")
    await q_rig.settle()
    before = texts_to(q_rig)
    await say(q_rig, "great, it's a leak under the sink")
    assert texts_to(q_rig) == before, "a person has taken over: no automatic question"


async def test_an_internal_note_does_not_end_the_questions(q_rig: Rig) -> None:
    await say(q_rig, "hello")
    card = parent(q_rig)
    await q_rig.team_replies(CHANNEL, card["ts"], "note: probably the disposal")
    await q_rig.settle()
    await say(q_rig, "leak under the sink")
    assert texts_to(q_rig)[-1] == PRESETS["plumbing"][1].ask


async def test_stop_and_help_are_not_answers_and_stop_ends_the_texts(q_rig: Rig) -> None:
    await say(q_rig, "hello")
    await say(q_rig, "HELP")
    assert PRESETS["plumbing"][1].ask not in texts_to(q_rig)
    await say(q_rig, "STOP")
    count = len(texts_to(q_rig))
    await say(q_rig, "a leak")
    assert len(texts_to(q_rig)) == count, "an opted-out caller gets no question"


async def test_quiet_hours_hold_the_question_until_morning(q_rig: Rig, clock: FakeClock) -> None:
    late = datetime(2026, 11, 10, 22, 30, tzinfo=TZ)  # 512 is Austin: the caller's time is the line's
    clock.set(late)
    await say(q_rig, "hello, are you open tomorrow?")
    assert texts_to(q_rig) == []
    thread = [str(m["blocks"]) for m in q_rig.slack.messages if m.get("thread_ts")]
    # The line's quiet hours end at 8; Texas allows automatic texts from 9.
    assert any("held until Wed 9:00 AM (Texas allows automatic texts" in t for t in thread)
    clock.set(datetime(2026, 11, 11, 8, 59, tzinfo=TZ))
    await q_rig.fire_due()
    assert texts_to(q_rig) == []
    clock.set(datetime(2026, 11, 11, 9, 0, tzinfo=TZ))
    await q_rig.fire_due()
    assert texts_to(q_rig) == [PRESETS["plumbing"][0].ask]


async def test_a_florida_callers_question_at_8_30_pm_waits_for_8_am(q_rig: Rig, clock: FakeClock) -> None:
    # 20:30 in Miami is inside the line's hours for texts (quiet from 21:00) but after
    # Florida's 8 PM. The text-back answers the call and goes at once; the question waits.
    miami, east = "+13055550123", ZoneInfo("America/New_York")
    clock.set(datetime(2026, 11, 10, 20, 30, tzinfo=east))
    await q_rig.missed_call(miami, LINE)
    await q_rig.settle()
    assert len(q_rig.twilio.messages_to(miami)) == 1, "the text-back is never held"
    await q_rig.caller_texts(miami, LINE, "hi, the water heater is leaking")
    await q_rig.settle()
    assert len(q_rig.twilio.messages_to(miami)) == 1
    said = [str(m["blocks"]) for m in q_rig.slack.messages if m.get("thread_ts")]
    assert any("held until Wed 8:00 AM (Florida allows automatic texts 8 AM-8 PM)" in t for t in said)
    clock.set(datetime(2026, 11, 11, 7, 59, tzinfo=east))
    await q_rig.fire_due()
    assert len(q_rig.twilio.messages_to(miami)) == 1
    clock.set(datetime(2026, 11, 11, 8, 0, tzinfo=east))
    await q_rig.fire_due()
    assert [m["body"] for m in q_rig.twilio.messages_to(miami)][1:] == [PRESETS["plumbing"][0].ask]


async def test_a_held_question_is_dropped_when_a_person_replies_first(q_rig: Rig, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 10, 23, 0, tzinfo=TZ))
    await say(q_rig, "hello")
    card = parent(q_rig)
    clock.set(datetime(2026, 11, 11, 7, 30, tzinfo=TZ))
    await q_rig.team_replies(CHANNEL, card["ts"], "Morning! What's going on?")
    await q_rig.settle()
    clock.set(datetime(2026, 11, 11, 9, 5, tzinfo=TZ))  # after Texas's 9 AM
    await q_rig.fire_due()
    assert texts_to(q_rig) == ["Morning! What's going on?"]


async def test_a_line_without_questions_never_asks(rig: Rig) -> None:
    await rig.caller_texts(CALLER, LINE, "hello")
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []


async def test_a_retried_text_asks_once(q_rig: Rig) -> None:
    for _ in range(2):
        await q_rig.caller_texts(CALLER, LINE, "hello", sid="SM" + "5" * 32)
        await q_rig.settle()
    assert texts_to(q_rig) == [PRESETS["plumbing"][0].ask]


def test_every_vertical_has_questions_that_fit_one_text() -> None:
    for vertical, questions in PRESETS.items():
        assert questions, vertical
        for q in questions:
            assert len(q.ask) <= 160 and q.label
            assert (q.kind == "choice") == bool(q.choices)


def test_the_last_answer_finishes_with_a_thank_you() -> None:
    plan = next_plan((ZIP,), "ask:0:0", "78701", business="Acme")
    assert plan.state == "done" and plan.answer == ("ZIP code", "78701") and "Acme" in plan.send
    assert next_plan((ZIP,), "done", "anything", business="Acme").send == ""
