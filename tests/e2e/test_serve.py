"""`textback serve` as an operator runs it: start-up errors, the embedded Valkey, health."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.store.connection import open_redis
from tests.conftest import CONFIG_YAML
from tests.e2e.credentials import ENV


def run_serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "TEXTBACK_"))}
    clean.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env={**clean, **env}, cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )


def test_missing_environment_is_listed_at_once(tmp_path: Path) -> None:
    done = run_serve({"SLACK_BOT_TOKEN": "xoxb-test"}, tmp_path)
    assert done.returncode == 2
    for name in ("SLACK_SIGNING_SECRET", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_URL"):
        assert name in done.stderr


def test_invalid_lines_file_stops_start_up_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = CONFIG_YAML.replace("timezone: America/Chicago", "timezone: America/Chicag").replace(
        '"08:00-17:00", tue', '"25:00-17:00", tue'
    )
    (tmp_path / "textback.yml").write_text(bad)
    done = run_serve(ENV, tmp_path)
    assert done.returncode == 2, done.stderr
    lines = bad.splitlines()
    tz_line = next(i for i, text in enumerate(lines, 1) if "America/Chicag" in text)
    hours_line = next(i for i, text in enumerate(lines, 1) if "25:00" in text)
    assert f"textback.yml:{tz_line}: lines[0].timezone" in done.stderr
    assert "America/Chicago" in done.stderr  # the suggestion
    assert f"textback.yml:{hours_line}: lines[0].hours.mon" in done.stderr
    assert "Traceback" not in done.stderr


async def test_embedded_valkey_keeps_data_across_restarts(tmp_path: Path) -> None:
    first = await open_redis(None, tmp_path)
    await first.client.set("tb:test:persist", "kept")
    await first.close()
    second = await open_redis(None, tmp_path)
    try:
        assert await second.client.get("tb:test:persist") == b"kept"
        assert second.server is not None and str(second.server.data_dir).startswith(str(tmp_path))
    finally:
        await second.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
async def test_serve_starts_with_embedded_valkey_answers_health_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= ENV | {"PORT": str(port), "TEXTBACK_DATA_DIR": str(tmp_path / "data")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        status = await wait_healthy(f"http://127.0.0.1:{port}/healthz", deadline_s=20)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert (tmp_path / "data" / "valkey").is_dir()
    assert "5125550" not in err.decode(), "phone numbers must be masked in logs"
    assert "event loop: uvloop" in err.decode()
    assert re.search(r"start-up objects frozen for the collector: [1-9]\d{4,}", err.decode()), err.decode()


async def wait_healthy(url: str, deadline_s: float) -> int:
    async with aiohttp.ClientSession() as http, asyncio.timeout(deadline_s):
        while True:
            try:
                async with http.get(url) as r:
                    return r.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)


def test_the_event_loop_is_uvloop_unless_asyncio_is_asked_for() -> None:
    from bot.__main__ import event_loop

    for name, module in (("uvloop", "uvloop"), ("asyncio", "asyncio")):
        loop = event_loop(name)
        try:
            assert type(loop).__module__.split(".")[0] == module
        finally:
            loop.close()
