"""The follow-through tests' server: line A with a reminder ladder, a two-person rotation
with phones, and its own urgent words; and moving its clock. (What they read from the
stand-ins: tests/integration/saw.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, LINE, TZ, line_a_with
from tests.integration.conftest import rig_for

ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "U0CAROL001"
ALICE_PHONE, BOB_PHONE = "+15125550181", "+15125550182"

CONFIG = line_a_with(f"""\
    reminders: [5m, 15m, 60m]
    oncall:
      people: [{{user: {ALICE}, phone: "{ALICE_PHONE}"}}, {{user: {BOB}, phone: "{BOB_PHONE}"}}]
      handover: mon 08:00
      starts: 2026-11-09
      call: true
      escalate_after: 5m
    urgent: {{add: [mold], safety_texts: {{gas: "Acme says: leave the house now and call 911."}}}}
""")
TUESDAY_10 = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)


@pytest.fixture
async def ft_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(CONFIG, redis_url, clock, tmp_path) as r:
        yield r


async def at(rig: Rig, clock: FakeClock, when: datetime) -> int:
    clock.set(when)
    return await rig.fire_due()


async def missed_call_at(rig: Rig, clock: FakeClock, when: datetime) -> None:
    clock.set(when)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
