"""The `ThreadChat` port over Slack's Web API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics
from bot.slack import blocks
from workflows.conversation import Conversation, Entry, SmsResult
from workflows.lines import Config, Line
from workflows.ports import SlackUnavailable

log = logging.getLogger(__name__)

# Reactions on a team member's message: accepted by the carrier / delivered / refused.
SENT_REACTION = "outbox_tray"
DELIVERED_REACTION = "white_check_mark"
REFUSED_REACTION = "warning"


POST_EVENT_TYPE = "textback_post"


def post_tag(key: str) -> dict[str, Any]:
    """Message metadata naming the step that made a post, so an unsure post can be found."""
    return {"event_type": POST_EVENT_TYPE, "event_payload": {"key": key}}


def is_transient(exc: SlackApiError) -> bool:
    """Rate limits and server errors pass; invalid_auth, channel_not_found... do not."""
    status = exc.response.status_code
    return status == 429 or status >= 500 or exc.response.get("error") in ("ratelimited", "internal_error", "fatal_error")


async def _nobody_waits() -> None:
    return None


class SlackThreads:
    """Posts cards and thread lines. Slack refusing a call is logged, not raised; Slack being
    unavailable raises `SlackUnavailable`, and every answer from Slack calls `answered` (the
    engine then runs the jobs that were waiting for Slack)."""

    def __init__(
        self, client: AsyncWebClient, config: Config, line_of: Callable[[str], Line | None] | None = None,
        *, answered: Callable[[], Awaitable[None]] = _nobody_waits,
    ) -> None:
        self._client = client
        self._config = config
        self._answered = answered
        # The effective lines (a line linked from Slack is not in the file); the file's otherwise.
        self._line_of = line_of or config.line_for_number

    def _tz(self, conv: Conversation) -> str:
        line = self._line_of(conv.line)
        return line.timezone if line else "UTC"

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any] | None:
        # The SDK's typed methods know each method's wire form (JSON body or query).
        send = getattr(self._client, method.replace(".", "_"))
        try:
            resp = await send(**kwargs)
        except SlackApiError as exc:
            if is_transient(exc):
                raise SlackUnavailable(f"slack {method}: HTTP {exc.response.status_code}") from exc
            log.warning("slack %s refused: %s", method, exc.response.get("error"))
            await self._answered()  # a refusal is an answer: Slack is up
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackUnavailable(f"slack {method} unreachable: {exc!r}") from exc
        await self._answered()
        return dict(resp.data) if isinstance(resp.data, dict) else None

    async def call(self, method: str, **kwargs: Any) -> dict[str, Any] | None:
        """Any Web API method, with the same error handling as the posts here."""
        return await self._call(method, **kwargs)

    async def permalink(self, conv: Conversation) -> str | None:
        """A link to the conversation's thread, for direct messages about it."""
        if not conv.thread_id:
            return None
        resp = await self._call("chat.getPermalink", channel=conv.channel, message_ts=conv.thread_id)
        return str(resp["permalink"]) if resp and resp.get("permalink") else None

    async def open_thread(self, conv: Conversation) -> str | None:
        text, card = blocks.card(conv, self._tz(conv))
        resp = await self._call(
            "chat.postMessage",
            channel=conv.channel,
            text=text,
            blocks=card,
            unfurl_links=False,
            unfurl_media=False,
            metadata=post_tag(f"thread:{conv.id}"),
        )
        return str(resp["ts"]) if resp else None

    async def refresh_card(self, conv: Conversation) -> None:
        if not conv.thread_id:
            return
        text, card = blocks.card(conv, self._tz(conv))
        await self._call("chat.update", channel=conv.channel, ts=conv.thread_id, text=text, blocks=card)

    async def post_entry(self, conv: Conversation, entry: Entry, *, key: str = "") -> str | None:
        if not conv.thread_id:
            log.warning("conversation %s has no thread yet; line not posted", conv.id)
            return None
        text, body = blocks.entry(entry, conv, self._tz(conv))
        resp = await self._call(
            "chat.postMessage",
            channel=conv.channel,
            thread_ts=conv.thread_id,
            text=text,
            blocks=body,
            unfurl_links=False,
            unfurl_media=False,
            **({"metadata": post_tag(key)} if key else {}),
        )
        return str(resp["ts"]) if resp else None

    async def find_post(self, conv: Conversation, key: str, since: datetime) -> str | None:
        """Look for our own post tagged `key`: in the channel for a parent, else in the thread.

        Slack answers a page at a time (the channel newest first); a burst can push the post
        off the first page, so the next pages are read while it is not found.
        """
        # 200 a page (Slack's advice for cursor paging), at most 10 pages: 2,000 messages is over
        # half an hour of a channel posting at Slack's ~1 message/s. Past that the post counts
        # as absent: a duplicate thread is the lesser harm than a retry reading without end.
        page, pages = 200, 10
        query: dict[str, Any] = {"channel": conv.channel, "include_all_metadata": True, "limit": page}
        if key.startswith("thread:"):
            method, query["oldest"] = "conversations.history", f"{since.timestamp():.6f}"
        elif conv.thread_id:
            method, query["ts"] = "conversations.replies", conv.thread_id
        else:
            return None
        for _ in range(pages):
            resp = await self._call(method, **query) or {}
            for message in resp.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("key") == key:
                    return str(message["ts"])
            query["cursor"] = (resp.get("response_metadata") or {}).get("next_cursor")
            if not query["cursor"]:
                return None
        log.warning("%s: %s not found in %d messages; taken as not posted", method, key, page * pages)
        return None

    async def tell_user(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message: only `user` sees it."""
        await self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    async def react(self, channel: str, message_id: str, name: str) -> None:
        """Add a reaction; `already_reacted` is fine."""
        await self._call("reactions.add", channel=channel, timestamp=message_id, name=name)

    async def mark_reply(self, conv: Conversation, message_id: str, result: SmsResult) -> None:
        if result.ok:
            await self.react(conv.channel, message_id, SENT_REACTION)
            return
        await self.react(conv.channel, message_id, REFUSED_REACTION)
        await self.post_entry(
            conv, Entry("system", f"Not sent to the caller: {result.reason}.", icon="warning")
        )


class SlackDirectory:
    """Names for `<@U…>` and `<#C…>` in team replies, cached for the process lifetime."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}

    async def user_name(self, user_id: str) -> str:
        if user_id not in self._names:
            self._names[user_id] = await self._lookup_user(user_id)
        return self._names[user_id]

    async def channel_name(self, channel_id: str) -> str:
        if channel_id not in self._names:
            self._names[channel_id] = await self._lookup_channel(channel_id)
        return self._names[channel_id]

    async def _lookup_user(self, user_id: str) -> str:
        try:
            resp = await self._client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return user_id
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        return str(profile.get("display_name") or profile.get("real_name") or user.get("name") or user_id)

    async def _lookup_channel(self, channel_id: str) -> str:
        try:
            resp = await self._client.conversations_info(channel=channel_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return channel_id
        return str((resp.get("channel") or {}).get("name") or channel_id)


class MeteredWebClient(AsyncWebClient):
    """The Slack client, counting every error answer and failed connection by method."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            self.metrics.slack_errors.labels(method=api_method, error=error).inc()
            raise
        except (aiohttp.ClientError, TimeoutError):
            self.metrics.slack_errors.labels(
                method=api_method, error="unreachable"
            ).inc()
            raise
