"""`/textback block`, `unblock`, `cooldown` and `reminders`."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, LINE
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, MEMBER, slash


async def test_block_accepts_any_common_us_format(rig: Rig) -> None:
    for written in ("(512) 555-0123", "512-555-0123", "512.555.0123", "+1 512 555 0123", "<tel:5125550123|512 555 0123>"):
        await slash(rig, f"unblock {written}")
        reply = said(await slash(rig, f"block {written}"))
        assert "Blocked (512) 555-0123" in reply, written
        assert await rig.services.flags.suppression(LINE, CALLER) == "the number is blocked"


async def test_block_and_unblock_are_announced(rig: Rig) -> None:
    await slash(rig, "block 5125550123")
    assert "already blocked" in said(await slash(rig, "block 5125550123"))
    listing = said(await slash(rig, "block", user=MEMBER))
    assert "*Blocked numbers (1)*\n• (512) 555-0123" in listing
    assert "Unblocked (512) 555-0123" in said(await slash(rig, "unblock (512) 555-0123"))
    assert await rig.services.flags.suppression(LINE, CALLER) == ""
    assert "is not blocked" in said(await slash(rig, "unblock (512) 555-0123"))
    notices = await announcements(rig)
    assert len(notices) == 2
    assert f"<@{ADMIN}> changed" in notices[0] and "(512) 555-0123: not blocked → blocked" in notices[0]
    assert "(512) 555-0123: blocked → not blocked" in notices[1]


async def test_block_input_mistakes(rig: Rig) -> None:
    bad = said(await slash(rig, "block 555-12"))
    assert '"555-12" is not a phone number' in bad and "Example: `/textback block (512) 555-0123`" in bad
    assert "say which number" in said(await slash(rig, "unblock"))
    assert "this line's own number" in said(await slash(rig, "block (512) 555-0100"))
    assert "No numbers are blocked" in said(await slash(rig, "block"))


async def test_cooldown_shows_and_sets(rig: Rig) -> None:
    shown = said(await slash(rig, "cooldown", user=MEMBER))
    assert "Cooldown: 4h (default)" in shown
    assert "*cooldown*: 4h → 2h" in said(await slash(rig, "cooldown 2 hours"))
    assert "2h → 1h30m" in said(await slash(rig, "cooldown 1h 30m"))
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.cooldown == 5400
    assert "No change" in said(await slash(rig, "cooldown 90m"))
    assert len(await announcements(rig)) == 2


async def test_cooldown_input_mistakes(rig: Rig) -> None:
    reply = said(await slash(rig, "cooldown soon"))
    assert '"soon" is not a duration' in reply and "Example: `/textback cooldown 4h`" in reply
    bare = said(await slash(rig, "cooldown 30"))
    assert '30 has no unit: write "30m" for minutes or "30s" for seconds' in bare


async def test_reminders_show_set_and_turn_off(rig: Rig) -> None:
    assert "Reminders: 5m, 15m, 1h (default)" in said(await slash(rig, "reminders", user=MEMBER))
    assert "*reminders*: 5m, 15m, 1h → 10m, 30m, 2h" in said(await slash(rig, "reminders 10m 30m 120m"))
    await slash(rig, "reminders 5 min, 1 hour")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.reminders == (300, 3600)
    await slash(rig, "reminders [2m, 5m]")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.reminders == (120, 300)
    assert "2m, 5m → off" in said(await slash(rig, "reminders off"))
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.reminders == ()


async def test_reminders_input_mistakes(rig: Rig) -> None:
    down = said(await slash(rig, "reminders 15m 5m"))
    assert "reminders must go up" in down and "Example: `/textback reminders 5m 15m 60m`" in down
    assert "is not a duration" in said(await slash(rig, "reminders 5m later"))
    assert "5 has no unit" in said(await slash(rig, "reminders 5 15"))
    assert await announcements(rig) == []
