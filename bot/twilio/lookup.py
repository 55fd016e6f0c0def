"""The `LineTypes` port over Twilio Lookup v2 `line_type_intelligence`, behind a Redis cache.

The lookup sits in front of the text-back, so it is bounded hard: a cache hit is one Redis
GET; a miss is one request with a short timeout; any failure answers "unknown", and an
unknown line type lets the text go.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import aiohttp
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.phones import mask
from bot.store.keys import LINE_TYPE_TTL_S

log = logging.getLogger(__name__)

# Twilio usually answers a lookup in a few hundred ms; past this the text-back goes without it.
LOOKUP_TIMEOUT_S = 1.5
# A refused lookup (Lookup not enabled on the account, 60601 for Canadian numbers without
# approval) is asked again a day later rather than on every call.
REFUSED_TTL_S = 24 * 3600
FIELDS = "line_type_intelligence"


class LineTypeCache(Protocol):
    async def get(self, number: str) -> str | None: ...

    async def put(self, number: str, line_type: str, ttl_s: int) -> None: ...


class TwilioLineTypes:
    """What kind of line a number is: the cache first, then Twilio, never an exception."""

    def __init__(self, client: Client, cache: LineTypeCache, *, timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self._client = client
        self._cache = cache
        self.timeout_s = timeout_s

    async def line_type(self, number: str) -> str | None:
        try:
            cached = await self._cache.get(number)
        except RedisError as exc:
            log.warning("line type cache unavailable for %s: %r", mask(number), exc)
            cached = None
        if cached is not None:
            return cached or None
        found = await self._fetch(number)
        if found is None:
            return None
        await self._remember(number, found, LINE_TYPE_TTL_S)
        return found or None

    async def _fetch(self, number: str) -> str | None:
        """The carrier's line type ("" when it gave none), or None when the lookup failed."""
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._client.lookups.v2.phone_numbers(number).fetch_async(fields=FIELDS)
        except TwilioRestException as exc:
            log.warning("line type lookup for %s answered %s %s", mask(number), exc.status, exc.code)
            if 400 <= int(exc.status or 0) < 500 and int(exc.status or 0) != 429:
                await self._remember(number, "", REFUSED_TTL_S)
            return None
        except (TwilioException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("line type lookup for %s failed: %r", mask(number), exc)
            return None
        return _type_of(result.line_type_intelligence)

    async def _remember(self, number: str, line_type: str, ttl_s: int) -> None:
        try:
            await self._cache.put(number, line_type, ttl_s)
        except RedisError as exc:
            log.warning("line type for %s not cached: %r", mask(number), exc)


def _type_of(info: Any) -> str:
    """`line_type_intelligence.type`, or "" when the answer has none (null, or an error_code)."""
    if not isinstance(info, dict):
        return ""
    kind = info.get("type")
    return kind if isinstance(kind, str) else ""
