"""`textback forget <number>`: delete what the bot stored about one caller."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis

from bot.store import keys
from bot.store.consent import RedisConsentLog
from bot.store.conversations import outbound_fields
from bot.store.daily import RedisDaily
from bot.store.leads import RedisLeads
from workflows.leads import lead_id


@dataclass
class Forgotten:
    conversations: int = 0
    keys_deleted: int = 0
    kept: list[str] = field(default_factory=list)
    consent_events: int = 0  # kept: the consent log is the record for audits and complaints

    def consent_note(self) -> str:
        """What forget says about the consent log, which it keeps on purpose."""
        return (f"the consent log keeps its {self.consent_events} event(s) for this number (opt-outs, opt-ins, "
                "HELP and decisions: the record for audits and carrier complaints)")


async def forget_caller(r: Redis, number: str, lines: list[str]) -> Forgotten:
    """Delete conversations, threads, cooldowns, delivery records and leads of `number`.

    The opt-out and block lists keep the number: forgetting a STOP would let the next
    missed call text someone who asked not to be texted. So do an undecided opt-out and the
    consent log (bot/store/consent.py).
    """
    result = Forgotten()
    conv_ids = await _conversations_of(r, number)
    doomed: set[str] = {keys.conversation(c) for c in conv_ids}
    doomed |= {keys.held(c) for c in conv_ids} | {keys.held(c) + ":armed" for c in conv_ids}
    for line in lines:
        doomed |= {keys.open_conversation(line, number), keys.cooldown(line, number), keys.texted(line, number),
                   keys.text_sequence(line, number), keys.text_turn(line, number), keys.help_replied(line, number),
                   keys.spanish(line, number)}
        doomed |= {k.decode() async for k in r.scan_iter(match=keys.inbound_rate(line, number, 0)[:-1] + "*")}
        result.keys_deleted += await RedisLeads(r).forget(line, number)
        # The day's figures keep the caller's events, no longer under their lead id.
        await RedisDaily(r).forget_caller(line, lead_id(line, number))
        if await r.sismember(keys.opted_out(line), number):
            result.kept.append(f"opt-out on {line}")
        if await r.sismember(keys.blocked(line), number):
            result.kept.append(f"block on {line}")
        if await r.zscore(keys.opt_out_pending(line), number) is not None:
            result.kept.append(f"undecided opt-out on {line}")
    doomed |= await _pointers_to(r, "thread:*", conv_ids)
    doomed |= await _outbound_of(r, conv_ids)
    doomed.add(keys.line_type(number))
    await r.srem(keys.LANDLINES, number)
    result.conversations = len(conv_ids)
    result.consent_events = len([e async for e in RedisConsentLog(r).events(caller=number)])
    result.keys_deleted += int(await r.delete(*doomed)) if doomed else 0
    return result


async def _conversations_of(r: Redis, number: str) -> set[str]:
    found: set[str] = set()
    async for key in r.scan_iter(match=keys.conversation("*"), count=500):
        raw = await r.get(key)
        if raw and json.loads(raw).get("caller", {}).get("number") == number:
            found.add(key.decode().removeprefix(keys.conversation("")))
    return found


async def _pointers_to(r: Redis, pattern: str, conv_ids: set[str]) -> set[str]:
    found: set[str] = set()
    async for key in r.scan_iter(match=keys.PREFIX + pattern, count=500):
        # Replies are bytes: the client is built without decode_responses.
        value = cast(bytes | None, await r.get(key))
        if value is not None and value.decode() in conv_ids:
            found.add(key.decode())
    return found


async def _outbound_of(r: Redis, conv_ids: set[str]) -> set[str]:
    found: set[str] = set()
    async for key in r.scan_iter(match=keys.outbound("*"), count=500):
        mapped = await outbound_fields(r, key.decode())
        if mapped is not None and mapped[0] in conv_ids:
            found.add(key.decode())
    return found
