"""`textback forget` as an operator runs it: a subprocess against the lines file and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CONFIG_YAML


def test_forget_command_refuses_a_non_number(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    done = subprocess.run([sys.executable, "-m", "bot", "forget", "not-a-number"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a phone number" in done.stderr


def test_forget_command_runs_against_redis(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))} | {"REDIS_URL": redis_url}
    done = subprocess.run([sys.executable, "-m", "bot", "forget", "(512) 555-0123"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "forgot +15125550123" in done.stdout
