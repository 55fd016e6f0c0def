"""fly.toml, the Dockerfile and .dockerignore: parsed and held to what the app needs.

No container builder runs here, so the Dockerfile is checked by its structure.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import shlex
import socket
import sys
import tomllib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import requires as requirements_of
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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
    assert any(k == "RUN" and a.startswith("pip install --no-deps .") for k, a in build)
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


def test_dockerfile_installs_the_locked_dependencies_before_copying_the_code() -> None:
    build = stages(instructions(ROOT / "Dockerfile"))[0]
    copies = [(i, a.split()[:-1]) for i, (k, a) in enumerate(build) if k == "COPY"]
    [locked] = [i for i, (k, a) in enumerate(build) if k == "RUN" and f"-r {LOCK.name}" in a]
    assert "--require-hashes" in build[locked][1].split(), "every package pinned and checked against its hash"
    # Only the lock is copied before the dependencies are installed, so a change to the code,
    # the README or pyproject.toml reuses that layer; the code comes after.
    assert [sources for i, sources in copies if i < locked] == [[LOCK.name]]
    code = [i for i, sources in copies if {"bot", "workflows", "pyproject.toml"} & {p.rstrip("/") for p in sources}]
    assert code and min(code) > locked
    [package] = [i for i, (k, a) in enumerate(build) if k == "RUN" and "pip install --no-deps ." in a]
    assert package > max(code) and "pip check" in build[package][1]


# --- requirements.lock ------------------------------------------------------------------------

LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked() -> dict[str, tuple[Version, str | None, int]]:
    """requirements.lock as {name: (version, marker, number of hashes)}."""
    pins: dict[str, tuple[Version, str | None, int]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            assert name not in pins, f"{name} pinned twice"
            pins[name] = (Version(match[2]), match[3], 0)
        elif line.strip().startswith("--hash=sha256:"):
            version, marker, hashes = pins[name]
            pins[name] = (version, marker, hashes + 1)
    return pins


def image_environment() -> dict[str, str]:
    """Where the image runs: the Dockerfile's Python on Linux, x86_64."""
    base = stages(instructions(ROOT / "Dockerfile"))[-1][0][1]
    [python] = re.findall(r"python:(3\.\d+)", base)
    env = dict(default_environment())
    env.update(python_version=python, python_full_version=f"{python}.0", sys_platform="linux",
               platform_system="Linux", os_name="posix", platform_machine="x86_64", implementation_name="cpython")
    return env


def applies(marker: str | None, env: dict[str, str]) -> bool:
    return marker is None or Marker(marker).evaluate(env)


def test_the_lock_pins_every_dependency_of_pyproject_within_its_specifiers() -> None:
    pins = locked()
    assert len(pins) >= 20 and all(hashes for _, _, hashes in pins.values()), "parsed, and hashed throughout"
    env = image_environment()
    for raw in _pyproject()["project"]["dependencies"]:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in {LOCK.name}: compile the lock again"
        version, marker, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{LOCK.name} pins {name}=={version}, " \
            f"outside pyproject.toml's {req.specifier}: compile the lock again"
        # Installed in the image exactly when pyproject.toml asks for it there.
        assert applies(req.marker and str(req.marker), env) == applies(marker, env), name
        for extra in req.extras:  # redis[hiredis]: what the extra adds must be locked too
            try:
                added = [Requirement(r) for r in requirements_of(req.name) or []]
            except PackageNotFoundError:
                continue
            for dep in added:
                if dep.marker is not None and dep.marker.evaluate({**env, "extra": extra}) \
                        and not dep.marker.evaluate({**env, "extra": ""}):
                    assert canonicalize_name(dep.name) in pins, f"{raw} needs {dep.name}, missing from {LOCK.name}"


def test_the_lock_was_compiled_for_the_images_python() -> None:
    header = LOCK.read_text().splitlines()[:3]
    command = next(line for line in header if "pip compile" in line)
    python = image_environment()["python_version"]
    assert f"--python-version {python}" in command and "--generate-hashes" in command, command


# --- HEALTHCHECK ------------------------------------------------------------------------------


def healthcheck() -> list[str]:
    runtime = stages(instructions(ROOT / "Dockerfile"))[-1]
    [check] = [a for k, a in runtime if k == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--interval" in options and "--timeout" in options
    argv: list[str] = json.loads(command)  # exec form: no shell in the way
    return argv


@pytest.mark.parametrize("status, exit_code", [(200, 0), (503, 1)])
async def test_the_image_healthcheck_asks_healthz_on_port_and_fails_on_503(status: int, exit_code: int) -> None:
    argv = healthcheck()
    assert argv[0] == "python", "the slim image has no curl"
    asked: list[str] = []

    async def healthz(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=status, text="ok" if status == 200 else "redis: no answer")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv[1:], env={"PORT": str(port), "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await runner.cleanup()
    assert (proc.returncode, asked) == (exit_code, ["/healthz"]), err.decode()


async def test_the_image_healthcheck_fails_when_nothing_listens() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *healthcheck()[1:], env={"PORT": str(closed.getsockname()[1])},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(proc.wait(), 30) == 1


def _pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)
