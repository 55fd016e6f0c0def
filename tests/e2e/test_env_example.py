""".env.example and docs/deploy.md: held to the variables the program reads and the routes it serves."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import create_app
from bot.settings import load_settings, parse_config
from standins.rig import rig_settings
from tests.conftest import CONFIG_YAML

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# A set line "NAME=value" or a documented one left commented out, "# NAME=value".
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
READ = re.compile(r"""_get\(\s*env\s*,\s*["']([A-Z][A-Z0-9_]*)["']\s*\)""")
PASTED_ROUTES = ("/twilio/voice", "/twilio/sms", "/slack/events")


def parse_env_example() -> tuple[dict[str, str], set[str]]:
    """The values set in .env.example, and every name it documents (set or commented out)."""
    values: dict[str, str] = {}
    names: set[str] = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = ASSIGNMENT.match(line.strip())
        if m is None:
            continue
        commented, name, value = m.groups()
        names.add(name)
        if not commented:
            assert name not in values, f".env.example sets {name} twice"
            values[name] = value.strip()
    return values, names


def names_read_by_settings() -> set[str]:
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    return set(READ.findall(source))


def test_settings_source_scan_finds_the_variables() -> None:
    # Guards the regex: if settings.py stopped matching it, the next test would pass vacuously.
    read = names_read_by_settings()
    assert {"SLACK_BOT_TOKEN", "PUBLIC_URL", "REDIS_URL", "TEXTBACK_JOB_RETRY_S", "FLY_PROCESS_GROUP"} <= read


def test_env_example_documents_every_variable_settings_reads() -> None:
    _, documented = parse_env_example()
    missing = sorted(names_read_by_settings() - documented)
    assert not missing, f".env.example lacks {', '.join(missing)}"


def test_env_example_documents_nothing_settings_does_not_read() -> None:
    _, documented = parse_env_example()
    unknown = sorted(documented - names_read_by_settings())
    assert not unknown, f".env.example names variables bot/settings.py never reads: {', '.join(unknown)}"


def test_env_example_values_load() -> None:
    values, _ = parse_env_example()
    env = {**values, "TEXTBACK_CONFIG": str(ROOT / "textback.example.yml")}
    settings = load_settings(env)
    assert settings.public_url.startswith("https://")
    assert settings.redis_url is None  # blank: the embedded Valkey for a local run
    assert settings.slack_app_token is None  # blank: no Socket Mode unless asked for
    assert settings.role == "all"
    assert settings.config.lines


def test_env_example_holds_no_real_looking_secret() -> None:
    values, _ = parse_env_example()
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        value = values[name]
        assert value, f"{name} needs a placeholder so the example loads"
        assert "placeholder" in value or set(value.removeprefix("AC")) == {"0"}, f"{name} looks real: {value}"


def test_deploy_doc_names_every_route_an_operator_pastes() -> None:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    missing = [route for route in PASTED_ROUTES if f"https://YOUR-HOST{route}" not in text]
    assert not missing, f"docs/deploy.md does not show {', '.join(missing)}"


def test_deploy_doc_routes_are_served(tmp_path: Path) -> None:
    app = create_app(rig_settings(parse_config(CONFIG_YAML, "t.yml"), redis_url=None, data_dir=tmp_path))
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    for route in PASTED_ROUTES:
        assert ("POST", route) in served, f"docs/deploy.md tells operators to paste {route}, which the app does not serve"
