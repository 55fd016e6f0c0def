"""One benchmark run: stand-ins here, the server and the floor as processes, then the loads."""

from __future__ import annotations

import asyncio
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import processes
from bench.held import judge_all
from bench.processes import Process
from bench.scenarios import Held, Run, Samples, Target, burst, mirror, sustained
from bench.traffic import CHANNEL, LINE, STAFF, Callers, Sender, Tracker
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn

# Open around the clock, so every call rings first and the dial-status webhook is the miss.
# No reminders: a full run outlasts the first rung (5 minutes), and reminders firing for the
# first calls while later ones are timed would make runs of different lengths differ.
# Reminder lateness is measured on its own (bench/reminders.py).
LINES_FILE = f"""business: Bench Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["{STAFF}"]
    timezone: America/Chicago
    reminders: []
"""
WARM_UP_CALLS = 5
# The concurrency at which the profile is taken (the §4 target's).
PROFILED_LEVEL = 50


@dataclass(frozen=True)
class Options:
    levels: tuple[int, ...] = (1, 10, 50, 200)
    samples: int = 200  # text-backs per level at least (rounds of `level` calls)
    mirror_callers: int = 50
    rates: tuple[float, ...] = (10, 20, 40, 80)
    duration_s: float = 30.0
    redis_url: str | None = None
    profile: Path | None = None
    logs: Path | None = None  # where the server's and the floor's output is kept


@dataclass
class Measured:
    """Everything one run collected, before it is summarised."""

    levels: dict[int, dict[str, Samples]] = field(default_factory=dict)
    mirroring: dict[int, dict[str, tuple[Samples, Samples]]] = field(default_factory=dict)
    steps: list[Held] = field(default_factory=list)
    floor_step: Held | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    backlog: dict[str, int | None] = field(default_factory=dict)  # each listening socket's accept queue


async def run(opts: Options) -> Measured:
    with tempfile.TemporaryDirectory(prefix="textback-bench-") as tmp:
        work = Path(tmp)
        (work / "textback.yml").write_text(LINES_FILE)
        async with _world(work, opts) as (run_, server, floor, redis):
            return await _measure(opts, run_, server, floor, redis)


@asynccontextmanager
async def _world(work: Path, opts: Options) -> AsyncIterator[tuple[Run, Process, Process, Redis]]:
    twilio = await TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    slack = await SlackStandIn(bot_token=BOT_TOKEN).start()
    sender = Sender()
    started: list[Process] = []
    redis: Redis | None = None
    try:
        urls = {"slack_api": slack.api_url, "twilio_api": twilio.url}
        server = processes.start_server(work, redis_url=opts.redis_url, **urls)
        started.append(server)
        floor = processes.start_floor(work, **urls)
        started.append(floor)
        await server.wait_healthy(sender.http)
        await floor.wait_healthy(sender.http)
        url = opts.redis_url or processes.embedded_redis_url(work / "data")
        if url is None:
            raise RuntimeError("cannot find the server's embedded Valkey in its data directory")
        redis = Redis.from_url(url)
        yield Run(sender, Tracker([twilio, slack]), Callers(), slack), server, floor, redis
    finally:
        for proc in started:
            proc.stop()
            if opts.logs is not None:
                opts.logs.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(proc.log_path, opts.logs / proc.log_path.name)
        await sender.close()
        if redis is not None:
            await redis.aclose()
        await slack.stop()
        await twilio.stop()


async def _measure(opts: Options, run_: Run, server: Process, floor: Process, redis: Redis) -> Measured:
    m = Measured()
    await asyncio.sleep(1.0)  # idle means after start-up, not during it
    m.memory["idle"] = processes.memory_kb(server.pid)
    m.backlog = {"server": processes.listen_backlog(server.port), "floor": processes.listen_backlog(floor.port)}
    m.memory["valkey_idle"] = _valkey_memory(server)
    before = await _redis_usage(redis)
    peak = RssSampler(server.pid)
    peak.start()
    s, f = Target("server", server.url), Target("floor", floor.url)
    for target in (s, f):  # first connections and lazy imports are not what is measured
        await burst(run_, target, WARM_UP_CALLS, 1)
    opened = 0
    for level in opts.levels:
        rounds = max(1, math.ceil(opts.samples / level))
        with _profiling(server.pid, opts.profile if level == PROFILED_LEVEL else None):
            m.levels[level] = {"server": await _costed(server, burst(run_, s, level, rounds))}
        m.levels[level]["floor"] = await _costed(floor, burst(run_, f, level, rounds))
        opened += len(m.levels[level]["server"].callers)
    callers = _threaded_callers(m, opts.mirror_callers)
    for level in sorted({1, min(PROFILED_LEVEL, len(callers) or 1)}):
        m.mirroring[level] = {"server": await mirror(run_, s, callers, level),
                              "floor": await mirror(run_, f, [run_.callers.new() for _ in callers], level)}
    opened += await _sustain(opts, run_, s, f, m)
    await run_.tracker.quiet(for_s=1.0)
    peak.stop()
    after = await _redis_usage(redis)
    m.memory |= {"peak_sampled_kb": peak.peak_kb, "end": processes.memory_kb(server.pid),
                 "valkey_end": _valkey_memory(server), "redis_before": before, "redis_after": after,
                 "conversations": opened + WARM_UP_CALLS}
    m.violations = run_.tracker.violations()
    m.memory["upstream"] = run_.tracker.methods()
    return m


async def _costed(proc: Process, work: Awaitable[Samples]) -> Samples:
    """The samples, with the CPU the process (and its Valkey child) spent per call on them:
    a figure that, unlike latency, barely moves with what else the machine is doing."""
    kids = processes.children(proc.pid)
    own, redis = processes.cpu_s([proc.pid]), processes.cpu_s(kids)
    overflows = processes.listen_overflows()
    s = await work
    after = processes.listen_overflows()
    s.listen_overflows = after - overflows if after is not None and overflows is not None else None
    calls = len(s.callers) or 1
    s.cpu_ms = (processes.cpu_s([proc.pid]) - own) * 1000 / calls
    s.redis_cpu_ms = (processes.cpu_s(kids) - redis) * 1000 / calls if kids else None
    return s


def _threaded_callers(m: Measured, count: int) -> list[str]:
    """Callers whose missed call opened a thread (the mirroring needs one)."""
    callers = [c for level in sorted(m.levels, reverse=True) for c in m.levels[level]["server"].callers]
    return callers[:count]


async def _sustain(opts: Options, run_: Run, s: Target, f: Target, m: Measured) -> int:
    """Rates in turn until one is not held (bench.held); the floor then gets the last rate
    held, or the first rate when none was."""
    held_rate = opts.rates[0] if opts.rates else None
    opened = 0
    for rate in opts.rates:
        step = await sustained(run_, s, rate, opts.duration_s)
        m.steps.append(step)
        opened += step.calls
        if not judge_all([st.row() for st in m.steps])[-1].held:
            break
        held_rate = rate
    if held_rate is not None:
        m.floor_step = await sustained(run_, f, held_rate, opts.duration_s)
    return opened


async def _redis_usage(redis: Redis) -> dict[str, int]:
    info = await redis.info("memory")
    stats = await redis.info("commandstats")
    commands = sum(int(v["calls"]) for k, v in stats.items() if isinstance(v, dict) and "calls" in v)
    return {"used_memory": int(info["used_memory"]), "keys": int(await redis.dbsize()), "commands": commands}


def _valkey_memory(server: Process) -> dict[str, int]:
    """The embedded Valkey's RSS (it is the server's child); empty with an outside Redis."""
    kids = processes.children(server.pid)
    return processes.memory_kb(kids[0]) if kids else {}


class RssSampler:
    """The largest VmRSS seen under load, sampled every 50 ms (VmHWM also counts start-up)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _sample(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, processes.memory_kb(self.pid).get("VmRSS", 0))
            await asyncio.sleep(0.05)


class _profiling:
    """py-spy attached to the server for one level (py-spy is not a dependency: opt-in)."""

    def __init__(self, pid: int, out: Path | None) -> None:
        self.pid, self.out = pid, out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> None:
        if self.out is None:
            return
        fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(self.out.suffix, "raw")
        # Installed into the same virtualenv as the bench, which need not be on PATH.
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        argv = [exe, "record", "--pid", str(self.pid), "--rate", "500", "--format", fmt,
                "--output", str(self.out)]
        self.log = open(self.out.with_suffix(".log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # py-spy attaches before the load starts

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
            self.log.close()
