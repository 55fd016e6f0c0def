"""`textback doctor`: checks the whole setup and says, for each problem, how to fix it.

Settings, PUBLIC_URL, Redis, the Slack token, scopes and channels, the Twilio credentials
and each line's number and webhooks. `--fix` points the numbers' webhooks at PUBLIC_URL
after showing the change. Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import TextIO
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError

from bot.doctor.report import Finding, reason, show
from bot.doctor.slack import check_slack
from bot.doctor.twilio import WebhookChange, apply_changes, check_twilio
from bot.settings import ConfigError, Settings, SettingsError, load_settings
from bot.store.fly import IsMount, fly_storage_problem, is_mount

# The job queue uses XAUTOCLAIM, new in Redis 6.2.
MIN_REDIS = (6, 2)
REDIS_TIMEOUT_S = 5.0


async def run_doctor(
    env: Mapping[str, str], *, fix: bool = False, yes: bool = False,
    out: TextIO = sys.stdout, ask: Callable[[str], str] = input, mounted: IsMount = is_mount,
) -> int:
    """Check everything, print one line per check; with `fix`, repair the Twilio webhooks.
    `mounted` tells whether a directory is a mounted volume (the data dir, on Fly)."""
    try:
        settings = load_settings(env)
    except (ConfigError, SettingsError) as exc:
        show([Finding(False, "settings", "invalid", "\n    ".join(str(exc).splitlines()))], out)
        print("other checks skipped until the settings are valid", file=out)
        return 1
    passed, changes = await _check_all(settings, out, mounted)
    if fix and changes:
        return await _fix(settings, changes, yes=yes, out=out, ask=ask, mounted=mounted)
    if fix:
        print("--fix: nothing to change on Twilio", file=out)
    _summary(passed, out)
    return 0 if passed else 1


async def _check_all(settings: Settings, out: TextIO, mounted: IsMount) -> tuple[bool, list[WebhookChange]]:
    lines = len(settings.config.lines)
    local = [Finding(True, "settings", f"valid, {lines} line(s) from {settings.config_path}"), _public_url(settings),
             *_help_contacts(settings)]
    redis, slack, (twilio, changes) = await asyncio.gather(
        check_redis(settings, mounted), check_slack(settings), check_twilio(settings)
    )
    return show([*local, redis, *slack, *twilio], out), changes


def _help_contacts(settings: Settings) -> list[Finding]:
    """A HELP reply should say how to reach a person (CTIA: a help response names a contact)."""
    missing = [line.label + f" ({line.number})" for line in settings.config.lines if not line.contact]
    if not missing:
        return [Finding(True, "HELP contact", "every line's HELP reply names a phone or email")]
    return [Finding(True, "HELP contact", f"no contact: for {', '.join(missing)}: the HELP reply names none",
                    'add contact: "+15125550100" (or an email) to each line in the lines file', warn=True)]


def _public_url(settings: Settings) -> Finding:
    if urlsplit(settings.public_url).scheme == "https":
        return Finding(True, "PUBLIC_URL", settings.public_url)
    return Finding(False, "PUBLIC_URL", f"{settings.public_url} is not https: Twilio and Slack need https",
                   "set PUBLIC_URL=https://<your app>.fly.dev (fly.toml [env]) and deploy again")


async def check_redis(settings: Settings, mounted: IsMount = is_mount) -> Finding:
    """Reachable, and new enough for the job queue; on Fly, required (bot/store/fly.py)."""
    if settings.redis_url is None:
        problem = fly_storage_problem(settings, mounted)
        if problem is not None:
            return Finding(False, "Redis", problem.detail, problem.fix)
        return Finding(True, "Redis", f"REDIS_URL unset: textback serve starts an embedded Valkey in "
                       f"{settings.data_dir}, for one machine only: several machines would each keep their own "
                       "store (on Fly, REDIS_URL is required: fly redis create)")
    parts = urlsplit(settings.redis_url)
    where = f"{parts.hostname}:{parts.port or 6379}"  # never the password
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)
    try:
        info = await client.info("server")
    except AuthenticationError as exc:
        return Finding(False, "Redis", f"{where} refused the password: {exc}",
                       "write REDIS_URL as redis://default:<password>@host:6379 (fly redis status <name> shows it)")
    except (RedisError, OSError) as exc:
        return Finding(False, "Redis", f"cannot reach {where}: {reason(exc)}",
                       "check REDIS_URL; on Fly, create it in the app's region with fly redis create")
    finally:
        await client.aclose()
    return _redis_version(where, info)


def _redis_version(where: str, info: Mapping[str, object]) -> Finding:
    version = str(info.get("redis_version", "0"))
    name = f"Valkey {info['valkey_version']}" if "valkey_version" in info else f"Redis {version}"
    numbers = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if numbers < MIN_REDIS:
        return Finding(False, "Redis", f"{name} at {where} is too old (the job queue needs 6.2+)",
                       "upgrade Redis, or use fly redis create")
    return Finding(True, "Redis", f"reachable, {name} at {where}")


async def _fix(
    settings: Settings, changes: list[WebhookChange], *, yes: bool, out: TextIO, ask: Callable[[str], str],
    mounted: IsMount,
) -> int:
    if urlsplit(settings.public_url).scheme != "https":
        print("--fix: not pointing Twilio at a plain-http PUBLIC_URL; fix PUBLIC_URL first", file=out)
        return 1
    print("\n--fix will change these Twilio numbers:", file=out)
    for change in changes:
        for field, (now, want) in change.changes.items():
            print(f"  {change.number} ({change.sid}) {field}: {now or '(empty)'} -> {want}", file=out)
    if not yes and not _confirmed(ask):
        print("nothing changed (run with --yes to apply without asking)", file=out)
        return 1
    done = show(await apply_changes(settings, changes), out)
    print("\nchecking again:", file=out)
    passed, _ = await _check_all(settings, out, mounted)
    _summary(passed and done, out)
    return 0 if passed and done else 1


def _confirmed(ask: Callable[[str], str]) -> bool:
    try:
        return ask("Apply these changes? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # no terminal (fly ssh console -C without --pty): never assume yes
        return False


def _summary(passed: bool, out: TextIO) -> None:
    print("\nall checks passed" if passed else "\nsome checks failed: see the fix under each ✗", file=out)
