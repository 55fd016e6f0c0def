"""Reminders on unanswered threads and urgent paging, end to end with a fake clock (§2.4, §2.5).

The real server runs against the stand-ins and real Redis; time moves only when a test
moves the clock, and `rig.fire_due()` fires what the scheduler would fire at that moment.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.clock import FakeClock
from bot.settings import parse_config
from bot.standins.rig import Rig, rig_settings
from tests.conftest import CALLER, CHANNEL, LINE, STAFF, TZ

ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "U0CAROL001"
ALICE_PHONE, BOB_PHONE = "+15125550181", "+15125550182"

CONFIG = f"""
business: Acme Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["{STAFF}"]
    timezone: America/Chicago
    hours: {{mon: "08:00-17:00", tue: "08:00-17:00", wed: "08:00-17:00",
            thu: "08:00-17:00", fri: "08:00-17:00"}}
    vertical: plumbing
    reminders: [5m, 15m, 60m]
    oncall:
      people: [{{user: {ALICE}, phone: "{ALICE_PHONE}"}}, {{user: {BOB}, phone: "{BOB_PHONE}"}}]
      handover: mon 08:00
      starts: 2026-11-09
      call: true
      escalate_after: 5m
    urgent: {{add: [mold], safety_texts: {{gas: "Acme says: leave the house now and call 911."}}}}
"""
TUESDAY_10 = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)


@pytest.fixture
async def ft_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    config = parse_config(CONFIG, "test.yml")
    async with Rig(rig_settings(config, redis_url=redis_url, data_dir=tmp_path), clock=clock) as r:
        yield r
        assert not r.twilio.violations, r.twilio.violations
        assert not r.slack.violations, r.slack.violations


def texts_of(message: dict) -> str:
    out = [message.get("text", "")]
    for block in message.get("blocks") or []:
        for part in [block.get("text"), *(block.get("elements") or [])]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return "\n".join(out)


def parent(rig: Rig) -> dict:
    [card] = [m for m in rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")]
    return card


def thread(rig: Rig) -> list[str]:
    return [texts_of(m) for m in rig.slack.thread(CHANNEL, parent(rig)["ts"])][1:]


def containing(rig: Rig, words: str) -> list[str]:
    return [t for t in thread(rig) if words in t]


def dms(rig: Rig) -> list[dict]:
    return [m for m in rig.slack.messages if m["channel"].startswith("D")]


def dm_opened_for(rig: Rig) -> list[str]:
    return [str(c.params.get("users")) for c in rig.slack.requests if c.method == "conversations.open"]


def calls_to(rig: Rig, number: str) -> list[dict]:
    return [c for c in rig.twilio.calls if c["to"] == number]


async def at(rig: Rig, clock: FakeClock, when: datetime) -> int:
    clock.set(when)
    return await rig.fire_due()


async def missed_call_at(rig: Rig, clock: FakeClock, when: datetime) -> None:
    clock.set(when)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()


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
    conv_id = _button_value(card, "tb_resolve")
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
    await ft_rig.press("tb_snooze_1h", _button_value(card, "tb_snooze_1h"), channel=CHANNEL, message_ts=card["ts"])
    await ft_rig.settle()
    assert "Snoozed until" in ft_rig.slack.ephemerals[-1]["text"]
    assert "snoozed until" in texts_of(parent(ft_rig))
    for minutes in (5, 15, 60):
        await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=minutes))
    assert containing(ft_rig, "No reply") == []
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=61))  # the snooze ends: the ladder restarts
    await at(ft_rig, clock, TUESDAY_10 + timedelta(minutes=66))
    assert len(containing(ft_rig, "No reply yet")) == 1


async def test_claim_makes_the_mention_go_to_the_claimer(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    conv_id = _button_value(card, "tb_claim")
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


def _button_value(card: dict, action: str) -> str:
    for block in card["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action:
                return str(element["value"])
    raise AssertionError(f"no {action} button on the card")


# --- urgent: paging -------------------------------------------------------------------------


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
    conv_id = _button_value(card, "tb_ack")
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
    await ft_rig.press("tb_resolve", _button_value(card, "tb_resolve"), channel=CHANNEL, message_ts=card["ts"])
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
