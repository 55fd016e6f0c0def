"""Two versions of the server, same load, rounds taken in turn: is a change cheaper?

    git worktree add /tmp/before HEAD~1
    python -m bench.ab --a /tmp/before --b .          # ten rounds of 50 missed calls each
    python -m bench.ab --a . --b . --b-env TEXTBACK_EVENT_LOOP=asyncio

On a shared machine one `python -m bench` run cannot tell a 10% change from noise: latency for
the same code moves by half between runs. Here both servers (each `python -m bot serve` from
its own checkout, each with its own embedded Valkey) answer the same stand-ins, and each round
of simultaneous calls goes to one then the other, in alternating order, so slow stretches of
the machine hit both. The figure to compare is the CPU each server (and its Valkey) spent per
call, round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import processes
from bench.harness import LINES_FILE
from bench.processes import Process
from bench.scenarios import DIAL_STATUS, Run, Target, burst, mirror
from bench.stats import summary
from bench.traffic import Callers, Sender, Tracker
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn


@dataclass
class Side:
    """One server version and what its rounds cost."""

    name: str
    checkout: Path
    env: dict[str, str]
    cpu_ms: list[float] = field(default_factory=list)  # per missed call, one value per round
    mirror_cpu_ms: list[float] = field(default_factory=list)  # per caller text + team reply
    textback: list[float] = field(default_factory=list)
    webhooks: list[float] = field(default_factory=list)  # dial-status answer times
    replies: list[float] = field(default_factory=list)


def _start(side: Side, urls: dict[str, str]) -> Process:
    work = Path(tempfile.mkdtemp(prefix=f"textback-ab-{side.name}-"))
    (work / "textback.yml").write_text(LINES_FILE)
    port = processes.free_port()
    env = processes.server_env(work, port=port, redis_url=None, **urls)
    env |= {"PYTHONPATH": str(side.checkout.resolve())} | side.env  # `bot` from that checkout
    return processes.spawn(f"server-{side.name}", [sys.executable, "-m", "bot", "serve"], env, work, port)


def _cpu(proc: Process) -> float:
    return processes.cpu_s([proc.pid, *processes.children(proc.pid)])


async def compare(sides: list[Side], rounds: int, level: int, with_mirroring: bool) -> None:
    twilio = await TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    slack = await SlackStandIn(bot_token=BOT_TOKEN).start()
    sender = Sender()
    urls = {"slack_api": slack.api_url, "twilio_api": twilio.url}
    procs: dict[str, Process] = {}
    try:
        for side in sides:  # one at a time: each embedded Valkey picks a free port
            procs[side.name] = _start(side, urls)
            await procs[side.name].wait_healthy(sender.http)
        run = Run(sender, Tracker([twilio, slack]), Callers(), slack)
        for side in sides:  # first connections and lazy imports are not measured
            await burst(run, Target("server", procs[side.name].url), 5, 1)
        for r in range(rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                proc, target = procs[side.name], Target("server", procs[side.name].url)
                before = _cpu(proc)
                s = await burst(run, target, level, 1)
                side.cpu_ms.append((_cpu(proc) - before) * 1000 / level)
                side.textback += s.latency
                side.webhooks += s.routes.get(DIAL_STATUS, [])
                if with_mirroring:
                    before = _cpu(proc)
                    _, replies = await mirror(run, target, s.callers, level)
                    side.mirror_cpu_ms.append((_cpu(proc) - before) * 1000 / level)
                    side.replies += replies.latency
    finally:
        for proc in procs.values():
            proc.stop()
        await sender.close()
        await slack.stop()
        await twilio.stop()


def report(a: Side, b: Side) -> str:
    lower = sum(y < x for x, y in zip(a.cpu_ms, b.cpu_ms, strict=True))
    lines = [f"CPU per missed call, ms, {len(a.cpu_ms)} rounds (server + its Valkey)"]
    for side in (a, b):
        t = summary(side.textback)
        lines.append(f"  {side.name} ({side.checkout}{' ' + str(side.env) if side.env else ''}): median "
                     f"{statistics.median(side.cpu_ms):.2f}, rounds {' '.join(f'{x:.1f}' for x in side.cpu_ms)}; "
                     f"text-back p50 {t['p50']:.0f} p99 {t['p99']:.0f} ms; "
                     f"dial-status answered p99 {summary(side.webhooks)['p99']:.0f} ms")
        if side.mirror_cpu_ms:
            m = summary(side.replies)
            lines.append(f"     caller text + reply: CPU median {statistics.median(side.mirror_cpu_ms):.2f} ms; "
                         f"reply -> SMS p50 {m['p50']:.0f} p99 {m['p99']:.0f} ms")
    lines.append(f"B cheaper than A in {lower} of {len(a.cpu_ms)} rounds")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="checkout of version A")
    parser.add_argument("--b", type=Path, required=True, help="checkout of version B")
    parser.add_argument("--a-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--b-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--level", type=int, default=50, help="simultaneous missed calls per round")
    parser.add_argument("--mirroring", action="store_true", help="also a caller text and a reply per call")
    args = parser.parse_args()
    for path in (args.a, args.b):
        if not (path / "bot" / "__main__.py").is_file():
            parser.error(f"{path} is not a textback checkout (no bot/__main__.py)")
    a = Side("A", args.a, dict(kv.split("=", 1) for kv in args.a_env))
    b = Side("B", args.b, dict(kv.split("=", 1) for kv in args.b_env))
    asyncio.run(compare([a, b], args.rounds, args.level, args.mirroring))
    print(report(a, b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
