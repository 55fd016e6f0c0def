"""The benchmark: the real server against local Slack and Twilio, beside the floor.

    python -m bench            # the full run (several minutes): table, bench/results/latest.json
                               # and a dated copy, bench/results/<date>-<time>-<host>.json
    python -m bench --quick    # under a minute: proves the harness works, numbers mean little
                               # (bench/results/quick.json: latest.json stays the full run's)
    python -m bench.table --markdown   # README's Performance figures, from latest.json

REDIS_URL, when set, is the Redis the server uses (and the bench reads INFO from); otherwise
the server starts its own embedded Valkey, as `textback serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import processes
from bench.commands import measure as measure_commands
from bench.harness import Options, run
from bench.reminders import measure_embedded
from bench.report import results
from bench.table import render

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS, QUICK_RESULTS = RESULTS_DIR / "latest.json", RESULTS_DIR / "quick.json"
QUICK = Options(levels=(1, 10, 50), samples=5, mirror_callers=5, rates=(10,), duration_s=2.0)
# Redis commands (bench.commands, on a server of their own): idle seconds and calls counted.
COMMANDS, QUICK_COMMANDS = (60.0, 50), (3.0, 3)


def options(args: argparse.Namespace) -> Options:
    base = QUICK if args.quick else Options()
    return Options(
        levels=tuple(args.levels) if args.levels else base.levels,
        samples=args.samples or base.samples,
        mirror_callers=args.mirror_callers or base.mirror_callers,
        rates=tuple(args.rates) if args.rates else base.rates,
        duration_s=args.duration or base.duration_s,
        redis_url=os.environ.get("REDIS_URL") or None,
        profile=args.profile,
        logs=args.output.parent,
    )


def about_run(quick: bool, argv: list[str]) -> dict[str, Any]:
    """When, where and what was run: kept in the JSON and in the dated copy's name."""
    done = subprocess.run(["git", "-C", str(processes.CHECKOUT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": socket.gethostname(),
            "commit": done.stdout.strip() or None, "quick": quick, "argv": argv}


def dated(output: Path, run_: dict[str, Any]) -> Path:
    """Beside the results: 2026-12-03-1412-myhost.json (UTC), so runs do not replace each other."""
    when = datetime.fromisoformat(run_["date"]).strftime("%Y-%m-%d-%H%M")
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", run_["host"]) or "host"
    return output.parent / f"{when}-{host}.json"


def failures(r: dict[str, object]) -> list[str]:
    """Webhooks refused or effects lost outside the sustained ramp (whose last step may fail)."""
    found = []
    for level, row in r["textback"].items():  # type: ignore[attr-defined]
        if row["lost"] or row["errors"]:
            found.append(f"text-back at {level}: {row['lost']} lost, {row['errors']} webhook errors")
    for level, m in r["mirroring"].items():  # type: ignore[attr-defined]
        for kind in ("sms_to_slack", "reply_to_sms"):
            if m[kind]["lost"] or m[kind]["errors"]:
                found.append(f"{kind} at {level}: {m[kind]['lost']} lost, {m[kind]['errors']} webhook errors")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds in all (CI)")
    parser.add_argument("--levels", type=int, nargs="+", help="simultaneous calls per burst (1 10 50 200)")
    parser.add_argument("--samples", type=int, help="text-backs measured per level, at least (200)")
    parser.add_argument("--mirror-callers", type=int, help="callers texting and answered in mirroring (50)")
    parser.add_argument("--rates", type=float, nargs="+", help="sustained calls/s tried in turn (10 20 40 80)")
    parser.add_argument("--duration", type=float, help="seconds each sustained rate is held (30)")
    parser.add_argument("--output", type=Path, help=f"the JSON results ({RESULTS}; with --quick {QUICK_RESULTS})")
    parser.add_argument("--commands-idle", type=float, help="seconds a server of its own idles while its "
                        f"Redis commands are counted ({COMMANDS[0]:g}; 0 skips the count)")
    parser.add_argument("--commands-calls", type=int, help="missed calls, one after another, whose Redis "
                        f"commands are counted ({COMMANDS[1]})")
    parser.add_argument("--profile", type=Path, help="py-spy profile of the server at 50 concurrent "
                        "(.svg flame graph, .json speedscope, else collapsed stacks); needs py-spy")
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = QUICK_RESULTS if args.quick else RESULTS
    idle_s, calls = QUICK_COMMANDS if args.quick else COMMANDS
    idle_s = idle_s if args.commands_idle is None else args.commands_idle
    calls = calls if args.commands_calls is None else args.commands_calls
    if idle_s < 0 or calls < 0:
        parser.error("--commands-idle and --commands-calls cannot be negative")
    about = about_run(args.quick, sys.argv[1:] if argv is None else argv)
    opts = options(args)
    redis = "REDIS_URL (" + opts.redis_url.split("@")[-1] + ")" if opts.redis_url else "embedded Valkey"
    measured = asyncio.run(run(opts))
    # Measured alone, after the load: 10,000 pending reminders firing on three schedulers.
    reminders = measure_embedded(500 if args.quick else 10_000, 2.0 if args.quick else 10.0)
    # Then, on a server of its own: Redis commands while idle and per missed call.
    commands = (asyncio.run(measure_commands(processes.CHECKOUT, idle_s, calls))
                if idle_s > 0 and calls > 0 else None)
    r = {"run": about} | results(measured, opts, redis, reminders, commands)
    text = json.dumps(r, indent=1) + "\n"
    written = [args.output] + ([] if args.quick else [dated(args.output, about)])
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(render(r))
    print("\nresults: " + ", ".join(map(str, written)))
    problems = failures(r)
    for problem in problems:
        print(f"FAILURE {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
