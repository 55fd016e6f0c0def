"""What a finished job counts and records, decided in workflows/ and passed through the Outcomes port.

Pure decisions and the once-per-job rule, with fakes for the ports: no Redis, no app.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from workflows.conversation import Caller, Conversation
from workflows.leads import LeadEvent, lead_id
from workflows.lines import Line
from workflows.missed_call import MissedCall, TextbackPlan, missed_call_figures
from workflows.outcomes import (
    caller_text_figures,
    lead_event,
    record_lead_safely,
    record_outcome,
    team_reply_figures,
)
from workflows.ports import Figures, StepLog
from workflows.qualify import may_answer

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LINE = Line(number="+15125550100", channel="C0LINEA001", business="Acme")
CALLER = Caller(number="+15125550123", display="(512) 555-0123")


def conversation(**extra: str) -> Conversation:
    return Conversation(line=LINE.number, caller=CALLER, channel=LINE.channel, opened_at=AT, origin="missed_call",
                        in_hours=True, id="c1", thread_id="111.222", extra=dict(extra))


class Steps:
    """An in-memory step log (the `StepLog` port)."""

    def __init__(self, job_id: str = "job-1") -> None:
        self.job_id = job_id
        self.done: dict[str, str] = {}

    async def get(self, name: str) -> str | None:
        return self.done.get(name)

    async def put(self, name: str, value: str) -> None:
        self.done[name] = value

    def later(self, name: str, value: str) -> None:
        self.done[name] = value

    def key(self, name: str) -> str:
        return f"{self.job_id}:{name}"

    def part(self, name: str) -> StepLog:
        return Steps(self.key(name))


class Outcomes:
    """Records what reaches the `Outcomes` port; fails on demand."""

    def __init__(self, fail: bool = False) -> None:
        self.counted: list[Figures] = []
        self.leads: list[LeadEvent] = []
        self.fail = fail

    async def count(self, figures: Figures) -> None:
        if self.fail:
            raise ConnectionError("redis is away")
        self.counted.append(figures)

    async def record_lead(self, event: LeadEvent) -> None:
        self.leads.append(event)


def figures_for(plan: TextbackPlan, textback: str = "none") -> tuple[tuple[str, ...], str]:
    call = MissedCall(call_id="CA1", line=LINE, caller=CALLER, at=AT)
    conv = conversation()
    conv.textback = textback  # type: ignore[assignment]  # the states a test names are valid
    figures = missed_call_figures(call, plan, conv)
    assert (figures.line, figures.at) == (LINE.number, AT)
    return figures.counted, figures.no_text


def test_a_missed_call_counts_texted_not_texted_or_neither() -> None:
    assert figures_for(TextbackPlan(send=True, body="Hi"), "sent") == (("missed", "texted"), "")
    assert figures_for(TextbackPlan(send=True, body="Hi"), "failed") == (("missed",), ""), "refused by the carrier"
    assert figures_for(TextbackPlan(send=False, reason="the caller opted out")) == (
        ("missed", "not_texted"), "the caller opted out")


def test_a_repeat_call_in_the_cooldown_is_no_not_texted_but_still_says_why() -> None:
    plan = TextbackPlan(send=False, reason="already texted within the 4 h cooldown")
    assert figures_for(plan) == (("missed",), "already texted within the 4 h cooldown")


def test_every_team_reply_answers_the_caller_and_only_the_first_is_timed() -> None:
    replied = AT + timedelta(minutes=7)
    first = conversation(first_reply_at=replied.isoformat())
    figures = team_reply_figures(first, replied)
    assert figures.counted == ("answered", "replied") and figures.reply_seconds == 420.0
    later = team_reply_figures(first, replied + timedelta(minutes=1))
    assert later.counted == ("answered",) and later.reply_seconds is None
    assert figures.caller == later.caller == lead_id(LINE.number, CALLER.number)


def test_figures_name_their_caller_by_lead_id_and_a_withheld_number_by_nobody() -> None:
    call = MissedCall(call_id="CA1", line=LINE, caller=CALLER, at=AT)
    assert missed_call_figures(call, TextbackPlan(send=True, body="Hi"), conversation()).caller == lead_id(
        LINE.number, CALLER.number)
    withheld = replace(call, caller=Caller(number="anonymous", display="Unknown", kind="withheld"))
    assert missed_call_figures(withheld, TextbackPlan(send=False, reason="caller ID withheld"), conversation()).caller == ""


def test_a_caller_text_after_the_text_back_is_a_reply_to_it_unless_it_is_a_keyword() -> None:
    texted = conversation()
    texted.textback = "sent"
    assert caller_text_figures(texted, AT, keyword=False).counted == ("texts_in", "reply_to_textback")
    assert caller_text_figures(texted, AT, keyword=True).counted == ("texts_in",), "STOP is no reply"
    assert caller_text_figures(conversation(), AT, keyword=False).counted == ("texts_in",), "never texted back"


async def test_a_job_is_counted_once_however_often_it_runs_and_its_lead_is_offered_each_time() -> None:
    steps, outcomes = Steps(), Outcomes()
    figures = Figures(LINE.number, AT, ("texts_in",))
    lead = lead_event("caller_sms", "job-1", conversation(), AT)
    for _ in range(2):
        await record_outcome("caller text", "job-1", figures, lead, steps=steps, outcomes=outcomes)
    assert outcomes.counted == [figures]
    assert [e.event_id for e in outcomes.leads] == ["job-1", "job-1"], "the lead store applies an event once"


async def test_a_failing_count_is_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = Outcomes(fail=True)
    lead = lead_event("missed_call", "job-2", conversation(), AT)
    await record_outcome("missed call", "job-2", Figures(LINE.number, AT, ("missed",)), lead,
                         steps=Steps("job-2"), outcomes=outcomes)
    assert "job job-2: recording the missed call outcome failed" in caplog.text
    assert outcomes.leads == [], "one failure ends the recording, as before; the job itself does not fail"


async def test_a_lead_event_names_the_conversation_and_skips_callers_without_a_number() -> None:
    event = lead_event("team_reply", "job-3", conversation(), AT, by="U1")
    assert (event.line, event.phone, event.conversation_id, event.thread_ts, event.by) == (
        LINE.number, CALLER.number, "c1", "111.222", "U1")
    outcomes = Outcomes()
    withheld = replace(lead_event("voicemail", "job-4", conversation(), AT), phone="anonymous")
    await record_lead_safely("job-4", withheld, outcomes=outcomes)
    assert outcomes.leads == []


def test_stop_start_and_help_never_answer_a_question_but_a_bare_yes_does() -> None:
    assert may_answer(None, "78701")
    assert may_answer("opt_in", "Yes!")
    assert not may_answer("opt_in", "START")
    assert not may_answer("opt_out", "STOP") and not may_answer("help", "HELP")
