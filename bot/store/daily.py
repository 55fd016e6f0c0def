"""Per line and local day: what happened (for the weekly digest and `/textback stats`)."""

from __future__ import annotations

from datetime import date, timedelta

from redis.asyncio import Redis

from bot.store import keys
from workflows.digest import DayFigures

DAILY_TTL_S = 400 * 24 * 3600  # a year of weeks, and a little more
FIELDS = ("missed", "texted", "not_texted", "texts_in", "replied")


# Add one to a field of the day's counters, and a reply time to its list, in one step. A key
# is given its time to live when it is made (the field counted for the first time that day,
# or the list's first entry): that is when it needs one, and a field seen before costs nothing.
_COUNT = """
if ARGV[1] ~= '' and redis.call('HINCRBY', KEYS[1], ARGV[1], 1) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if ARGV[3] ~= '' and redis.call('RPUSH', KEYS[2], ARGV[3]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 0
"""
# What one event counts goes in one field, its figures joined ("missed+texted"): one increment
# per event. Fields of one figure each (older versions wrote those) read the same way.
JOIN = "+"


class RedisDaily:
    """Counters in one hash per line and day, first-reply times in a list beside it."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._count = redis.register_script(_COUNT)

    async def count(self, line: str, day: date, *what: str, reply_seconds: float | None = None) -> None:
        """Add one to each figure in `what` for the line's day, in one step."""
        for name in what:
            if name not in FIELDS:
                raise ValueError(f"unknown daily figure {name!r}")
        if not what and reply_seconds is None:
            return
        times = f"{reply_seconds:.1f}" if reply_seconds is not None else ""
        await self._count(keys=[keys.daily(line, day.isoformat()), keys.reply_times(line, day.isoformat())],
                          args=[JOIN.join(sorted(what)), DAILY_TTL_S, times])

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
