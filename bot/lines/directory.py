"""The effective lines: the lines file with the settings changed from Slack laid over it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from bot.phones import timezone_of
from bot.store.line_settings import Override, RedisLineSettings
from workflows.line_overrides import apply_overrides, canonical, is_default, show
from workflows.lines import Config, Line

log = logging.getLogger(__name__)

FILE = "lines file"
DEFAULT = "default"


@dataclass(frozen=True)
class Change:
    """What one settings change did, in the words shown in Slack."""

    field: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


# How long a read of the settings version is trusted. A burst of calls then costs one GET
# instead of one per lookup; a change made on another instance shows within this.
FRESH_FOR_S = 0.25


class LineDirectory:
    """Looks lines up by number or channel, checking the settings version in Redis (one GET)
    at most every FRESH_FOR_S.

    Overrides are reloaded only when the version moved. A change made here shows at once; one
    made on another instance shows on this one within FRESH_FOR_S.
    """

    def __init__(self, config: Config, store: RedisLineSettings, *, fresh_for_s: float = FRESH_FOR_S) -> None:
        self._config = config
        self._store = store
        self._version: str | None = None
        self._fresh_for_s = fresh_for_s
        self._checked_at = float("-inf")
        self._reading: asyncio.Future[None] | None = None
        self._writes = 0
        self._lines: dict[str, Line] = {ln.number: ln for ln in config.lines}
        # The lines before overrides: the file's, and those linked from Slack (`setup`).
        self._bases: dict[str, Line] = dict(self._lines)
        self._links: dict[str, Override] = {}
        self._overrides: dict[str, dict[str, Override]] = {}

    def known_numbers(self) -> tuple[str, ...]:
        """Every line's number as of the last lookup: the file's and those linked from Slack."""
        return tuple(self._lines)

    def known(self, number: str) -> Line | None:
        """The line as of the last lookup, without asking Redis (for rendering, never for decisions)."""
        return self._lines.get(number)

    @property
    def admins(self) -> tuple[str, ...]:
        """Slack user ids the lines file allows to change settings."""
        return self._config.admins

    async def _fresh(self) -> None:
        if time.monotonic() - self._checked_at < self._fresh_for_s:
            return
        # Lookups arriving together share one read of the version (and one reload).
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._reload(self._writes))
            self._reading.add_done_callback(self._read_done)
        await asyncio.shield(self._reading)

    def _read_done(self, task: asyncio.Future[None]) -> None:
        if self._reading is task:
            self._reading = None

    def _wrote(self) -> None:
        """A change made here: the next lookup reads again, and a read begun before is not kept."""
        self._writes += 1
        self._checked_at = float("-inf")
        self._reading = None

    async def _reload(self, writes: int) -> None:
        checked_at = time.monotonic()
        try:
            version = await self._store.version()
            if version != self._version:
                links = await self._store.links()
                bases = self._bases_with(links)
                overrides = await self._store.load(bases)
        except RedisError as exc:
            # The text-back must not wait on a settings reload: keep the last known lines.
            log.warning("line settings unavailable, using the last known ones: %r", exc)
            return
        if writes != self._writes:
            return  # read before a change made here; the next lookup reads again
        if version != self._version:
            self._lines = {n: self._effective(base, overrides.get(n, {})) for n, base in bases.items()}
            self._bases, self._links, self._overrides = bases, links, overrides
            self._version = version
        self._checked_at = checked_at

    def _bases_with(self, links: dict[str, Override]) -> dict[str, Line]:
        bases = {ln.number: ln for ln in self._config.lines}
        for number, link in links.items():
            if number not in bases:
                bases[number] = self._new_line(number, link.value)
        return bases

    def _new_line(self, number: str, channel: str) -> Line:
        """A line linked from Slack gets the file's business name (and average job value) and the
        number's own timezone.

        With no staff phones to ring, every call that reaches the number counts as missed.
        """
        first = self._config.lines[0].timezone if self._config.lines else "UTC"
        return Line(
            number=number, channel=channel, business=self._config.business,
            timezone=timezone_of(number) or first, detection="forwarded",
            average_job_value=self._config.average_job_value,
        )

    def _effective(self, base: Line, overrides: dict[str, Override]) -> Line:
        line, problems = apply_overrides(base, {f: o.value for f, o in overrides.items()})
        for field, problem in problems.items():
            log.warning("line setting %s from Slack ignored: %s", field, problem)
        return line

    async def lines(self) -> tuple[Line, ...]:
        await self._fresh()
        return tuple(self._lines.values())

    async def line_for_number(self, number: str) -> Line | None:
        await self._fresh()
        return self._lines.get(number)

    async def line_for_channel(self, channel: str) -> Line | None:
        await self._fresh()
        return next((ln for ln in self._lines.values() if ln.channel == channel), None)

    def file_line(self, line: Line) -> Line:
        """The line exactly as the lines file gives it (or as `setup` created it)."""
        return self._bases.get(line.number) or line

    def in_file(self, number: str) -> bool:
        return self._config.line_for_number(number) is not None

    async def link(self, number: str, channel: str, *, by: str, at: datetime) -> None:
        """Link a number to a channel from Slack; the line takes the file's defaults."""
        await self._store.link(number, Override(value=channel, by=by, at=at))
        self._wrote()

    async def unlink(self, number: str) -> bool:
        """Undo `link`: the number has no line again (a lines-file line cannot be unlinked)."""
        if self.in_file(number):
            return False
        removed = await self._store.unlink(number)
        self._wrote()
        return removed

    async def linked_by(self, line: Line) -> Override | None:
        """Who linked the line from Slack, and when; None for the file's lines."""
        await self._fresh()
        return None if self.in_file(line.number) else self._links.get(line.number)

    async def override(self, line: Line, field: str) -> Override | None:
        await self._fresh()
        return self._overrides.get(line.number, {}).get(field)

    async def source_of(self, line: Line, field: str) -> str:
        """ "lines file", "Slack (set by <@U…> on Nov 10, 2026)" or "default" (the built-in value)."""
        found = await self.override(line, field)
        if found is not None:
            day = found.at.astimezone(ZoneInfo(line.timezone)).strftime("%b %-d, %Y")
            return f"Slack (set by <@{found.by}> on {day})"
        return DEFAULT if is_default(self.file_line(line), field) else FILE

    async def change(self, line: Line, field: str, text: str, *, by: str, at: datetime) -> Change:
        """Validate and store one setting; ValueError (with an example) when the value is wrong."""
        current = await self.line_for_number(line.number) or line
        value = canonical(current, field, text)
        old = show(current, field)
        new_line, problems = apply_overrides(current, {field: value})
        if field in problems:
            raise ValueError(problems[field])
        change = Change(field, old, show(new_line, field))
        if change.changed:
            await self._store.put(line.number, field, Override(value=value, by=by, at=at))
            self._wrote()
        return change
