"""What both stand-ins share: an aiohttp app on 127.0.0.1:0, a record of every request,
injected failures and delays, and waiting for a request without polling."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

# How long stop() lets a request that is still sleeping (an injected delay) finish.
SHUTDOWN_GRACE_S = 0.5


@dataclass
class Recorded:
    """One request as the stand-in saw it, and what it answered."""

    method: str  # the API operation: "CreateMessage", "chat.postMessage"...
    params: dict[str, Any]
    arrived: float  # time.perf_counter() when the handler started
    status: int = 0  # HTTP status answered; 0 if the answer never went out
    error: str | None = None
    answered: float = 0.0


@dataclass(frozen=True)
class Reply:
    """An answer before rendering: a JSON value, or bytes/str sent as they are."""

    status: int
    body: Any
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    status: int
    body: Any
    delay: float
    headers: Mapping[str, str]
    after_accept: bool


class Held:
    """Requests of one method kept waiting, before their effect, until `release()`."""

    def __init__(self) -> None:
        self.arrived = 0
        self._changed = asyncio.Condition()
        self._open = asyncio.Event()

    async def enter(self) -> None:
        async with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        await self._open.wait()

    async def wait_arrived(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until `count` requests are waiting here (or went through)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.arrived >= count)

    def release(self) -> None:
        self._open.set()


class StandInServer:
    """Base class: subclasses supply `routes()` and `failure_body()`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.url = ""
        self._failures: dict[str, deque[Failure | None]] = defaultdict(deque)  # None: let one through
        self._delays: dict[str, float] = {}
        self._held: dict[str, Held] = {}
        self._chaos: dict[str, tuple[float, list[Failure], random.Random]] = {}
        self._outage: Failure | None = None
        self._runner: web.AppRunner | None = None
        # Replaced after every record, so each waiter wakes once per new request.
        self._arrival = asyncio.Event()

    # --- to override ------------------------------------------------------------------

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        raise NotImplementedError

    def failure_body(self, status: int) -> Any:
        """The body an injected failure answers when the test gave none."""
        raise NotImplementedError

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # room for a burst
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- failure injection ------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        count: int = 1,
        status: int = 500,
        body: Any = None,
        delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        after_accept: bool = False,
        skip: int = 0,
    ) -> None:
        """Answer the next `count` valid requests for `method` with an error, after letting
        `skip` of them through.

        `after_accept=True` performs the effect first (the message is stored) and still answers
        the error: the ambiguous failure a client cannot tell from a refusal.
        """
        failure = self._failure(status, body, delay, headers, after_accept)
        self._failures[method].extend([None] * skip + [failure] * count)

    def forget_failures(self, method: str) -> None:
        """Drop the failures `fail_next` queued for `method` that no request has met yet."""
        self._failures.pop(method, None)

    def chaos(self, method: str, rate: float, mix: Sequence[Mapping[str, Any]], *, seed: int = 0) -> None:
        """Fail a share `rate` of `method`'s requests at random, each like `fail_next(**one_of_mix)`."""
        failures = [self._failure(**m) for m in mix]
        self._chaos[method] = (rate, failures, random.Random(seed))

    def _failure(
        self, status: int = 500, body: Any = None, delay: float = 0.0,
        headers: Mapping[str, str] | None = None, after_accept: bool = False,
    ) -> Failure:
        answer = self.failure_body(status) if body is None else body
        extra = dict(headers or {})
        if status == 429:
            extra.setdefault("Retry-After", "1")  # both vendors send it with every 429
        return Failure(status, answer, delay, extra, after_accept)

    def go_down(self, status: int = 503, body: Any = None) -> None:
        """An outage: every request, whatever its method, fails with `status` until `come_back()`."""
        self._outage = self._failure(status, body)

    def come_back(self) -> None:
        """The outage ends: requests are answered again (queued and random failures still apply)."""
        self._outage = None

    @property
    def down(self) -> bool:
        return self._outage is not None

    def _next_failure(self, method: str) -> Failure | None:
        if self._outage is not None:
            return self._outage
        queue = self._failures.get(method)
        if queue:
            return queue.popleft()  # None lets this one through (`skip`)
        if method in self._chaos:
            rate, failures, rng = self._chaos[method]
            if rng.random() < rate:
                return rng.choice(failures)
        return None

    def delay(self, method: str, seconds: float) -> None:
        """Slow every answer for `method` (0 removes the delay)."""
        if seconds > 0:
            self._delays[method] = seconds
        else:
            self._delays.pop(method, None)

    def hold(self, method: str) -> Held:
        """Keep `method`'s requests waiting before their effect until the answer's `release()`."""
        held = self._held[method] = Held()
        return held

    # --- answering and recording ------------------------------------------------------

    async def answer(self, rec: Recorded, effect: Callable[[], Reply]) -> web.StreamResponse:
        """Run the effect of a valid request, with any injected failure or delay, and record it."""
        failure = self._next_failure(rec.method)
        try:
            # The delay comes before the effect: a slow upstream still acts after a client
            # has given up, which is what makes a timed-out send "maybe sent".
            await asyncio.sleep(self._delays.get(rec.method, 0.0))
            if rec.method in self._held:
                await self._held[rec.method].enter()
            if failure is not None and not failure.after_accept:
                await asyncio.sleep(failure.delay)
                return self.finish(rec, _injected(failure, "injected failure"))
            reply = self._guarded(rec, effect)
            if failure is not None:
                await asyncio.sleep(failure.delay)
                reply = _injected(failure, "injected failure after accepting the request")
            return self.finish(rec, reply)
        except asyncio.CancelledError:
            rec.error = "cancelled before answering (server stopping)"
            self._record(rec)
            raise

    def _guarded(self, rec: Recorded, effect: Callable[[], Reply]) -> Reply:
        # A request the stand-in cannot handle (typically one the spec check would have
        # refused, run without specs) must show up in the record, not vanish in a traceback.
        try:
            return effect()
        except Exception as exc:
            self.violate(rec.method, f"the stand-in could not handle the request: {exc!r}")
            return Reply(500, self.failure_body(500), error=f"stand-in error: {exc!r}")

    def finish(self, rec: Recorded, reply: Reply) -> web.StreamResponse:
        """Record the request with its answer and render the answer."""
        rec.status, rec.error = reply.status, reply.error
        self._record(rec)
        headers = dict(reply.headers)
        if isinstance(reply.body, bytes):
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, headers=headers)
        return web.json_response(reply.body, status=reply.status, headers=headers)

    def violate(self, method: str, problem: str) -> None:
        self.violations.append(f"{method}: {problem}")

    def _record(self, rec: Recorded) -> None:
        rec.answered = time.perf_counter()
        self.requests.append(rec)
        self._arrival.set()
        self._arrival = asyncio.Event()

    # --- waiting ----------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 5.0) -> Recorded:
        """The first recorded request that satisfies `predicate`, waiting up to `timeout` s."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    arrival = self._arrival  # taken before the scan, so no record is missed
                    found = next((r for r in self.requests if predicate(r)), None)
                    if found is not None:
                        return found
                    await arrival.wait()
        except TimeoutError:
            raise TimeoutError(self._listing(timeout)) from None

    def _listing(self, timeout: float) -> str:
        lines = [f"{type(self).__name__}: no matching request within {timeout}s; received {len(self.requests)}:"]
        for r in self.requests[-20:]:
            params = repr(r.params)
            params = params if len(params) <= 160 else params[:157] + "..."
            lines.append(f"  {r.method} -> {r.status}{f' ({r.error})' if r.error else ''} {params}")
        return "\n".join(lines)


def _injected(failure: Failure, why: str) -> Reply:
    return Reply(failure.status, failure.body, error=why, headers=failure.headers)
