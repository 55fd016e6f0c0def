"""`/textback forget <number>`: admins delete a caller's stored data from Slack."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, LINE_B
from tests.integration.saw import said
from tests.integration.steps import ADMIN, ELSEWHERE, MEMBER, slash


async def channel_notices(rig: Rig) -> list[str]:
    await rig.settle()
    return [said(m) for m in rig.slack.messages_in(CHANNEL) if "forget" in str(m.get("text"))]


async def test_an_admin_forgets_a_caller_and_the_channel_is_told_who_did_it(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call(CALLER, LINE_B)
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    r = rig.services.redis.client
    assert await r.get(f"tb:open:{LINE}:{CALLER}") is not None

    reply = said(await slash(rig, "forget (512) 555-0123"))
    assert "Forgot (512) 555-0123: 2 conversation(s)" in reply
    assert f"Kept: opt-out on {LINE}" in reply and "stay in Slack" in reply
    for line in (LINE, LINE_B):
        assert await r.get(f"tb:open:{line}:{CALLER}") is None
        assert await r.get(f"tb:cooldown:{line}:{CALLER}") is None
    assert await rig.services.flags.suppression(LINE, CALLER) == "the caller opted out (replied STOP)"

    [notice] = await channel_notices(rig)
    assert f"<@{ADMIN}> had textback forget the caller `+1*******0123`" in notice
    assert "5125550123" not in notice and "555-0123" not in notice, "the channel never sees the number"


async def test_members_are_refused_privately_and_nothing_is_deleted(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    reply = said(await slash(rig, "forget (512) 555-0123", user=MEMBER))
    assert "Only workspace admins and owners" in reply
    assert await rig.services.redis.client.get(f"tb:open:{LINE}:{CALLER}") is not None
    assert await channel_notices(rig) == []


async def test_forget_input_mistakes(rig: Rig) -> None:
    assert "say which number" in said(await slash(rig, "forget"))
    bad = said(await slash(rig, "forget 555-12"))
    assert '"555-12" is not a phone number' in bad and "Example: `/textback forget (512) 555-0123`" in bad
    assert "not linked to a textback line" in said(await slash(rig, "forget (512) 555-0123", channel=ELSEWHERE))
    assert await channel_notices(rig) == []


async def test_help_lists_forget(rig: Rig) -> None:
    assert "/textback forget (512) 555-0123" in said(await slash(rig, "help", user=MEMBER))
