"""Call screening (PROTOCOLS 1.3, 1.6): a staff phone that answers hears who is calling and
must press 1; a decline or a staff voicemail that picks up counts as missed, from our own
record of the 1, not from Twilio's "completed" alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig, new_sid
from tests.conftest import CALLER, CHANNEL, CONFIG_YAML, LINE
from tests.integration.conftest import rig_for
from tests.integration.saw import blocks_text, parents, said
from tests.integration.steps import slash

STAFF, OTHER_STAFF = "+15125550111", "+15125550112"


async def staff_answers(rig: Rig, parent: str, staff: str = STAFF) -> str:
    """The staff leg answered: what Twilio gets from the whisper URL."""
    query = f"parent={parent}&line={quote(LINE)}&from={quote(CALLER)}"
    status, twiml = await rig.twilio_post(f"/twilio/voice/screen?{query}", rig.call_params(CALLER, staff, new_sid("CA")))
    assert status == 200
    return twiml


async def staff_presses(rig: Rig, parent: str, digits: str, staff: str = STAFF) -> str:
    params = rig.call_params(CALLER, staff, new_sid("CA"), Digits=digits)
    status, twiml = await rig.twilio_post(f"/twilio/voice/screen/result?parent={parent}", params)
    assert status == 200
    return twiml


async def test_the_staff_phone_hears_who_calls_and_how_to_take_it(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    twiml = await staff_answers(rig, sid)
    business = rig.settings.config.line_for_number(LINE).business  # type: ignore[union-attr]
    assert f"Call for {business} from 5 1 2, 5 5 5, 0 1 2 3. Press 1 to take it." in twiml
    assert '<Gather action="https://textback.example.test/twilio/voice/screen/result?parent=' + sid in twiml
    assert 'numDigits="1"' in twiml and twiml.rstrip().endswith("<Hangup /></Response>")


async def test_a_voicemail_that_answered_is_a_missed_call_texted_and_threaded_once(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    await staff_answers(rig, sid)  # the staff phone's voicemail picks up and plays its greeting
    status, twiml = await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")
    assert status == 200 and "We just sent you a text message" in twiml
    await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")  # Twilio retries
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    [card] = parents(rig)
    thread = "\n".join(blocks_text(m) for m in rig.slack.thread(CHANNEL, card["ts"]))
    assert thread.count("nobody pressed 1 to take the call (declined, or its voicemail picked up)") == 1


async def test_a_pressed_1_is_an_answered_call(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    assert (await staff_presses(rig, sid, "1")).rstrip().endswith("<Response />")  # bridged
    status, twiml = await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")
    assert "<Hangup" in twiml
    await rig.settle()
    assert rig.twilio.messages == [] and rig.slack.messages == []


async def test_one_phone_declines_and_another_takes_it(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    assert "<Hangup" in await staff_presses(rig, sid, "2", staff=OTHER_STAFF)
    await staff_presses(rig, sid, "1", staff=STAFF)
    await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")
    await rig.settle()
    assert rig.twilio.messages == []


async def test_another_calls_acceptance_does_not_count(rig: Rig) -> None:
    other, _, _ = await rig.incoming_call(CALLER, LINE)
    await staff_presses(rig, other, "1")
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1


@pytest.fixture
async def unscreened(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    yaml = CONFIG_YAML.replace("    timezone: America/Chicago\n", "    timezone: America/Chicago\n    screen: false\n", 1)
    async with rig_for(yaml, redis_url, clock, tmp_path) as rig:
        yield rig


async def test_without_screening_completed_means_answered(unscreened: Rig) -> None:
    sid, _, twiml = await unscreened.incoming_call(CALLER, LINE)
    assert f"<Number>{STAFF}</Number>" in twiml and "/screen" not in twiml
    await unscreened.dial_ended(CALLER, LINE, sid, dial_status="completed")
    await unscreened.settle()
    assert unscreened.twilio.messages == []


async def test_admins_turn_screening_off_and_on_from_slack(rig: Rig) -> None:
    assert "off" in said(await slash(rig, "screen off"))
    _, _, twiml = await rig.incoming_call(CALLER, LINE)
    assert "/screen" not in twiml
    assert "on" in said(await slash(rig, "screen on"))
    _, _, twiml = await rig.incoming_call(CALLER, LINE)
    assert "/twilio/voice/screen?" in twiml
