"""Bolt listeners: thin translations from Slack events to workflows."""

from __future__ import annotations

import logging
import re
import traceback
from datetime import datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.services import Services
from bot.slack import home
from bot.slack.commands import router
from bot.slack.events import text_at
from bot.store import keys
from workflows.conversation import SharedFile
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
    user, ts, thread_ts = text_at(event, "user"), text_at(event, "ts"), text_at(event, "thread_ts")
    if not user or not ts or not thread_ts or thread_ts == ts:
        return None
    return TeamReply(
        channel=text_at(event, "channel"),
        thread_id=thread_ts,
        message_id=ts,
        user=user,
        raw_text=text_at(event, "text"),
        files=files_of(event),
    )


def files_of(event: dict[str, Any]) -> tuple[SharedFile, ...]:
    """The files posted with a message, as far as Slack describes them (a file Slack hides, for
    example past a plan's limit, comes without `url_private` and is refused with a reason)."""
    files = event.get("files")
    if not isinstance(files, list):
        return ()
    found = []
    for f in files[:20]:
        if not isinstance(f, dict) or not text_at(f, "id"):
            continue
        size = f.get("size")
        found.append(SharedFile(
            id=text_at(f, "id"), name=text_at(f, "name") or text_at(f, "title") or "a file",
            mimetype=text_at(f, "mimetype"), size=size if isinstance(size, int) and size >= 0 else 0,
            url=text_at(f, "url_private"),
        ))
    return tuple(found)


def register(bolt: AsyncApp, svc: Services) -> None:
    """Attach the listeners to the Bolt app."""

    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        reply = team_reply_of(event)
        if reply is None or await svc.store.by_thread(reply.channel, reply.thread_id) is None:
            return
        # Claimed by the Slack message, not the event id: a retry carries the same event
        # id, but the same message can also arrive twice under different ids.
        job = TeamReplyJob(channel=reply.channel, thread=reply.thread_id, ts=reply.message_id,
                           user=reply.user, text=reply.raw_text, at=svc.clock.now(), files=reply.files)
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

    # The commands' own buttons first: Bolt runs the first listener that matches.
    router.register(bolt, svc)
    bolt.action(re.compile(r"^tb_"))(on_card_action)
    home.register(bolt, svc)
    bolt.error(on_listener_error)


# A listener that raises on a signed body read a shape Slack does not send: refused, not a 500.
SHAPE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError)


async def on_listener_error(error: Exception) -> BoltResponse:
    """Bolt's answer when a listener raised: 503 (Slack sends it again) while Redis cannot
    record it, 400 for a body of a shape Slack does not send, 500 for anything else. One log
    line each, never the body (it carries messages and phone numbers)."""
    if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
        log.error("redis unavailable, Slack request refused for retry: %r", error)
        return BoltResponse(status=503, body="", headers={"Retry-After": "5"})
    if isinstance(error, SHAPE_ERRORS):
        frame = traceback.extract_tb(error.__traceback__)[-1:]
        where = f"{frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame else "?"
        log.warning("refused a signed Slack request our listener cannot read: %s at %s",
                    type(error).__name__, where)
        return BoltResponse(status=400, body="")
    log.error("a Slack listener failed", exc_info=error)
    return BoltResponse(status=500, body="")


CARD_ACTIONS = frozenset({"tb_ack", "tb_claim", "tb_resolve", "tb_snooze_1h", "tb_snooze_open", "tb_snooze_pick",
                          "tb_block", "tb_callback", "tb_optout_yes", "tb_optout_no"})


def card_action_of(body: dict[str, Any], at: datetime) -> CardActionJob | None:
    """The job recorded for a block_actions payload, or None when it is not one of ours."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return None
    first = actions[0]
    action = text_at(first, "action_id")
    if action not in CARD_ACTIONS:
        return None
    user = text_at(body, "user", "id")
    channel = text_at(body, "channel", "id") or text_at(body, "container", "channel_id")
    # A select sends its choice as `selected_option`, "<choice>:<conversation id>".
    conv = text_at(first, "value") or text_at(first, "selected_option", "value")
    choice = ""
    if action == "tb_snooze_pick":
        choice, _, conv = conv.partition(":")
    if not (user and channel and conv):
        return None
    return CardActionJob(action=action, user=user, channel=channel, conv=conv, at=at,
                         ts=text_at(first, "action_ts"), choice=choice)
