"""`/textback setup <number>`: linking a channel to a Twilio number from Slack."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from bot.lines.directory import LineDirectory
from bot.settings import parse_config
from bot.store.line_settings import RedisLineSettings
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CHANNEL_B, CONFIG_YAML, LINE, LINE_B
from tests.integration.saw import announcements, said
from tests.integration.steps import ELSEWHERE, MEMBER, slash

NEW = "+15125550300"


async def test_setup_links_a_channel_to_an_owned_number_with_the_files_defaults(rig: Rig) -> None:
    rig.twilio.account.add_number(NEW)
    reply = said(await slash(rig, "setup (512) 555-0300", channel=ELSEWHERE))
    assert "Linked this channel to (512) 555-0300" in reply and "business Acme Plumbing (from the lines file)" in reply
    line = await rig.services.lines.line_for_channel(ELSEWHERE)
    assert line is not None and line.number == NEW and line.business == "Acme Plumbing"
    assert line.timezone == "America/Chicago" and line.detection == "forwarded"
    notices = await announcements(rig, ELSEWHERE)
    assert len(notices) == 1 and "*line*: not linked → (512) 555-0300" in notices[0]
    status = said(await slash(rig, "status", channel=ELSEWHERE, user=MEMBER))
    assert "textback · Acme Plumbing" in status and "(512) 555-0300" in status and "linked from Slack by" in status
    # The new line works end to end: a missed call opens its thread in the linked channel.
    await rig.missed_call(CALLER, NEW)
    await rig.settle()
    assert any("Missed call" in str(m.get("text")) for m in rig.slack.messages_in(ELSEWHERE))
    # The other lines are untouched.
    assert (await rig.services.lines.line_for_number(LINE_B)) is not None
    assert (await rig.services.lines.line_for_channel(CHANNEL_B)).number == LINE_B  # type: ignore[union-attr]


async def test_setup_survives_a_restart(rig: Rig, redis: Redis) -> None:
    rig.twilio.account.add_number(NEW)
    await slash(rig, "setup 512.555.0300", channel=ELSEWHERE)
    fresh = LineDirectory(parse_config(CONFIG_YAML, "test.yml"), RedisLineSettings(redis))
    line = await fresh.line_for_channel(ELSEWHERE)
    assert line is not None and line.number == NEW
    linked = await fresh.linked_by(line)
    assert linked is not None and linked.value == ELSEWHERE


async def test_setup_refuses_a_number_linked_elsewhere_not_owned_or_badly_written(rig: Rig) -> None:
    taken = said(await slash(rig, "setup (512) 555-0200", channel=ELSEWHERE))
    assert "already linked to <#C0LINEB001>" in taken
    rig.twilio.account.add_number(NEW)
    not_ours = said(await slash(rig, "setup +1 512 555 0999", channel=ELSEWHERE))
    assert "(512) 555-0999 is not a number of this Twilio account" in not_ours
    bad = said(await slash(rig, "setup 555-12", channel=ELSEWHERE))
    assert '"555-12" is not a phone number' in bad and "Example: `/textback setup (512) 555-0100`" in bad
    assert "say which Twilio number" in said(await slash(rig, "setup", channel=ELSEWHERE))
    here = said(await slash(rig, f"setup {LINE}", channel=CHANNEL))
    assert "already this channel's line (in the lines file)" in here
    other = said(await slash(rig, f"setup {NEW}", channel=CHANNEL))
    assert "This channel is already linked to (512) 555-0100" in other
    assert await rig.services.lines.line_for_channel(ELSEWHERE) is None
    assert await announcements(rig, ELSEWHERE) == [] and await announcements(rig, CHANNEL) == []


async def test_setup_is_for_admins(rig: Rig) -> None:
    rig.twilio.account.add_number(NEW)
    refused = said(await slash(rig, f"setup {NEW}", channel=ELSEWHERE, user=MEMBER))
    assert "Only workspace admins and owners" in refused
    assert await rig.services.lines.line_for_channel(ELSEWHERE) is None



async def test_a_line_linked_from_slack_shows_its_own_local_time_on_cards(rig: Rig) -> None:
    """A line made with /textback setup is in no file: its card still reads in its timezone."""
    rig.twilio.account.add_number(NEW)
    await slash(rig, "setup (512) 555-0300", channel=ELSEWHERE)
    await rig.missed_call(CALLER, NEW)
    await rig.settle()
    [card] = [m for m in rig.slack.messages_in(ELSEWHERE) if "Missed call" in str(m.get("text"))]
    local = rig.services.clock.now().astimezone(ZoneInfo("America/Chicago"))
    assert local.strftime("%-I:%M %p") in str(card["blocks"]), "Chicago time, not UTC"


async def test_setup_remove_unlinks_a_slack_line_but_never_a_file_line(rig: Rig) -> None:
    rig.twilio.account.add_number(NEW)
    await slash(rig, "setup (512) 555-0300", channel=ELSEWHERE)
    refused = said(await slash(rig, "setup remove", channel=ELSEWHERE, user=MEMBER))
    assert "admin" in refused.lower()
    assert await rig.services.lines.line_for_number(NEW) is not None
    reply = said(await slash(rig, "setup remove", channel=ELSEWHERE))
    assert "Unlinked (512) 555-0300 from this channel" in reply
    assert await rig.services.lines.line_for_number(NEW) is None
    assert (await announcements(rig, ELSEWHERE))[-1].endswith("*line*: (512) 555-0300 → not linked")
    # A call to it now finds no line: no text, no thread.
    _, status, body = await rig.incoming_call(CALLER, NEW)
    assert status == 200 and "not set up" in body
    assert "no line to unlink" in said(await slash(rig, "setup remove", channel=ELSEWHERE))
    file_line = said(await slash(rig, "setup remove", channel=CHANNEL))
    assert "lines file" in file_line and await rig.services.lines.line_for_number(LINE) is not None
