"""Forgetting a caller: their stored data goes; their opt-out stays.
(The `textback forget` command itself: tests/e2e/test_forget_command.py.)"""

from __future__ import annotations

from bot.store import keys
from bot.store.forget import forget_caller
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, LINE_B
from tests.integration.saw import parents
from workflows.leads import lead_id

OTHER = "+15125550188"


async def test_forget_deletes_the_callers_records_but_not_their_opt_out(rig: Rig) -> None:
    r = rig.services.redis.client
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call(OTHER, LINE)
    await rig.settle()
    thread = next(p["ts"] for p in parents(rig) if "555-0123" in str(p["blocks"]))
    await rig.team_replies(CHANNEL, thread, "hello")
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    before = {k.decode() for k in await r.keys("tb:*")}
    assert any(CALLER in k for k in before)

    done = await forget_caller(r, CALLER, [LINE, LINE_B])
    after = {k.decode() for k in await r.keys("tb:*")}
    assert done.conversations == 1 and done.keys_deleted >= 6
    assert done.kept == [f"opt-out on {LINE}"]
    leftovers = [k for k in after if CALLER in k]
    assert leftovers == [], leftovers
    for key in after:
        if key.startswith("tb:conv:"):
            assert CALLER.encode() not in await r.get(key)
    assert await rig.services.flags.suppression(LINE, CALLER) == "the caller opted out (replied STOP)"
    # The other caller is untouched.
    assert any(OTHER in k for k in after)
    assert await rig.services.store.by_thread(CHANNEL, thread) is None


async def test_forget_keeps_the_days_counts_without_the_callers_lead_id(rig: Rig) -> None:
    r = rig.services.redis.client
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call(OTHER, LINE)
    await rig.settle()
    [key] = await r.keys(keys.daily(LINE, "*"))
    named = lead_id(LINE, CALLER)
    assert any(named in f.decode() for f in await r.hkeys(key))
    await forget_caller(r, CALLER, [LINE, LINE_B])
    fields = {f.decode(): int(n) for f, n in (await r.hgetall(key)).items()}
    assert fields == {"missed+texted": 1, f"missed+texted@{lead_id(LINE, OTHER)}": 1}
