"""`textback leads export`: the leads CSV on the command line, read straight from Redis."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from bot.app import SystemClock
from bot.cli_io import open_for_command, write_export
from bot.phones import normalize
from bot.settings import ConfigError, SettingsError, load_settings
from bot.store.leads import RedisLeads
from bot.store.line_settings import RedisLineSettings
from workflows.leads import Lead, period_start
from workflows.leads_csv import csv_text


async def export_leads(
    env: Mapping[str, str], *, period: str, line: str | None, output: str | None
) -> int:
    """Write the CSV of every line's leads (or one line's) to `output` or standard output."""
    try:
        settings = load_settings(env, require_credentials=False)
    except (ConfigError, SettingsError) as exc:
        print(f"textback: cannot read the configuration:\n{exc}", file=sys.stderr)
        return 2
    try:
        since = period_start(period, SystemClock().now())
    except ValueError as exc:
        print(f"textback: {exc}", file=sys.stderr)
        return 2
    # Named on standard error: standard output may be the CSV itself.
    redis = await open_for_command(settings.redis_url, settings.data_dir, say_where=sys.stderr)
    if redis is None:
        return 2
    try:
        # The lines file's lines, and those linked from Slack with /textback setup.
        linked = await RedisLineSettings(redis.client).links()
        numbers = [ln.number for ln in settings.config.lines]
        numbers += [n for n in linked if n not in numbers]
        if line is not None:
            wanted = normalize(line)
            if wanted not in numbers:
                print(f"textback: {line!r} is not one of the lines ({', '.join(numbers)})", file=sys.stderr)
                return 2
            numbers = [wanted]
        store = RedisLeads(redis.client)
        found: list[Lead] = []
        for number in numbers:
            found += await store.of_line(number, since)
    finally:
        await redis.close()
    text = csv_text(found)
    write_export(text, output, len(found), "lead(s)")
    return 0
