"""`textback status`: what the store says right now, read from Redis alone (no Slack, no
Twilio): the job queue, scheduled and retrying work, the servers connected, recent errors,
the store's size, and each line's figures today and what it earned this week."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.cli_io import open_for_command, where
from bot.phones import display
from bot.settings import ConfigError, SettingsError, load_settings
from bot.store import keys
from bot.store.daily import RedisDaily
from bot.store.leads import RedisLeads
from bot.work.engine import GROUP
from bot.work.incarnation import CONNECTION_PREFIX
from workflows.recovery import earned_sentence, recovery

# The newest failures jobs recorded (bot/work/engine.py keeps the last ERRORS_KEPT).
SHOWN_ERRORS = 5
# A shop's due set is small (reminders, pages, digests); past this many, kinds are sampled.
DUE_LOOKED_AT = 500


async def run_status(env: Mapping[str, str], *, now: datetime | None = None) -> int:
    try:
        settings = load_settings(env, require_credentials=False)
    except (ConfigError, SettingsError) as exc:
        print(f"textback: cannot read the configuration:\n{exc}", file=sys.stderr)
        return 2
    redis = await open_for_command(settings.redis_url, settings.data_dir)
    if redis is None:
        return 2
    try:
        r = redis.client
        now = now or datetime.now(UTC)
        print(f"store: {where(redis)}: {await _size(r)}")
        print(f"jobs: {await _queue(r)}")
        print(f"scheduled: {await _due(r, now.timestamp())}")
        print(f"servers connected: {await _servers(r)}")
        errors = cast(list[bytes], await r.lrange(keys.JOB_ERRORS, 0, SHOWN_ERRORS - 1))
        print("recent job errors:" + ("" if errors else " none recorded"))
        for raw in errors:
            print("  " + _error_line(raw))
        daily = RedisDaily(r)
        print("today:")
        for line in settings.config.lines:
            day = now.astimezone(ZoneInfo(line.timezone)).date()
            [fig] = await daily.days(line.number, day, day)
            label = f"{display(line.number)}" + (f" ({line.name})" if line.name else "")
            print(f"  {label}: {fig.missed} missed, {fig.texted} texted back, {fig.not_texted} not texted, "
                  f"{fig.texts_in} caller texts, {fig.replied} answered by the team")
            # What it earned this week so far (README, "What it earned"): the digest's sentence.
            monday = day - timedelta(days=day.weekday())
            week = await daily.days(line.number, monday, day)
            leads = await RedisLeads(r).of_line(line.number, datetime.combine(monday, time(0), ZoneInfo(line.timezone)))
            booked = {lead.id for lead in leads if lead.status == "booked"}
            print(f"    this week: {earned_sentence(recovery(week, booked), line.average_job_value)}")
    finally:
        await redis.close()
    return 0


async def _size(r: Redis) -> str:
    info = await r.info("memory")
    server = await r.info("server")
    name = "Valkey" if server.get("valkey_version") or server.get("server_name") == "valkey" else "Redis"
    version = server.get("valkey_version") or server.get("redis_version") or "?"
    return f"{name} {version}, {await r.dbsize()} keys, {info.get('used_memory_human', '?')} used"


async def _queue(r: Redis) -> str:
    try:
        groups = await r.xinfo_groups(keys.JOBS)
    except ResponseError:  # no stream yet: nothing was ever recorded
        return "none recorded yet"
    group = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
    waiting = int(group.get("lag") or 0) if group else 0
    running = int(group.get("pending") or 0) if group else 0
    return f"{waiting} waiting to run, {running} running or left by a stopped server"


async def _due(r: Redis, now: float) -> str:
    total = await r.zcard(keys.DUE)
    if not total:
        return "nothing"
    first = cast(list[tuple[bytes, float]], await r.zrange(keys.DUE, 0, DUE_LOOKED_AT - 1, withscores=True))
    async with r.pipeline(transaction=False) as pipe:
        for member, _ in first:
            pipe.hmget(keys.due_job(member.decode()), "kind", "attempts")
        fields: list[list[bytes | None]] = await pipe.execute()
    kinds: dict[str, int] = {}
    retrying = 0
    for kind, attempts in fields:
        name = kind.decode() if kind else "?"
        kinds[name] = kinds.get(name, 0) + 1
        retrying += bool(attempts and int(attempts) > 0)
    next_in = max(0.0, float(first[0][1]) - now)
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    sampled = "" if total <= DUE_LOOKED_AT else f" (kinds of the first {DUE_LOOKED_AT})"
    return (f"{total} ({by_kind}{sampled}); {retrying} waiting to retry after a failure; "
            f"next due in {_span(next_in)}")


async def _servers(r: Redis) -> str:
    try:
        clients: list[dict[str, Any]] = await r.client_list()
    except ResponseError:
        return "unknown (this Redis does not list its clients)"
    names = sorted({str(c.get("name", "")) for c in clients if str(c.get("name", "")).startswith(CONNECTION_PREFIX)})
    return ", ".join(n.split("/")[1] for n in names) if names else "none"


def _error_line(raw: bytes) -> str:
    try:
        entry = json.loads(raw)
        at = datetime.fromtimestamp(float(entry["at"]), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{at} {entry['kind']} {entry['job']}: {entry['error']}"
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
