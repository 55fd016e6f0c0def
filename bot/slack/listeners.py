"""Bolt listeners: thin translations from Slack events to workflows."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.mrkdwn import to_plain_text
from workflows.mirror import TeamReply, handle_team_reply

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
        if reply is None:
            return
        event_id = str(body.get("event_id") or "")
        if event_id and not await svc.store.claim("event", event_id):
            return

        async def to_plain(text: str) -> str:
            return await to_plain_text(
                text,
                resolve_user=svc.directory.user_name,
                resolve_channel=svc.directory.channel_name,
            )

        async def send() -> None:
            outcome = await handle_team_reply(
                reply,
                store=svc.store,
                sms=svc.sms,
                chat=svc.chat,
                to_plain=to_plain,
                flags=svc.flags,
                now=svc.clock.now(),
            )
            log.info("team reply %s: %s", reply.message_id, outcome)

        # Tracked with the webhooks' work, so shutdown waits for a reply already claimed.
        svc.tasks.spawn(send(), name=f"reply:{reply.message_id}")

    # One listener for every message event: Bolt answers 404 (and Slack retries) when no
    # listener matches, which would happen for edits and deletions otherwise.
    bolt.event("message")(on_message)
