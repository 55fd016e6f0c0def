"""fly.toml, the Dockerfile and .dockerignore: parsed and held to what the app needs.

No container builder runs here, so the Dockerfile is checked by its structure.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.app import create_app
from bot.settings import ROLES, load_settings, parse_config
from standins.rig import rig_settings
from tests.conftest import CONFIG_YAML

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "token",
    "REDIS_URL": "redis://default:secret@fly-textback-redis.upstash.io:6379",
}
BUILD_TOOLS = ("gcc", "build-essential", "make ", "g++", "python3-dev", "libc6-dev")


@pytest.fixture(scope="module")
def fly() -> dict[str, Any]:
    with open(ROOT / "fly.toml", "rb") as f:
        return tomllib.load(f)


def test_http_service_listens_on_the_app_port_over_https_and_never_sleeps(fly: dict[str, Any]) -> None:
    service = fly["http_service"]
    assert service["internal_port"] == int(fly["env"]["PORT"])
    assert service["force_https"] is True
    assert service["auto_stop_machines"] in ("off", False)
    assert service["min_machines_running"] >= 1
    assert fly["kill_signal"] == "SIGTERM"
    assert fly["build"]["dockerfile"] == "Dockerfile"


def test_health_check_hits_a_route_the_app_serves(fly: dict[str, Any], tmp_path: Path) -> None:
    checks = fly["http_service"]["checks"]
    assert checks, "a health check keeps a machine whose Redis is gone out of rotation"
    app = create_app(rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=None, data_dir=tmp_path))
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    for check in checks:
        assert check["path"] == "/healthz"
        assert (check.get("method", "GET"), check["path"]) in served


def test_every_process_group_runs_a_textback_command_that_exists(
    fly: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    processes: dict[str, str] = fly["processes"]
    scripts = _pyproject()["project"]["scripts"]
    for name, command in processes.items():
        argv = shlex.split(command)
        assert argv[0] in scripts, f"process {name}: {argv[0]} is not a command the image installs"
        with pytest.raises(SystemExit) as done:
            main([*argv[1:], "--help"])
        assert done.value.code == 0, f"process {name}: `{command}` is not a textback subcommand"
    capsys.readouterr()
    for group in [*fly["http_service"]["processes"], *(p for vm in fly["vm"] for p in vm["processes"])]:
        assert group in processes


def test_fly_env_with_the_documented_secrets_is_a_valid_configuration(fly: dict[str, Any]) -> None:
    env = {**fly["env"], **SECRETS, "TEXTBACK_CONFIG": str(ROOT / "textback.example.yml")}
    settings = load_settings(env)
    assert settings.port == fly["http_service"]["internal_port"]
    assert settings.public_url.startswith("https://")
    assert settings.role in ROLES and settings.role == "all"
    # Fly names the group in FLY_PROCESS_GROUP; "app" must not pick a narrower role.
    assert load_settings({**env, "FLY_PROCESS_GROUP": "app"}).role == "all"


def test_machine_memory_fits_the_product_target(fly: dict[str, Any]) -> None:
    (vm,) = fly["vm"]
    assert vm["memory"] in ("256mb", "512mb")


# --- Dockerfile ---------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = path.read_text().replace("\\\n", " ")
    pairs = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def stages(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, args in pairs:
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, args))
    return found


def test_dockerfile_builds_in_one_stage_and_runs_slim_in_another_on_the_same_base() -> None:
    build, runtime = stages(instructions(ROOT / "Dockerfile"))
    base = build[0][1].split()[0]
    assert base == runtime[0][1].split()[0] and "slim" in base
    assert ("RUN", "pip install .") in build
    assert any(k == "COPY" and a.startswith("--from=build /opt/venv") for k, a in runtime)
    runtime_text = " ".join(a for _, a in runtime)
    assert "pip install" not in runtime_text
    assert not any(tool in runtime_text for tool in BUILD_TOOLS)


def test_dockerfile_runtime_is_unbuffered_non_root_and_serves_on_the_fly_port(fly: dict[str, Any]) -> None:
    runtime = stages(instructions(ROOT / "Dockerfile"))[-1]
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    users = [a for k, a in runtime if k == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [a for k, a in runtime if k == "EXPOSE"] == [str(fly["http_service"]["internal_port"])]
    (cmd,) = [a for k, a in runtime if k == "CMD"]
    assert json.loads(cmd) == ["textback", "serve"]  # exec form: SIGTERM reaches the server
    assert not [a for k, a in runtime if k == "ENTRYPOINT"], "Fly process commands replace CMD only"


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored() -> None:
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    for keyword, args in instructions(ROOT / "Dockerfile"):
        if keyword != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
            # textback.yml is the operator's own lines file, made from the example.
            expected = ROOT / ("textback.example.yml" if source == "textback.yml" else source)
            assert expected.exists(), source
    for secret_or_bulk in (".git", ".venv", ".env", "tests", ".textback"):
        assert secret_or_bulk in ignored


def _pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)
