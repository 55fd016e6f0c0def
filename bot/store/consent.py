"""The consent log in Redis (the `ConsentLog` port), and reading it back for exports.

One stream, oldest first, never capped and never expired: the record an auditor or a
carrier complaint is answered with outlives the conversations (the lines file's
`retention`) and `textback forget`. Consent events are rare, so reading filters the stream.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import asdict, fields
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from bot.store import keys
from workflows.ports import ConsentEvent

COLUMNS = tuple(f.name for f in fields(ConsentEvent))
PAGE = 500


class RedisConsentLog:
    """Appends consent events to one stream and reads them back, filtered."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def record(self, event: ConsentEvent) -> None:
        row = {k: (v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in asdict(event).items()}
        await self._r.xadd(keys.CONSENT_LOG, row)  # type: ignore[arg-type]

    async def events(
        self, *, caller: str = "", line: str = "", since: datetime | None = None
    ) -> AsyncIterator[ConsentEvent]:
        """Events oldest first, for one caller and/or line, from `since`."""
        start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
        while True:
            page = cast(list[tuple[bytes, dict[bytes, bytes]]],
                        await self._r.xrange(keys.CONSENT_LOG, min=start, max="+", count=PAGE))
            for _, raw in page:
                event = _event(raw)
                if (not caller or event.caller == caller) and (not line or event.line == line):
                    yield event
            if len(page) < PAGE:
                return
            start = "(" + _text(page[-1][0])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event(raw: dict[bytes, bytes]) -> ConsentEvent:
    row = {_text(k): _text(v) for k, v in raw.items()}
    values = {name: row.get(name, "") for name in COLUMNS}
    return ConsentEvent(**{**values, "at": datetime.fromisoformat(values["at"])})  # type: ignore[arg-type]


def to_csv(events: list[ConsentEvent]) -> str:
    """The events as CSV, one row each, with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for event in events:
        row = asdict(event)
        writer.writerow([row["at"].isoformat(), *(_safe(str(row[c])) if c in _FREE_TEXT else str(row[c])
                                                  for c in COLUMNS[1:])])
    return out.getvalue()


_FREE_TEXT = frozenset({"message", "reply"})


def _safe(cell: str) -> str:
    """A caller's words never run as a spreadsheet formula (as in the leads export)."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell
