"""Line settings changed from Slack, kept in Redis until changed again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from bot.store import keys


@dataclass(frozen=True)
class Override:
    """One setting's value from Slack, who set it and when."""

    value: str
    by: str
    at: datetime


def _dumps(override: Override) -> str:
    return json.dumps({"value": override.value, "by": override.by, "at": override.at.isoformat()})


def _loads(raw: bytes | str) -> Override | None:
    try:
        data = json.loads(raw)
        return Override(value=str(data["value"]), by=str(data["by"]), at=datetime.fromisoformat(data["at"]))
    except (ValueError, KeyError, TypeError):
        return None  # a damaged record counts as unset: the lines file's value applies


class RedisLineSettings:
    """Per-line hashes of overridden fields, plus a version counter every change bumps."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def version(self) -> str:
        """The change counter ("0" before any change): one GET, cheap enough for every call."""
        raw = await self._r.get(keys.LINE_SETTINGS_VERSION)
        return raw.decode() if isinstance(raw, bytes) else str(raw or "0")

    async def load(self, numbers: Iterable[str]) -> dict[str, dict[str, Override]]:
        """Every line's overrides, in one round trip."""
        wanted = list(numbers)
        async with self._r.pipeline(transaction=False) as pipe:
            for number in wanted:
                pipe.hgetall(keys.line_settings(number))
            rows = await pipe.execute()
        loaded: dict[str, dict[str, Override]] = {}
        for number, row in zip(wanted, rows, strict=True):
            fields = {k.decode(): _loads(v) for k, v in row.items()}
            loaded[number] = {k: v for k, v in fields.items() if v is not None}
        return loaded

    async def put(self, number: str, field: str, override: Override) -> None:
        """Store one field and bump the version together, so no reader sees one without the other."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.line_settings(number), field, _dumps(override))
            pipe.incr(keys.LINE_SETTINGS_VERSION)
            await pipe.execute()

    async def clear(self, number: str, field: str) -> None:
        """Forget one field, so the lines file's value applies again."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.line_settings(number), field)
            pipe.incr(keys.LINE_SETTINGS_VERSION)
            await pipe.execute()

    async def links(self) -> dict[str, Override]:
        """Lines linked to a channel from Slack: number -> the channel (as `value`), who and when."""
        # Replies are bytes: the client is built without decode_responses.
        rows = cast(dict[bytes, bytes], await self._r.hgetall(keys.SLACK_LINES))
        found = {k.decode(): _loads(v) for k, v in rows.items()}
        return {number: link for number, link in found.items() if link is not None}

    async def unlink(self, number: str) -> bool:
        """Forget a Slack link; True if there was one. The line's settings stay for a new link."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.SLACK_LINES, number)
            pipe.incr(keys.LINE_SETTINGS_VERSION)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def link(self, number: str, link: Override) -> None:
        """Link a number to a channel (`link.value`); every instance reloads at its next lookup."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(keys.SLACK_LINES, number, _dumps(link))
            pipe.incr(keys.LINE_SETTINGS_VERSION)
            await pipe.execute()
