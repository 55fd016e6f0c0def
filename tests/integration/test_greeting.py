"""The greeting after a missed call says a text was sent only when one is being sent; each
line may word both cases (`greeting: {texted, not_texted}`), also from Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CONFIG_YAML, LINE
from tests.integration.conftest import rig_for
from tests.integration.saw import said
from tests.integration.steps import slash

TEXTED = "We just sent you a text message"


async def missed_call_answer(rig: Rig, caller: str = CALLER) -> str:
    sid, _, _ = await rig.incoming_call(caller, LINE)
    status, twiml = await rig.dial_ended(caller, LINE, sid)
    assert status == 200
    await rig.settle()
    return twiml


async def test_a_texted_caller_hears_that_a_text_is_on_its_way(rig: Rig) -> None:
    twiml = await missed_call_answer(rig)
    assert TEXTED in twiml and len(rig.twilio.messages_to(CALLER)) == 1


async def test_the_second_call_in_the_cooldown_hears_no_promise_of_a_text(rig: Rig) -> None:
    await missed_call_answer(rig)
    twiml = await missed_call_answer(rig)
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert TEXTED not in twiml and "We'll get back to you as soon as we can." in twiml


@pytest.mark.parametrize("guard", ["opted out", "blocked", "withheld", "landline"])
async def test_no_text_no_promise(rig: Rig, guard: str) -> None:
    caller = CALLER
    if guard == "opted out":
        await rig.caller_texts(CALLER, LINE, "STOP")
        await rig.settle()
    elif guard == "blocked":
        await rig.services.flags.set_blocked(LINE, CALLER, True)
    elif guard == "withheld":
        caller = "anonymous"
    else:
        await rig.services.flags.mark_landline(CALLER)
    sent_before = len(rig.twilio.messages_to(CALLER))
    twiml = await missed_call_answer(rig, caller)
    assert len(rig.twilio.messages_to(CALLER)) == sent_before
    assert TEXTED not in twiml and "Sorry we missed your call." in twiml


@pytest.fixture
async def worded(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    yaml = CONFIG_YAML.replace(
        "    timezone: America/Chicago\n",
        "    timezone: America/Chicago\n    voicemail: true\n"
        "    greeting:\n      texted: \"{business} here. Check your texts!\"\n"
        "      not_texted: \"{business} here. Sorry we missed you.\"\n",
        1,
    )
    async with rig_for(yaml, redis_url, clock, tmp_path) as rig:
        yield rig


async def test_a_lines_own_greeting_with_the_voicemail_prompt_that_fits(worded: Rig) -> None:
    business = worded.settings.config.line_for_number(LINE).business  # type: ignore[union-attr]
    twiml = await missed_call_answer(worded)
    assert f"{business} here. Check your texts! Or leave a message after the tone." in twiml
    twiml = await missed_call_answer(worded)  # in the cooldown
    assert f"{business} here. Sorry we missed you. Please leave a message after the tone." in twiml


async def test_admins_set_the_greeting_from_slack(rig: Rig) -> None:
    reply = said(await slash(rig, 'template set greeting.not_texted "{business}: we will call you back."'))
    assert "Saved" in reply, reply
    listed = said(await slash(rig, "template"))
    assert "greeting.not_texted" in listed and "we will call you back." in listed
    await missed_call_answer(rig)
    twiml = await missed_call_answer(rig)
    assert ": we will call you back." in twiml
