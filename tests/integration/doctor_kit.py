"""The doctor tests' healthy install: both numbers in the account pointing at PUBLIC_URL and
registered for business texting, the bot in both channels; and reading doctor's report."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.doctor.checks import run_doctor
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN, SIGNING_SECRET
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn
from tests.conftest import CHANNEL, CHANNEL_B, CONFIG_YAML, LINE, LINE_B

PUBLIC_URL = "https://textback-acme.example.test"
VOICE, SMS = f"{PUBLIC_URL}/twilio/voice", f"{PUBLIC_URL}/twilio/sms"


def _no_volume(path: Path) -> bool:
    return False


@dataclass
class Setup:
    env: dict[str, str]
    slack: SlackStandIn
    twilio: TwilioStandIn

    async def doctor(self, *, fix: bool = False, yes: bool = False, ask: Callable[[str], str] | None = None,
                     mounted: Callable[[Path], bool] = _no_volume, **env: str) -> tuple[int, str]:
        out = io.StringIO()
        code = await run_doctor({**self.env, **env}, fix=fix, yes=yes, out=out, ask=ask or _refuse, mounted=mounted)
        return code, out.getvalue()


def _refuse(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} unexpectedly")


@pytest.fixture
async def setup(redis: Redis, redis_url: str, tmp_path: Path) -> AsyncIterator[Setup]:
    """A healthy install: both numbers in the account pointing at PUBLIC_URL, each in a Messaging
    Service with a verified A2P 10DLC campaign, the bot in both channels."""
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    async with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN) as twilio, SlackStandIn(BOT_TOKEN) as slack:
        for number in (LINE, LINE_B):
            twilio.messaging.register(twilio.account.add_number(number, voice_url=VOICE, sms_url=SMS))
        slack.add_channel(CHANNEL, "acme-calls")
        slack.add_channel(CHANNEL_B, "bolt-calls")
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_URL": PUBLIC_URL,
            "REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(tmp_path / "textback.yml"),
            "SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url,
        }
        yield Setup(env, slack, twilio)
        assert not twilio.violations, twilio.violations
        assert not slack.violations, slack.violations


def marks(output: str, symbol: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(symbol)]


