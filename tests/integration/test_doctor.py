"""`textback doctor` against the Slack and Twilio stand-ins and a real Redis."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CHANNEL, CHANNEL_B, CONFIG_YAML, LINE, LINE_B
from tests.integration.doctor_kit import SMS, VOICE, Setup, marks, setup

__all__ = ["setup"]  # the fixture, shared with test_doctor_registration.py


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
