"""Redis commands the server sends: per idle minute, and per missed call, by command.

    python -m bench.commands                          # this checkout: 60 s idle, then 50 calls
    python -m bench.commands --checkout /tmp/before   # another checkout (a `git worktree`)
    python -m bench.commands --idle-seconds 10 --calls 5 --json out.json

Starts `python -m bot serve` from the checkout with its own embedded Valkey and two lines
configured, beside the Slack and Twilio stand-ins. Once it has settled (the timer listening,
the job group read, weekly digests pending), it resets Valkey's command statistics, stays idle for
`--idle-seconds` and reads `INFO commandstats`. Then, after one call not counted (connections
opened and scripts loaded once), it resets them again and plays `--calls` missed calls one
after another (ring, dial-status webhook, the text-back at the Twilio stand-in, the thread at
the Slack stand-in), waits until every expected request has arrived and the job stream is
empty, and reads them again. Commands inside Lua scripts are counted one by one, as Valkey
counts them; the bench's own commands are taken out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import processes
from bench.processes import Process
from bench.scenarios import DIAL_STATUS_QS, VOICE
from bench.traffic import CHANNEL, LINE, STAFF, Callers, Sender, call_params, dial_status_params, new_sid
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN
from standins.server import StandInServer
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn

# Two lines, as a small business has; no reminders, so nothing fires while the calls are
# counted (the bench's own line, plus a second one that only idles).
LINES_FILE = f"""business: Bench Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["{STAFF}"]
    timezone: America/Chicago
    reminders: []
  - number: "+15125550200"
    channel: C0BENCH002
    forward_to: ["+15125550211"]
    timezone: America/New_York
    reminders: []
"""
LINES = 2
# A missed call ends in one text-back and one Slack post: the card, which shows the text.
POSTS_PER_CALL = 1
WAIT_S = 60.0
# Commands the bench itself sends after a reset (the reset counts itself once).
RESET = "config|resetstat"


@dataclass
class Counted:
    """Commands Valkey counted over a stretch of time, by command name."""

    seconds: float
    by_command: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_command.values())


class Probe:
    """The bench's own connection to the server's Valkey; it keeps count of what it sends."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sent: Counter[str] = Counter()
        self._since = 0.0

    async def reset(self) -> None:
        await self.redis.config_resetstat()
        self.sent = Counter({RESET: 1})
        self._since = time.monotonic()

    async def read(self) -> Counted:
        """What the server sent since the reset (INFO does not count itself)."""
        seconds = time.monotonic() - self._since
        stats = await self.redis.info("commandstats")
        found = Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})
        found.subtract(self.sent)
        return Counted(seconds, {k: n for k, n in sorted(found.items(), key=lambda kv: -kv[1]) if n > 0})

    async def jobs_left(self) -> int:
        """Jobs in the stream, waiting or pending (two commands, counted as the bench's)."""
        self.sent.update(["xlen", "xpending"])
        length = int(await self.redis.xlen("tb:jobs"))
        pending = await self.redis.xpending("tb:jobs", "workers")
        return length + int(pending["pending"])


async def settled(probe: Probe) -> None:
    """Start-up is over: a worker reads the job stream, the timer listens for wake-ups, and
    each line's weekly digest is pending. Read before the reset, so these reads are not counted."""
    r = probe.redis
    async with asyncio.timeout(WAIT_S):
        while True:
            # A worker blocked on the job stream (Redis 7 lists no consumer before its first entry).
            reading = any(c.get("cmd") == "xreadgroup" for c in await r.client_list())
            digests = await r.zrange("tb:due", 0, -1)
            [(_, timers)] = await r.pubsub_numsub("tb:wake:due")
            if reading and int(timers) > 0 and len(digests) >= LINES:
                return
            await asyncio.sleep(0.05)


async def until(stand: StandInServer, check: Callable[[], bool]) -> None:
    """Until `check()` holds, looking again at each request the stand-in records."""
    if not check():
        await stand.wait_for(lambda _: check(), timeout=WAIT_S)


async def missed_calls(server: Process, sender: Sender, twilio: TwilioStandIn, slack: SlackStandIn,
                       probe: Probe, callers: Callers, calls: int) -> None:
    """`calls` missed calls one after another, each until its text-back reached Twilio; then
    until every thread post reached Slack and the job stream is empty."""
    posts = sum(r.method == "chat.postMessage" for r in slack.requests) + POSTS_PER_CALL * calls
    for _ in range(calls):
        caller, sid = callers.new(), new_sid("CA")
        for path, params in ((VOICE, call_params(caller, sid)), (DIAL_STATUS_QS, dial_status_params(caller, sid))):
            answer = await sender.twilio(server.url, path, params)
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}:\n{server.log_tail()}")
        await twilio.wait_for(lambda r, to=caller: r.method == "CreateMessage" and r.params.get("To") == to,
                              timeout=WAIT_S)
    await until(slack, lambda: sum(r.method == "chat.postMessage" for r in slack.requests) >= posts)
    async with asyncio.timeout(WAIT_S):
        while await probe.jobs_left():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def world(checkout: Path, work: Path, redis_url: str | None = None) -> AsyncIterator[
        tuple[Process, Sender, TwilioStandIn, SlackStandIn, Probe]]:
    """The stand-ins and the checkout's server with its own embedded Valkey, or on `redis_url`
    (its database flushed first; INFO commandstats counts the whole server, so nothing else
    may use that server meanwhile)."""
    twilio = await TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    slack = await SlackStandIn(bot_token=BOT_TOKEN).start()
    sender = Sender()
    (work / "textback.yml").write_text(LINES_FILE)
    port = processes.free_port()
    if redis_url:
        async with Redis.from_url(redis_url) as fresh:
            await fresh.flushdb()
    env = processes.server_env(work, port=port, redis_url=redis_url, slack_api=slack.api_url, twilio_api=twilio.url)
    env["PYTHONPATH"] = str(checkout.resolve())  # `bot` from that checkout
    server = processes.spawn("server", [sys.executable, "-m", "bot", "serve"], env, work, port)
    redis: Redis | None = None
    try:
        await server.wait_healthy(sender.http)
        url = redis_url or processes.embedded_redis_url(work / "data")
        if url is None:
            raise RuntimeError("cannot find the server's embedded Valkey in its data directory")
        redis = Redis.from_url(url)
        yield server, sender, twilio, slack, Probe(redis)
    finally:
        server.stop()
        await sender.close()
        if redis is not None:
            await redis.aclose()
        await slack.stop()
        await twilio.stop()


async def measure(checkout: Path, idle_s: float, calls: int, redis_url: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="textback-commands-") as tmp:
        async with world(checkout, Path(tmp), redis_url) as (server, sender, twilio, slack, probe):
            await settled(probe)
            await probe.reset()
            await asyncio.sleep(idle_s)  # the measurement itself: nothing is awaited here
            idle = await probe.read()
            callers = Callers()
            # One call first: connections opened and scripts loaded once are not per call.
            await missed_calls(server, sender, twilio, slack, probe, callers, 1)
            await probe.reset()
            await missed_calls(server, sender, twilio, slack, probe, callers, calls)
            busy = await probe.read()
            info = await probe.redis.info("server")
            version = f"Valkey {info['valkey_version']}" if "valkey_version" in info else f"Redis {info.get('redis_version', '?')}"
    return {
        "checkout": str(checkout.resolve()), "commit": _commit(checkout),
        "valkey": info.get("valkey_version") or info.get("redis_version", "?"), "redis": version,
        "embedded": redis_url is None, "lines": LINES,
        "idle": {"seconds": round(idle.seconds, 1), "commands": idle.total, "by_command": idle.by_command,
                 "per_minute": round(idle.total * 60 / idle.seconds, 1),
                 "by_command_per_minute": {k: round(n * 60 / idle.seconds, 1) for k, n in idle.by_command.items()}},
        "calls": {"count": calls, "seconds": round(busy.seconds, 1), "commands": busy.total,
                  "by_command": busy.by_command, "per_call": round(busy.total / calls, 1),
                  "by_command_per_call": {k: round(n / calls, 2) for k, n in busy.by_command.items()}},
    }


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def render(r: dict[str, Any]) -> str:
    idle, calls = r["idle"], r["calls"]
    server = r.get("redis") or f"Valkey {r.get('valkey', '?')}"  # results written before "redis" say "valkey"
    where = f"embedded {server}" if r.get("embedded", True) else f"{server} at REDIS_URL"
    lines = [f"Redis commands: server at {r['checkout']} ({r['commit']}), {where}, {r['lines']} lines", "",
             f"idle for {idle['seconds']:g} s: {idle['per_minute']:g} commands a minute"]
    lines += [f"  {name:<24} {n:>8g}" for name, n in idle["by_command_per_minute"].items()]
    lines += ["", f"{calls['count']} missed calls one after another, {calls['seconds']:g} s until all work was "
              f"done: {calls['per_call']:g} commands per call"]
    lines += [f"  {name:<24} {n:>8g}" for name, n in calls["by_command_per_call"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.commands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=processes.CHECKOUT, help="the textback checkout to run")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--redis-url", help="run the server on this Redis instead of an embedded Valkey (its "
                        "database is flushed; the whole server is counted, so nothing else may use it meanwhile)")
    args = parser.parse_args(argv)
    if not (args.checkout / "bot" / "__main__.py").is_file():
        parser.error(f"{args.checkout} is not a textback checkout (no bot/__main__.py)")
    if args.idle_seconds <= 0 or args.calls <= 0:
        parser.error("--idle-seconds and --calls must be positive")
    r = asyncio.run(measure(args.checkout, args.idle_seconds, args.calls, args.redis_url))
    print(render(r))
    if args.json is not None:
        args.json.write_text(json.dumps(r, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
