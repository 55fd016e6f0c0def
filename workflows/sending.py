"""Effects done at most once per job, even when the job is re-run after a crash (§4).

An SMS send is the delicate one: when the request may have reached Twilio but the answer
was lost (a timeout, a 5xx, a dropped connection), sending again could text the caller
twice, and Messages has no idempotency key. So the step is marked "sending" before the
request; a re-run that finds that mark first asks Twilio whether a message with the same
body went to that number since the mark, and only sends when none did.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from workflows.conversation import Conversation, Entry, SmsResult
from workflows.ports import RetryLater, SmsSender, StepLog, ThreadChat

T = TypeVar("T")


def _result_of(record: dict[str, object]) -> SmsResult:
    code = record.get("code")
    return SmsResult(
        ok=record["state"] == "sent",
        sid=str(record["sid"]) if record.get("sid") else None,
        error_code=int(str(code)) if code is not None else None,
        error=str(record["error"]) if record.get("error") else None,
    )


async def send_once(
    steps: StepLog, name: str, sms: SmsSender, *, to: str, from_: str, body: str, now: datetime
) -> SmsResult:
    """Send an SMS exactly once across re-runs of the job; raise RetryLater when unsure."""
    raw = await steps.get(name)
    record: dict[str, object] = json.loads(raw) if raw else {}
    if record.get("state") in ("sent", "refused"):
        return _result_of(record)
    if record.get("state") == "sending":
        since = datetime.fromisoformat(str(record["at"]))
        found = await sms.find_sent(to=to, from_=from_, body=body, since=since)
        if found is not None:
            await steps.put(name, json.dumps({"state": "sent", "sid": found.sid}))
            return found
    await steps.put(name, json.dumps({"state": "sending", "at": now.isoformat()}))
    result = await sms.send_sms(to=to, from_=from_, body=body)
    if result.ok:
        await steps.put(name, json.dumps({"state": "sent", "sid": result.sid}))
    elif result.transient:
        if not result.ambiguous:  # provably not created: the next run may send at once
            await steps.put(name, json.dumps({"state": "retry"}))
        raise RetryLater(f"sms {name}: {result.error}")
    else:
        await steps.put(
            name, json.dumps({"state": "refused", "code": result.error_code, "error": result.error})
        )
    return result


# A post whose answer was lost may still be in the channel; look that far back for it.
POST_LOOKBACK = timedelta(minutes=10)


async def post_once(
    steps: StepLog, name: str, chat: ThreadChat, conv: Conversation, entry: Entry, now: datetime
) -> None:
    """Post a thread line exactly once across re-runs: an unsure earlier post is looked up first."""
    state = await steps.get(name)
    if state == "done":
        return
    key = steps.key(name)
    if state is not None and state.startswith("posting:"):
        since = datetime.fromisoformat(state.removeprefix("posting:")) - POST_LOOKBACK
        if await chat.find_post(conv, key, since) is not None:
            await steps.put(name, "done")
            return
    await steps.put(name, "posting:" + now.isoformat())
    await chat.post_entry(conv, entry, key=key)
    await steps.put(name, "done")


async def once(steps: StepLog, name: str, effect: Callable[[], Awaitable[object]]) -> bool:
    """Run a chat effect unless the job already did it; True when it ran now."""
    if await steps.get(name) is not None:
        return False
    await effect()
    await steps.put(name, "done")
    return True
