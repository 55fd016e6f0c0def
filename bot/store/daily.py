"""Per line and local day: what happened (for the weekly digest and `/textback stats`)."""

from __future__ import annotations

from datetime import date, timedelta

from redis.asyncio import Redis

from bot.store import keys
from workflows.digest import DayFigures

DAILY_TTL_S = 400 * 24 * 3600  # a year of weeks, and a little more
FIELDS = ("missed", "texted", "not_texted", "texts_in", "replied", "answered", "reply_to_textback")


# What one event counts goes in one field, its figures joined and the caller after an "@"
# ("missed+texted@ld_..."): one increment per event, and the day's distinct callers per figure
# read from the same hash (the recovery figure). Fields without a caller (a withheld number;
# older versions wrote those, some a field per figure) read the same way.
JOIN = "+"
CALLER = "@"
# Keys this instance already gave their time to live; older days' keys are dropped past this.
AGED_KEPT = 256


class RedisDaily:
    """Counters in one hash per line and day, first-reply times in a list beside it."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._aged: set[str] = set()

    async def count(
        self, line: str, day: date, *what: str, reply_seconds: float | None = None, caller: str = ""
    ) -> None:
        """Add one to each figure in `what` for the line's day, for `caller` (a lead id, or "")."""
        for name in what:
            if name not in FIELDS:
                raise ValueError(f"unknown daily figure {name!r}")
        # A key gets its time to live when it is made: a field counted for the first time that
        # day, the list's first entry. A field is new for each new caller, so an instance gives a
        # day's hash its TTL once and remembers that, keeping a count to one command. Only a
        # crash between the two commands could leave a key of a few counters without a TTL
        # (which here only collects garbage), not a MULTI with an EXPIRE every time.
        made = []
        if what:
            counts = keys.daily(line, day.isoformat())
            name = JOIN.join(sorted(what)) + (CALLER + caller if caller else "")
            if await self._r.hincrby(counts, name, 1) == 1 and counts not in self._aged:
                made.append(counts)
                if len(self._aged) >= AGED_KEPT:
                    self._aged.clear()
                self._aged.add(counts)
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
        return [_day(day, raw[2 * i], raw[2 * i + 1]) for i, day in enumerate(span)]

    async def forget_line(self, line: str, first: date, last: date) -> None:
        """Drop a line's figures for those days (tests and re-seeding)."""
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        names = [k for d in span for k in (keys.daily(line, d.isoformat()), keys.reply_times(line, d.isoformat()))]
        if names:
            await self._r.delete(*names)
        self._aged.difference_update(names)

    async def forget_caller(self, line: str, caller: str) -> int:
        """Make a caller's events on a line anonymous (`textback forget`): the days keep their
        counts, without the caller's lead id. How many fields were renamed."""
        renamed = 0
        async for key in self._r.scan_iter(match=keys.daily(line, "*"), count=500):
            found = [(f, n) async for f, n in self._r.hscan_iter(key, match=f"*{CALLER}{caller}")]
            if not found:
                continue
            async with self._r.pipeline(transaction=True) as pipe:
                for field, n in found:
                    pipe.hincrby(key, field.decode().partition(CALLER)[0], int(n))
                    pipe.hdel(key, field)
                await pipe.execute()
            renamed += len(found)
        return renamed


def _day(day: date, counted: dict[bytes, bytes], times: list[bytes]) -> DayFigures:
    counts = dict.fromkeys(FIELDS, 0)
    callers: dict[str, set[str]] = {}
    unnamed: dict[str, int] = {}
    for field, n in counted.items():
        joined, _, caller = field.decode().partition(CALLER)
        for name in joined.split(JOIN):
            if name in counts:
                counts[name] += int(n)
                if caller:
                    callers.setdefault(name, set()).add(caller)
                else:
                    unnamed[name] = unnamed.get(name, 0) + int(n)
    return DayFigures(
        day, **counts, reply_seconds=tuple(float(t) for t in times),
        callers={name: frozenset(who) for name, who in callers.items()}, unnamed=unnamed,
    )
