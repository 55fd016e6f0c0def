"""`textback demo` plays its whole story and every expectation in it holds."""

from __future__ import annotations

import pytest

from standins.demo import run_demo


async def test_demo_story_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    out = capsys.readouterr().out
    assert "demo complete: every expectation met" in out and "[FAIL]" not in out
    assert "No reply yet" in out and "Paged by direct message, text and call" in out
