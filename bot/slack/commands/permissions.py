"""Who may change settings from Slack: workspace admins and owners, and the lines file's admins."""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Long enough that a burst of commands costs one users.info, short enough that a removed
# admin loses the right within a minute.
ADMIN_CACHE_S = 60.0


class Permissions:
    """Answers "may this user change settings?", caching Slack's answer briefly."""

    def __init__(self, client: AsyncWebClient, admins: tuple[str, ...], *, now: Callable[[], float]) -> None:
        self._client = client
        self._admins = frozenset(admins)
        self._now = now
        self._cache: dict[str, tuple[float, bool]] = {}

    async def can_change(self, user: str) -> bool:
        if user in self._admins:
            return True
        cached = self._cache.get(user)
        if cached is not None and self._now() - cached[0] < ADMIN_CACHE_S:
            return cached[1]
        allowed = await self._workspace_admin(user)
        if allowed is None:
            # Unknown means no, but only this once: a Slack hiccup is not remembered.
            return False
        self._cache[user] = (self._now(), allowed)
        return allowed

    async def _workspace_admin(self, user: str) -> bool | None:
        try:
            resp = await self._client.users_info(user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info failed; treating the user as not an admin: %r", exc)
            return None
        info = resp.get("user") or {}
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
