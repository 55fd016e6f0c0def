"""The results as JSON, the table on stdout, and the §4 targets met or missed."""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import PROFILED_LEVEL, Measured, Options
from bench.held import BASE_RATE, MAX_P99_MS, MAX_P99_VS_BASE, MIN_PACE, base_p99, held_rate, judge_all
from bench.scenarios import SMS, Held, Samples
from bench.stats import ratio, summary, syn_retry_artefact


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")]
    mem = Path("/proc/meminfo").read_text().split()[1] if Path("/proc/meminfo").exists() else "0"
    return {"cpus": os.cpu_count(), "cpu": models[0] if models else platform.processor(),
            "memory_gb": round(int(mem) / 1024 / 1024, 1), "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "aiohttp": aiohttp.__version__}


def compare(server: Samples, floor: Samples) -> dict[str, Any]:
    ours, base = summary(server.latency), summary(floor.latency)
    return {"server": ours, "floor": base, "ratio": ratio(ours, base),
            "lost": server.lost, "errors": server.errors, "error_statuses": dict(server.statuses),
            "floor_lost": floor.lost,
            "listen_overflows": {"server": server.listen_overflows, "floor": floor.listen_overflows},
            "cpu_ms_per_call": {"server": server.cpu_ms, "server_redis": server.redis_cpu_ms, "floor": floor.cpu_ms}}


def routes(server: Samples, floor: Samples) -> dict[str, Any]:
    return {route: {"server": summary(times), "floor": summary(floor.routes.get(route, []))}
            for route, times in server.routes.items()}


def sustained(steps: list[Held], floor: Held | None) -> dict[str, Any]:
    """Each step with its verdict and the criteria it failed; the floor judged on its own."""
    rows = [st.row() for st in steps]
    for row, verdict in zip(rows, judge_all(rows), strict=True):
        row |= {"held": verdict.held, "not_held_because": list(verdict.reasons)}
    floor_row = floor.row() if floor else None
    if floor_row is not None:
        [verdict] = judge_all([floor_row])
        floor_row |= {"held": verdict.held, "not_held_because": list(verdict.reasons)}
    return {"steps": rows, "held_rate": held_rate(rows), "floor": floor_row,
            "rule": {"base_rate": BASE_RATE, "base_p99_ms": base_p99(rows), "max_p99_vs_base": MAX_P99_VS_BASE,
                     "max_p99_ms": MAX_P99_MS, "min_pace": MIN_PACE}}


def results(m: Measured, opts: Options, redis: str, reminders: dict[str, Any] | None = None,
            commands: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine": machine(), "redis": redis,
        "options": {"levels": list(opts.levels), "samples": opts.samples, "rates": list(opts.rates),
                    "duration_s": opts.duration_s, "mirror_callers": opts.mirror_callers},
        "textback": {str(lv): compare(t["server"], t["floor"]) for lv, t in m.levels.items()},
        "webhooks": {str(lv): routes(t["server"], t["floor"]) for lv, t in m.levels.items()},
        "mirroring": {str(lv): _mirroring(t) for lv, t in m.mirroring.items()},
        "sustained": sustained(m.steps, m.floor_step),
        "memory": _memory(m.memory),
        "reminder_lateness": reminders,
        "redis_commands": _commands(commands),
        "spec_violations": m.violations,
    }
    out["targets"] = targets(out)
    out["listen_backlog"] = m.backlog
    out["warnings"] = warnings(out)
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def _commands(c: dict[str, Any] | None) -> dict[str, Any] | None:
    """bench.commands' figures, headed by the two the table shows."""
    if c is None:
        return None
    return {"per_missed_call": c["calls"]["per_call"], "per_idle_minute": c["idle"]["per_minute"],
            "calls": c["calls"]["count"], "idle_s": c["idle"]["seconds"], "valkey": c["valkey"],
            "lines": c["lines"], "idle": c["idle"], "missed_calls": c["calls"]}


def warnings(r: dict[str, Any]) -> list[str]:
    """Latencies whose tail looks like TCP SYN retries (stats.syn_retry_artefact)."""
    found: list[tuple[str, dict[str, Any], Any]] = []
    for level, row in r["textback"].items():
        for who in ("server", "floor"):
            found.append((f"text-back at {level} simultaneous, {who}", row[who],
                          (row.get("listen_overflows") or {}).get(who)))
    for level, hooks in r["webhooks"].items():
        for route, row in hooks.items():
            found += [(f"{route} answer at {level} simultaneous, {who}", row[who], None) for who in ("server", "floor")]
    for level, m in r["mirroring"].items():
        for kind in ("sms_to_slack", "reply_to_sms"):
            found += [(f"{kind} at {level} simultaneous, {who}", m[kind][who], None) for who in ("server", "floor")]
    s = r["sustained"]
    for step in s["steps"] + ([s["floor"]] if s["floor"] else []):
        who = "floor" if step is s["floor"] else "server"
        found.append((f"text-back at {step['rate']:g} calls/s, {who}", step["textback"], None))
    backlog = r.get("listen_backlog") or {}
    out = []
    for label, summ, overflows in found:
        if not syn_retry_artefact(summ):
            continue
        who = label.rsplit(", ", 1)[1]
        seen = f"; {overflows} listen-queue overflows on the machine meanwhile" if overflows is not None else ""
        out.append(f"{label}: p99 {summ['p99']:.0f} ms while p50 {summ['p50']:.0f} ms - likely TCP SYN "
                   f"retries (1 s) past a full accept queue (listen backlog {backlog.get(who, '?')}){seen}, "
                   "not the work; ratios at this level mean little")
    return out


def _mirroring(t: dict[str, tuple[Samples, Samples]]) -> dict[str, Any]:
    (texts, replies), (floor_texts, floor_replies) = t["server"], t["floor"]
    return {"sms_to_slack": compare(texts, floor_texts), "reply_to_sms": compare(replies, floor_replies),
            "webhooks": routes(texts, floor_texts) | routes(replies, floor_replies)}


def _mb(kb: int) -> float | None:
    return round(kb / 1024, 1) if kb else None


def _memory(raw: dict[str, Any]) -> dict[str, Any]:
    before, after = raw["redis_before"], raw["redis_after"]
    conversations = max(1, raw["conversations"])
    return {
        "server_idle_rss_mb": _mb(raw["idle"].get("VmRSS", 0)),
        "server_peak_rss_mb": _mb(raw["peak_sampled_kb"]),
        "server_vmhwm_mb": _mb(raw["end"].get("VmHWM", 0)),
        "valkey_idle_rss_mb": _mb(raw["valkey_idle"].get("VmRSS", 0)),
        "valkey_end_rss_mb": _mb(raw["valkey_end"].get("VmRSS", 0)),
        "redis_used_memory_before": before["used_memory"], "redis_used_memory_after": after["used_memory"],
        "conversations": raw["conversations"],
        "redis_bytes_per_conversation": round((after["used_memory"] - before["used_memory"]) / conversations),
        "redis_keys_per_conversation": round((after["keys"] - before["keys"]) / conversations, 1),
        # Every command of the run (webhooks, jobs, mirroring), per missed call: a cost indicator.
        "redis_commands_per_conversation": round((after["commands"] - before["commands"]) / conversations, 1),
        "upstream_requests": raw["upstream"],
    }


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """§4's bars with what this run measured; a bar whose load was not run is "not measured"."""
    at = str(PROFILED_LEVEL)
    tb, hooks, mirrored = r["textback"].get(at), r["webhooks"].get(at), r["mirroring"].get(at)
    hook_p99s = [v["server"]["p99"] for v in (hooks or {}).values()]
    if mirrored and SMS in mirrored["webhooks"]:
        hook_p99s.append(mirrored["webhooks"][SMS]["server"]["p99"])
    hook_p99 = max(hook_p99s, default=math.nan)
    mirror_p99 = max((mirrored[k]["server"]["p99"] for k in ("sms_to_slack", "reply_to_sms")),
                     default=math.nan) if mirrored else math.nan
    mem = r["memory"]
    return [
        _bar(f"text-back p99 at {at} concurrent", tb["server"]["p99"] if tb else math.nan, 100, "ms"),
        _bar(f"Twilio webhook answer p99 at {at} concurrent (all routes)", hook_p99, 50, "ms"),
        _bar(f"mirroring p99 at {at} concurrent (both ways)", mirror_p99, 150, "ms"),
        _bar(f"text-back p99 / floor p99 at {at} concurrent", tb["ratio"]["p99"] if tb else math.nan, 2, "x"),
        _bar("server RSS idle", mem["server_idle_rss_mb"] or math.nan, 120, "MB"),
        _bar("server RSS peak under load", mem["server_peak_rss_mb"] or math.nan, 200, "MB"),
    ]


def _bar(name: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    verdict = "not measured" if math.isnan(value) else "met" if value <= limit else "MISSED"
    return {"target": name, "limit": limit, "unit": unit, "measured": value, "verdict": verdict}


def _clean(value: Any) -> Any:
    """NaN becomes null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value

