"""Settings from the environment (the only module that reads it) plus the parsed lines file."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.lines.file import ConfigError, load_config, parse_config
from workflows.lines import Config

__all__ = ["ConfigError", "Settings", "SettingsError", "load_config", "load_settings", "parse_config",
           "read_environment"]

ROLES = ("all", "web", "scheduler")
REQUIRED = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_URL")
DEFAULT_DATA_DIR = "./.textback"
DEFAULT_CONFIG = "./textback.yml"
DEFAULT_PORT = 3000
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
REDIS_SCHEMES = ("redis", "rediss", "unix")
# An instance name: what its locks and Redis connections are known by (no "/", which
# separates it from the incarnation in those names; no spaces, which CLIENT SETNAME refuses).
INSTANCE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class SettingsError(ValueError):
    """The environment is incomplete or wrong; `errors` lists every problem, one per line of str()."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start: credentials, URLs, storage and the lines file.

    Secrets (and REDIS_URL, which may hold a password) are left out of repr, so a settings
    object in a log line or a traceback shows no credential.
    """

    slack_bot_token: str = field(repr=False)
    slack_signing_secret: str = field(repr=False)
    slack_app_token: str | None = field(repr=False)
    twilio_account_sid: str
    twilio_auth_token: str = field(repr=False)
    twilio_api_key: str | None
    twilio_api_secret: str | None = field(repr=False)
    public_url: str
    redis_url: str | None = field(repr=False)
    data_dir: Path
    config_path: Path
    port: int
    role: str
    slack_api_url: str
    twilio_api_url: str
    config: Config
    job_retry_s: float = 10.0  # TEXTBACK_JOB_RETRY_S: pause before a failed job runs again
    # TEXTBACK_CRM_WEBHOOK_URL / _SECRET: where lead changes are POSTed, and the signing key.
    crm_webhook_url: str | None = None
    crm_webhook_secret: str | None = field(default=None, repr=False)
    # TEXTBACK_EVENT_LOOP: "uvloop" (used where installed) or "asyncio".
    event_loop: str = "uvloop"
    # TEXTBACK_INSTANCE: this server's name, the same across its restarts and no other's, so a
    # restart knows its own previous locks and pending work (else FLY_MACHINE_ID, else host:port).
    instance: str = "textback"
    # TEXTBACK_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) and TEXTBACK_LOG_FORMAT (text or json).
    log_level: str = "INFO"
    log_format: str = "text"
    # FLY_APP_NAME, which Fly sets in every machine: on Fly, REDIS_URL is required (bot/store/fly.py).
    fly_app: str | None = None


ENV_FILE = ".env"


def read_environment(environ: Mapping[str, str] | None = None, env_file: Path | str = ENV_FILE) -> dict[str, str]:
    """The variables every command reads: those in `.env` (in the working directory, if there
    is one), with the environment's own winning over it."""
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    path = Path(env_file)
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    return {**from_file, **environ}


def _get(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value, with unset and blank alike meaning "not given"."""
    value = env.get(name, "").strip()
    return value or None


def _public_url(raw: str | None, errors: list[str]) -> str:
    if raw is None:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        errors.append(f'PUBLIC_URL: "{raw}" is not a base URL: use e.g. https://textback.fly.dev')
        return ""
    # Twilio signs the exact URL it called; a trailing slash would make every signature differ.
    return raw.rstrip("/")


def _mask(url: str) -> str:
    """The URL with any password hidden: error messages end up in logs."""
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"***@{host}").geturl()


def _redis_url(raw: str | None, errors: list[str]) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in REDIS_SCHEMES:
        errors.append(f'REDIS_URL: "{_mask(raw)}" must start with redis://, rediss:// or unix://')
        return None
    if parts.scheme == "unix":
        if not parts.path:
            errors.append(f'REDIS_URL: "{raw}" names no socket: use e.g. unix:///var/run/redis.sock')
        return raw
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" not in userinfo:
        # redis-py reads "redis://secret@host" as username "secret" with no password: AUTH fails.
        errors.append(
            f"REDIS_URL: the part before @ has no \":\", so redis-py takes it as a username, not a password: "
            f"write redis://default:<password>@{host} (or redis://:<password>@{host})"
        )
        return None
    try:
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        errors.append(f'REDIS_URL: "{_mask(raw)}" has a port that is not a number')
        return None
    if not parts.hostname:
        errors.append(f'REDIS_URL: "{_mask(raw)}" names no host: use e.g. redis://default:<password>@host:6379')
        return None
    return raw


def _port(raw: str | None, errors: list[str]) -> int:
    if raw is None:
        return DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        errors.append(f'PORT: "{raw}" is not a port number (1-65535)')
        return DEFAULT_PORT
    return int(raw)


def _seconds(name: str, raw: str | None, default: float, errors: list[str]) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 3600:
        errors.append(f'{name}: "{raw}" is not a number of seconds between 0.05 and 3600 (default {default:g})')
        return default
    return value


def _role(raw: str | None, fly_group: str | None, errors: list[str]) -> str:
    if raw is not None:
        if raw.lower() not in ROLES:
            errors.append(f'TEXTBACK_ROLE: "{raw}" is not a role: use all, web or scheduler')
            return "all"
        return raw.lower()
    # On Fly, a process group named after a role picks it; other group names ("app") do not.
    if fly_group and fly_group.lower() in ROLES:
        return fly_group.lower()
    return "all"


def _instance(raw: str | None, fly_machine: str | None, port: int, errors: list[str]) -> str:
    if raw is not None:
        if not INSTANCE_NAME.fullmatch(raw):
            errors.append(f'TEXTBACK_INSTANCE: "{raw}" is not an instance name: use up to 64 letters, digits '
                          'and . _ : - (e.g. web-1)')
        return raw
    if fly_machine and INSTANCE_NAME.fullmatch(fly_machine):
        return fly_machine
    # Two servers on one host listen on different ports, so host and port name one of them.
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:50] or "host"
    return f"{host}:{port}"


def _api_url(name: str, raw: str | None, default: str, errors: list[str]) -> str:
    value = raw or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f'{name}: "{value}" is not a URL: leave it unset for {default}')
        return default
    return value


def _crm_webhook(url: str | None, secret: str | None, errors: list[str]) -> tuple[str | None, str | None]:
    if url is None:
        return None, secret
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f'TEXTBACK_CRM_WEBHOOK_URL: "{_mask(url)}" is not a URL: use e.g. https://crm.example/hooks/textback')
        return None, secret
    if secret is None or len(secret) < 16:
        # Unsigned lead data (names, numbers) must not go out: the receiver could not trust it.
        errors.append("TEXTBACK_CRM_WEBHOOK_SECRET: set a signing secret of at least 16 characters "
                      "(e.g. the output of: openssl rand -hex 32) when TEXTBACK_CRM_WEBHOOK_URL is set")
        return None, secret
    return url, secret


def _credential_problems(env: Mapping[str, str], require: bool) -> list[str]:
    """Missing required variables (all named at once) and credentials put in the wrong variable."""
    problems: list[str] = []
    missing = [name for name in REQUIRED if _get(env, name) is None]
    if require and missing:
        problems.append(
            f"missing environment variables: {', '.join(missing)} "
            "(set them, e.g. with fly secrets set NAME=value, or in .env for local runs)"
        )
    bot_token = _get(env, "SLACK_BOT_TOKEN") or ""
    if bot_token.startswith(("xapp-", "xoxp-")):
        problems.append("SLACK_BOT_TOKEN: that is not a bot token: use the Bot User OAuth Token (xoxb-...)")
    app_token = _get(env, "SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN: use the app-level token (xapp-...) for Socket Mode, or leave it unset")
    sid = _get(env, "TWILIO_ACCOUNT_SID") or ""
    if sid.startswith("SK"):
        problems.append("TWILIO_ACCOUNT_SID: that is an API key SID (SK...): put it in TWILIO_API_KEY; the account SID starts with AC")
    if (_get(env, "TWILIO_API_KEY") is None) != (_get(env, "TWILIO_API_SECRET") is None):
        problems.append("TWILIO_API_KEY and TWILIO_API_SECRET go together: set both or neither")
    return problems


def load_settings(env: Mapping[str, str], *, require_credentials: bool = True) -> Settings:
    """Settings from `env` and the lines file it points at; SettingsError lists every env problem."""
    errors = _credential_problems(env, require_credentials)
    public_url = _public_url(_get(env, "PUBLIC_URL"), errors)
    redis_url = _redis_url(_get(env, "REDIS_URL"), errors)
    port = _port(_get(env, "PORT"), errors)
    role = _role(_get(env, "TEXTBACK_ROLE"), _get(env, "FLY_PROCESS_GROUP"), errors)
    slack_api_url = _api_url("SLACK_API_URL", _get(env, "SLACK_API_URL"), DEFAULT_SLACK_API_URL, errors)
    twilio_api_url = _api_url("TWILIO_API_URL", _get(env, "TWILIO_API_URL"), DEFAULT_TWILIO_API_URL, errors)
    job_retry_s = _seconds("TEXTBACK_JOB_RETRY_S", _get(env, "TEXTBACK_JOB_RETRY_S"), 10.0, errors)
    event_loop = _get(env, "TEXTBACK_EVENT_LOOP") or "uvloop"
    if event_loop not in ("uvloop", "asyncio"):
        errors.append(f'TEXTBACK_EVENT_LOOP: "{event_loop}" is not an event loop: use uvloop or asyncio')
    crm_url, crm_secret = _crm_webhook(
        _get(env, "TEXTBACK_CRM_WEBHOOK_URL"), _get(env, "TEXTBACK_CRM_WEBHOOK_SECRET"), errors
    )
    log_level = (_get(env, "TEXTBACK_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        errors.append(f'TEXTBACK_LOG_LEVEL: "{log_level}" is not a level: use DEBUG, INFO, WARNING or ERROR')
    log_format = (_get(env, "TEXTBACK_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        errors.append(f'TEXTBACK_LOG_FORMAT: "{log_format}" is not a format: use text or json')
    instance = _instance(_get(env, "TEXTBACK_INSTANCE"), _get(env, "FLY_MACHINE_ID"), port, errors)
    config_path = Path(_get(env, "TEXTBACK_CONFIG") or DEFAULT_CONFIG)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        if not errors:
            raise
        # Every problem in one report: the environment's and the lines file's together.
        errors.extend(exc.errors)
    if errors:
        raise SettingsError(errors)
    per_line = [line for line in config.lines if line.crm_webhook]
    if per_line and (crm_secret is None or len(crm_secret) < 16):
        raise SettingsError([
            f"TEXTBACK_CRM_WEBHOOK_SECRET: set a signing secret of at least 16 characters (e.g. the output of: "
            f"openssl rand -hex 32): {config_path} gives line {per_line[0].number} a crm_webhook"
        ])
    return Settings(
        slack_bot_token=_get(env, "SLACK_BOT_TOKEN") or "",
        slack_signing_secret=_get(env, "SLACK_SIGNING_SECRET") or "",
        slack_app_token=_get(env, "SLACK_APP_TOKEN"),
        twilio_account_sid=_get(env, "TWILIO_ACCOUNT_SID") or "",
        twilio_auth_token=_get(env, "TWILIO_AUTH_TOKEN") or "",
        twilio_api_key=_get(env, "TWILIO_API_KEY"),
        twilio_api_secret=_get(env, "TWILIO_API_SECRET"),
        public_url=public_url,
        redis_url=redis_url,
        data_dir=Path(_get(env, "TEXTBACK_DATA_DIR") or DEFAULT_DATA_DIR),
        config_path=config_path,
        port=port,
        role=role,
        # The Slack SDK appends method names to this base, so it must end with "/".
        slack_api_url=slack_api_url if slack_api_url.endswith("/") else slack_api_url + "/",
        twilio_api_url=twilio_api_url.rstrip("/"),
        config=config,
        job_retry_s=job_retry_s,
        crm_webhook_url=crm_url,
        crm_webhook_secret=crm_secret,
        event_loop=event_loop,
        instance=instance,
        log_level=log_level,
        log_format=log_format,
        fly_app=_get(env, "FLY_APP_NAME"),
    )
