"""Per line and local day: what happened (for the weekly digest and `/textback stats`)."""

from __future__ import annotations

from datetime import date, timedelta

from redis.asyncio import Redis

from bot.store import keys
from workflows.digest import DayFigures

DAILY_TTL_S = 400 * 24 * 3600  # a year of weeks, and a little more
FIELDS = ("missed", "texted", "not_texted", "texts_in", "replied")


# What one event counts goes in one field, its figures joined ("missed+texted"): one increment
# per event. Fields of one figure each (older versions wrote those) read the same way.
JOIN = "+"


class RedisDaily:
    """Counters in one hash per line and day, first-reply times in a list beside it."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def count(self, line: str, day: date, *what: str, reply_seconds: float | None = None) -> None:
        """Add one to each figure in `what` for the line's day."""
        for name in what:
            if name not in FIELDS:
                raise ValueError(f"unknown daily figure {name!r}")
        # A key gets its time to live when it is made: the field counted for the first time that
        # day, the list's first entry. Only a crash between the two commands could leave a key
        # of a few counters without one (a TTL here only collects garbage); a count costs one
        # command, not a MULTI with an EXPIRE every time.
        made = []
        if what:
            counts = keys.daily(line, day.isoformat())
            if await self._r.hincrby(counts, JOIN.join(sorted(what)), 1) == 1:
                made.append(counts)
        if reply_seconds is not None:
            times = keys.reply_times(line, day.isoformat())
            if await self._r.rpush(times, f"{reply_seconds:.1f}") == 1:
                made.append(times)
        for key in made:
            await self._r.expire(key, DAILY_TTL_S)

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
            counts = dict.fromkeys(FIELDS, 0)
            for joined, n in raw[2 * i].items():
                for name in joined.decode().split(JOIN):
                    if name in counts:
                        counts[name] += int(n)
            times = tuple(float(t) for t in raw[2 * i + 1])
            out.append(DayFigures(day, **counts, reply_seconds=times))
        return out

    async def forget_line(self, line: str, first: date, last: date) -> None:
        """Drop a line's figures for those days (tests and re-seeding)."""
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        names = [k for d in span for k in (keys.daily(line, d.isoformat()), keys.reply_times(line, d.isoformat()))]
        if names:
            await self._r.delete(*names)
