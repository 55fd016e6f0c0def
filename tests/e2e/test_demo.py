"""`textback demo` plays its whole story and every expectation in it holds."""

from __future__ import annotations

import pytest

from standins.demo import run_demo


async def test_demo_story_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    out = capsys.readouterr().out
    assert "demo complete: every expectation met" in out and "[FAIL]" not in out
    assert "No reply yet" in out and "Paged by direct message, text and call" in out


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
