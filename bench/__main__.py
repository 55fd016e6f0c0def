"""The benchmark: the real server against local Slack and Twilio, beside the floor.

    python -m bench            # the full run (a few minutes), table + bench/results/latest.json
    python -m bench --quick    # a few seconds: proves the harness works, numbers mean little

REDIS_URL, when set, is the Redis the server uses (and the bench reads INFO from); otherwise
the server starts its own embedded Valkey, as `textback serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from bench.harness import Options, run
from bench.reminders import measure_embedded
from bench.report import results
from bench.table import render

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
QUICK = Options(levels=(1, 10, 50), samples=5, mirror_callers=5, rates=(10,), duration_s=2.0)


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
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"the JSON results ({RESULTS})")
    parser.add_argument("--profile", type=Path, help="py-spy profile of the server at 50 concurrent "
                        "(.svg flame graph, .json speedscope, else collapsed stacks); needs py-spy")
    args = parser.parse_args(argv)
    opts = options(args)
    redis = "REDIS_URL (" + opts.redis_url.split("@")[-1] + ")" if opts.redis_url else "embedded Valkey"
    measured = asyncio.run(run(opts))
    # Measured alone, after the load: 10,000 pending reminders firing on three schedulers.
    reminders = measure_embedded(500 if args.quick else 10_000, 2.0 if args.quick else 10.0)
    r = results(measured, opts, redis, reminders)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(r, indent=1) + "\n")
    print(render(r))
    print(f"\nresults: {args.output}")
    problems = failures(r)
    for problem in problems:
        print(f"FAILURE {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
