"""Call back from the business number: the card's Call back button and `/textback call` ring
the presser's own phone from the line's number, then the caller; the outcome comes back once
and a connected call is the team's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig, new_sid
from tests.conftest import CALLER, CHANNEL, LINE, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.follow_through_rig import ALICE, ALICE_PHONE, TUESDAY_10, missed_call_at
from tests.integration.saw import blocks_text, button_value, parent, said
from tests.integration.steps import slash

DANA, DANA_PHONE, SAM = "U0DANA0001", "+15125550199", "U0SAM00001"
CONFIG = line_a_with(f"""\
    reminders: [5m, 15m, 60m]
    staff: [{{user: {SAM}, phone: "+15125550177"}}]
    oncall: {{people: [{{user: {ALICE}, phone: "{ALICE_PHONE}"}}]}}
""")


@pytest.fixture
async def cb(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(CONFIG, redis_url, clock, tmp_path) as rig:
        yield rig


async def press_call_back(rig: Rig, user: str) -> str:
    card = parent(rig)
    status, _ = await rig.press("tb_callback", button_value(card, "tb_callback"), channel=CHANNEL,
                                message_ts=card["ts"], user=user)
    assert status == 200
    await rig.settle()
    return str(rig.slack.ephemerals[-1]["text"])


def thread_text(rig: Rig) -> str:
    return "\n".join(blocks_text(m) for m in rig.slack.thread(CHANNEL, parent(rig)["ts"]))


async def bridge_ended(rig: Rig, call_twiml: str, status: str, seconds: int, call_sid: str) -> None:
    action = call_twiml.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    path = action.removeprefix(rig.settings.public_url)
    params = rig.call_params(DANA_PHONE, LINE, call_sid, DialCallStatus=status, DialCallDuration=str(seconds),
                             DialCallSid=new_sid("CA"))
    answer, twiml = await rig.twilio_post(path, params)
    assert answer == 200 and "<Hangup" in twiml


async def test_without_a_phone_the_presser_is_told_how_to_add_one(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    told = await press_call_back(cb, DANA)
    assert "/textback phone (512) 555-0199" in told and cb.twilio.calls == []


async def test_call_back_rings_my_phone_from_the_line_then_the_caller(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    assert "Saved" in said(await slash(cb, "phone (512) 555-0199", user=DANA))
    told = await press_call_back(cb, DANA)
    assert "Calling your phone" in told
    [call] = cb.twilio.calls
    assert (call["to"], call["from"]) == (DANA_PHONE, LINE)
    twiml = call["params"]["Twiml"]
    business = cb.settings.config.line_for_number(LINE).business  # type: ignore[union-attr]
    assert f"Connecting you to 5 1 2, 5 5 5, 0 1 2 3 for {business}." in twiml
    assert f'callerId="{LINE}"' in twiml and f"<Number>{CALLER}</Number>" in twiml
    assert "is calling (512) 555-0123 back from the business number." in thread_text(cb)
    # A second press is a second call back; a retried job of the same press is not.
    await press_call_back(cb, DANA)
    assert len(cb.twilio.calls) == 2


async def test_a_connected_call_back_is_posted_once_and_stops_the_reminders(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    await slash(cb, "phone (512) 555-0199", user=DANA)
    await press_call_back(cb, DANA)
    [call] = cb.twilio.calls
    for _ in range(2):  # Twilio retries the action request
        await bridge_ended(cb, call["params"]["Twiml"], "completed", 125, call["sid"])
    await cb.settle()
    assert thread_text(cb).count("called back from the business number: connected for 2m 05s.") == 1
    conv = await cb.services.store.open_for(LINE, CALLER)
    assert conv is not None and conv.extra.get("first_reply_by") == DANA
    lead = await cb.services.leads.get(LINE, CALLER)
    assert lead is not None and lead.status == "contacted"
    clock.advance(hours=2)
    await cb.fire_due()
    assert "No reply yet" not in thread_text(cb)


async def test_an_unanswered_call_back_says_so_and_the_ladder_goes_on(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    await slash(cb, "phone (512) 555-0199", user=DANA)
    await press_call_back(cb, DANA)
    [call] = cb.twilio.calls
    await bridge_ended(cb, call["params"]["Twiml"], "no-answer", 0, call["sid"])
    await cb.settle()
    assert "called back from the business number: no answer." in thread_text(cb)
    clock.set(TUESDAY_10 + timedelta(minutes=6))
    await cb.fire_due()
    assert "No reply yet" in thread_text(cb)


async def test_staff_phones_from_the_lines_file_and_on_call(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    await press_call_back(cb, SAM)
    await press_call_back(cb, ALICE)
    assert [c["to"] for c in cb.twilio.calls] == ["+15125550177", ALICE_PHONE]


async def test_a_blocked_number_is_not_called(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    await cb.services.flags.set_blocked(LINE, CALLER, True)
    told = await press_call_back(cb, SAM)
    assert "blocked" in told and cb.twilio.calls == []


async def test_the_call_command_does_what_the_button_does(cb: Rig, clock: FakeClock) -> None:
    await missed_call_at(cb, clock, TUESDAY_10)
    reply = said(await slash(cb, "call (512) 555-0123", user=SAM))
    assert "your phone rings first" in reply
    await cb.settle()
    [call] = cb.twilio.calls
    assert call["to"] == "+15125550177" and f"<Number>{CALLER}</Number>" in call["params"]["Twiml"]
