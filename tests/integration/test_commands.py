"""`/textback` through signed slash-command requests into the real app: help, status, wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bot.lines.directory import FRESH_FOR_S, LineDirectory
from bot.settings import parse_config
from bot.store.line_settings import RedisLineSettings
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CHANNEL, CHANNEL_B, CONFIG_YAML, LINE, LINE_B
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, ELSEWHERE, MEMBER, slash


async def test_help_works_in_any_channel(rig: Rig) -> None:
    for text in ("help", "", "?"):
        reply = await slash(rig, text, channel=ELSEWHERE, user=MEMBER)
        for sub in ("status", "hours mon 08:00-12:00,13:00-17:00", "template set", "block", "cooldown", "reminders"):
            assert sub in said(reply)


async def test_status_shows_each_setting_with_where_it_comes_from(rig: Rig) -> None:
    reply = await slash(rig, "status", user=MEMBER)
    text = said(reply)
    assert "textback · Acme Plumbing" in text and "(512) 555-0100" in text
    assert "*Timezone:* America/Chicago · _lines file_" in text
    assert "*`Mon`:* 08:00-17:00 · _lines file_" in text and "*`Sat`:* closed · _lines file_" in text
    assert "*Cooldown:* 4h · _default_" in text and "*Reminders:* 5m, 15m, 1h · _default_" in text
    assert "*Business hours* · _default_" in text
    assert "*Booking link:* https://acme.example/book · _lines file_" in text
    assert "open now" in text


async def test_status_names_who_changed_a_setting_and_when(rig: Rig) -> None:
    await slash(rig, "cooldown 2h")
    text = said(await slash(rig, "status", user=MEMBER))
    assert f"*Cooldown:* 2h · _Slack (set by <@{ADMIN}> on Nov 10, 2026)_" in text


async def test_a_channel_without_a_line_explains_how_to_link_one(rig: Rig) -> None:
    for text in ("status", "hours mon closed", "block 5125550123"):
        reply = said(await slash(rig, text, channel=ELSEWHERE))
        assert "not linked to a textback line" in reply
        assert f"<#{CHANNEL}>" in reply and f"<#{CHANNEL_B}>" in reply
        assert f"channel: {ELSEWHERE}" in reply and "`/textback setup (512) 555-0100`" in reply
    assert await announcements(rig, ELSEWHERE) == []


async def test_unknown_subcommand_suggests_the_closest(rig: Rig) -> None:
    reply = said(await slash(rig, "statuss"))
    assert "not a /textback command" in reply and "`/textback status`" in reply
    close = said(await slash(rig, "keywrods"))
    assert "`/textback keywords`" in close


async def test_settings_survive_a_restart_and_reach_other_instances(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    config = parse_config(CONFIG_YAML, "test.yml")
    settings = rig_settings(config, redis_url=redis_url, data_dir=tmp_path)
    async with Rig(settings, clock=clock) as first, Rig(settings, clock=clock) as other:
        await slash(first, "hours mon 8am-12pm, 1pm-5pm")
        await slash(first, "template set business_hours Hi from {business}, we'll call you back.")
        # The other instance goes on with what it read for up to FRESH_FOR_S, then sees the change.
        wanted = "Hi from {business}, we'll call you back."
        async with asyncio.timeout(FRESH_FOR_S + 5):
            while (line := await other.services.lines.line_for_number(LINE)) is None \
                    or line.templates.business_hours != wanted:
                await asyncio.sleep(0.01)
    async with Rig(settings, clock=clock) as restarted:
        line = await restarted.services.lines.line_for_number(LINE)
        assert line is not None and [(s.start, s.end) for s in line.hours.days[0]] == [(480, 720), (780, 1020)]  # type: ignore[union-attr]
        text = said(await slash(restarted, "status"))
        assert f"*`Mon`:* 08:00-12:00, 13:00-17:00 · _Slack (set by <@{ADMIN}> on Nov 10, 2026)_" in text


async def test_two_lines_in_two_channels_stay_independent(rig: Rig) -> None:
    await slash(rig, "cooldown 30m", channel=CHANNEL)
    await slash(rig, "hours sat closed", channel=CHANNEL_B)
    await slash(rig, "block (512) 555-0199", channel=CHANNEL_B)
    a = await rig.services.lines.line_for_number(LINE)
    b = await rig.services.lines.line_for_number(LINE_B)
    assert a is not None and b is not None
    assert (a.cooldown, b.cooldown) == (1800, 4 * 3600)
    assert 5 not in b.hours.days and a.hours == rig.settings.config.lines[0].hours  # type: ignore[union-attr]
    assert await rig.services.flags.suppression(LINE_B, "+15125550199") == "the number is blocked"
    assert await rig.services.flags.suppression(LINE, "+15125550199") == ""
    assert len(await announcements(rig, CHANNEL)) == 1 and len(await announcements(rig, CHANNEL_B)) == 2


class CountingSettings(RedisLineSettings):
    """The Redis store, counting how often the directory reads the version and reloads."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(redis)
        self.versions = self.loads = 0

    async def version(self) -> str:
        self.versions += 1
        return await super().version()

    async def load(self, numbers: Any) -> Any:
        self.loads += 1
        return await super().load(numbers)


async def test_a_lookup_costs_one_get_and_reloads_only_after_a_change(rig: Rig, redis: Redis) -> None:
    store = CountingSettings(redis)
    directory = LineDirectory(rig.settings.config, store, fresh_for_s=0)
    assert await directory.line_for_number(LINE) is not None
    for _ in range(5):
        await directory.line_for_number(LINE)
    assert (store.versions, store.loads) == (6, 1)
    await slash(rig, "cooldown 1h")
    line = await directory.line_for_number(LINE)
    assert line is not None and line.cooldown == 3600 and store.loads == 2


async def test_lookups_in_a_burst_share_one_get(rig: Rig, redis: Redis) -> None:
    store = CountingSettings(redis)
    directory = LineDirectory(rig.settings.config, store, fresh_for_s=60)
    found = await asyncio.gather(*(directory.line_for_number(LINE) for _ in range(20)))
    assert all(line is not None and line.number == LINE for line in found)
    for _ in range(5):
        await directory.line_for_number(LINE)
    assert (store.versions, store.loads) == (1, 1)
    # A change made through this directory shows at once, whatever the window.
    change = await directory.change(found[0], "cooldown", "2h", by="U0ADMIN001", at=rig.services.clock.now())
    line = await directory.line_for_number(LINE)
    assert change.changed and line is not None and line.cooldown == 7200
