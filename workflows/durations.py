"""Durations as operators write them: "5m", "90s", "2h", "1h30m", or plain seconds."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration", "parse_duration_with_unit"]

EXAMPLE = 'use a number with s, m or h, e.g. "90s", "5m", "1h30m"'
_UNITS = {"h": 3600, "m": 60, "s": 1}
# Longest unit words first, so "hours" is not read as "h" followed by junk.
_PART = re.compile(
    r"(\d+)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\s*", re.IGNORECASE
)


def parse_duration(text: str | int) -> int:
    """Seconds for "5m", "90s", "2h", "1h30m", "300" or 300; ValueError with an example otherwise."""
    # bool is an int subclass, and `cooldown: yes` is a mistake, not one second.
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"{text!r} is not a duration: {EXAMPLE}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text} is negative: {EXAMPLE}")
        return text
    cleaned = text.strip()
    if cleaned.isascii() and cleaned.isdigit():  # not `²`: isdigit() says yes, int() no
        return int(cleaned)
    total, pos, seen = 0, 0, set()
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        unit = match[2][0].lower()
        if unit in seen:
            raise ValueError(f'"{text}" gives "{unit}" twice: {EXAMPLE}')
        seen.add(unit)
        total += int(match[1]) * _UNITS[unit]
        pos = match.end()
    if not seen or pos != len(cleaned):
        raise ValueError(f'"{text}" is not a duration: {EXAMPLE}')
    return total


def parse_duration_with_unit(text: str | int) -> int:
    """parse_duration, refusing a bare number: the lines file and Slack both ask for a unit."""
    bare = str(text).strip()
    if (isinstance(text, int) and not isinstance(text, bool)) or (bare.isascii() and bare.isdigit()):
        # A bare 5 could mean minutes or seconds; guessing wrong gives 5-second reminders.
        raise ValueError(f'{bare} has no unit: write "{bare}m" for minutes or "{bare}s" for seconds')
    return parse_duration(text)


def format_duration(seconds: int) -> str:
    """The short form parse_duration reads back: 14400 → "4h", 5400 → "1h30m", 90 → "90s"."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if not hours and secs:
        # "90s" reads better than "1m30s" for the short waits this is used for.
        return f"{rest}s"
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def format_wait(seconds: float) -> str:
    """How long someone waited, as people say it: whole minutes from two minutes on ("7m")."""
    whole = max(0, int(seconds))
    return format_duration(whole - whole % 60 if whole >= 120 else whole)


# --- retention: how long what a conversation stored is kept after its last activity ------------

DEFAULT_RETENTION_DAYS = 180
RETENTION_EXAMPLE = 'use days or weeks, e.g. "180d" or "26w", or "forever"'
_RETENTION = re.compile(r"(\d+)\s*(d|days?|w|weeks?)", re.IGNORECASE)


def parse_retention(text: str | int) -> int | None:
    """Days for "180d", "26w" (at least 1 day), None for "forever"; ValueError otherwise."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"{text!r} is not a retention: {RETENTION_EXAMPLE}")
    cleaned = str(text).strip()
    if cleaned.lower() == "forever":
        return None
    if cleaned.isascii() and cleaned.isdigit():
        raise ValueError(f'{cleaned} has no unit: write "{cleaned}d" for days')
    found = _RETENTION.fullmatch(cleaned) if cleaned.isascii() else None
    if found is None:
        raise ValueError(f'"{text}" is not a retention: {RETENTION_EXAMPLE}')
    days = int(found[1]) * (7 if found[2][0].lower() == "w" else 1)
    if days < 1:
        raise ValueError(f'"{text}" keeps nothing: {RETENTION_EXAMPLE}')
    return days
