"""Who may change settings with `/textback`: admins and owners, the lines file's admins, nobody else."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from bot.settings import parse_config
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CHANNEL, CONFIG_YAML, LINE
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, MEMBER, OWNER, slash

WRITES = (
    "hours mon closed",
    "hours tz America/Denver",
    "template set after_hours We're closed.",
    "block (512) 555-0123",
    "unblock (512) 555-0123",
    "cooldown 1h",
    "reminders 10m",
)
READS = ("help", "status", "hours", "template", "template preview after_hours", "block", "cooldown", "reminders")


async def test_members_are_refused_every_change_and_nothing_changes(rig: Rig) -> None:
    before = await rig.services.lines.line_for_number(LINE)
    for text in WRITES:
        reply = said(await slash(rig, text, user=MEMBER))
        assert "Only workspace admins and owners" in reply and "`/textback status`" in reply, text
    assert await rig.services.lines.line_for_number(LINE) == before
    assert await rig.services.redis.client.keys("tb:linecfg*") == []
    assert await rig.services.flags.suppression(LINE, "+15125550123") == ""
    assert await announcements(rig) == []


async def test_members_may_read_everything(rig: Rig) -> None:
    for text in READS:
        reply = said(await slash(rig, text, user=MEMBER))
        assert "Only workspace admins" not in reply and ":warning:" not in reply, text


async def test_a_refusal_comes_before_any_check_of_the_value(rig: Rig) -> None:
    reply = said(await slash(rig, "hours mon 25:00-26:00", user=MEMBER))
    assert "Only workspace admins" in reply and "not a time" not in reply


async def test_owners_may_change_settings(rig: Rig) -> None:
    reply = said(await slash(rig, "cooldown 3h", user=OWNER))
    assert "4h → 3h" in reply


async def test_admin_status_is_asked_of_slack_once_per_minute(rig: Rig) -> None:
    for text in ("cooldown 1h", "cooldown 2h", "reminders 10m 20m"):
        await slash(rig, text, user=ADMIN)
    assert sum(r.method == "users.info" and r.params.get("user") == ADMIN for r in rig.slack.requests) == 1


async def test_a_slack_failure_refuses_and_is_not_remembered(rig: Rig) -> None:
    rig.slack.fail_next("users.info", status=500)
    assert "Only workspace admins" in said(await slash(rig, "cooldown 1h", user=ADMIN))
    assert "4h → 1h" in said(await slash(rig, "cooldown 1h", user=ADMIN))


async def test_the_lines_file_admins_may_change_settings(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    config = parse_config("admins: [U0FILEADM1]\n" + CONFIG_YAML, "test.yml")
    async with Rig(rig_settings(config, redis_url=redis_url, data_dir=tmp_path), clock=clock) as rig:
        rig.slack.add_user("U0FILEADM1", "Pat")
        reply = said(await slash(rig, "cooldown 90m", user="U0FILEADM1"))
        assert "4h → 1h30m" in reply
        refused = said(await slash(rig, "cooldown 1h", user=MEMBER))
        assert "<@U0FILEADM1>" in refused
        assert not any(r.method == "users.info" and r.params.get("user") == "U0FILEADM1" for r in rig.slack.requests)
        [notice] = await announcements(rig, CHANNEL)
        assert "<@U0FILEADM1> changed" in notice
