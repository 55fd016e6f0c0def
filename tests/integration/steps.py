"""What the tests do and send through the rig, shared between test files: `/textback` as a
team member, a missed call that opens a thread, the cooldown cleared, a lead event, the
Twilio webhook routes.
(What the stand-ins saw in return: tests/integration/saw.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import assert_slack_limits, parents
from workflows.leads import LeadEvent

ADMIN = "U0ADMIN001"
OWNER = "U0OWNER001"
MEMBER = "U0MEMBER01"
ELSEWHERE = "C0RANDOM01"

TWILIO_ROUTES = [
    "/twilio/voice",
    "/twilio/voice/dial-status?line=%2B15125550100",
    "/twilio/voice/recording?kind=done",
    "/twilio/voice/screen?parent=CA0&line=%2B15125550100&from=%2B15125550123",
    "/twilio/voice/screen/result?parent=CA0",
    "/twilio/voice/callback?conv=c0&by=U0",
    "/twilio/sms",
    "/twilio/sms/status",
]


def add_people(rig: Rig) -> None:
    rig.slack.add_user(ADMIN, "Dana", admin=True)
    rig.slack.add_user(OWNER, "Olive", owner=True)
    rig.slack.add_user(MEMBER, "Sam")


async def slash(rig: Rig, text: str, *, channel: str = CHANNEL, user: str = ADMIN) -> dict[str, Any]:
    """Run `/textback <text>` as `user`; the reply must be a 200 within Slack's limits."""
    add_people(rig)
    status, reply = await rig.slash(text, channel=channel, user=user)
    assert status == 200, reply
    assert_slack_limits(reply)
    return reply


async def open_thread(rig: Rig) -> str:
    """A missed call from CALLER on line A, settled; the ts of the thread it opened."""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    return str(parents(rig)[0]["ts"])


async def clear_cooldown(rig: Rig, line: str = LINE) -> None:
    """Forget that CALLER was texted back on `line`, so the next missed call texts again."""
    await rig.services.redis.client.delete(f"tb:cooldown:{line}:{CALLER}")


def event(kind: str, at: datetime, **kw: str) -> LeadEvent:
    """A lead event from CALLER on line A, its id made from its kind and time."""
    return LeadEvent(
        kind=kind,
        event_id=f"{kind}:{at.isoformat()}",
        line=LINE,
        phone=CALLER,
        at=at,
        **kw,
    )  # type: ignore[arg-type]
