"""The text-back's fast lane: on one instance, other work waits while text-backs are in hand.

All jobs share one event loop. In a burst of missed calls, every job's Slack work (thread,
card, lead, reminders) and every other job's Redis round trips would otherwise take turns
with the text-backs still waiting to leave, so the last caller's SMS waits behind the first
callers' threads. A missed call enters the lane when its webhook records it (and again when
its job starts, for jobs recorded elsewhere) and leaves once its SMS request was answered
(or no text is due); Slack work and other job kinds wait until the text-backs that were
in hand when they started waiting have left. Calls that arrive later do not extend a wait,
so a steady stream of calls cannot hold other work back.

Timing only: nothing here decides whether anything happens. Every wait is bounded, and an
entry this instance never sees leave (its job ran on another instance) expires.
"""

from __future__ import annotations

import asyncio
import time

from workflows.conversation import SmsResult

# The longest anything waits for the lane: a slow or hung SMS request delays threads and
# other jobs by at most this much.
PATIENCE_S = 1.0
# An entry nobody removes (the job went to another instance) is forgotten after this long.
ENTRY_TTL_S = 2.0


class FastLane:
    """Missed calls whose text-back has not gone yet, on this instance.

    Work that waits, waits only for the text-backs already in hand when it started waiting:
    in a burst that puts every text-back first, and under a steady stream of calls nothing
    waits for calls that came after it (the lane would never be empty).
    """

    def __init__(
        self, *, patience_s: float = PATIENCE_S, entry_ttl_s: float = ENTRY_TTL_S
    ) -> None:
        self.patience_s = patience_s
        self._ttl = entry_ttl_s
        self._entries: dict[str, float] = {}  # call id -> when it expires (monotonic)
        self._left = asyncio.Condition()

    def enter(self, call_id: str) -> None:
        self._entries[call_id] = time.monotonic() + self._ttl

    def leave(self, call_id: str) -> None:
        if self._entries.pop(call_id, None) is not None:
            asyncio.get_running_loop().create_task(self._tell())

    async def _tell(self) -> None:
        async with self._left:
            self._left.notify_all()

    def _purge(self) -> None:
        now = time.monotonic()
        for call_id in [c for c, expires in self._entries.items() if expires <= now]:
            del self._entries[call_id]

    def busy(self) -> bool:
        self._purge()
        return bool(self._entries)

    async def wait_clear(self) -> None:
        """Until the text-backs in hand now have left (or expired), or `patience_s` passed."""
        self._purge()
        ahead = set(self._entries)
        if not ahead:
            return
        deadline = time.monotonic() + self.patience_s
        async with self._left:
            while True:
                self._purge()
                if not ahead & self._entries.keys():
                    return
                now = time.monotonic()
                if now >= deadline:
                    return
                expiry = min(self._entries[c] for c in ahead if c in self._entries)
                try:
                    async with asyncio.timeout(min(deadline, expiry) - now + 0.001):
                        await self._left.wait()
                except TimeoutError:
                    pass  # look again: an entry expired, or patience ran out

    def for_call(self, call_id: str) -> CallLane:
        """The `TextbackLane` port for one missed-call job."""
        self.enter(call_id)
        return CallLane(self, call_id)


class CallLane:
    """One missed call's place in the lane (the workflows' `TextbackLane` port)."""

    def __init__(self, lane: FastLane, call_id: str) -> None:
        self._lane, self._call_id = lane, call_id

    async def after_send(self, sending: asyncio.Task[SmsResult] | None) -> None:
        """Wait (bounded) for this text-back, leave the lane, then let the others go first."""
        if sending is not None:
            await asyncio.wait([sending], timeout=self._lane.patience_s)
        self._lane.leave(self._call_id)
        await self._lane.wait_clear()

    def leave(self) -> None:
        self._lane.leave(self._call_id)
