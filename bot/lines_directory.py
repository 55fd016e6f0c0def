"""The effective lines: the lines file with the settings changed from Slack laid over it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

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


class LineDirectory:
    """Looks lines up by number or channel; each lookup costs one Redis GET (the version).

    Overrides are reloaded only when the version moved, so a change made on any instance
    shows up on every instance at its next lookup.
    """

    def __init__(self, config: Config, store: RedisLineSettings) -> None:
        self._config = config
        self._store = store
        self._version: str | None = None
        self._lines: dict[str, Line] = {ln.number: ln for ln in config.lines}
        self._overrides: dict[str, dict[str, Override]] = {}

    @property
    def admins(self) -> tuple[str, ...]:
        """Slack user ids the lines file allows to change settings."""
        return self._config.admins

    async def _fresh(self) -> None:
        try:
            version = await self._store.version()
            if version == self._version:
                return
            overrides = await self._store.load(self._lines)
        except RedisError as exc:
            # The text-back must not wait on a settings reload: keep the last known lines.
            log.warning("line settings unavailable, using the last known ones: %r", exc)
            return
        self._lines = {ln.number: self._effective(ln, overrides.get(ln.number, {})) for ln in self._config.lines}
        self._overrides = overrides
        self._version = version

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
        """The line exactly as the lines file gives it."""
        return self._config.line_for_number(line.number) or line

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
        return change
