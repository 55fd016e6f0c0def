"""Opt-out keywords and the guards on automatic texts, through signed HTTP into the real app."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.blocks import escape
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, parents
from tests.integration.steps import clear_cooldown, open_thread
from workflows.texting import keyword_of


@pytest.mark.parametrize(
    ("body", "kind"),
    [("STOP", "opt_out"), ("stop", "opt_out"), (" Stop. ", "opt_out"), ("STOP!!", "opt_out"),
     ("unsubscribe", "opt_out"), ("OptOut", "opt_out"), ("quit", "opt_out"), ("Start", "opt_in"),
     ("UNSTOP", "opt_in"), ("yes", "opt_in"), ("help?", "help"), ("INFO", "help"),
     ("please stop", None), ("stop the leak", None), ("STOPPED", None), ("", None), ("...", None),
     ("don't stop", None), ("helpful", None)],
)
def test_keywords_are_single_words_only(body: str, kind: str | None) -> None:
    assert keyword_of(body) == kind


def test_twilio_opt_out_type_wins() -> None:
    assert keyword_of("arrête", "STOP") == "opt_out"
    assert keyword_of("whatever", "start") == "opt_in"
    assert keyword_of("hello", "") is None


@given(st.text())
def test_escaped_caller_text_can_never_form_a_slack_token(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    for token in ("<!", "<@", "<#"):
        assert token not in escaped


async def test_stop_is_mirrored_recorded_and_honoured_everywhere(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "Stop")
    await rig.settle()
    texts = [blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)]
    assert "Stop" in texts[-2] and "opted out" in texts[-1]
    assert len(rig.twilio.messages_to(CALLER)) == 1, "the carrier confirms STOP, not us"
    # A team reply is refused, privately, and nothing is texted.
    ts, _ = await rig.team_replies(CHANNEL, thread, "sorry to see you go")
    await rig.settle()
    [ephemeral] = rig.slack.ephemerals
    assert ephemeral["user"] == "U0TEAM0001" and "opted out" in ephemeral["text"]
    assert any(r["timestamp"] == ts and r["name"] == "no_entry_sign" for r in rig.slack.reactions)
    # A later missed call gets a thread line, not a text.
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert "opted out" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])


async def test_start_restores_texts(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.caller_texts(CALLER, LINE, "start")
    await rig.settle()
    assert "opted back in" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    await rig.team_replies(CHANNEL, thread, "welcome back")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "welcome back")


async def test_help_gets_the_help_reply_naming_the_business(rig: Rig) -> None:
    await rig.caller_texts(CALLER, LINE, "HELP")
    await rig.settle()
    [reply] = rig.twilio.messages_to(CALLER)
    assert reply["body"].startswith("Acme Plumbing:") and "Reply STOP to opt out" in reply["body"]


async def test_help_already_answered_by_twilio_advanced_opt_out_gets_no_second_reply(rig: Rig) -> None:
    message_sid = "SM" + "8" * 32
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": message_sid, "From": CALLER, "To": LINE,
              "Body": "help", "NumMedia": "0", "OptOutType": "HELP"}
    status, _ = await rig.twilio_post("/twilio/sms", params)
    await rig.settle()
    assert status == 200 and rig.twilio.messages == []


async def test_error_21610_records_the_opt_out(rig: Rig) -> None:
    rig.twilio.set_recipient_error(CALLER, 21610, message="Attempt to send to unsubscribed recipient")
    thread = await open_thread(rig)
    rig.twilio.clear_recipient_error(CALLER)
    await rig.team_replies(CHANNEL, thread, "hello?")
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    assert "opted out" in rig.slack.ephemerals[0]["text"]


async def test_landline_learned_from_21614_stops_later_texts(rig: Rig) -> None:
    rig.twilio.set_recipient_error(CALLER, 21614, message="'To' number is not a valid mobile number")
    thread = await open_thread(rig)
    rig.twilio.clear_recipient_error(CALLER)
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    assert "landline" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])


async def test_blocked_number_gets_a_thread_and_no_text(rig: Rig) -> None:
    await rig.services.flags.set_blocked(LINE, CALLER, True)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages == []
    [parent] = parents(rig)
    assert "No text-back: the number is blocked" in blocks_text(rig.slack.thread(CHANNEL, parent["ts"])[-1])


async def test_international_caller_gets_no_automatic_text(rig: Rig) -> None:
    await rig.missed_call("+442079460958", LINE)
    await rig.settle()
    assert rig.twilio.messages == []
    assert "international number" in blocks_text(parents(rig)[0])


async def test_short_code_and_own_numbers_get_no_text(rig: Rig) -> None:
    await rig.missed_call("72345", LINE)
    await rig.missed_call("+15125550111", LINE)  # the staff phone calling the line
    await rig.settle()
    assert rig.twilio.messages == []
    cards = [blocks_text(p) for p in parents(rig)]
    assert any("short code" in c for c in cards) and any("own numbers" in c for c in cards)
