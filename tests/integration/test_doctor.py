"""`textback doctor` against the Slack and Twilio stand-ins and a real Redis."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.doctor.checks import run_doctor
from bot.doctor.twilio import warn_unregistered
from bot.settings import load_settings
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


async def test_a_healthy_setup_passes_every_check(setup: Setup) -> None:
    code, out = await setup.doctor()
    assert code == 0, out
    assert marks(out, "✗") == []
    checks = [line.split(":")[0] for line in marks(out, "✓")]
    assert checks == [
        "✓ settings", "✓ PUBLIC_URL", "✓ Redis", "✓ Slack token", "✓ Slack scopes",
        f"✓ Slack channel #acme-calls ({CHANNEL})", f"✓ Slack channel #bolt-calls ({CHANNEL_B})",
        "✓ Twilio credentials", f"✓ Twilio number {LINE}", f"✓ Texting registration {LINE}",
        f"✓ Twilio number {LINE_B}", f"✓ Texting registration {LINE_B}",
    ]
    assert "all checks passed" in out
    assert not [r for r in setup.twilio.requests if r.method == "UpdateIncomingPhoneNumber"]


async def test_invalid_settings_show_the_settings_error_and_stop(setup: Setup) -> None:
    code, out = await setup.doctor(SLACK_BOT_TOKEN="", REDIS_URL="redis://s3cret@fly-x.upstash.io")
    assert code == 1
    assert out.startswith("✗ settings: invalid")
    assert "missing environment variables: SLACK_BOT_TOKEN" in out
    assert "redis://default:<password>@fly-x.upstash.io" in out
    assert not setup.slack.requests and not setup.twilio.requests


async def test_a_bad_slack_token_is_refused_with_where_to_find_the_right_one(setup: Setup) -> None:
    code, out = await setup.doctor(SLACK_BOT_TOKEN="xoxb-revoked")
    assert code == 1
    assert "✗ Slack token: refused by Slack (invalid_auth)" in out
    assert "fly secrets set SLACK_BOT_TOKEN=" in out
    assert "Slack channel" not in out  # nothing more can be asked with that token


async def test_a_channel_without_the_bot_says_to_invite_it(setup: Setup) -> None:
    setup.slack.add_channel(CHANNEL_B, "bolt-calls", member=False)
    code, out = await setup.doctor()
    assert code == 1
    assert f"✗ Slack channel #bolt-calls ({CHANNEL_B}): the bot is not a member" in out
    assert "open #bolt-calls and type /invite @textback" in out
    assert f"✓ Slack channel #acme-calls ({CHANNEL})" in out


async def test_a_missing_scope_is_named_with_how_to_grant_it(setup: Setup) -> None:
    setup.slack.scopes.remove("reactions:write")
    code, out = await setup.doctor()
    assert code == 1
    assert "✗ Slack scopes: missing reactions:write" in out
    assert "reinstall the app" in out


async def test_bad_twilio_credentials_are_refused(setup: Setup) -> None:
    code, out = await setup.doctor(TWILIO_AUTH_TOKEN="wrong")
    assert code == 1
    assert "✗ Twilio credentials: refused by Twilio (HTTP 401, code 20003)" in out
    assert "Twilio number" not in out


async def test_a_wrong_webhook_url_is_shown_with_what_it_should_be(setup: Setup) -> None:
    [number] = [n for n in setup.twilio.account.numbers if n["phone_number"] == LINE_B]
    number["voice_url"] = "https://demo.twilio.com/welcome/voice/"
    code, out = await setup.doctor()
    assert code == 1
    assert (f"✗ Twilio number {LINE_B}: voice_url is https://demo.twilio.com/welcome/voice/, "
            f"should be {VOICE}") in out
    assert "fix: textback doctor --fix" in out
    assert f"✓ Twilio number {LINE}" in out


async def test_a_number_missing_from_the_account(setup: Setup) -> None:
    setup.twilio.account.numbers = [n for n in setup.twilio.account.numbers if n["phone_number"] != LINE]
    code, out = await setup.doctor()
    assert code == 1
    assert f"✗ Twilio number {LINE}: is not a number of this Twilio account" in out
    listed = [r for r in setup.twilio.requests if r.method == "ListIncomingPhoneNumber"]
    assert {r.params["PhoneNumber"] for r in listed} == {LINE, LINE_B}


async def test_an_http_public_url_fails(setup: Setup) -> None:
    code, out = await setup.doctor(PUBLIC_URL="http://textback-acme.example.test")
    assert code == 1
    assert "✗ PUBLIC_URL: http://textback-acme.example.test is not https" in out


async def test_unreachable_redis_fails_without_showing_the_password(setup: Setup) -> None:
    code, out = await setup.doctor(REDIS_URL="redis://default:s3cret@127.0.0.1:1")
    assert code == 1
    assert "✗ Redis: cannot reach 127.0.0.1:1" in out and "s3cret" not in out


# --- where the data is kept: on Fly, REDIS_URL is required -------------------------------------


def volume_at(data_dir: Path) -> Callable[[Path], bool]:
    """A stand-in for the mount table: a volume is mounted at `data_dir`, nowhere else."""
    return lambda path: path == data_dir


async def test_embedded_valkey_off_fly_passes_for_one_machine_only(setup: Setup, tmp_path: Path) -> None:
    code, out = await setup.doctor(REDIS_URL="", TEXTBACK_DATA_DIR=str(tmp_path / "data"))
    assert code == 0, out
    [redis] = [line for line in out.splitlines() if line.startswith(("✓ Redis", "✗ Redis"))]
    assert redis.startswith(f"✓ Redis: REDIS_URL unset: textback serve starts an embedded Valkey in {tmp_path / 'data'}")
    assert "one machine only: several machines would each keep their own store" in redis


async def test_on_fly_without_redis_url_or_a_volume_every_deploy_loses_the_data(setup: Setup, tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = await setup.doctor(REDIS_URL="", FLY_APP_NAME="textback-acme", TEXTBACK_DATA_DIR=str(data))
    assert code == 1
    assert (f"✗ Redis: REDIS_URL is unset on Fly (app textback-acme): the embedded Valkey would keep its data in "
            f"{data}, which is not a volume, so every deploy or restart starts it empty") in out
    assert "each machine would keep a store of its own" in out
    assert "    fix: create a Redis in the app's region: fly redis create --name textback-acme-redis" in out
    assert "fly secrets set REDIS_URL=redis://default:<password>@<host>:6379" in out
    # The same app with REDIS_URL set passes.
    code, out = await setup.doctor(FLY_APP_NAME="textback-acme", TEXTBACK_DATA_DIR=str(data))
    assert code == 0 and "✓ Redis: reachable" in out, out


async def test_on_fly_a_volume_keeps_the_data_but_a_second_machine_would_not_share_it(
    setup: Setup, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, out = await setup.doctor(REDIS_URL="", FLY_APP_NAME="textback-acme", TEXTBACK_DATA_DIR=str(data),
                                   mounted=volume_at(data))
    assert code == 1
    assert (f"✗ Redis: REDIS_URL is unset on Fly (app textback-acme): the embedded Valkey keeps its data on the "
            f"volume at {data}, which only this machine sees; a second machine (fly scale count 2) would keep "
            "a store of its own") in out
    assert "    fix: create a Redis in the app's region: fly redis create" in out
    # A volume somewhere else is not where the data is.
    code, out = await setup.doctor(REDIS_URL="", FLY_APP_NAME="textback-acme", TEXTBACK_DATA_DIR=str(data),
                                   mounted=volume_at(tmp_path))
    assert code == 1 and f"in {data}, which is not a volume" in out


async def test_fix_shows_the_change_asks_and_sets_only_the_wrong_fields(setup: Setup) -> None:
    [number] = [n for n in setup.twilio.account.numbers if n["phone_number"] == LINE]
    number.update(voice_url="https://demo.twilio.com/welcome/voice/", sms_url=None)
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "y"

    code, out = await setup.doctor(fix=True, ask=answer)
    assert asked and code == 0, out
    assert f"{LINE} ({number['sid']}) VoiceUrl: https://demo.twilio.com/welcome/voice/ -> {VOICE}" in out
    assert f"{LINE} ({number['sid']}) SmsUrl: (empty) -> {SMS}" in out
    [update] = [r for r in setup.twilio.requests if r.method == "UpdateIncomingPhoneNumber"]
    assert update.params == {"VoiceUrl": VOICE, "SmsUrl": SMS}
    assert (number["voice_url"], number["sms_url"], number["voice_method"]) == (VOICE, SMS, "POST")
    assert out.rstrip().endswith("all checks passed")
    assert setup.twilio.rules.resource_problems("api.v2010.account.incoming_phone_number", number) == []


async def test_fix_declined_changes_nothing(setup: Setup) -> None:
    setup.twilio.account.numbers[0]["sms_method"] = "GET"
    code, out = await setup.doctor(fix=True, ask=lambda prompt: "n")
    assert code == 1 and "nothing changed" in out
    assert not [r for r in setup.twilio.requests if r.method == "UpdateIncomingPhoneNumber"]


async def test_fix_with_yes_does_not_ask(setup: Setup) -> None:
    setup.twilio.account.numbers[1]["sms_method"] = "GET"
    code, out = await setup.doctor(fix=True, yes=True)
    assert code == 0, out
    [update] = [r for r in setup.twilio.requests if r.method == "UpdateIncomingPhoneNumber"]
    assert update.params == {"SmsMethod": "POST"}


async def test_fix_refuses_to_point_twilio_at_plain_http(setup: Setup) -> None:
    code, out = await setup.doctor(fix=True, yes=True, PUBLIC_URL="http://textback-acme.example.test")
    assert code == 1 and "fix PUBLIC_URL first" in out
    assert not [r for r in setup.twilio.requests if r.method == "UpdateIncomingPhoneNumber"]


async def test_the_command_line_runs_doctor_and_exits_with_its_code(setup: Setup, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "TEXTBACK_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", env={**env, **setup.env}, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode() + err.decode()
    assert "all checks passed" in out.decode()


async def test_the_stand_in_account_and_numbers_have_the_specs_shape(setup: Setup) -> None:
    rules = setup.twilio.rules
    assert rules.resource_problems("api.v2010.account", setup.twilio.account.resource()) == []
    for number in setup.twilio.account.numbers:
        assert rules.resource_problems("api.v2010.account.incoming_phone_number", number) == []


# --- registered for business texting: A2P 10DLC campaigns and toll-free verifications ---------

TOLL_FREE = "+18885550100"


def registration(out: str, number: str) -> str:
    """The registration finding of `number`, with its fix line when it failed."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if f"Texting registration {number}:" in line)
    return "\n".join(lines[at : at + 2])


def campaign_of(setup: Setup, number: str, status: str | None) -> None:
    """Put `number` in a new Messaging Service "acme", with a campaign in `status` (None: none);
    the other line's number stays registered."""
    setup.twilio.messaging.clear()  # forget the fixture's services
    for pn in setup.twilio.account.numbers:
        if pn["phone_number"] != number:
            setup.twilio.messaging.register(pn)
    service = setup.twilio.messaging.add_service("acme")
    [pn] = [n for n in setup.twilio.account.numbers if n["phone_number"] == number]
    setup.twilio.messaging.add_to_service(service, pn)
    if status is not None:
        setup.twilio.messaging.add_campaign(service, status)


async def test_a_verified_campaign_passes(setup: Setup) -> None:
    campaign_of(setup, LINE_B, "VERIFIED")
    code, out = await setup.doctor()
    assert code == 0, out
    assert registration(out, LINE_B).startswith(f'✓ Texting registration {LINE_B}: Messaging Service "acme" (MG')
    assert "A2P 10DLC campaign C" in registration(out, LINE_B) and "verified" in registration(out, LINE_B)


async def test_a_campaign_in_review_says_texts_are_blocked_until_it_is_verified(setup: Setup) -> None:
    campaign_of(setup, LINE_B, "IN_PROGRESS")
    code, out = await setup.doctor()
    assert code == 1
    found = registration(out, LINE_B)
    assert found.startswith(f"✗ Texting registration {LINE_B}: ")
    assert "is being reviewed (IN_PROGRESS)" in found and "block this number's texts (error 30034)" in found
    assert "fix: nothing to change: reviews take from a few days to a few weeks" in found
    assert registration(out, LINE).startswith("✓")


async def test_a_rejected_or_missing_campaign_says_how_to_register(setup: Setup) -> None:
    campaign_of(setup, LINE_B, "FAILED")
    code, out = await setup.doctor()
    assert code == 1 and "is FAILED" in registration(out, LINE_B) and "resubmit" in registration(out, LINE_B)
    campaign_of(setup, LINE_B, None)
    code, out = await setup.doctor()
    assert code == 1 and 'Messaging Service "acme"' in registration(out, LINE_B)
    assert "has no A2P 10DLC campaign" in registration(out, LINE_B)


async def test_a_number_in_no_messaging_service_is_not_registered(setup: Setup) -> None:
    setup.twilio.messaging.clear()  # no services at all
    code, out = await setup.doctor()
    assert code == 1
    found = registration(out, LINE)
    assert "in no Messaging Service, so in no A2P 10DLC campaign" in found and "(error 30034)" in found
    assert "docs/deploy.md, step 4" in found


async def toll_free_line(setup: Setup) -> dict:
    """Line B becomes a toll-free number of the account (not in any Messaging Service)."""
    Path(setup.env["TEXTBACK_CONFIG"]).write_text(CONFIG_YAML.replace(LINE_B, TOLL_FREE))
    return setup.twilio.account.add_number(TOLL_FREE, voice_url=VOICE, sms_url=SMS, type="tollfree")


@pytest.mark.parametrize(
    ("status", "mark", "words"),
    [
        ("TWILIO_APPROVED", "✓", "toll-free verification approved"),
        ("IN_REVIEW", "✗", "toll-free verification is being reviewed (IN_REVIEW); until it is approved its texts "
                            "are blocked (error 30032)"),
        ("PENDING_REVIEW", "✗", "toll-free verification is being reviewed (PENDING_REVIEW)"),
        (None, "✗", "toll-free number without a verification: its texts are blocked (error 30032)"),
    ],
)
async def test_a_toll_free_number_is_judged_by_its_verification(
    setup: Setup, status: str | None, mark: str, words: str
) -> None:
    number = await toll_free_line(setup)
    if status is not None:
        setup.twilio.messaging.verify_toll_free(number, status)
    code, out = await setup.doctor()
    assert code == (0 if mark == "✓" else 1), out
    assert registration(out, TOLL_FREE).startswith(f"{mark} Texting registration {TOLL_FREE}: {words}")
    [asked] = [r for r in setup.twilio.requests if r.method == "ListTollfreeVerification"]
    assert asked.params["TollfreePhoneNumberSid"] == number["sid"]


async def test_the_messaging_resources_have_the_specs_shape(setup: Setup) -> None:
    number = await toll_free_line(setup)
    messaging, rules = setup.twilio.messaging, setup.twilio.messaging_rules
    assert rules.spec_checked
    resources = [("messaging.v1.tollfree_verification", messaging.verify_toll_free(number))]
    resources += [("messaging.v1.service", s) for s in messaging.services]
    resources += [("messaging.v1.service.phone_number", n) for ns in messaging.service_numbers.values() for n in ns]
    resources += [("messaging.v1.service.us_app_to_person", c) for cs in messaging.campaigns.values() for c in cs]
    assert len(resources) == 7
    assert {name: rules.resource_problems(name, r) for name, r in resources if rules.resource_problems(name, r)} == {}


async def test_serve_warns_once_per_unregistered_line_at_start(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    campaign_of(setup, LINE_B, "IN_PROGRESS")
    settings = load_settings(setup.env)
    with caplog.at_level(logging.INFO, logger="bot.doctor.twilio"):
        assert await warn_unregistered(settings) == 1
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"line {LINE_B} may not text US phones" in warning and "(error 30034)" in warning


async def test_serve_start_up_check_gives_up_quietly_when_twilio_is_unreachable(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({**setup.env, "TWILIO_API_URL": "http://127.0.0.1:1"})
    with caplog.at_level(logging.INFO, logger="bot.doctor.twilio"):
        assert await warn_unregistered(settings) == 0
    logged = [r for r in caplog.records if r.name == "bot.doctor.twilio"]
    assert [r.levelno for r in logged] == [logging.INFO, logging.INFO]  # one per line, no warning
    assert all("not checked at start-up" in r.getMessage() for r in logged)


def test_a_mount_is_told_from_a_plain_directory(tmp_path: Path) -> None:
    from bot.store.fly import is_mount

    assert is_mount(Path("/")) and is_mount(Path("/proc"))
    assert not is_mount(tmp_path) and not is_mount(tmp_path / "missing")


async def test_a_line_without_a_help_contact_is_a_warning_not_a_failure(setup: Setup, tmp_path: Path) -> None:
    code, out = await setup.doctor()
    assert code == 0
    [warning] = marks(out, "!")
    assert warning.startswith("! HELP contact: no contact: for Acme Plumbing (+15125550100), Bolt Electric")
    assert 'fix: add contact: "+15125550100"' in out
    with_contact = CONFIG_YAML.replace("    vertical: plumbing\n", '    vertical: plumbing\n    contact: ops@acme.example\n')
    with_contact = with_contact.replace("    business: Bolt Electric\n", "    business: Bolt Electric\n    contact: 512-555-0142\n")
    (tmp_path / "textback.yml").write_text(with_contact)
    code, out = await setup.doctor()
    assert code == 0 and marks(out, "!") == [] and "✓ HELP contact: every line's HELP reply names" in out
