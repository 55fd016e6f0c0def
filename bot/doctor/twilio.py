"""`textback doctor`, the Twilio part: credentials, each line's number and its webhooks, and
whether the number is registered for business texting (bot/doctor/registration.py).

`--fix` points the numbers' voice and messaging webhooks at PUBLIC_URL through the
IncomingPhoneNumbers API, sending only the fields that differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.doctor.registration import check_registration
from bot.doctor.report import Finding, reason
from bot.settings import DEFAULT_TWILIO_API_URL, Settings
from bot.twilio.gateway import make_client

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
# `textback serve` checks the lines' registration in the background for at most this long.
STARTUP_CHECK_S = 20.0
CONSOLE = "console.twilio.com"
# Form field of UpdateIncomingPhoneNumber -> the resource attribute it sets.
WEBHOOK_FIELDS = {"VoiceUrl": "voice_url", "VoiceMethod": "voice_method", "SmsUrl": "sms_url", "SmsMethod": "sms_method"}


@dataclass(frozen=True)
class WebhookChange:
    """What --fix would send for one number: only the fields that are wrong."""

    number: str
    sid: str
    changes: dict[str, tuple[str | None, str]]  # form field -> (now, wanted)


def wanted_webhooks(public_url: str) -> dict[str, str]:
    """Where textback's routes are: calls and texts both arrive by POST."""
    return {"VoiceUrl": f"{public_url}/twilio/voice", "VoiceMethod": "POST",
            "SmsUrl": f"{public_url}/twilio/sms", "SmsMethod": "POST"}


@asynccontextmanager
async def twilio_client(settings: Settings, *, use_api_key: bool = True) -> AsyncIterator[Client]:
    client = make_client(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
        api_key=settings.twilio_api_key if use_api_key else None,
        api_secret=settings.twilio_api_secret if use_api_key else None, base_url=settings.twilio_api_url,
        # TWILIO_API_URL (a stand-in, staging) serves Messaging v1 too; else messaging.twilio.com.
        messaging_url=None if settings.twilio_api_url == DEFAULT_TWILIO_API_URL else settings.twilio_api_url,
    )
    try:
        yield client
    finally:
        if isinstance(client.http_client, AsyncTwilioHttpClient):
            await client.http_client.close()


async def check_twilio(settings: Settings) -> tuple[list[Finding], list[WebhookChange]]:
    """Credentials first; the numbers only when Twilio accepted them."""
    findings = [await _credentials(settings, use_api_key=False)]
    if settings.twilio_api_key:
        findings.append(await _credentials(settings, use_api_key=True))
    if not all(f.ok for f in findings):
        return findings, []
    changes: list[WebhookChange] = []
    async with twilio_client(settings) as client:
        for line in settings.config.lines:
            finding, change, sid = await _number(client, line.number, wanted_webhooks(settings.public_url))
            findings.append(finding)
            changes += [change] if change else []
            if sid is not None:
                findings.append(await check_registration(client, line.number, sid))
    return findings, changes


async def _credentials(settings: Settings, *, use_api_key: bool) -> Finding:
    what = "Twilio API key" if use_api_key else "Twilio credentials"
    # Webhook signatures are checked with the auth token, so it is tested even when an API
    # key makes the REST calls.
    names = "TWILIO_API_KEY=SK... TWILIO_API_SECRET=..." if use_api_key else "TWILIO_ACCOUNT_SID=AC... TWILIO_AUTH_TOKEN=..."
    try:
        async with twilio_client(settings, use_api_key=use_api_key) as client, asyncio.timeout(TIMEOUT_S):
            account = await client.api.v2010.accounts(settings.twilio_account_sid).fetch_async()
    except TwilioRestException as exc:
        return Finding(False, what, f"refused by Twilio (HTTP {exc.status}, code {exc.code})",
                       f"copy them from {CONSOLE} -> Account Info, then: fly secrets set {names}")
    except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
        return Finding(False, what, f"cannot reach {settings.twilio_api_url}: {reason(exc)}",
                       "check the network, or unset TWILIO_API_URL to use api.twilio.com")
    if account.status != "active":
        return Finding(False, what, f"account {account.sid} is {account.status}", f"reactivate it in {CONSOLE}")
    return Finding(True, what, f'valid, account {account.sid} "{account.friendly_name}" ({account.status})')


async def _number(
    client: Client, number: str, wanted: dict[str, str]
) -> tuple[Finding, WebhookChange | None, str | None]:
    """The number's finding, what --fix would change, and its sid (None when not in the account)."""
    what = f"Twilio number {number}"
    try:
        async with asyncio.timeout(TIMEOUT_S):
            found = await client.incoming_phone_numbers.list_async(phone_number=number, limit=1)
    except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
        return Finding(False, what, f"cannot list the account's numbers: {reason(exc)}", "run textback doctor again"), None, None
    if not found:
        return Finding(False, what, "is not a number of this Twilio account",
                       f"buy or port it in {CONSOLE} -> Phone Numbers, or correct `number:` in the lines file"), None, None
    pn = found[0]
    sid = str(pn.sid)
    if pn.voice_application_sid or pn.trunk_sid:
        return Finding(False, what, "calls go to a TwiML App or SIP trunk, so its voice URL is ignored",
                       f"in {CONSOLE} -> Phone Numbers -> {number}, set 'A call comes in' to Webhook"), None, sid
    changes = {f: (getattr(pn, attr), wanted[f]) for f, attr in WEBHOOK_FIELDS.items() if getattr(pn, attr) != wanted[f]}
    if not changes:
        return Finding(True, what, f"calls -> {wanted['VoiceUrl']}, texts -> {wanted['SmsUrl']}"), None, sid
    wrong = "; ".join(f"{WEBHOOK_FIELDS[f]} is {now or '(empty)'}, should be {want}" for f, (now, want) in changes.items())
    fix = f"textback doctor --fix (or {CONSOLE} -> Phone Numbers -> {number})"
    if not wanted["VoiceUrl"].startswith("https://"):
        fix = "make PUBLIC_URL https first (see above), then run textback doctor --fix"
    return Finding(False, what, wrong, fix), WebhookChange(number, sid, changes), sid


async def apply_changes(settings: Settings, changes: list[WebhookChange]) -> list[Finding]:
    """Send each number's changed fields to Twilio; one finding per number."""
    results = []
    async with twilio_client(settings) as client:
        for change in changes:
            # The SDK's keyword for a form field is the resource attribute's name.
            fields = {WEBHOOK_FIELDS[f]: want for f, (_, want) in change.changes.items()}
            try:
                async with asyncio.timeout(TIMEOUT_S):
                    await client.incoming_phone_numbers(change.sid).update_async(**fields)
            except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
                results.append(Finding(False, f"update {change.number}", f"failed: {reason(exc)}", "run --fix again"))
                continue
            results.append(Finding(True, f"update {change.number}", ", ".join(WEBHOOK_FIELDS[f] for f in change.changes)))
    return results



async def warn_unregistered(settings: Settings) -> int:
    """At start-up, in the background: one warning per line whose number may not send business
    texts yet (how many). Bounded; Twilio unreachable or slow only logs that it was not checked."""
    warned = 0
    try:
        async with asyncio.timeout(STARTUP_CHECK_S), twilio_client(settings) as client:
            for line in settings.config.lines:
                found, _, sid = await _number(client, line.number, wanted_webhooks(settings.public_url))
                finding = await check_registration(client, line.number, sid) if sid is not None else found
                if finding.detail.startswith("cannot"):  # Twilio did not answer
                    log.info("texting registration of %s not checked at start-up (%s); textback doctor "
                             "checks it", line.number, finding.detail)
                elif sid is not None and not finding.ok:
                    log.warning("line %s may not text US phones: %s; fix: %s (textback doctor checks it)",
                                line.number, finding.detail, finding.fix)
                    warned += 1
    except TimeoutError:
        log.info("texting registration not checked at start-up (no answer within %.0f s); textback doctor "
                 "checks it", STARTUP_CHECK_S)
    return warned
