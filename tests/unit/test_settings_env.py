"""Settings from the environment: every problem named at once, secrets never shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.settings import (
    ConfigError,
    Settings,
    SettingsError,
    load_settings,
)
from tests.unit.lines_files import MINIMAL, REPO, config_errors

# ---- the environment ---------------------------------------------------------------------

REQUIRED_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "shh",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "PUBLIC_URL": "https://textback.fly.dev/",
}


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    path = tmp_path / "textback.yml"
    path.write_text(MINIMAL, encoding="utf-8")
    return path


def env_errors(env: dict[str, str], **kwargs: bool) -> list[str]:
    """The environment's problems, with a valid lines file (its problems join the same report)."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"TEXTBACK_CONFIG": str(REPO / "textback.example.yml"), **env}, **kwargs)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors


def test_the_lines_files_problems_join_the_environments(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED_ENV, "PORT": "eighty", "TEXTBACK_CONFIG": str(missing)})
    assert caught.value.errors[0].startswith('PORT: "eighty"')
    assert str(missing) in caught.value.errors[-1]


def test_settings_from_a_full_environment(lines_file: Path, tmp_path: Path) -> None:
    env = dict(
        REQUIRED_ENV,
        SLACK_APP_TOKEN="xapp-1",
        TWILIO_API_KEY="SK1",
        TWILIO_API_SECRET="secret",
        REDIS_URL="rediss://default:secret@fly-redis.upstash.io:6379",
        TEXTBACK_DATA_DIR=str(tmp_path / "data"),
        TEXTBACK_CONFIG=str(lines_file),
        PORT="8080",
        TEXTBACK_ROLE="web",
        SLACK_API_URL="http://127.0.0.1:9000/api",
        TWILIO_API_URL="http://127.0.0.1:9001/",
    )
    settings = load_settings(env)
    assert settings.public_url == "https://textback.fly.dev"
    assert settings.slack_app_token == "xapp-1"
    assert (settings.twilio_api_key, settings.twilio_api_secret) == ("SK1", "secret")
    assert settings.redis_url == "rediss://default:secret@fly-redis.upstash.io:6379"
    assert settings.data_dir == tmp_path / "data" and settings.config_path == lines_file
    assert (settings.port, settings.role) == (8080, "web")
    assert settings.slack_api_url == "http://127.0.0.1:9000/api/"
    assert settings.twilio_api_url == "http://127.0.0.1:9001"
    assert settings.config.lines[0].number == "+15125550100"
    assert dataclasses.replace(settings, port=0).port == 0
    assert isinstance(settings, Settings)


def test_defaults(lines_file: Path) -> None:
    settings = load_settings(dict(REQUIRED_ENV, TEXTBACK_CONFIG=str(lines_file)))
    assert settings.redis_url is None and settings.slack_app_token is None and settings.twilio_api_key is None
    assert settings.data_dir == Path(".textback") and settings.port == 3000 and settings.role == "all"
    assert settings.slack_api_url == "https://slack.com/api/" and settings.twilio_api_url == "https://api.twilio.com"


def test_default_config_path_is_textback_yml(monkeypatch: pytest.MonkeyPatch, lines_file: Path) -> None:
    monkeypatch.chdir(lines_file.parent)
    assert load_settings(REQUIRED_ENV).config_path == Path("textback.yml")
    lines_file.unlink()
    with pytest.raises(ConfigError, match="^textback.yml: lines file not found .*set TEXTBACK_CONFIG"):
        load_settings(REQUIRED_ENV)


def test_all_missing_variables_are_listed_at_once() -> None:
    assert env_errors({"SLACK_BOT_TOKEN": "xoxb-1", "TWILIO_AUTH_TOKEN": " "}) == [
        ("missing environment variables: SLACK_SIGNING_SECRET, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_URL "
        "(set them, e.g. with fly secrets set NAME=value, or in .env for local runs)")
    ]


def test_credentials_can_be_skipped(lines_file: Path) -> None:
    settings = load_settings({"TEXTBACK_CONFIG": str(lines_file)}, require_credentials=False)
    assert settings.slack_bot_token == "" and settings.public_url == "" and settings.twilio_account_sid == ""


@pytest.mark.parametrize(
    ("url", "host"),
    [("redis://secret@fly-redis.upstash.io:6379", "fly-redis.upstash.io:6379"), ("rediss://hunter2@localhost", "localhost")],
)
def test_redis_password_without_username_is_explained(url: str, host: str) -> None:
    [error] = env_errors(dict(REQUIRED_ENV, REDIS_URL=url))
    assert error == (
        'REDIS_URL: the part before @ has no ":", so redis-py takes it as a username, not a password: '
        f"write redis://default:<password>@{host} (or redis://:<password>@{host})"
    )
    assert "secret" not in error and "hunter2" not in error


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "redis://:secret@host:6379", "rediss://default:secret@host", "unix:///tmp/r.sock"]
)
def test_good_redis_urls(url: str, lines_file: Path) -> None:
    assert load_settings(dict(REQUIRED_ENV, REDIS_URL=url, TEXTBACK_CONFIG=str(lines_file))).redis_url == url


def test_bad_values_are_all_reported() -> None:
    env = dict(
        REQUIRED_ENV,
        PUBLIC_URL="textback.fly.dev",
        REDIS_URL="http://user:secret@host",
        PORT="eighty",
        TEXTBACK_ROLE="worker",
        SLACK_API_URL="slack",
        TWILIO_API_KEY="SK1",
        TEXTBACK_EVENT_LOOP="trio",
    )
    assert env_errors(env) == [
        "TWILIO_API_KEY and TWILIO_API_SECRET go together: set both or neither",
        'PUBLIC_URL: "textback.fly.dev" is not a base URL: use e.g. https://textback.fly.dev',
        'REDIS_URL: "http://***@host" must start with redis://, rediss:// or unix://',
        'PORT: "eighty" is not a port number (1-65535)',
        'TEXTBACK_ROLE: "worker" is not a role: use all, web or scheduler',
        'SLACK_API_URL: "slack" is not a URL: leave it unset for https://slack.com/api/',
        'TEXTBACK_EVENT_LOOP: "trio" is not an event loop: use uvloop or asyncio',
    ]


def test_credentials_in_the_wrong_variable() -> None:
    env = dict(REQUIRED_ENV, SLACK_BOT_TOKEN="xapp-1", SLACK_APP_TOKEN="xoxb-1", TWILIO_ACCOUNT_SID="SK123")
    assert env_errors(env) == [
        "SLACK_BOT_TOKEN: that is not a bot token: use the Bot User OAuth Token (xoxb-...)",
        "SLACK_APP_TOKEN: use the app-level token (xapp-...) for Socket Mode, or leave it unset",
        "TWILIO_ACCOUNT_SID: that is an API key SID (SK...): put it in TWILIO_API_KEY; the account SID starts with AC",
    ]


@pytest.mark.parametrize(
    ("role", "fly_group", "expected"),
    [(None, "scheduler", "scheduler"), (None, "app", "all"), ("web", "scheduler", "web"), ("ALL", None, "all")],
)
def test_role_falls_back_to_the_fly_process_group(
    role: str | None, fly_group: str | None, expected: str, lines_file: Path
) -> None:
    env = dict(REQUIRED_ENV, TEXTBACK_CONFIG=str(lines_file))
    if role:
        env["TEXTBACK_ROLE"] = role
    if fly_group:
        env["FLY_PROCESS_GROUP"] = fly_group
    assert load_settings(env).role == expected


def test_unsafe_tags_and_bare_numbers_are_located() -> None:
    text = "business: !!python/object:os.system x\nlines:\n  - {number: 15125550100, channel: C0123456789}\n"
    assert config_errors(text) == [
        ("textback.yml:1: business: cannot be read: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'"),
        'textback.yml:3: lines[0].number: "15125550100" is not in E.164 form (write "+15125550100")',
    ]


def test_secrets_never_appear_in_the_settings_repr() -> None:
    from bot.settings import load_settings

    env = {"SLACK_BOT_TOKEN": "xoxb-SECRET1", "SLACK_SIGNING_SECRET": "SECRET2", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
           "TWILIO_AUTH_TOKEN": "SECRET3", "PUBLIC_URL": "https://x.example",
           "REDIS_URL": "redis://default:SECRET4@host:6379", "TEXTBACK_CONFIG": str(REPO / "textback.example.yml")}
    text = repr(load_settings(env))
    assert "SECRET" not in text and "public_url='https://x.example'" in text


def test_a_port_of_digits_int_cannot_read_is_reported_not_raised() -> None:
    """`²` passes `str.isdigit()`, and `int()` raises on it."""
    assert env_errors(dict(REQUIRED_ENV, PORT="8²")) == ['PORT: "8²" is not a port number (1-65535)']


def test_the_instance_name_comes_from_the_environment_then_fly_then_host_and_port(lines_file: Path) -> None:
    env = {**REQUIRED_ENV, "TEXTBACK_CONFIG": str(lines_file), "PORT": "8080"}
    assert load_settings({**env, "TEXTBACK_INSTANCE": "web-1", "FLY_MACHINE_ID": "e286"}).instance == "web-1"
    assert load_settings({**env, "FLY_MACHINE_ID": "e2865013b1d486"}).instance == "e2865013b1d486"
    assert load_settings(env).instance.endswith(":8080"), "two servers on one host differ by port"


@pytest.mark.parametrize("name", ["web/1", "web 1", "x" * 65])
def test_an_instance_name_its_locks_cannot_carry_is_refused(name: str) -> None:
    [error] = env_errors({**REQUIRED_ENV, "TEXTBACK_INSTANCE": name})
    assert error.startswith("TEXTBACK_INSTANCE:")


def test_log_level_and_format_are_checked() -> None:
    errors = env_errors({**REQUIRED_ENV, "TEXTBACK_LOG_LEVEL": "loud", "TEXTBACK_LOG_FORMAT": "xml"})
    assert errors == ['TEXTBACK_LOG_LEVEL: "LOUD" is not a level: use DEBUG, INFO, WARNING or ERROR',
                      'TEXTBACK_LOG_FORMAT: "xml" is not a format: use text or json']
