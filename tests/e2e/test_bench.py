"""The benchmark harness runs end to end (`--quick`); its timings are never judged here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
LEVELS = ("1", "10", "50")


@dataclass(frozen=True)
class Quick:
    done: subprocess.CompletedProcess[str]
    out: Path
    r: dict[str, Any]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Quick:
    """One `python -m bench --quick` for the tests below (it takes about half a minute)."""
    out = tmp_path_factory.mktemp("quick") / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Quick(done, out, json.loads(out.read_text()))


def test_quick_bench_writes_every_measurement(quick: Quick) -> None:
    done, r = quick.done, quick.r
    assert "text-back latency" in done.stdout and "targets" in done.stdout
    assert set(r) >= {"machine", "redis", "textback", "webhooks", "mirroring", "sustained", "memory",
                      "reminder_lateness", "targets", "spec_violations"}
    for level in LEVELS:
        row = r["textback"][level]
        assert row["server"]["samples"] and row["floor"]["samples"]
        assert set(row["ratio"]) == {"p50", "p99"}
        # Read for both (not compared: which costs more is the bench's finding, not a test's; the
        # floor's few calls may fit in one clock tick of CPU, so 0 is a reading too).
        cpu = row["cpu_ms_per_call"]
        assert all(isinstance(cpu[k], float) and cpu[k] >= 0 for k in ("server", "floor"))
        # The embedded Valkey is the server's child; a Redis at REDIS_URL is not the server's to count.
        assert (cpu["server_redis"] is None) == bool(os.environ.get("REDIS_URL"))
        routes = r["webhooks"][level]
        assert routes["/twilio/voice"]["server"]["samples"]
        assert routes["/twilio/voice/dial-status"]["server"]["samples"]
    for mirrored in r["mirroring"].values():
        for kind in ("sms_to_slack", "reply_to_sms"):
            assert mirrored[kind]["server"]["samples"] and mirrored[kind]["floor"]["samples"]
        assert mirrored["webhooks"]["/twilio/sms"]["server"]["samples"]
    steps = r["sustained"]["steps"]
    assert steps and steps[0]["textback"]["samples"] and r["sustained"]["floor"]["textback"]["samples"]
    memory = r["memory"]
    assert memory["server_idle_rss_mb"] and memory["server_peak_rss_mb"] and memory["conversations"]
    assert memory["redis_bytes_per_conversation"] is not None
    reminders = r["reminder_lateness"]
    assert reminders["jobs"] == 500 and reminders["ran_once"] == 500 and reminders["never"] == 0
    assert 0 <= reminders["p50_ms"] <= reminders["p99_ms"] <= reminders["max_ms"]
    assert "reminder lateness (500 pending" in done.stdout
    assert [t["verdict"] for t in r["targets"]] and not r["spec_violations"]


def test_quick_bench_judges_rates_counts_commands_and_says_when_and_where(quick: Quick) -> None:
    done, r = quick.done, quick.r
    assert [p.name for p in quick.out.parent.glob("*.json")] == ["latest.json"]  # quick: no dated copy
    run = r["run"]
    assert run["quick"] is True and run["host"] and run["commit"] and run["date"][:2] == "20"
    # Redis commands, counted on a server of its own: the whole story of a call, and idle.
    c = r["redis_commands"]
    assert isinstance(c["per_missed_call"], float | int) and c["per_missed_call"] > 0
    assert isinstance(c["per_idle_minute"], float | int) and c["per_idle_minute"] >= 0
    assert c["calls"] == 3 and c["idle_s"] >= 3
    assert "per missed call, whole story" in done.stdout and "per idle minute" in done.stdout
    # Each sustained step is judged, with the rule's thresholds kept beside it.
    s = r["sustained"]
    rule = s["rule"]
    assert rule["max_p99_ms"] == 100 and rule["max_p99_vs_base"] == 2 and rule["base_rate"] == 10
    assert isinstance(rule["base_p99_ms"], float | int) and rule["base_p99_ms"] > 0
    for step in s["steps"] + [s["floor"]]:
        assert isinstance(step["held"], bool) and isinstance(step["not_held_because"], list)
        assert step["held"] == (not step["not_held_because"])
    assert s["held_rate"] in (None, 10)
    assert "not held because" in done.stdout and "< 100 ms" in done.stdout
    # The floor listens with room for a burst of 200; overflows are counted per level.
    backlog = r["listen_backlog"]
    assert backlog["floor"] is None or backlog["floor"] >= 1024
    for level in LEVELS:
        overflows = r["textback"][level]["listen_overflows"]
        assert all(v is None or (isinstance(v, int) and v >= 0) for v in overflows.values())
    assert isinstance(r["warnings"], list)


def test_ab_comparison_runs_both_versions_round_by_round(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", "--a", str(CHECKOUT), "--b", str(CHECKOUT),
         "--b-env", "TEXTBACK_EVENT_LOOP=asyncio", "--rounds", "2", "--level", "3", "--mirroring"],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if "median" in line and "rounds" in line]
    assert len(rows) == 2 and all(len(row.split("rounds ")[1].split(";")[0].split()) == 2 for row in rows)
    assert "caller text + reply" in done.stdout and "B cheaper than A in" in done.stdout


def test_ab_refuses_a_path_that_is_not_a_checkout(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", "--a", str(tmp_path), "--b", str(CHECKOUT)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2 and "is not a textback checkout" in done.stderr


def test_redis_commands_are_counted_idle_and_per_call(tmp_path: Path) -> None:
    out = tmp_path / "commands.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.commands", "--idle-seconds", "3", "--calls", "2", "--json", str(out)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "commands a minute" in done.stdout and "commands per call" in done.stdout
    r = json.loads(out.read_text())
    idle, calls = r["idle"], r["calls"]
    assert sum(idle["by_command"].values()) == idle["commands"]
    assert idle["seconds"] >= 3 and idle["per_minute"] >= 0
    # Each call records a job, runs it and finishes it: never free, and every command is named.
    assert calls["count"] == 2 and calls["commands"] > 0 and calls["per_call"] > 0
    assert sum(calls["by_command"].values()) == calls["commands"]
    assert {"evalsha", "hset"} <= set(calls["by_command"])
    assert "config|resetstat" not in calls["by_command"]  # the bench's own commands are taken out
