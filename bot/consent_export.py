"""`textback consent export`: the consent log as CSV on the command line, read straight from Redis."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from bot.app import SystemClock
from bot.cli_io import open_for_command, write_export
from bot.phones import normalize
from bot.settings import ConfigError, SettingsError, load_settings
from bot.store.consent import RedisConsentLog, to_csv
from workflows.leads import period_start


async def export_consent(
    env: Mapping[str, str], *, period: str, line: str | None, caller: str | None, output: str | None
) -> int:
    """Write every consent event (or one line's, one caller's) since `period` as CSV."""
    try:
        settings = load_settings(env, require_credentials=False)
        since = period_start(period, SystemClock().now())
    except (ConfigError, SettingsError, ValueError) as exc:
        print(f"textback: {exc}", file=sys.stderr)
        return 2
    numbers = {"line": line, "caller": caller}
    wanted = {k: normalize(v) for k, v in numbers.items() if v}
    for name, value in wanted.items():
        if value is None:
            print(f"textback: --{name} {numbers[name]!r} is not a phone number", file=sys.stderr)
            return 2
    # Named on standard error: standard output may be the CSV itself.
    redis = await open_for_command(settings.redis_url, settings.data_dir, say_where=sys.stderr)
    if redis is None:
        return 2
    try:
        log = RedisConsentLog(redis.client)
        found = [e async for e in log.events(caller=wanted.get("caller") or "", line=wanted.get("line") or "",
                                             since=since)]
    finally:
        await redis.close()
    text = to_csv(found)
    write_export(text, output, len(found), "consent event(s)")
    return 0
