"""Bolt listeners: thin translations from Slack events to workflows."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.handlers.follow_through import job_args_of_action
from bot.services import Services
from bot.slack import home
from bot.slack.commands import router
from bot.store import keys
from workflows.mirror import TeamReply

log = logging.getLogger(__name__)

# Message subtypes that are a person writing. Edits, deletions, joins and classic bot
# posts have other subtypes and are never sent to a caller.
HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def team_reply_of(event: dict[str, Any]) -> TeamReply | None:
    """The human thread reply in `event`, or None for anything that must not become an SMS."""
    if event.get("subtype") not in HUMAN_SUBTYPES or event.get("bot_id") or event.get("app_id"):
        return None
    user, ts, thread_ts = event.get("user"), event.get("ts"), event.get("thread_ts")
    if not user or not ts or not thread_ts or thread_ts == ts:
        return None
    return TeamReply(
        channel=str(event.get("channel", "")),
        thread_id=str(thread_ts),
        message_id=str(ts),
        user=str(user),
        raw_text=str(event.get("text") or ""),
    )


def register(bolt: AsyncApp, svc: Services) -> None:
    """Attach the listeners to the Bolt app."""

    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        reply = team_reply_of(event)
        if reply is None or await svc.store.by_thread(reply.channel, reply.thread_id) is None:
            return
        # Claimed by the Slack message, not the event id: a retry carries the same event
        # id, but the same message can also arrive twice under different ids.
        args = {"channel": reply.channel, "thread": reply.thread_id, "ts": reply.message_id,
                "user": reply.user, "text": reply.raw_text, "at": svc.clock.now().isoformat()}
        claim = keys.claim("reply", f"{reply.channel}:{reply.message_id}")
        await svc.jobs.enqueue("team_reply", args, claim=claim)

    # One listener for every message event: Bolt answers 404 (and Slack retries) when no
    # listener matches, which would happen for edits and deletions otherwise.
    bolt.event("message")(on_message)

    async def on_card_action(ack: Any, body: dict[str, Any]) -> None:
        # Recorded as a job before Slack gets its 200, like messages: a press is never lost,
        # and the presser hears the result privately once it ran.
        await ack()
        args = job_args_of_action(body, svc.clock.now())
        if args is None:
            return
        claim = keys.claim("action", f"{args['conv']}:{args['user']}:{args['action']}:{args['ts']}")
        await svc.jobs.enqueue("card_action", args, claim=claim)

    bolt.action(re.compile(r"^tb_"))(on_card_action)
    router.register(bolt, svc)
    home.register(bolt, svc)
