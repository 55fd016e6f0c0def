"""A clock tests and the demo set and move by hand (the app's `Clock` port, workflows/ports.py)."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """A clock tests set and move by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
