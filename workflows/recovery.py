"""What it earned: of a line's missed callers over some days, how many were texted back,
replied, were answered by the team and were booked (README "What it earned").

Callers, not events: a caller missed three times in a week is one missed caller. Pure and
clock-free: the edges pass the days' figures (with the callers each figure counted) and the
ids of the line's booked leads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from workflows.digest import DayFigures

__all__ = ["Recovery", "earned_sentence", "money", "recovery", "work_value"]


@dataclass(frozen=True)
class Recovery:
    """Distinct callers at each step, over one period of one line; each step is a share of the one before
    it, except `answered` and `booked`, which are shares of `missed`."""

    missed: int = 0  # callers with at least one missed call in the period
    texted: int = 0  # of them, callers sent an automatic text-back in the period
    replied: int = 0  # of those texted back, callers who then texted the line in the period
    answered: int = 0  # of the missed callers, callers a team reply was texted to in the period
    booked: int = 0  # of the missed callers, callers whose lead is `booked` now


def _who(days: Iterable[DayFigures], figure: str) -> set[str]:
    return {caller for d in days for caller in d.callers.get(figure, ())}


def _unnamed(days: Iterable[DayFigures], figure: str) -> int:
    return sum(d.unnamed.get(figure, 0) for d in days)


def recovery(days: Iterable[DayFigures], booked: Collection[str]) -> Recovery:
    """The recovery figure over `days`; `booked` holds the lead ids of the line's booked leads."""
    days = list(days)
    missed = _who(days, "missed")
    texted = missed & _who(days, "texted")
    # A missed call without a caller to tell apart (a withheld number) is one caller of its own:
    # it cannot be texted back, answered or booked. Counts written before callers were recorded
    # count the same way, texted back included.
    return Recovery(
        missed=len(missed) + _unnamed(days, "missed"),
        texted=len(texted) + _unnamed(days, "texted"),
        replied=len(texted & _who(days, "reply_to_textback")),
        answered=len(missed & _who(days, "answered")),
        booked=len(missed & set(booked)),
    )


def work_value(found: Recovery, average_job_value: float | None) -> float | None:
    """What the booked callers are worth at the line's average job value (None when it is not set)."""
    return None if average_job_value is None else found.booked * average_job_value


def money(amount: float) -> str:
    """ "$4,070": whole dollars, as an estimate reads."""
    return f"${round(amount):,}"


def earned_sentence(found: Recovery, average_job_value: float | None) -> str:
    """The one sentence an owner reads first: "37 missed calls, 29 texted back, 18 replied, 11 booked"
    and, with an average job value, ": about $4,070 of work"."""
    callers = "caller" if found.missed == 1 else "callers"
    text = f"{found.missed} missed {callers}, {found.texted} texted back, {found.replied} replied, {found.booked} booked"
    value = work_value(found, average_job_value)
    return text if value is None else f"{text}: about {money(value)} of work"
