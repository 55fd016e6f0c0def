"""Per-number flags in Redis: opted out, blocked, landline (the `CallerFlags` port)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from redis.asyncio import Redis

from bot.store import keys


class RedisCallerFlags:
    """What the team and the carriers have told us about a number.

    A STOP is always recorded against the line it was sent to. With `opt_out_scope="account"`
    a STOP on any of `lines` counts for all of them, and a START on any clears them all; so
    switching the scope either way needs no migration.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        opt_out_scope: str = "line",
        lines: tuple[str, ...] | Callable[[], Iterable[str]] = (),
    ) -> None:
        self._r = redis
        self._account_wide = opt_out_scope == "account"
        # The business's line numbers, or a function giving the current ones (lines linked
        # from Slack come and go while the app runs).
        self._lines = lines

    def _other_lines(self, line: str) -> list[str]:
        if not self._account_wide:
            return []
        numbers = self._lines() if callable(self._lines) else self._lines
        return [ln for ln in numbers if ln != line]

    async def suppression(self, line: str, caller: str) -> str:
        """Why no text may go to `caller` from `line` ("" when texts are allowed)."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.sismember(keys.opted_out(line), caller)
            pipe.sismember(keys.blocked(line), caller)
            pipe.sismember(keys.LANDLINES, caller)
            for other in self._other_lines(line):
                pipe.sismember(keys.opted_out(other), caller)
            opted_out, blocked, landline, *elsewhere = await pipe.execute()
        if opted_out:
            return "the caller opted out (replied STOP)"
        if any(elsewhere):
            return "the caller opted out on another of this business's lines (replied STOP)"
        if blocked:
            return "the number is blocked"
        if landline:
            return "the number is a landline (cannot receive texts)"
        return ""

    async def set_opted_out(self, line: str, caller: str, opted_out: bool) -> None:
        if opted_out:
            await self._r.sadd(keys.opted_out(line), caller)
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for each in (line, *self._other_lines(line)):
                pipe.srem(keys.opted_out(each), caller)
            await pipe.execute()

    async def claim_help_reply(self, line: str, caller: str, *, now: datetime, window_s: int, owner: str) -> bool:
        """True when `owner` may send the HELP reply: no other went to `caller` from `line` in the window.

        Read then written without a transaction: callers hold the conversation lock, which
        serialises every text of one caller on one line.
        """
        key = keys.help_replied(line, caller)
        raw = await self._r.get(key)
        if raw is not None:
            last = json.loads(raw)
            if last["owner"] == owner:  # a re-run of the job that sent it
                return True
            if now < datetime.fromisoformat(last["at"]) + timedelta(seconds=window_s):
                return False
        # The time compared is the app's clock; the TTL only collects the key afterwards.
        await self._r.set(key, json.dumps({"at": now.isoformat(), "owner": owner}), ex=window_s + 3600)
        return True

    async def set_blocked(self, line: str, caller: str, blocked: bool) -> None:
        if blocked:
            await self._r.sadd(keys.blocked(line), caller)
        else:
            await self._r.srem(keys.blocked(line), caller)

    async def is_blocked(self, line: str, caller: str) -> bool:
        return bool(await self._r.sismember(keys.blocked(line), caller))

    async def blocked_numbers(self, line: str) -> list[str]:
        """The numbers blocked on `line`, sorted."""
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in await self._r.smembers(keys.blocked(line)))

    async def mark_landline(self, caller: str) -> None:
        await self._r.sadd(keys.LANDLINES, caller)
