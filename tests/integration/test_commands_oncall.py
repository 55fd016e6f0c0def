"""`/textback oncall`: showing and changing who is paged, from Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CHANNEL_B, LINE, LINE_B
from tests.integration.conftest import rig_for
from tests.integration.follow_through_rig import ALICE, ALICE_PHONE, BOB, CONFIG
from tests.integration.saw import announcements, said
from tests.integration.steps import ADMIN, MEMBER, slash
from workflows.oncall import on_duty

DANA = "U0DANA0001"


@pytest.fixture
async def oncall_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """Line A with a two-person rotation (Alice then Bob, Alice on call on Nov 10)."""
    async with rig_for(CONFIG, redis_url, clock, tmp_path) as r:
        yield r


async def test_oncall_shows_who_is_paged_with_phones_masked(oncall_rig: Rig) -> None:
    text = said(await slash(oncall_rig, "oncall", user=MEMBER))
    assert f"*On call now:* <@{ALICE}> (phone ending 0181) · _lines file_" in text
    assert f"*Backup:* <@{BOB}> (phone ending 0182)" in text
    assert "*Rotation:* weekly, handover Mon 08:00" in text
    assert "*Pages ring the phone:* on" in text and "*Page the backup after:* 5m" in text
    assert ALICE_PHONE not in text and "555-0181" not in text


async def test_oncall_set_backup_call_and_escalate(rig: Rig) -> None:
    assert "Nobody is on call" in said(await slash(rig, "oncall", user=MEMBER))
    early = said(await slash(rig, "oncall call on"))
    assert "nobody is on call for this line yet" in early and "Example: `/textback oncall set @dana" in early
    done = said(await slash(rig, f"oncall set <@{DANA}|dana> (512) 555-0181"))
    assert f"*on call*: nobody → <@{DANA}> (phone ending 0181)" in done
    await slash(rig, f"oncall backup <@{MEMBER}|sam>")
    await slash(rig, "oncall call on")
    await slash(rig, "oncall escalate 10m")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.oncall is not None
    duty = on_duty(line.oncall, line.timezone, rig.services.clock.now())
    assert duty is not None and duty.primary.user == DANA and duty.primary.phone == "+15125550181"
    assert duty.backup is not None and duty.backup.user == MEMBER
    assert line.oncall.call is True and line.oncall.escalate_after == 600
    shown = said(await slash(rig, "oncall", user=MEMBER))
    assert f"*On call now:* <@{DANA}> (phone ending 0181) · _Slack (set by <@{ADMIN}> on Nov 10, 2026)_" in shown
    assert "No change" in said(await slash(rig, "oncall escalate 10m"))
    notices = await announcements(rig)
    assert len(notices) == 4 and "*page the backup after*: 5m → 10m" in notices[3]
    assert "555-0181" not in "\n".join(notices)
    # Line B in the other channel still has nobody on call.
    other = await rig.services.lines.line_for_number(LINE_B)
    assert other is not None and other.oncall is None and await announcements(rig, CHANNEL_B) == []
    await slash(rig, "oncall backup none")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.oncall is not None and line.oncall.backup is None


async def test_oncall_set_replaces_a_rotation(oncall_rig: Rig) -> None:
    done = said(await slash(oncall_rig, f"oncall set <@{DANA}>"))
    assert f"weekly rotation of 2 (now <@{ALICE}> (phone ending 0181)) → <@{DANA}>" in done
    line = await oncall_rig.services.lines.line_for_number(LINE)
    assert line is not None and line.oncall is not None and [p.user for p in line.oncall.people] == [DANA]
    assert line.oncall.call is True  # the rest of the file's on-call settings stay


async def test_oncall_mistakes_and_refusals(rig: Rig) -> None:
    assert "mention them with @" in said(await slash(rig, "oncall set dana"))
    bad_phone = said(await slash(rig, f"oncall set <@{DANA}|dana> 555-12"))
    assert '"555-12" is not a phone number' in bad_phone and "Example: `/textback oncall set @dana" in bad_phone
    await slash(rig, f"oncall set <@{DANA}|dana>")
    assert "is not on or off" in said(await slash(rig, "oncall call maybe"))
    assert "out of range: use 30s-4h" in said(await slash(rig, "oncall escalate 9h"))
    assert "has no unit" in said(await slash(rig, "oncall escalate 5"))
    assert "say after how long" in said(await slash(rig, "oncall escalate"))
    assert "is not something oncall does" in said(await slash(rig, "oncall fire"))
    refused = said(await slash(rig, f"oncall set <@{MEMBER}|sam>", user=MEMBER))
    assert "Only workspace admins and owners" in refused
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.oncall is not None and line.oncall.people[0].user == DANA
    assert len(await announcements(rig)) == 1
