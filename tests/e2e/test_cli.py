"""The `textback` command as a new user meets it: help when run bare, --version, each
command's help naming the variables it reads, `.env` read (the environment wins), and every
configuration problem reported in one round."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __main__ as cli
from tests.conftest import CONFIG_YAML
from tests.e2e.serve_env import ENV

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "TEXTBACK_", "PUBLIC_"))}
    clean.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_bare_textback_shows_what_it_can_do(tmp_path: Path) -> None:
    done = run([], tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("serve", "demo", "forget", "leads", "doctor"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command
    assert "error" not in done.stderr


def test_version(tmp_path: Path) -> None:
    done = run(["--version"], tmp_path)
    assert done.returncode == 0
    assert re.fullmatch(r"textback \d+\.\d+\.\d+\S*\n", done.stdout), done.stdout


def test_serve_help_names_every_variable_the_settings_read(tmp_path: Path) -> None:
    source = (ROOT / "bot" / "settings.py").read_text()
    read = set(re.findall(r'_get\(env, "([A-Z_]+)"\)', source))
    assert {"PUBLIC_URL", "REDIS_URL", "TEXTBACK_CONFIG"} <= read, "the scan found the settings' reads"
    done = run(["serve", "--help"], tmp_path)
    assert done.returncode == 0
    shown = set(re.findall(r"[A-Z][A-Z_]{2,}", done.stdout))
    assert read - shown == set()
    assert ".env" in done.stdout


def test_each_command_says_what_it_reads() -> None:
    top = cli.parser()
    for command in cli.READS:
        assert f"reads: {cli.READS[command]}"[:40] in top._subparsers._group_actions[0].choices[command].epilog


def test_dot_env_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    lines = "\n".join(f"{k}={v}" for k, v in ENV.items())
    (tmp_path / ".env").write_text(lines + "\nPUBLIC_URL=not-a-url\n")
    (tmp_path / "textback.yml").write_text(CONFIG_YAML.replace("timezone: America/Chicago", "timezone: Nowhere/City"))
    done = run(["serve"], tmp_path, {"PUBLIC_URL": "https://textback.example.test"})
    assert done.returncode == 2
    # The credentials came from .env (none is missing), PUBLIC_URL from the environment (not
    # refused), so only the lines file is wrong.
    assert "missing environment variables" not in done.stderr
    assert "PUBLIC_URL" not in done.stderr
    assert "lines[0].timezone" in done.stderr
    assert "Traceback" not in done.stderr


def test_environment_and_lines_file_problems_come_in_one_report(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML.replace("timezone: America/Chicago", "timezone: Nowhere/City"))
    env = {k: v for k, v in ENV.items() if k != "SLACK_SIGNING_SECRET"}
    done = run(["serve"], tmp_path, {**env, "PORT": "eighty"})
    assert done.returncode == 2
    assert "SLACK_SIGNING_SECRET" in done.stderr
    assert 'PORT: "eighty"' in done.stderr
    assert "textback.yml:" in done.stderr and "lines[0].timezone" in done.stderr
    assert "Traceback" not in done.stderr


# --- start-up failures: one line with the cause and the fix, exit 2, nothing claimed ----------


def test_serve_with_redis_unreachable_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        done = run(["serve"], tmp_path, {**ENV, "PORT": str(free_port()),
                                         "REDIS_URL": f"redis://default:hunter2@127.0.0.1:{port}/0"})
    assert done.returncode == 2, done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("textback:")]
    assert f"Redis at redis://***@127.0.0.1:{port}/0 did not answer" in line and "REDIS_URL" in line
    assert "hunter2" not in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_a_port_in_use_stops_before_touching_anything(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["serve"], tmp_path, {**ENV, "PORT": str(port), "TEXTBACK_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 2
    assert f"port {port} cannot be used" in done.stderr and "PORT" in done.stderr
    assert "Traceback" not in done.stderr
    # Nothing was started or claimed: not even the embedded store's data folder exists.
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [["forget", "+15125550123"], ["leads", "export"]])
def test_commands_on_stored_data_refuse_a_new_empty_embedded_store(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    done = run(command, tmp_path, {"TEXTBACK_DATA_DIR": str(tmp_path / "nothing-here")})
    assert done.returncode == 2
    assert "holds no embedded store" in done.stderr and "REDIS_URL" in done.stderr
    assert not (tmp_path / "nothing-here").exists()
    assert "Traceback" not in done.stderr


def test_commands_on_stored_data_say_which_store_they_use(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    done = run(["forget", "+15125550123"], tmp_path, {"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    host = redis_url.split("@")[-1].split("://")[-1]
    assert f"using Redis at redis://{host}" in done.stdout
    done = run(["leads", "export"], tmp_path, {"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    assert f"using Redis at redis://{host}" in done.stderr
    assert "using" not in done.stdout  # the CSV stays clean


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_fly_without_redis_url_refuses_before_starting_anything(tmp_path: Path) -> None:
    (tmp_path / "textback.yml").write_text(CONFIG_YAML)
    data = tmp_path / "data"
    done = run(["serve"], tmp_path, {**ENV, "PORT": str(free_port()), "FLY_APP_NAME": "textback-acme",
                                     "FLY_MACHINE_ID": "e286504b1d4e98", "TEXTBACK_DATA_DIR": str(data)})
    assert done.returncode == 2, done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("textback:")]
    assert line.startswith("textback: cannot start: REDIS_URL is unset on Fly (app textback-acme)")
    assert "fix: create a Redis in the app's region: fly redis create --name textback-acme-redis" in line
    assert "Traceback" not in done.stderr
    assert not data.exists()  # no embedded store was started, so nothing was kept to be lost
