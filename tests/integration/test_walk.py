"""One missed call's walk through the code: the product files it crosses, measured by running it.

Every function of bot/ and workflows/ that runs is recorded with a profile hook: from the
dial-status webhook to the SMS request and the thread's first post in Slack, and the whole
story (counts, lead, reminder ladder too). The counts are held down so the story stays
readable: `pytest tests/integration/test_walk.py -s` prints the files.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from standins.rig import Rig
from standins.slack_api import SlackStandIn
from tests.conftest import CALLER, LINE

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (str(ROOT / "bot") + "/", str(ROOT / "workflows") + "/")
# Today's walks; lower them as the story gets shorter, never raise them without a reason.
# 27 files became 18 when each of these became one module: the Twilio door (signature, TwiML,
# routes), Slack's message format (mrkdwn, Block Kit), a conversation's Redis state (record,
# lock, caller flags, step log), the lines with their hours, and texting a caller (template,
# guards, exactly-once send). Then 15: one engine runs every job (the queue, the firer and the
# fast lane were three files), the table of kinds binds handlers instead of wrapping them,
# and the clock is a port whose real one is chosen in bot/app.py (the fake one is the rig's).
# 16 since every Redis command runs through the shared pool's own connections
# (bot/store/connection.py): its one watchdog replaced redis-py's timer per send and read.
# Then 18: the text-back leaves from the webhook (decided and recorded in one step), from a
# task shutdown waits for (bot/work/background.py), and that step phrases the cooldown's
# reason before it knows whether it applies (workflows/durations.py). Then 19: that step
# has a module of its own (bot/store/textbacks.py), split from the conversation's store.
MAX_TO_POST = 19
# The whole story adds what the call leads to: the lead and its CRM job, the day's figures,
# the reminder ladder in the due set (bot/work/deadlines.py) and the timer's wake-up (the
# files added above count here too).
MAX_WHOLE = 31
OTHER_CALLER = "+15125550177"


async def files_crossed(rig: Rig) -> tuple[list[str], list[str]]:
    """The product files that run until the thread's post reaches Slack, and in the whole story."""
    await rig.missed_call(OTHER_CALLER, LINE)  # imports and first-time set-up are not the story
    await rig.settle()
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    await rig.settle()
    seen: set[str] = set()
    to_post: set[str] = set()
    slack_api = SlackStandIn._api.__code__

    harness = asyncio.current_task()  # the test's own calls (settle, signing) are not the story

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or asyncio.current_task() is harness:
            return
        if frame.f_code.co_filename.startswith(PRODUCT):
            seen.add(frame.f_code.co_filename)
        elif frame.f_code is slack_api and not to_post and "chat.postMessage" in frame.f_locals["request"].path:
            to_post.update(seen)

    sys.setprofile(profile)
    try:
        status, _ = await rig.dial_ended(CALLER, LINE, sid)
        await rig.settle()
    finally:
        sys.setprofile(None)
    assert status == 200 and len(rig.twilio.messages_to(CALLER)) == 1
    return _relative(to_post), _relative(seen)


def _relative(files: set[str]) -> list[str]:
    return sorted(str(Path(f).relative_to(ROOT)) for f in files)


async def test_one_missed_call_crosses_few_files(rig: Rig) -> None:
    to_post, whole = await files_crossed(rig)
    print(f"\nto the SMS and the Slack post, {len(to_post)} files:\n" + "\n".join(to_post))
    print(f"\nthe whole story, {len(whole)} files; also:\n" + "\n".join(sorted(set(whole) - set(to_post))))
    assert {"bot/twilio/webhooks.py", "workflows/missed_call.py", "bot/twilio/gateway.py"} <= set(to_post)
    assert len(to_post) <= MAX_TO_POST, to_post
    assert len(whole) <= MAX_WHOLE, whole
