"""`textback demo` plays its whole story and every expectation in it holds."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from standins.demo import run_demo


async def test_demo_story_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    out = capsys.readouterr().out
    assert "demo complete: every expectation met" in out and "[FAIL]" not in out
    assert "No reply yet" in out and "Paged by direct message, text and call" in out
    assert "[ok ] the caller's photo uploaded into the thread" in out
    assert "[ok ] the tech's photo sent as one MMS" in out


async def test_the_demo_reads_as_a_person_would_see_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    out = capsys.readouterr().out
    # Names, not ids; emoji, not shortcodes; links with their labels, not Slack's markup.
    for raw in ("U0DANA0001", "U0SAM00001", "#C0DEMO0001", ":outbox_tray:", "<https://", "|Open the thread>"):
        assert raw not in out, raw
    assert "@Dana resolved this conversation" in out and "#acme-calls" in out
    assert "Open the thread (https://" in out
    # Each text a phone received is printed once, at the time it was sent.
    texted = [line.strip() for line in out.splitlines() if "caller's phone (512)" in line]
    assert len(texted) == len(set(texted)) >= 5, texted
    # And it ends by saying what to do next.
    assert "textback doctor" in out.splitlines()[-2] + out.splitlines()[-1]
    assert "docs/deploy.md" in out


async def test_doctor_checks_the_demos_setup_without_a_traceback(tmp_path: Path) -> None:
    """What README promises a new user: the demo, then `textback doctor` against its stand-ins."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TEXTBACK_CONFIG")}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--keep-running", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(120):
            while not (seen and seen[-1].strip().endswith("&& textback doctor")):
                line = (await demo.stdout.readline()).decode()
                assert line, "the demo ended early:\n" + "".join(seen)
                seen.append(line)
        folder = seen[-1].strip().removeprefix("cd ").removesuffix(" && textback doctor")
        doctor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "doctor", cwd=folder, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(doctor.communicate(), 60)
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(demo.communicate(), 60)
    report = out.decode()
    assert doctor.returncode == 0, report
    assert "all checks passed" in report and "✗" not in report
    assert demo.returncode == 0
    assert "Traceback" not in report + "".join(seen) + rest.decode()
    assert not Path(folder).exists(), "the demo's folder is cleaned up when it stops"
