"""Per line and local day: what happened (for the weekly digest and `/textback stats`)."""

from __future__ import annotations

from datetime import date, timedelta

from redis.asyncio import Redis

from bot.store import keys
from workflows.digest import DayFigures

DAILY_TTL_S = 400 * 24 * 3600  # a year of weeks, and a little more
FIELDS = ("missed", "texted", "not_texted", "texts_in", "replied")


class RedisDaily:
    """Counters in one hash per line and day, first-reply times in a list beside it."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def count(self, line: str, day: date, *what: str, reply_seconds: float | None = None) -> None:
        """Add one to each figure in `what` for the line's day, in one round trip."""
        for name in what:
            if name not in FIELDS:
                raise ValueError(f"unknown daily figure {name!r}")
        async with self._r.pipeline(transaction=True) as pipe:
            for name in what:
                pipe.hincrby(keys.daily(line, day.isoformat()), name, 1)
            pipe.expire(keys.daily(line, day.isoformat()), DAILY_TTL_S)
            if reply_seconds is not None:
                pipe.rpush(keys.reply_times(line, day.isoformat()), f"{reply_seconds:.1f}")
                pipe.expire(keys.reply_times(line, day.isoformat()), DAILY_TTL_S)
            await pipe.execute()

    async def days(self, line: str, first: date, last: date) -> list[DayFigures]:
        """Every day from `first` to `last` inclusive, zeros where nothing happened."""
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        async with self._r.pipeline(transaction=False) as pipe:
            for day in span:
                pipe.hgetall(keys.daily(line, day.isoformat()))
                pipe.lrange(keys.reply_times(line, day.isoformat()), 0, -1)
            raw = await pipe.execute()
        out = []
        for i, day in enumerate(span):
            counts = {k.decode(): int(v) for k, v in raw[2 * i].items()}
            times = tuple(float(t) for t in raw[2 * i + 1])
            out.append(DayFigures(day, **{f: counts.get(f, 0) for f in FIELDS}, reply_seconds=times))
        return out

    async def forget_line(self, line: str, first: date, last: date) -> None:
        """Drop a line's figures for those days (tests and re-seeding)."""
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        names = [k for d in span for k in (keys.daily(line, d.isoformat()), keys.reply_times(line, d.isoformat()))]
        if names:
            await self._r.delete(*names)
