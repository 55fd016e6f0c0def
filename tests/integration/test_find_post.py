"""A retried job finds the card it already posted, however many cards came after it (§4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.handlers.messages import missed_call as run_missed_call
from bot.slack.gateway import post_tag
from bot.store import keys
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, parents
from workflows.jobs import MissedCallJob, decode
from workflows.ports import RetryLater

# More cards than one page of channel history holds (find_post asks for 200 a page).
OTHER_CARDS = 250


async def test_a_card_past_the_first_page_of_history_is_found_not_posted_again(rig: Rig) -> None:
    await rig.services.jobs.stop()  # the test runs the job itself: the first try, then the retry
    await rig.missed_call(CALLER, LINE)
    job_id, job = await recorded_missed_call(rig)
    # The card reaches Slack but its answer is lost: the job fails before it records the thread.
    rig.slack.fail_next("chat.postMessage", count=1, status=500, after_accept=True)
    with pytest.raises(RetryLater):
        await run_missed_call(rig.services, job_id, job)
    [card] = parents(rig)
    # A burst of other calls' cards before the retry: the card is no longer on the first page.
    for i in range(OTHER_CARDS):
        rig.slack.method("chat.postMessage")(
            {"channel": CHANNEL, "text": f"Missed call {i}", "metadata": post_tag(f"thread:other-{i}")})

    await run_missed_call(rig.services, job_id, job)

    assert [m["ts"] for m in parents(rig) if key_of(m) == key_of(card)] == [card["ts"]], "a second thread"
    shown = rig.slack.message(CHANNEL, card["ts"])
    assert shown is not None and "text-back sent: \u201cHi, this is Acme Plumbing" in blocks_text(shown)
    looked = [r for r in rig.slack.requests if r.method == "conversations.history"]
    assert [bool(r.params.get("cursor")) for r in looked] == [False, True]
    assert len(rig.twilio.messages_to(CALLER)) == 1


async def recorded_missed_call(rig: Rig) -> tuple[str, MissedCallJob]:
    """The missed-call job the webhook recorded, as its handler gets it (jobs are stopped: once
    the webhook's text-back was answered, the job stays held in the due set, recorded)."""
    await rig.services.tasks.drain()
    r = rig.services.redis.client
    [job_id] = [j.decode() for j in await r.zrange(keys.DUE, 0, -1) if j.startswith(keys.MISSED_CALL_JOB_PREFIX.encode())]
    fields = await r.hgetall(keys.due_job(job_id))
    wire = {**json.loads(fields[b"args"]), "seq": int(fields.get(b"seq", b"0"))}
    return job_id, decode(MissedCallJob.KIND, wire)


def key_of(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("key"))
