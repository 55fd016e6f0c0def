"""The loads: bursts of simultaneous missed calls, mirroring both ways, a sustained call rate."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.stats import growing, summary
from bench.traffic import (
    LINE,
    Answer,
    Callers,
    Sender,
    Tracker,
    call_params,
    dial_status_params,
    new_sid,
    reply_envelope,
    sms_params,
)
from standins.slack_api import SlackStandIn

VOICE = "/twilio/voice"
DIAL_STATUS = "/twilio/voice/dial-status"
SMS = "/twilio/sms"
SLACK = "/slack/events"
DIAL_STATUS_QS = DIAL_STATUS + "?" + urlencode({"line": LINE})
# How long an effect may take before it counts as lost (the server retries Slack after 10 s).
ARRIVAL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Target:
    name: str  # "server" or "floor"
    url: str


@dataclass
class Samples:
    """Latencies (ms) of one kind of effect, webhook answer times per route, and failures."""

    latency: list[float] = field(default_factory=list)
    routes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0  # webhooks answered with anything but 2xx, or not at all
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # the errors, by status
    lost: int = 0  # effects that never reached the stand-in
    callers: list[str] = field(default_factory=list)
    # CPU the process under test (and its embedded Valkey) used per call, all work included.
    cpu_ms: float | None = None
    redis_cpu_ms: float | None = None
    # Connections the machine dropped for a full accept queue meanwhile (None: not read).
    listen_overflows: int | None = None

    def answered(self, route: str, answer: Answer) -> None:
        self.routes[route].append(answer.elapsed_ms)
        if not 200 <= answer.status < 300:
            self.errors += 1
            self.statuses[f"{route} {answer.status or 'no answer'}"] += 1


@dataclass
class Run:
    """What every scenario shares: the client, the matcher, fresh callers, the Slack stand-in."""

    sender: Sender
    tracker: Tracker
    callers: Callers
    slack: SlackStandIn


async def ring(run: Run, target: Target, caller: str, sid: str, s: Samples) -> None:
    s.answered(VOICE, await run.sender.twilio(target.url, VOICE, call_params(caller, sid)))


async def miss(run: Run, target: Target, caller: str, sid: str, s: Samples) -> None:
    """The staff phones stopped ringing: from here the text-back clock runs."""
    answer = await run.sender.twilio(target.url, DIAL_STATUS_QS, dial_status_params(caller, sid))
    s.answered(DIAL_STATUS, answer)
    run.tracker.expect(f"to:{caller}", answer.sent_at, s.latency)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this process while one round is timed: the stand-ins hold
    every request they saw, and a full pass over that pauses the clock for both the server
    and the floor. The pause is taken between rounds instead."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def burst(run: Run, target: Target, concurrency: int, rounds: int) -> Samples:
    """`rounds` times: `concurrency` calls ring at once, then all go unanswered at once."""
    s = Samples()
    for _ in range(rounds):
        callers = [run.callers.new() for _ in range(concurrency)]
        sids = [new_sid("CA") for _ in callers]
        with collector_paused():
            await asyncio.gather(*(ring(run, target, c, sid, s) for c, sid in zip(callers, sids, strict=True)))
            await asyncio.gather(*(miss(run, target, c, sid, s) for c, sid in zip(callers, sids, strict=True)))
            s.lost += await run.tracker.wait([f"to:{c}" for c in callers], ARRIVAL_TIMEOUT_S)
        # The Slack side of this round (thread, card) finishes before the next round starts.
        await run.tracker.quiet()
        s.callers += callers
    return s


async def mirror(run: Run, target: Target, callers: list[str], concurrency: int) -> tuple[Samples, Samples]:
    """Each caller texts (-> Slack post in the thread), then the team replies (-> SMS)."""
    texts, replies = Samples(), Samples()
    for start in range(0, len(callers), concurrency):
        chunk = callers[start : start + concurrency]
        with collector_paused():
            threads = await _caller_texts(run, target, chunk, texts)
        with collector_paused():
            await _team_replies(run, target, threads, replies)
        await run.tracker.quiet()
    return texts, replies


async def _caller_texts(run: Run, target: Target, callers: list[str], s: Samples) -> list[str]:
    tokens = [run.sender.token("sms") for _ in callers]

    async def one(caller: str, token: str) -> None:
        answer = await run.sender.twilio(target.url, SMS, sms_params(caller, f"{token} is the leak fixed?"))
        s.answered(SMS, answer)
        run.tracker.expect(token, answer.sent_at, s.latency)

    await asyncio.gather(*(one(c, t) for c, t in zip(callers, tokens, strict=True)))
    s.lost += await run.tracker.wait(tokens, ARRIVAL_TIMEOUT_S)
    found = (run.tracker.found.get(t) for t in tokens)
    # The floor posts no thread; its replies go to a made-up one.
    return [str(r.params.get("thread_ts") or r.params.get("ts") or "1.0") if r else "" for r in found]


async def _team_replies(run: Run, target: Target, threads: list[str], s: Samples) -> None:
    tokens = [run.sender.token("reply") for _ in threads]

    async def one(thread: str, token: str) -> None:
        envelope = reply_envelope(thread, run.slack.next_ts(), f"{token} a tech is on the way")
        answer = await run.sender.slack(target.url, envelope)
        s.answered(SLACK, answer)
        run.tracker.expect(token, answer.sent_at, s.latency)

    await asyncio.gather(*(one(th, t) for th, t in zip(threads, tokens, strict=True) if th))
    s.lost += await run.tracker.wait(tokens, ARRIVAL_TIMEOUT_S)


@dataclass
class Held:
    """One step of the sustained run."""

    rate: float
    duration_s: float
    calls: int
    achieved_rate: float
    samples: Samples

    @property
    def growing(self) -> bool:
        return growing(self.samples.latency)

    def row(self) -> dict[str, Any]:
        """The step as `bench/results/*.json` keeps it; bench.held judges it."""
        s = self.samples
        return {"rate": self.rate, "duration_s": self.duration_s, "calls": self.calls,
                "error_statuses": dict(s.statuses), "achieved_rate": self.achieved_rate, "errors": s.errors,
                "lost": s.lost, "growing": self.growing, "textback": summary(s.latency),
                "webhooks": {r: summary(t) for r, t in s.routes.items()}}


async def sustained(run: Run, target: Target, rate: float, duration_s: float) -> Held:
    """Calls started at a fixed rate (open loop: a slow answer does not slow the schedule)."""
    s = Samples()
    calls = max(1, int(rate * duration_s))
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for i in range(calls):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        caller = run.callers.new()
        s.callers.append(caller)
        tasks.append(asyncio.create_task(_call(run, target, caller, s)))
    spent = time.perf_counter() - start
    await asyncio.gather(*tasks)
    s.lost += await run.tracker.wait([f"to:{c}" for c in s.callers], ARRIVAL_TIMEOUT_S)
    await run.tracker.quiet()
    # The last call starts (calls - 1) intervals after the first when the bench keeps pace.
    achieved = (calls - 1) / spent if calls > 1 and spent > 0 else rate
    return Held(rate, duration_s, calls, round(achieved, 1), s)


async def _call(run: Run, target: Target, caller: str, s: Samples) -> None:
    sid = new_sid("CA")
    await ring(run, target, caller, sid, s)
    await miss(run, target, caller, sid, s)
