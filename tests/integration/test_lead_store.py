"""The lead store's writes: each event once (the lead names the events it took), in three
commands where the server has SET IFEQ (two for a new caller's call), a script where it has
not; the index entry written ahead of the lead; leads an older version wrote still read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.store import keys
from bot.store.leads import RedisLeads, dumps
from tests.conftest import CALLER, LINE
from tests.integration.steps import event
from workflows.leads import APPLIED_KEPT, LeadEvent, apply_event

AT = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
OTHER = "+15125550999"


def elsewhere(e: LeadEvent) -> LeadEvent:
    """The same event from another caller."""
    return replace(e, phone=OTHER)


def store(redis: Redis, *, ifeq: bool) -> RedisLeads:
    """The lead store, as on a server with SET IFEQ (Valkey 8.1+) or, told so, without (Redis 7)."""
    leads = RedisLeads(redis)
    if not ifeq:
        leads.ifeq = False
    return leads


async def server_has_ifeq(redis: Redis) -> bool:
    info = await redis.info("server")
    version = str(info.get("valkey_version") or "")
    return bool(version) and tuple(int(p) for p in version.split(".")[:2]) >= (8, 1)


# --- commands, counted by a server of the tests' own -------------------------------------------


async def commands(redis: Redis, work: Awaitable[object]) -> dict[str, int]:
    """The commands the server ran for `work`, by name; a script's commands one by one."""
    await redis.config_resetstat()
    await work
    stats = await redis.info("commandstats")
    ran = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    ran.pop("config|resetstat")
    return ran


async def test_a_new_callers_call_is_two_commands_and_a_repeat_callers_three(counted: Redis) -> None:
    leads = RedisLeads(counted)
    await leads.apply(elsewhere(event("missed_call", AT)))  # connections opened once
    assert await commands(counted, leads.apply(event("missed_call", AT))) == {"zadd": 1, "set": 1}
    # Read (SET NX GET finds it), then written if still as read (SET IFEQ); the index score is
    # the call's time, written with the first command already.
    later = event("missed_call", AT + timedelta(minutes=5))
    assert await commands(counted, leads.apply(later)) == {"zadd": 1, "set": 2}
    assert leads.ifeq is True
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.calls == 2
    assert await counted.zscore(keys.leads_of(LINE), CALLER) == (AT + timedelta(minutes=5)).timestamp()


async def test_an_event_that_keeps_the_leads_time_writes_no_index(counted: Redis) -> None:
    leads = RedisLeads(counted)
    await leads.apply(event("missed_call", AT))
    status = event("status", AT + timedelta(hours=1), status="booked", by="U1")
    assert await commands(counted, leads.apply(status)) == {"get": 1, "set": 1}
    assert await commands(counted, leads.apply(status)) == {"get": 1}  # applied already
    assert await counted.zscore(keys.leads_of(LINE), CALLER) == AT.timestamp()


# --- once per event, concurrent events all kept: with SET IFEQ and with the script ---------------


@pytest.mark.parametrize("ifeq", [True, False])
async def test_each_event_is_applied_once(redis: Redis, ifeq: bool) -> None:
    leads = store(redis, ifeq=ifeq)
    for _ in range(2):
        for e in (event("missed_call", AT), event("caller_sms", AT + timedelta(minutes=1), text="Leaking"),
                  event("voicemail", AT + timedelta(minutes=2), recording_url="https://x/RE1")):
            await leads.apply(e)
    found = await leads.get(LINE, CALLER)
    assert found is not None
    assert (found.calls, found.texts_in, found.version, len(found.transcript)) == (1, 1, 3, 1)
    assert await leads.apply(event("missed_call", AT)) is None
    assert await redis.keys(keys.lead_event("*")) == [], "the lead names its events: no key per event"


@pytest.mark.parametrize("ifeq", [True, False])
async def test_an_event_that_changes_nothing_is_still_taken_once(redis: Redis, ifeq: bool) -> None:
    leads = store(redis, ifeq=ifeq)
    await leads.apply(event("missed_call", AT))
    await leads.apply(event("status", AT + timedelta(minutes=1), status="qualified", by="U1"))
    # Asks for what the lead already is: nothing changes, and no CRM delivery is due...
    again = event("status", AT + timedelta(minutes=2), status="qualified", by="U1")
    done = await leads.apply(again)
    assert done is not None and done[1] == [] and done[0].version == 2
    await leads.apply(event("status", AT + timedelta(minutes=3), status="booked", by="U1"))
    # ...yet its re-run, once the lead moved on, does not move it back.
    assert await leads.apply(again) is None
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.status == "booked"


@pytest.mark.parametrize("ifeq", [True, False])
async def test_concurrent_events_on_one_lead_are_all_kept(redis: Redis, ifeq: bool) -> None:
    # Two instances: each reads the lead, and one of them finds it changed and starts over.
    instances = [store(redis, ifeq=ifeq), store(redis, ifeq=ifeq)]
    calls = [event("missed_call", AT + timedelta(minutes=i)) for i in range(6)]
    texts = [event("caller_sms", AT + timedelta(minutes=i, seconds=30), text=f"text {i}") for i in range(6)]
    statuses = [event("status", AT + timedelta(minutes=i), status=s, by="U1")
                for i, s in enumerate(("contacted", "qualified"))]
    work = [*calls, *texts, *statuses, *calls]  # the calls twice: a job run again meanwhile
    results = await asyncio.gather(*(instances[i % 2].apply(e) for i, e in enumerate(work)))
    assert sum(r is not None for r in results) == 14
    found = await instances[0].get(LINE, CALLER)
    assert found is not None and (found.calls, found.texts_in, len(found.history)) == (6, 6, 2)
    assert found.version == 14 and len(found.applied or []) == 14
    assert await redis.zscore(keys.leads_of(LINE), CALLER) == (AT + timedelta(minutes=5, seconds=30)).timestamp()


async def test_the_server_says_whether_it_has_set_ifeq(redis: Redis) -> None:
    # On Redis 7 (CI's second pass) SET IFEQ is a syntax error: the script from then on.
    leads = RedisLeads(redis)
    await leads.apply(event("missed_call", AT))
    assert leads.ifeq is None, "a new lead needs SET NX only"
    await leads.apply(event("missed_call", AT + timedelta(minutes=1)))
    assert leads.ifeq is await server_has_ifeq(redis)
    await leads.apply(event("missed_call", AT + timedelta(minutes=2)))
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.calls == 3


# --- the index -------------------------------------------------------------------------------------


async def test_a_late_event_keeps_the_leads_latest_time_in_the_index(redis: Redis) -> None:
    leads = RedisLeads(redis)
    await leads.apply(event("missed_call", AT))
    await leads.apply(event("missed_call", AT + timedelta(hours=2)))
    # A text from before the second call, handled after it (its job was retried)...
    await leads.apply(event("caller_sms", AT + timedelta(hours=1), text="Still there?"))
    assert await redis.zscore(keys.leads_of(LINE), CALLER) == (AT + timedelta(hours=2)).timestamp()
    # ...and the first call's job run again: nothing applied, and the index as it was.
    assert await leads.apply(event("missed_call", AT)) is None
    assert await redis.zscore(keys.leads_of(LINE), CALLER) == (AT + timedelta(hours=2)).timestamp()


async def test_an_index_entry_without_its_lead_is_skipped_and_forgotten(redis: Redis) -> None:
    # What a process stopped between the index entry and the lead leaves.
    leads = RedisLeads(redis)
    await leads.apply(elsewhere(event("missed_call", AT)))
    await redis.zadd(keys.leads_of(LINE), {CALLER: AT.timestamp()})
    assert [ld.phone for ld in await leads.of_line(LINE)] == [OTHER]
    assert await leads.forget(LINE, CALLER) == 0
    assert await redis.zscore(keys.leads_of(LINE), CALLER) is None
    # The caller's next call writes both.
    await leads.apply(event("missed_call", AT + timedelta(minutes=1)))
    assert [ld.phone for ld in await leads.of_line(LINE)] == [CALLER, OTHER]


# --- what an older version wrote -------------------------------------------------------------------


async def older_version_applied(redis: Redis, *events: LeadEvent) -> None:
    """What an older version left: the lead without the ids of its events, a key per event."""
    lead = None
    for e in events:
        lead, _ = apply_event(lead, e)
        await redis.set(keys.lead_event(e.event_id), 1, ex=keys.CLAIM_TTL_S)
    assert lead is not None
    data = json.loads(dumps(lead))
    del data["applied"], data["keyed_until"]
    await redis.set(keys.lead(LINE, CALLER), json.dumps(data))
    await redis.zadd(keys.leads_of(LINE), {CALLER: AT.timestamp()})


@pytest.mark.parametrize("ifeq", [True, False])
async def test_an_event_an_older_version_applied_is_not_applied_again(redis: Redis, ifeq: bool) -> None:
    first = event("missed_call", AT)
    await older_version_applied(redis, first)
    leads = store(redis, ifeq=ifeq)
    # Its job, stopped by the upgrade before it was done, runs again on this version.
    assert await leads.apply(first) is None
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.calls == 1 and found.applied is None
    # The next event is applied, and from then on the lead names the events it took.
    done = await leads.apply(event("missed_call", AT + timedelta(minutes=3)))
    assert done is not None and done[0].calls == 2
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.applied == ["missed_call:" + (AT + timedelta(minutes=3)).isoformat()]


@pytest.mark.parametrize("ifeq", [True, False])
async def test_an_older_versions_event_run_again_after_a_newer_one_is_not_applied_again(
    redis: Redis, ifeq: bool
) -> None:
    call = event("missed_call", AT)
    await older_version_applied(redis, call)
    leads = store(redis, ifeq=ifeq)
    # The caller texts back; this version handles the text before the call's job runs again.
    assert await leads.apply(event("caller_sms", AT + timedelta(minutes=1), text="Hi")) is not None
    assert await leads.apply(call) is None
    found = await leads.get(LINE, CALLER)
    assert found is not None and (found.calls, found.texts_in, found.version) == (1, 1, 2)


async def test_a_lead_an_older_version_wrote_costs_no_more_once_rewritten(counted: Redis) -> None:
    await older_version_applied(counted, event("missed_call", AT))
    leads = RedisLeads(counted)
    await leads.apply(elsewhere(event("missed_call", AT)))  # connections opened once
    # Its key looked for once; the events after the one that rewrote it are newer: no key.
    assert await commands(counted, leads.apply(event("missed_call", AT + timedelta(minutes=1)))) == {
        "zadd": 1, "set": 2, "exists": 1}
    assert await commands(counted, leads.apply(event("missed_call", AT + timedelta(minutes=2)))) == {
        "zadd": 1, "set": 2}


async def test_a_lead_keeps_the_ids_of_its_last_events_only(redis: Redis) -> None:
    leads = RedisLeads(redis)
    texts = [event("caller_sms", AT + timedelta(minutes=i), text=f"text {i}") for i in range(APPLIED_KEPT + 5)]
    for text in texts:
        await leads.apply(text)
    found = await leads.get(LINE, CALLER)
    assert found is not None and found.applied == [t.event_id for t in texts[-APPLIED_KEPT:]]
    assert await leads.apply(texts[-1]) is None
