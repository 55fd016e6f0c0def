"""Which phone numbers the Twilio account owns (IncomingPhoneNumbers), for `/textback setup`."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

log = logging.getLogger(__name__)

# Slack waits 3 s for a slash command's answer; the check must leave time to reply.
LIST_TIMEOUT_S = 2.0


class TwilioNumbers:
    """Asks Twilio whether a number belongs to the account."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def owned(self, number: str) -> bool | None:
        """True or False as Twilio says; None when Twilio could not be asked."""
        try:
            async with asyncio.timeout(LIST_TIMEOUT_S):
                found = await self._client.incoming_phone_numbers.list_async(phone_number=number, limit=1)
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not list the account's numbers: %r", exc)
            return None
        return any(pn.phone_number == number for pn in found)
