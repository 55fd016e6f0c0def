"""`textback doctor` and `textback serve` on registration for business texting: A2P 10DLC
campaigns and toll-free verifications, read through the Messaging API stand-in."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.doctor.twilio import warn_unregistered
from bot.settings import load_settings
from tests.conftest import CONFIG_YAML, LINE, LINE_B
from tests.integration.doctor_kit import SMS, VOICE, Setup, setup

__all__ = ["setup"]

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


