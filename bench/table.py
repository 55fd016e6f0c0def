"""The results as a plain-text table (the README's Performance section is this output)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.held import legend


def render(r: dict[str, Any]) -> str:
    lines = [_heading(r), ""]
    lines += _textback(r) + [""] + _webhooks(r) + [""] + _mirroring(r) + [""] + _sustained(r)
    lines += [""] + _memory(r) + [""] + _commands(r) + [""] + _reminders(r) + [""] + _targets(r)
    if r.get("listen_backlog"):
        b = r["listen_backlog"]
        lines += ["", f"listen backlog (accept queue, as `ss` reports it): server {b.get('server', '-')}, "
                  f"floor {b.get('floor', '-')}"]
    lines += [f"WARNING {w}" for w in r.get("warnings", [])]
    if r["spec_violations"]:
        lines += ["", f"spec violations at the stand-ins: {len(r['spec_violations'])}"]
    return "\n".join(lines)


def _heading(r: dict[str, Any]) -> str:
    m, run = r["machine"], r.get("run") or {}
    when = (f"{'quick ' if run.get('quick') else ''}run {run.get('date', '?')} on {run.get('host', '?')} "
            f"(commit {run.get('commit') or '?'}); " if run else "")
    return (f"textback bench: {when}{m['cpus']} x {m['cpu']}, {m['memory_gb']} GB, {m['os']}, "
            f"Python {m['python']}, aiohttp {m['aiohttp']}; Redis: {r['redis']}")


def _commands(r: dict[str, Any]) -> list[str]:
    c = r.get("redis_commands")
    if not c:
        return ["Redis commands: not measured"]
    by_call = ", ".join(f"{k} {v:g}" for k, v in list(c["missed_calls"]["by_command_per_call"].items())[:6])
    idle = ", ".join(f"{k} {v:g}" for k, v in list(c["idle"]["by_command_per_minute"].items())[:6])
    return [(f"Redis commands (a server of its own, embedded Valkey {c['valkey']}, {c['lines']} lines; "
             "INFO commandstats, commands inside scripts counted one by one)"),
            (f"  per missed call, whole story (ring, miss, text-back, thread; {c['calls']} one after another): "
             f"{c['per_missed_call']:g}" + (f"  ({by_call}, ...)" if by_call else "")),
            f"  per idle minute (over {c['idle_s']:g} s): {c['per_idle_minute']:g}" + (f"  ({idle})" if idle else "")]


def _reminders(r: dict[str, Any]) -> list[str]:
    rem = r.get("reminder_lateness")
    if not rem:
        return ["reminder lateness: not measured"]
    head = (f"reminder lateness ({rem['jobs']} pending, due over {rem['spread_s']:g} s, {rem['instances']} "
            "schedulers on one embedded Valkey), ms")
    body = (f"p50 {rem['p50_ms']:.1f}  p99 {rem['p99_ms']:.1f}  max {rem['max_ms']:.1f} | ran once "
            f"{rem['ran_once']}, twice or more {rem['ran_twice_or_more']}, never {rem['never']}")
    return [head, body]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pair(row: dict[str, Any], floor_too: bool = True) -> str:
    s, f, q = row["server"], row["floor"], row["ratio"]
    cells = f"{s['n']:>5} {_ms(s['p50']):>8} {_ms(s['p99']):>8}"
    if floor_too:
        cells += f" | {_ms(f['p50']):>8} {_ms(f['p99']):>8} | {_x(q['p50']):>7} {_x(q['p99']):>7}"
    return cells + f" | lost {row['lost']}, errors {row['errors']}"


HEAD = f"{'n':>5} {'p50':>8} {'p99':>8} | {'floor p50':>8} {'p99':>8} | {'x p50':>7} {'x p99':>7} |"


def _textback(r: dict[str, Any]) -> list[str]:
    lines = ["text-back latency, ms (dial-status webhook sent -> SMS request at the Twilio stand-in)",
             f"{'concurrent':<12}{HEAD}"]
    lines += [f"{level:<12}{_pair(row)}" for level, row in r["textback"].items()]
    lines += ["", "CPU per missed call, ms (ring + miss webhooks and all the work they lead to)",
              f"{'concurrent':<12}{'server':>8} {'its Valkey':>10} {'floor':>8} {'x floor':>8}"]
    for level, row in r["textback"].items():
        cpu = row.get("cpu_ms_per_call") or {}
        s, v, f = cpu.get("server"), cpu.get("server_redis"), cpu.get("floor")
        x = s / f if s is not None and f else None
        lines.append(f"{level:<12}{_ms(s):>8} {_ms(v):>10} {_ms(f):>8} {_x(x):>8}")
    dropped = [(level, row["listen_overflows"]) for level, row in r["textback"].items()
               if any((row.get("listen_overflows") or {}).values())]
    if dropped:
        lines += ["listen-queue overflows during the bursts (TcpExt ListenOverflows, whole machine): "
                  + ", ".join(f"{lv}: server {o['server']}, floor {o['floor']}" for lv, o in dropped)]
    return lines


def _webhooks(r: dict[str, Any]) -> list[str]:
    lines = ["webhook answer time, ms (request sent -> answer read), server | floor",
             f"{'route':<28}{'conc':>5} {'n':>5} {'p50':>8} {'p99':>8} | {'floor p50':>9} {'p99':>8}"]
    rows = [(route, level, row) for level, routes in r["webhooks"].items() for route, row in routes.items()]
    rows += [(route, level, row) for level, m in r["mirroring"].items() for route, row in m["webhooks"].items()]
    for route, level, row in sorted(rows, key=lambda x: (x[0], int(x[1]))):
        s, f = row["server"], row["floor"]
        lines.append(f"{route:<28}{level:>5} {s['n']:>5} {_ms(s['p50']):>8} {_ms(s['p99']):>8} | "
                     f"{_ms(f['p50']):>9} {_ms(f['p99']):>8}")
    return lines


def _mirroring(r: dict[str, Any]) -> list[str]:
    lines = ["mirroring, ms", f"{'':<28}{'conc':>5} {HEAD}"]
    for level, m in r["mirroring"].items():
        lines.append(f"{'caller SMS -> Slack post':<28}{level:>5} {_pair(m['sms_to_slack'])}")
        lines.append(f"{'Slack reply -> SMS request':<28}{level:>5} {_pair(m['reply_to_sms'])}")
    return lines


def _sustained(r: dict[str, Any]) -> list[str]:
    s = r["sustained"]
    rule = s.get("rule") or {}
    base = rule.get("base_p99_ms")
    lines = [f"sustained rate (calls started at a fixed rate; {legend()})",
             (f"{'calls/s':>8} {'for s':>6} {'calls':>6} {'achieved':>9} {'p50':>8} {'p99':>8} "
              f"{'errors':>7} {'lost':>5} {'growing':>8} {'held':>5}  not held because")]
    for step in s["steps"] + ([s["floor"]] if s["floor"] else []):
        label = f"{step['rate']:g}" + (" floor" if step is s["floor"] else "")
        t = step["textback"]
        why = "; ".join(step.get("not_held_because") or [])
        lines.append(f"{label:>8} {step['duration_s']:>6g} {step['calls']:>6} {step['achieved_rate']:>9} "
                     f"{_ms(t['p50']):>8} {_ms(t['p99']):>8} {step['errors']:>7} {step['lost']:>5} "
                     f"{'yes' if step['growing'] else 'no':>8} {'yes' if step['held'] else 'no':>5}  {why}".rstrip())
    held = s["held_rate"]
    lines.append(f"held: {f'{held:g}' if held is not None else 'none of the rates tried'} calls/s"
                 + (f" (base p99 {base:.1f} ms; the floor is judged against its own p99)" if base is not None else ""))
    return lines


def _memory(r: dict[str, Any]) -> list[str]:
    m = r["memory"]
    valkey = (f"; embedded Valkey RSS {m['valkey_idle_rss_mb']} MB idle, {m['valkey_end_rss_mb']} MB at the end"
              if m["valkey_idle_rss_mb"] else "")
    return [(f"server RSS: {m['server_idle_rss_mb']} MB idle after start, {m['server_peak_rss_mb']} MB peak "
             f"under load (VmHWM {m['server_vmhwm_mb']} MB){valkey}"),
            (f"Redis: {m['redis_bytes_per_conversation']} bytes and {m['redis_keys_per_conversation']} keys per "
             f"open conversation ({m['conversations']} conversations, used_memory "
             f"{m['redis_used_memory_before']} -> {m['redis_used_memory_after']}); "
             f"{m['redis_commands_per_conversation']} Redis commands per conversation opened (all of this run's "
             "load: bursts, mirroring, sustained)"),
            "requests at the stand-ins: " + ", ".join(f"{k} {v}" for k, v in sorted(m["upstream_requests"].items()))]


def _targets(r: dict[str, Any]) -> list[str]:
    lines = ["targets (PRODUCT.md §4)"]
    for t in r["targets"]:
        value = "-" if t["measured"] is None else f"{t['measured']:.1f} {t['unit']}"
        lines.append(f"  {t['target']:<58} <= {t['limit']:g} {t['unit']:<3} measured {value:>10}  {t['verdict']}")
    return lines


BEGIN = "<!-- bench: rendered from bench/results/latest.json by `python -m bench.table --markdown` -->"
END = "<!-- bench: end of the rendered figures -->"


def markdown(r: dict[str, Any]) -> str:
    """README's Performance figures, every one from this one run: the §4 targets as a table,
    then the whole text table. The README keeps it between BEGIN and END (a test compares)."""
    run, m = r.get("run") or {}, r["machine"]
    verdict = {"met": "met", "MISSED": "**missed**", "not measured": "not measured"}
    lines = [BEGIN, "",
             (f"One {'quick ' if run.get('quick') else ''}run of `python -m bench` on {run.get('date', '?')} "
              f"(commit {run.get('commit') or '?'}, host {run.get('host', '?')}): {m['cpus']} x {m['cpu']}, "
              f"{m['memory_gb']} GB, {m['os']}, Python {m['python']}, aiohttp {m['aiohttp']}; Redis: {r['redis']}."),
             "", "| §4 target | limit | measured | |", "| --- | --- | --- | --- |"]
    for t in r["targets"]:
        value = "-" if t["measured"] is None else f"{t['measured']:.1f} {t['unit']}"
        lines.append(f"| {t['target']} | ≤ {t['limit']:g} {t['unit']} | {value} | {verdict.get(t['verdict'], t['verdict'])} |")
    s, c = r["sustained"], r.get("redis_commands")
    held = s["held_rate"]
    lines += ["", "| also measured | |", "| --- | --- |",
              f"| sustained rate held ({legend()}) | {f'{held:g} calls/s' if held is not None else 'none tried'} |"]
    if c:
        lines += [f"| Redis commands per missed call (whole story, {c['calls']} one after another) | "
                  f"{c['per_missed_call']:g} |",
                  f"| Redis commands per idle minute (over {c['idle_s']:g} s) | {c['per_idle_minute']:g} |"]
    lines += ["", "```", render(r), "```", "", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table",
                                     description="The table of a results file, as plain text or README markdown.")
    parser.add_argument("results", type=Path, nargs="?", default=Path(__file__).resolve().parent / "results"
                        / "latest.json", help="a JSON file `python -m bench` wrote (bench/results/latest.json)")
    parser.add_argument("--markdown", action="store_true", help="README's Performance block")
    parser.add_argument("--readme", type=Path, help="replace that block in this README instead of printing it")
    args = parser.parse_args(argv)
    r = json.loads(args.results.read_text())
    if args.readme is None:
        print(markdown(r) if args.markdown else render(r))
        return 0
    text = args.readme.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        parser.error(f"{args.readme} has no single block between {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN)
    args.readme.write_text(head + markdown(r) + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
