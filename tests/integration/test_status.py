"""`textback status`: read from Redis alone, what an operator needs at a glance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.status import run_status
from standins.rig import Rig
from tests.conftest import CALLER, CONFIG_YAML, LINE
from tests.integration.steps import slash


async def test_status_shows_jobs_scheduled_work_servers_and_todays_figures(
    rig: Rig, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await slash(rig, "lead (512) 555-0123 booked")
    await rig.settle()
    config = tmp_path / "status.yml"
    config.write_text(CONFIG_YAML)
    capsys.readouterr()
    assert await run_status({"REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(config)},
                            now=rig.services.clock.now()) == 0
    out = capsys.readouterr().out
    assert "jobs: 0 waiting to run, 0 running" in out
    # Each line's weekly digest and the missed call's reminder wait in the due set.
    assert "scheduled: 3 (2 digest, 1 reminder); 0 waiting to retry after a failure; next due in 5 min" in out
    assert f"servers connected: {rig.settings.instance}" in out
    assert "(512) 555-0100" in out and "1 missed, 1 texted back" in out
    assert "    this week: 1 missed caller, 1 texted back, 0 replied, 1 booked\n" in out
    assert "recent job errors: none recorded" in out


async def test_status_refuses_a_store_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "status.yml"
    config.write_text(CONFIG_YAML)
    env = {"TEXTBACK_CONFIG": str(config), "TEXTBACK_DATA_DIR": str(tmp_path / "none")}
    assert await run_status(env) == 2
    assert "holds no embedded store" in capsys.readouterr().err


async def test_status_shows_the_newest_job_failures(
    rig: Rig, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.slack.go_down(status=503)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()  # the call's job failed on Slack and waits for its retry
    config = tmp_path / "status.yml"
    config.write_text(CONFIG_YAML)
    assert await run_status({"REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(config)},
                            now=rig.services.clock.now()) == 0
    rig.slack.come_back()
    await rig.retry_waiting()
    out = capsys.readouterr().out
    assert "1 waiting to retry after a failure" in out
    errors = out.split("recent job errors:")[1].split("today:")[0].strip().splitlines()
    assert len(errors) == 1
    assert re.search(r" missed_call missed:CA\w+: attempt 1 failed, retried in [\d.]+ s: slack chat.postMessage: HTTP 503$",
                     errors[0]), errors[0]
