"""`textback doctor`, the texting registration part: may each line's number send business texts
to US phones?

US carriers block texts from a local (10DLC) number that is not in a Messaging Service with a
verified A2P 10DLC campaign (delivery error 30034), and from a toll-free number whose
verification is not approved (30032). Both are read through Twilio's Messaging API
(messaging.twilio.com v1: Services, their PhoneNumbers, Compliance/Usa2p, Tollfree/Verifications).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from bot.doctor.report import Finding, reason

TIMEOUT_S = 10.0
# North American toll-free area codes in use (NANP); everything else on +1 is a 10DLC long code.
TOLL_FREE_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})
GUIDE = "docs/deploy.md, step 4"
CAMPAIGNS = "console.twilio.com -> Messaging -> Regulatory Compliance -> Campaigns"
# Twilio's words for a campaign still under review, and for a toll-free verification.
CAMPAIGN_PENDING = frozenset({"IN_PROGRESS", "PENDING"})
TOLL_FREE_PENDING = frozenset({"PENDING_REVIEW", "IN_REVIEW"})
# What docs/deploy.md says about review times (and where it got it); no figure is invented here.
WAIT = "reviews take from a few days to a few weeks; the Console shows its progress"


def is_toll_free(number: str) -> bool:
    """True for a +1 8XX toll-free number."""
    return number.startswith("+1") and number[2:5] in TOLL_FREE_CODES


async def check_registration(client: Client, number: str, number_sid: str) -> Finding:
    """One finding: the number's A2P 10DLC campaign, or its toll-free verification."""
    what = f"Texting registration {number}"
    if not number.startswith("+1"):
        return Finding(True, what, "not a US number: A2P 10DLC and toll-free verification do not apply")
    try:
        async with asyncio.timeout(TIMEOUT_S):
            if is_toll_free(number):
                verifications = await client.messaging.v1.tollfree_verifications.list_async(
                    tollfree_phone_number_sid=number_sid, limit=20)
                return toll_free_finding(what, [(v.status, v.rejection_reason) for v in verifications])
            service = await _service_of(client, number)
            if service is None:
                return no_service(what)
            campaigns = await client.messaging.v1.services(service.sid).us_app_to_person.list_async(limit=20)
    except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
        return Finding(False, what, f"cannot read it from Twilio's Messaging API: {reason(exc)}",
                       "run textback doctor again")
    found = [(c.campaign_status, c.campaign_id, c.errors) for c in campaigns]
    return campaign_finding(what, f'Messaging Service "{service.friendly_name}" ({service.sid})', found)


async def _service_of(client: Client, number: str) -> Any:
    """The Messaging Service whose sender pool holds `number`, if any."""
    for service in await client.messaging.v1.services.list_async(limit=50):
        numbers = await client.messaging.v1.services(service.sid).phone_numbers.list_async(limit=400)
        if any(n.phone_number == number for n in numbers):
            return service
    return None


def no_service(what: str) -> Finding:
    return Finding(
        False, what, "in no Messaging Service, so in no A2P 10DLC campaign: US carriers block its texts (error 30034)",
        f"register a brand and a campaign and add this number to the campaign's Messaging Service ({GUIDE})")


def campaign_finding(what: str, service: str, campaigns: list[tuple[str | None, str | None, Any]]) -> Finding:
    """The finding for a Messaging Service's campaigns: (status, campaign id, errors) each."""
    if not campaigns:
        return Finding(False, what, f"{service} has no A2P 10DLC campaign: US carriers block its texts (error 30034)",
                       f"register a campaign on that Messaging Service ({GUIDE})")
    verified = [c for c in campaigns if (c[0] or "").upper() == "VERIFIED"]
    if verified:
        return Finding(True, what, f"{service}, {_campaign(verified[0][1])} verified")
    status, campaign_id, errors = campaigns[0]
    shown = (status or "no status").upper()
    if shown in CAMPAIGN_PENDING:
        return Finding(
            False, what, f"{service}: {_campaign(campaign_id)} is being reviewed ({shown}); until it is "
            "verified, US carriers block this number's texts (error 30034)",
            f"nothing to change: {WAIT} ({CAMPAIGNS}); run textback doctor again later")
    why = f": {errors}" if errors else ""
    return Finding(False, what, f"{service}: {_campaign(campaign_id)} is {shown}{why}",
                   f"open it in {CAMPAIGNS} to see why, fix and resubmit ({GUIDE})")


def _campaign(campaign_id: str | None) -> str:
    return f"A2P 10DLC campaign {campaign_id}" if campaign_id else "A2P 10DLC campaign"


def toll_free_finding(what: str, verifications: list[tuple[str | None, str | None]]) -> Finding:
    """The finding for a toll-free number's verifications: (status, rejection reason) each."""
    if any((status or "").upper() == "TWILIO_APPROVED" for status, _ in verifications):
        return Finding(True, what, "toll-free verification approved")
    if not verifications:
        return Finding(False, what, "toll-free number without a verification: its texts are blocked (error 30032)",
                       "submit a toll-free verification in console.twilio.com -> Messaging -> Regulatory "
                       f"Compliance -> Toll-free verifications ({GUIDE})")
    status, rejected = verifications[0]
    shown = (status or "no status").upper()
    if shown in TOLL_FREE_PENDING:
        return Finding(False, what, f"toll-free verification is being reviewed ({shown}); until it is approved its "
                       "texts are blocked (error 30032)", f"nothing to change: {WAIT}; run textback doctor again later")
    why = f": {rejected}" if rejected else ""
    return Finding(False, what, f"toll-free verification {shown}{why}",
                   f"edit and resubmit it in the Twilio Console ({GUIDE})")
