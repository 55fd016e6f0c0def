"""Urgent texts end to end with a fake clock: the card, the safety text, paging by DM,
thread mention, SMS and call, escalation to the backup, I'm on it, and the rotation (§2.5)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ
from tests.integration.follow_through_rig import ALICE, ALICE_PHONE, BOB, BOB_PHONE, at, ft_rig
from tests.integration.saw import button_value, calls_to, containing, dm_opened_for, dms, parent, texts_of

__all__ = ["ft_rig"]  # the fixture, shared by the follow-through tests

TWO_AM = datetime(2026, 11, 11, 2, 0, tzinfo=TZ)  # Wednesday, closed


async def urgent_text(rig: Rig, clock: FakeClock, body: str, when: datetime = TWO_AM) -> None:
    clock.set(when)
    await rig.caller_texts(CALLER, LINE, body)
    await rig.settle()
    await rig.fire_due()  # round 0 is due at once


async def test_urgent_text_pages_on_call_by_dm_thread_sms_and_call(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "Help, a burst pipe is flooding the basement")
    card = parent(ft_rig)
    assert "URGENT" in texts_of(card) and "burst pipe" in texts_of(card)
    assert "tb_ack" in json.dumps(card["blocks"])
    assert dm_opened_for(ft_rig) == [ALICE]
    assert "burst pipe" in dms(ft_rig)[0]["text"]
    [paged] = containing(ft_rig, "Paged by")
    assert f"<@{ALICE}>" in paged and "direct message, text and call" in paged
    [sms] = ft_rig.twilio.messages_to(ALICE_PHONE)
    assert sms["params"]["From"] == LINE and "(512) 555-0123" in sms["params"]["Body"]
    [call] = calls_to(ft_rig, ALICE_PHONE)
    twiml = call["params"]["Twiml"]
    assert "<Say>" in twiml and "burst pipe" in twiml
    assert ft_rig.twilio.messages_to(BOB_PHONE) == [], "the backup waits for the escalation"
    pages = ft_rig.services.metrics.pages_sent
    assert [pages.labels(via=v)._value.get() for v in ("slack", "sms", "voice")] == [1, 1, 1]
    # No safety text: a flood is urgent, not a life-safety hazard.
    assert all("911" not in m["params"]["Body"] for m in ft_rig.twilio.messages_to(CALLER))


async def test_unacknowledged_page_escalates_to_the_backup_and_repeats(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "water everywhere")
    assert await at(ft_rig, clock, TWO_AM + timedelta(minutes=4, seconds=59)) == 0
    await at(ft_rig, clock, TWO_AM + timedelta(minutes=5))
    assert dm_opened_for(ft_rig) == [ALICE, ALICE, BOB]
    assert len(ft_rig.twilio.messages_to(BOB_PHONE)) == 1 and len(calls_to(ft_rig, BOB_PHONE)) == 1
    assert len(ft_rig.twilio.messages_to(ALICE_PHONE)) == 2
    [second] = containing(ft_rig, "(page 2)")
    assert f"<@{ALICE}>" in second and f"<@{BOB}>" in second
    await at(ft_rig, clock, TWO_AM + timedelta(minutes=10))
    assert len(ft_rig.twilio.messages_to(BOB_PHONE)) == 2, "paging repeats until acknowledged"


async def test_im_on_it_stops_paging_and_a_second_press_is_told(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "sewage backup in the bathroom")
    card = parent(ft_rig)
    conv_id = button_value(card, "tb_ack")
    clock.set(TWO_AM + timedelta(minutes=2))
    await ft_rig.press("tb_ack", conv_id, channel=CHANNEL, message_ts=card["ts"], user=ALICE)
    await ft_rig.settle()
    assert "paging stopped" in ft_rig.slack.ephemerals[-1]["text"]
    card = parent(ft_rig)
    assert f"<@{ALICE}> is on it" in texts_of(card) and "tb_ack" not in json.dumps(card["blocks"])
    for minutes in (5, 10, 30):
        await at(ft_rig, clock, TWO_AM + timedelta(minutes=minutes))
    assert ft_rig.twilio.messages_to(BOB_PHONE) == [] and len(ft_rig.twilio.messages_to(ALICE_PHONE)) == 1
    await ft_rig.press("tb_ack", conv_id, channel=CHANNEL, message_ts=card["ts"], user=BOB)
    await ft_rig.settle()
    assert ft_rig.slack.ephemerals[-1]["user"] == BOB
    assert f"<@{ALICE}> is already on it" in ft_rig.slack.ephemerals[-1]["text"]


async def test_urgent_ladder_counts_wall_time_at_night(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "toilet overflowing everywhere")
    await at(ft_rig, clock, TWO_AM + timedelta(minutes=5))
    assert len(containing(ft_rig, "No reply yet")) == 1, "an urgent thread is reminded at 02:05, not at opening"


async def test_a_second_urgent_text_does_not_page_again(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "burst pipe")
    await urgent_text(ft_rig, clock, "it is flooding now", when=TWO_AM + timedelta(minutes=1))
    assert len(ft_rig.twilio.messages_to(ALICE_PHONE)) == 1
    assert len(containing(ft_rig, "Urgent: the caller wrote")) == 1


async def test_non_urgent_words_do_not_page(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "Can you look at my water heater next week? The fireplace too.")
    assert dms(ft_rig) == [] and ft_rig.twilio.calls == []
    assert "URGENT" not in texts_of(parent(ft_rig))


async def test_line_additions_to_the_urgent_words_count(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "There is black mold behind the sink")
    assert dm_opened_for(ft_rig) == [ALICE]


async def test_life_safety_text_gets_the_safety_sms_once(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "I smell gas in the kitchen")
    safety = [m for m in ft_rig.twilio.messages_to(CALLER) if "911" in m["params"]["Body"]]
    assert [m["params"]["Body"] for m in safety] == ["Acme says: leave the house now and call 911."]
    assert len(containing(ft_rig, "safety text")) == 1
    await urgent_text(ft_rig, clock, "the gas smell is stronger", when=TWO_AM + timedelta(minutes=1))
    assert len([m for m in ft_rig.twilio.messages_to(CALLER) if "911" in m["params"]["Body"]]) == 1
    assert dm_opened_for(ft_rig) == [ALICE]


async def test_opted_out_caller_gets_no_safety_sms_but_is_still_paged(ft_rig: Rig, clock: FakeClock) -> None:
    clock.set(TWO_AM - timedelta(minutes=5))
    await ft_rig.caller_texts(CALLER, LINE, "STOP")
    await ft_rig.settle()
    await urgent_text(ft_rig, clock, "smoke coming from the outlet")
    assert ft_rig.twilio.messages_to(CALLER) == []
    assert dm_opened_for(ft_rig) == [ALICE]


async def test_rotation_hands_over_to_the_next_person(ft_rig: Rig, clock: FakeClock) -> None:
    # Monday 2026-11-16 08:00 Chicago is the handover: Bob takes the week, Alice backs up.
    await urgent_text(ft_rig, clock, "burst pipe", when=datetime(2026, 11, 16, 7, 59, tzinfo=TZ))
    card = parent(ft_rig)
    await ft_rig.press("tb_resolve", button_value(card, "tb_resolve"), channel=CHANNEL, message_ts=card["ts"])
    await ft_rig.settle()
    await urgent_text(ft_rig, clock, "burst pipe again", when=datetime(2026, 11, 16, 8, 1, tzinfo=TZ))
    assert dm_opened_for(ft_rig) == [ALICE, BOB]


async def test_dm_text_and_sms_page_never_carry_caller_markup(ft_rig: Rig, clock: FakeClock) -> None:
    await urgent_text(ft_rig, clock, "<!channel> burst pipe <@U0BOB00001>")
    for message in ft_rig.slack.messages:
        assert "<!channel>" not in json.dumps(message)
    assert "<!channel>" not in ft_rig.twilio.messages_to(ALICE_PHONE)[0]["params"]["Body"]


async def test_a_line_without_on_call_tells_the_channel(rig: Rig, clock: FakeClock) -> None:
    clock.set(TWO_AM)
    await rig.caller_texts(CALLER, LINE, "burst pipe!")
    await rig.settle()
    await rig.fire_due()
    posts = [texts_of(m) for m in rig.slack.messages if m.get("thread_ts")]
    assert any("nobody is on call" in p and "<!here>" in p for p in posts)
    assert rig.twilio.calls == []


def test_block_kit_limits_of_the_card() -> None:
    from bot.slack.blocks import card
    from workflows.conversation import Caller, Conversation

    conv = Conversation(
        line=LINE, caller=Caller(CALLER, "(512) 555-0123", name="x" * 5000), channel=CHANNEL, opened_at=TWO_AM,
        origin="missed_call", in_hours=False, line_label="Acme", id="c" * 16,
        extra={"urgent": "burst pipe", "claimed_by": BOB, "paging_since": TWO_AM.isoformat()},
    )
    _, blocks = card(conv, "America/Chicago")
    assert len(blocks) <= 50
    for block in blocks:
        for element in block.get("elements") or []:
            assert len(element.get("value", "")) <= 2000
            assert len(element.get("action_id", "")) <= 255
        assert len(block.get("elements") or []) <= 25
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= 3000



async def test_the_page_dm_escapes_a_sender_that_is_not_a_number(ft_rig: Rig, clock: FakeClock) -> None:
    """An alphanumeric sender is shown as sent: in the on-call DM it must stay text."""
    sender = "Bank<!here>&<https://evil.example|verify>"
    clock.set(TWO_AM)
    await ft_rig.caller_texts(sender, LINE, "burst pipe!")
    await ft_rig.settle()
    await ft_rig.fire_due()
    [dm] = dms(ft_rig)
    assert "Bank&lt;!here&gt;&amp;&lt;https://evil.example|verify&gt;" in dm["text"]
    assert "<!here>" not in dm["text"] and "<https://evil.example" not in dm["text"]
