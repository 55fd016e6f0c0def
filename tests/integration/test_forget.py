"""`textback forget`: a caller's stored data goes; their opt-out stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.store.forget import forget_caller
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CONFIG_YAML, LINE, LINE_B
from tests.integration.test_missed_call import parents

OTHER = "+15125550188"


async def test_forget_deletes_the_callers_records_but_not_their_opt_out(rig: Rig) -> None:
    r = rig.services.redis.client
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call(OTHER, LINE)
    await rig.settle()
    thread = next(p["ts"] for p in parents(rig) if "555-0123" in str(p["blocks"]))
    await rig.team_replies(CHANNEL, thread, "hello")
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    before = {k.decode() for k in await r.keys("tb:*")}
    assert any(CALLER in k for k in before)

    done = await forget_caller(r, CALLER, [LINE, LINE_B])
    after = {k.decode() for k in await r.keys("tb:*")}
    assert done.conversations == 1 and done.keys_deleted >= 6
    assert done.kept == [f"opt-out on {LINE}"]
    leftovers = [k for k in after if CALLER in k]
    assert leftovers == [], leftovers
    for key in after:
        if key.startswith("tb:conv:"):
            assert CALLER.encode() not in await r.get(key)
    assert await rig.services.flags.suppression(LINE, CALLER) == "the caller opted out (replied STOP)"
    # The other caller is untouched.
    assert any(OTHER in k for k in after)
    assert await rig.services.store.by_thread(CHANNEL, thread) is None


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
