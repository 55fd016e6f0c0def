"""The `SmsSender` port over Twilio's REST API (async client)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.metrics import Metrics
from bot.phones import mask
from workflows.conversation import SmsResult
from workflows.ports import RetryLater

log = logging.getLogger(__name__)

# The async client applies no timeout of its own (PROTOCOLS 4.1); a hung request must not
# hold a conversation forever.
SEND_TIMEOUT_S = 10.0
# Twilio's clock and ours differ a little; a message created just before our mark still counts.
CLOCK_SLACK = timedelta(minutes=2)
# Refusals worth retrying later; everything else in 4xx is final (PROTOCOLS 2.3, 4.4).
RETRY_CODES = frozenset({20429, 21611})


def refusal(exc: TwilioRestException) -> SmsResult:
    """Classify a REST error: throttled (retry), server error (maybe created) or final."""
    code = int(exc.code or 0) or None
    status = int(exc.status or 0)
    if status == 429 or code in RETRY_CODES:
        return SmsResult(ok=False, error_code=code, error="rate limited", transient=True)
    if status >= 500:
        return SmsResult(ok=False, error_code=code, error="SMS provider error", transient=True, ambiguous=True)
    return SmsResult(ok=False, error_code=code, error=str(exc.msg))


def make_client(
    *,
    account_sid: str,
    auth_token: str,
    api_key: str | None,
    api_secret: str | None,
    base_url: str,
    lookups_url: str | None = None,
) -> Client:
    """A Twilio client on a shared aiohttp session, pointed at `base_url` (must run in the loop).

    Lookup lives on its own host (lookups.twilio.com); `lookups_url` points it elsewhere.
    """
    username, password = (api_key, api_secret) if api_key and api_secret else (account_sid, auth_token)
    # A non-empty environment keeps TWILIO_REGION/TWILIO_EDGE from rewriting the host.
    client = Client(
        username,
        password,
        account_sid,
        http_client=AsyncTwilioHttpClient(),
        environment={"TEXTBACK": "1"},
    )
    client.api.base_url = base_url.rstrip("/")
    if lookups_url:
        client.lookups.base_url = lookups_url.rstrip("/")
    return client


class TwilioSms:
    """Sends SMS; carrier refusals and timeouts come back as a failed `SmsResult`."""

    def __init__(self, client: Client, status_callback: str) -> None:
        self._client = client
        self._status_callback = status_callback

    async def send_sms(self, *, to: str, from_: str, body: str) -> SmsResult:
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                msg = await self._client.messages.create_async(
                    to=to, from_=from_, body=body, status_callback=self._status_callback
                )
        except TwilioRestException as exc:
            log.warning("sms to %s refused: %s %s", mask(to), exc.code, exc.status)
            return refusal(exc)
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been created.
            log.warning("sms to %s: cannot connect: %r", mask(to), exc)
            return SmsResult(ok=False, error="could not reach the SMS provider", transient=True)
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            # The request may have arrived and the answer been lost.
            log.warning("sms to %s: no answer: %r", mask(to), exc)
            return SmsResult(ok=False, error="no answer from the SMS provider", transient=True, ambiguous=True)
        return SmsResult(ok=True, sid=msg.sid)

    async def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SmsResult | None:
        """Ask Twilio whether this exact text already went to `to` (reconciling an unsure send)."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                recent = await self._client.messages.list_async(
                    to=to, from_=from_, date_sent_after=since - timedelta(days=1), limit=50
                )
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"cannot check earlier sends: {exc!r}") from exc
        for msg in recent:
            created = msg.date_created
            if msg.body == body and (created is None or created >= since - CLOCK_SLACK):
                return SmsResult(ok=True, sid=msg.sid)
        return None

    async def close(self) -> None:
        """Close the HTTP session under the client."""
        http = self._client.http_client
        if isinstance(http, AsyncTwilioHttpClient):
            await http.close()


# --- counted for /metrics -------------------------------------------------------------------


class MeteredSms(TwilioSms):
    """TwilioSms that counts sends and refusals."""

    def __init__(self, client: Client, status_callback: str, metrics: Metrics) -> None:
        super().__init__(client, status_callback)
        self.metrics = metrics

    async def send_sms(self, *, to: str, from_: str, body: str) -> SmsResult:
        result = await super().send_sms(to=to, from_=from_, body=body)
        if result.ok:
            self.metrics.sms_outbound.labels(line=from_).inc()
        else:
            self.metrics.twilio_errors.labels(
                code=str(result.error_code or "no_answer")
            ).inc()
        return result
