"""Opt-outs in the caller's own words, through signed HTTP into the real app: clear ones at once
with one confirmation text, unclear ones as a card in the thread that anyone can answer."""

from __future__ import annotations

from typing import Any

from standins.clock import FakeClock
from standins.rig import Rig, new_sid
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, button_value
from tests.integration.steps import clear_cooldown, open_thread
from workflows.ports import ConsentEvent

MEMBER = "U0MEMBER01"


async def _logged(rig: Rig) -> list[ConsentEvent]:
    return [e async for e in rig.services.consent.events(caller=CALLER)]


def _card(rig: Rig, thread: str) -> dict[str, Any]:
    return next(m for m in rig.slack.thread(CHANNEL, thread) if "tb_optout_yes" in str(m.get("blocks")))


async def _press(rig: Rig, thread: str, action: str, user: str = MEMBER) -> str:
    card = _card(rig, thread)
    status, _ = await rig.press(action, button_value(card, action), channel=CHANNEL, message_ts=card["ts"], user=user)
    assert status == 200
    await rig.settle()
    return str(rig.slack.ephemerals[-1]["text"])


async def _missed_again(rig: Rig) -> None:
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()


async def test_a_clear_request_opts_out_at_once_with_one_confirmation(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "Stop texting me please")
    await rig.settle()
    texts = rig.twilio.messages_to(CALLER)
    assert len(texts) == 2, "the text-back, then one confirmation"
    assert texts[1]["body"].startswith("Acme Plumbing:") and "START" in texts[1]["body"]
    assert "asked to opt out in their own words" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    [event] = await _logged(rig)
    assert (event.event, event.how, event.line, event.message, event.by) == (
        "opt_out", "phrase", LINE, "Stop texting me please", "caller")
    assert event.reply == texts[1]["body"]
    # Saying it again gets no second confirmation; a later missed call gets no text.
    await rig.caller_texts(CALLER, LINE, "no more texts")
    await _missed_again(rig)
    assert len(rig.twilio.messages_to(CALLER)) == 2
    assert "opted out" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])


async def test_no_confirmation_when_twilio_already_answered(rig: Rig) -> None:
    await open_thread(rig)
    sid = new_sid("SM")
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": sid, "From": CALLER, "To": LINE,
              "Body": "Stop texting me", "NumMedia": "0", "OptOutType": "STOP"}
    status, _ = await rig.twilio_post("/twilio/sms", params)
    await rig.settle()
    assert status == 200 and len(rig.twilio.messages_to(CALLER)) == 1, "only the text-back"
    assert await rig.services.flags.is_opted_out(LINE, CALLER)
    [event] = await _logged(rig)
    assert (event.event, event.how, event.reply) == ("opt_out", "twilio", "")


async def test_an_unclear_request_holds_automatic_texts_until_someone_says_not_an_opt_out(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "leave me alone")
    await rig.settle()
    card = _card(rig, thread)
    assert "This looks like an opt-out request" in blocks_text(card)
    assert button_value(card, "tb_optout_no")
    await _missed_again(rig)
    assert len(rig.twilio.messages_to(CALLER)) == 1, "no text-back while undecided"
    assert "may be an opt-out" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    # A person's own reply is theirs to send.
    await rig.team_replies(CHANNEL, thread, "Sorry! Did you want us to stop texting?")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "Sorry! Did you want us to stop texting?")
    assert await _press(rig, thread, "tb_optout_no") == "Noted: not an opt-out."
    assert "decided this was not an opt-out" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    assert "Already decided" in await _press(rig, thread, "tb_optout_yes")
    assert not await rig.services.flags.is_opted_out(LINE, CALLER)
    await _missed_again(rig)
    assert len(rig.twilio.messages_to(CALLER)) == 3, "text-backs go again"
    assert [(e.event, e.by) for e in await _logged(rig)] == [
        ("opt_out_unclear", "caller"), ("decided_not_opt_out", MEMBER)]


async def test_opt_out_pressed_within_five_minutes_sends_the_one_confirmation(rig: Rig, clock: FakeClock) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "wrong number")
    await rig.settle()
    clock.advance(minutes=4)
    assert await _press(rig, thread, "tb_optout_yes") == "Opted out: no texts will go to this caller."
    texts = rig.twilio.messages_to(CALLER)
    assert len(texts) == 2 and "opted out" in texts[1]["body"]
    assert await rig.services.flags.is_opted_out(LINE, CALLER)
    [*_, decided] = await _logged(rig)
    assert (decided.event, decided.by, decided.reply) == ("decided_opt_out", MEMBER, texts[1]["body"])


async def test_opt_out_pressed_later_sends_no_confirmation(rig: Rig, clock: FakeClock) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "no me interesa")
    await rig.settle()
    clock.advance(minutes=6)
    await _press(rig, thread, "tb_optout_yes")
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert "over 5 minutes" in blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    assert await rig.services.flags.is_opted_out(LINE, CALLER)


async def test_ordinary_words_with_stop_are_just_texts(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "can you stop by tomorrow")
    await rig.settle()
    assert not any("tb_optout" in str(m.get("blocks")) for m in rig.slack.thread(CHANNEL, thread))
    assert await _logged(rig) == []
    assert not await rig.services.flags.is_opted_out(LINE, CALLER)
