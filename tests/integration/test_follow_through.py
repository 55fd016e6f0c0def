"""Reminders on unanswered threads and urgent paging, end to end with a fake clock (§2.4, §2.5).

The real server runs against the stand-ins and real Redis; time moves only when a test
moves the clock, and `rig.fire_due()` fires what the scheduler would fire at that moment.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ
from tests.integration.follow_through_rig import ALICE, BOB, CAROL, TUESDAY_10, at, ft_rig, missed_call_at
from tests.integration.saw import button_value, containing, dm_opened_for, dms, parent, texts_of

__all__ = ["ft_rig"]  # the fixture, shared by the follow-through tests

# --- the ladder -------------------------------------------------------------------------------


async def test_ladder_fires_at_each_step_in_business_hours(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    assert await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=4, seconds=59)) == 0
    assert containing(ft_rig, "No reply yet") == []

    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=5))
    [first] = containing(ft_rig, "No reply yet")
    assert "waiting 5m" in first

    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=15))
    [second] = containing(ft_rig, "Still no reply")
    assert "<!here>" in second and "15m" in second

    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=60))
    assert dm_opened_for(ft_rig) == [ALICE], "the on-call person this week is Alice"
    [dm] = dms(ft_rig)
    assert "no reply for 1h" in dm["text"] and "(512) 555-0123" in dm["text"]
    assert "slack.com/archives/" in dm["text"], "the DM links to the thread"
    [third] = containing(ft_rig, "direct message")
    assert f"<@{ALICE}>" in third
    assert ft_rig.services.metrics.reminders_sent._value.get() == 3
    # Nothing more is pending: a later moment fires nothing.
    assert await at(ft_rig, clock, TUESDAY_10 + timedelta(hours=5)) == 0


async def test_ladder_waits_across_a_closed_night(ft_rig: Rig, clock: FakeClock) -> None:
    late = datetime(2026, 11, 10, 16, 58, tzinfo=TZ)  # two minutes before closing
    await missed_call_at(ft_rig, clock, late)
    assert await at(ft_rig, clock, late + timedelta(minutes=5)) == 0
    assert await at(ft_rig, clock, datetime(2026, 11, 11, 8, 2, tzinfo=TZ)) == 0
    assert containing(ft_rig, "No reply yet") == []
    # 2 open minutes before closing + 3 after opening = the 5-minute step.
    await at(ft_rig, clock, datetime(2026, 11, 11, 8, 3, tzinfo=TZ))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_a_team_reply_stops_the_ladder(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    clock.set(TUESDAY_10 + timedelta(minutes=2))
    await ft_rig.team_replies(CHANNEL, parent(ft_rig)["ts"], "On our way!")
    await ft_rig.settle()
    assert ft_rig.twilio.messages_to(CALLER)[-1]["params"]["Body"] == "On our way!"
    for minutes in (5, 15, 60):
        await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=minutes))
    assert containing(ft_rig, "No reply") == [] and dms(ft_rig) == []
    assert "replied by" in texts_of(parent(ft_rig))


async def test_an_internal_note_does_not_stop_the_ladder(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    await ft_rig.team_replies(CHANNEL, parent(ft_rig)["ts"], "note: I'll call them after lunch")
    await ft_rig.settle()
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=5))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_a_new_caller_message_restarts_the_ladder(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    clock.set(TUESDAY_10 + timedelta(minutes=2))
    await ft_rig.team_replies(CHANNEL, parent(ft_rig)["ts"], "Hi! What's going on?")
    await ft_rig.settle()
    clock.set(TUESDAY_10 + timedelta(minutes=4))
    await ft_rig.caller_texts(CALLER, LINE, "Kitchen sink is dripping")
    await ft_rig.settle()
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=8, seconds=59))
    assert containing(ft_rig, "No reply yet") == []
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=9))
    [reminder] = containing(ft_rig, "No reply yet")
    assert "waiting 5m" in reminder


async def test_a_later_text_moves_the_ladder_instead_of_adding_one(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    clock.set(TUESDAY_10 + timedelta(minutes=3))
    await ft_rig.caller_texts(CALLER, LINE, "Hello?")
    await ft_rig.settle()
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=5))
    assert containing(ft_rig, "No reply yet") == [], "the first ladder was replaced"
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=8))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_resolve_stops_the_ladder_and_a_second_press_is_told(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    conv_id = button_value(card, "tb_resolve")
    status, _ = await ft_rig.press("tb_resolve", conv_id, channel=CHANNEL, message_ts=card["ts"], user=CAROL)
    assert status == 200
    await ft_rig.settle()
    for minutes in (5, 15, 60):
        await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=minutes))
    assert containing(ft_rig, "No reply") == []
    card = parent(ft_rig)
    assert f"Resolved by <@{CAROL}>" in texts_of(card)
    assert not any(b["type"] == "actions" for b in card["blocks"]), "a resolved card has no buttons"
    await ft_rig.press("tb_resolve", conv_id, channel=CHANNEL, message_ts=card["ts"], user=BOB)
    await ft_rig.settle()
    assert ft_rig.slack.ephemerals[-1]["user"] == BOB
    assert "already resolved" in ft_rig.slack.ephemerals[-1]["text"].lower()
    # A new call from the caller opens a new thread with its own ladder.
    await missed_call_at(ft_rig, clock, TUESDAY_10 + timedelta(hours=2))
    parents = [m for m in ft_rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")]
    assert len(parents) == 2


async def test_snooze_holds_reminders_until_it_ends(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    clock.set(TUESDAY_10 + timedelta(minutes=1))
    await ft_rig.press("tb_snooze_1h", button_value(card, "tb_snooze_1h"), channel=CHANNEL, message_ts=card["ts"])
    await ft_rig.settle()
    assert "Snoozed until" in ft_rig.slack.ephemerals[-1]["text"]
    assert "snoozed until" in texts_of(parent(ft_rig))
    for minutes in (5, 15, 60):
        await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=minutes))
    assert containing(ft_rig, "No reply") == []
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=61))  # the snooze ends: the ladder restarts
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=66))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_a_repeat_call_ends_a_snooze_and_its_card_says_so(ft_rig: Rig, clock: FakeClock) -> None:
    """The call restarts the ladder, and the card refreshed with its count no longer shows the
    snooze (the conversation is marked waiting with the count, before the card is refreshed)."""
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    clock.set(TUESDAY_10 + timedelta(minutes=1))
    await ft_rig.press("tb_snooze_1h", button_value(card, "tb_snooze_1h"), channel=CHANNEL, message_ts=card["ts"])
    await ft_rig.settle()
    assert "snoozed until" in texts_of(parent(ft_rig))
    await missed_call_at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=20))  # inside the cooldown: no second text
    assert "2 calls" in texts_of(parent(ft_rig)) and "snoozed until" not in texts_of(parent(ft_rig))
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=25))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_claim_makes_the_mention_go_to_the_claimer(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    conv_id = button_value(card, "tb_claim")
    await ft_rig.press("tb_claim", conv_id, channel=CHANNEL, message_ts=card["ts"], user=BOB)
    await ft_rig.settle()
    assert f"claimed by <@{BOB}>" in texts_of(parent(ft_rig))
    assert "tb_claim" not in json.dumps(parent(ft_rig)["blocks"])
    # The same button on a copy of the card from before the claim.
    await ft_rig.press("tb_claim", conv_id, channel=CHANNEL, message_ts=card["ts"], user=CAROL)
    await ft_rig.settle()
    assert f"<@{BOB}> already claimed" in ft_rig.slack.ephemerals[-1]["text"]
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=15))
    [mention] = containing(ft_rig, "Still no reply")
    assert f"<@{BOB}>" in mention and "<!here>" not in mention


async def test_a_button_on_a_card_of_a_forgotten_conversation_is_answered(ft_rig: Rig, clock: FakeClock) -> None:
    status, _ = await ft_rig.press("tb_resolve", "nope", channel=CHANNEL, message_ts="1.000001")
    await ft_rig.settle()
    assert status == 200
    assert "no longer exists" in ft_rig.slack.ephemerals[-1]["text"]




async def test_the_reminder_dm_escapes_a_caller_id_that_is_not_a_number(ft_rig: Rig, clock: FakeClock) -> None:
    """A SIP `From` is shown as sent: in a DM it must read as text, never as a mention or a link."""
    sip = "sip:<!channel>&<https://evil.example|verify>@evil.example"
    clock.set(TUESDAY_10)
    await ft_rig.missed_call(sip, LINE)
    await ft_rig.settle()
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=60))
    [dm] = dms(ft_rig)
    assert "sip:&lt;!channel&gt;&amp;&lt;https://evil.example|verify&gt;@evil.example" in dm["text"]
    assert "<!channel>" not in dm["text"] and "<https://evil.example" not in dm["text"]
