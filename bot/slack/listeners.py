"""Bolt listeners: thin translations from Slack events to workflows."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack import home
from bot.slack.commands import router
from bot.store import keys
from workflows.jobs import CardActionJob, TeamReplyJob
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
        job = TeamReplyJob(channel=reply.channel, thread=reply.thread_id, ts=reply.message_id,
                           user=reply.user, text=reply.raw_text, at=svc.clock.now())
        claim = keys.claim("reply", f"{reply.channel}:{reply.message_id}")
        await svc.jobs.enqueue(job, claim=claim)

    # One listener for every message event: Bolt answers 404 (and Slack retries) when no
    # listener matches, which would happen for edits and deletions otherwise.
    bolt.event("message")(on_message)

    async def on_card_action(ack: Any, body: dict[str, Any]) -> None:
        # Recorded as a job before Slack gets its 200, like messages: a press is never lost,
        # and the presser hears the result privately once it ran.
        await ack()
        job = card_action_of(body, svc.clock.now())
        if job is None:
            return
        claim = keys.claim("action", f"{job.conv}:{job.user}:{job.action}:{job.ts}")
        await svc.jobs.enqueue(job, claim=claim)

    bolt.action(re.compile(r"^tb_"))(on_card_action)
    router.register(bolt, svc)
    home.register(bolt, svc)


CARD_ACTIONS = frozenset({"tb_ack", "tb_claim", "tb_resolve", "tb_snooze_1h", "tb_snooze_open", "tb_snooze_pick",
                          "tb_block"})


def card_action_of(body: dict[str, Any], at: datetime) -> CardActionJob | None:
    """The job recorded for a block_actions payload, or None when it is not one of ours."""
    actions = body.get("actions") or []
    if not actions:
        return None
    first = actions[0]
    action = str(first.get("action_id") or "")
    if action not in CARD_ACTIONS:
        return None
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
    # A select sends its choice as `selected_option`, "<choice>:<conversation id>".
    conv = str(first.get("value") or (first.get("selected_option") or {}).get("value") or "")
    choice = ""
    if action == "tb_snooze_pick":
        choice, _, conv = conv.partition(":")
    if not (user and channel and conv):
        return None
    return CardActionJob(action=action, user=user, channel=channel, conv=conv, at=at,
                         ts=str(first.get("action_ts") or ""), choice=choice)
