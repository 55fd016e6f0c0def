"""The `SmsSender` port over Twilio's REST API (async client)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.phones import mask
from workflows.conversation import SmsResult

log = logging.getLogger(__name__)

# The async client applies no timeout of its own (PROTOCOLS 4.1); a hung request must not
# hold a conversation forever.
SEND_TIMEOUT_S = 10.0


def make_client(
    *, account_sid: str, auth_token: str, api_key: str | None, api_secret: str | None, base_url: str
) -> Client:
    """A Twilio client on a shared aiohttp session, pointed at `base_url` (must run in the loop)."""
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
            log.warning("sms to %s refused: %s %s", mask(to), exc.code, exc.msg)
            return SmsResult(ok=False, error_code=int(exc.code or 0) or None, error=str(exc.msg))
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sms to %s failed: %r", mask(to), exc)
            return SmsResult(ok=False, error="could not reach the SMS provider")
        return SmsResult(ok=True, sid=msg.sid)

    async def close(self) -> None:
        """Close the HTTP session under the client."""
        http = self._client.http_client
        if isinstance(http, AsyncTwilioHttpClient):
            await http.close()
